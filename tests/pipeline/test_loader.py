from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core.events import LogEvent
from core.pipeline.loader import load_batch, prepare

T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)


def _event(key: str, seconds: float = 0, level: int = 2) -> LogEvent:
    ts = T0 + timedelta(seconds=seconds)
    return LogEvent(ts=ts, received_at=ts, level=level, source="svc", message=f"m {key}", dedupe_key=key,
                    attributes={"k": key})


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url) as conn:
        with conn.transaction():
            conn.execute("INSERT INTO projects (id, name) VALUES (1, 'p')")
            conn.execute("INSERT INTO connections (id, project_id, name, provider) VALUES (7, 1, 'c', 'demo')")
            prepare(conn)
        yield conn


def _load(conn, events, cursors=None):
    with conn.transaction():
        return load_batch(conn, project_id=1, connection_id=7, events=events, cursors=cursors)


def test_only_new_rows_are_inserted_counted_and_returned(conn):
    first = _load(conn, [_event("a"), _event("b", 61, level=5)], {"g": {"hw": 1}})
    assert first.inserted == 2
    again = _load(conn, [_event("a"), _event("b", 61, level=5), _event("c", 62)], {"g": {"hw": 2}})
    assert [e.dedupe_key for e in again.new_events] == ["c"]
    assert conn.execute("SELECT count(*) FROM log_events").fetchone()[0] == 3
    counts = conn.execute("SELECT minute, level, count FROM log_counts ORDER BY minute, level").fetchall()
    assert counts == [(T0, 2, 1), (T0 + timedelta(minutes=1), 2, 1), (T0 + timedelta(minutes=1), 5, 1)]
    assert conn.execute("SELECT value FROM cursors WHERE connection_id = 7").fetchone()[0] == {"hw": 2}


def test_a_batch_repeating_an_event_stores_and_counts_it_once(conn):
    result = _load(conn, [_event("a"), _event("a"), _event("b")])
    assert result.inserted == 2
    assert conn.execute("SELECT sum(count) FROM log_counts").fetchone()[0] == 2


def test_same_key_at_another_time_is_another_event(conn):
    assert _load(conn, [_event("a", 0), _event("a", 1)]).inserted == 2


def test_a_failed_transaction_leaves_neither_rows_nor_cursor(conn):
    with pytest.raises(RuntimeError), conn.transaction():
        load_batch(conn, project_id=1, connection_id=7, events=[_event("a")], cursors={"g": {"hw": 9}})
        raise RuntimeError("crash after the insert, before commit")
    assert conn.execute("SELECT count(*) FROM log_events").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM cursors").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM log_counts").fetchone()[0] == 0


def test_cursor_only_batch_commits_the_cursor(conn):
    _load(conn, [], {"g": {"hw": 5}})
    assert conn.execute("SELECT partition, value FROM cursors").fetchall() == [("g", {"hw": 5})]


def test_encoded_rows_round_trip_exactly(conn):
    """The hand-written binary COPY encoder stores what it was given: text, times, levels, JSON, None."""
    naive = datetime.now().replace(microsecond=123456)  # noqa: DTZ005 - a naive time is read as UTC
    events = [
        LogEvent(ts=T0, received_at=T0, level=8, source="sörce ✓", message="ünïcödé \t tab\nnewline 🚀",
                 dedupe_key="k1", attributes={"nested": {"a": [1, 2.5, None, "x"]}}, trace_id="abc"),
        LogEvent(ts=naive, received_at=naive, level=0, source="", message="", dedupe_key="k2", attributes={},
                 trace_id=None),
    ]
    assert _load(conn, events).inserted == 2
    rows = conn.execute("SELECT ts, received_at, level, source, message, attributes, trace_id FROM log_events "
                        "ORDER BY dedupe_key").fetchall()
    assert rows[0] == (T0, T0, 8, "sörce ✓", "ünïcödé \t tab\nnewline 🚀", {"nested": {"a": [1, 2.5, None, "x"]}},
                       "abc")
    assert rows[1][0] == naive.replace(tzinfo=UTC) and rows[1][2:] == (0, "", "", {}, None)
