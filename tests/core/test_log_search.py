"""Search semantics of the live view: whole words over the range, substrings in the recent window."""

from datetime import UTC, datetime, timedelta

import psycopg

from core.actor import Actor
from core.store import logs

ADMIN = Actor.system("cli")


def _insert(db_url, rows):
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO projects (id, name) VALUES (1, 'p')")
        conn.execute("INSERT INTO connections (id, project_id, name, provider) VALUES (1, 1, 'c', 'demo')")
        for key, (age, message) in enumerate(rows):
            ts = datetime.now(UTC) - age
            conn.execute("INSERT INTO log_events (project_id, connection_id, ts, received_at, level, source, message, "
                         "dedupe_key) VALUES (1, 1, %s, %s, 2, 's', %s, %s)", (ts, ts, message, str(key)))


def _search(engine, query, since=timedelta(days=3)):
    flt = logs.LogFilter(project_id=1, search=query, since=datetime.now(UTC) - since)
    return [r["message"] for r in logs.latest(engine, actor=ADMIN, flt=flt)]


def test_words_match_over_the_range_and_substrings_only_recently(engine, db_url):
    _insert(db_url, [
        (timedelta(days=2), "payment Declined for order 17"),
        (timedelta(hours=5), "GET /healthz 200"),
        (timedelta(minutes=1), "GET /healthz 200 recent"),
        (timedelta(minutes=2), "unrelated line"),
    ])
    assert _search(engine, "declined") == ["payment Declined for order 17"]  # a word, days ago, any case
    # "healthz" is inside the path token "/healthz": found by substring in the recent window only
    assert _search(engine, "healthz") == ["GET /healthz 200 recent"]
    assert _search(engine, "declined -order") == []
    assert _search(engine, "declined or unrelated") == ["unrelated line", "payment Declined for order 17"]
    assert _search(engine, '"order 17"') == ["payment Declined for order 17"]


def test_open_day_partial_index_is_built_used_and_replaced(engine, db_url):
    from core.store.maintenance import refresh_open_day_search_index

    now = datetime.now(UTC)
    _insert(db_url, [(timedelta(minutes=40), "zebrafish early"), (timedelta(seconds=20), "zebrafish late")])
    first = refresh_open_day_search_index(engine, now=now - timedelta(minutes=10), min_age=timedelta(0))
    assert first is not None
    with psycopg.connect(db_url) as conn:
        predicate = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (first,)).fetchone()[0]
    assert "gin" in predicate and "ts <" in predicate
    # rows on both sides of the index boundary are found, newest first
    assert _search(engine, "zebrafish") == ["zebrafish late", "zebrafish early"]
    assert refresh_open_day_search_index(engine, now=now - timedelta(minutes=9)) is None  # too soon to rebuild
    second = refresh_open_day_search_index(engine, now=now, min_age=timedelta(0))
    with psycopg.connect(db_url) as conn:
        names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%fts_upto%'")}
    assert names == {second}  # the previous partial index was dropped
    assert _search(engine, "zebrafish") == ["zebrafish late", "zebrafish early"]
