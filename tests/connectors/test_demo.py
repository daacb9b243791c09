"""The demo connector: a deterministic, realistic stream that keeps the cursor contract (no database)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.connectors import registry
from core.connectors.base import Batch, ConnectorOptions, ConnectorSecret
from core.connectors.demo import BATCH_MAX, PARTITION, DemoConnector, DemoOptions
from core.errors import BadConfigError
from core.events import RawEvent

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
T0_S = int(T0.timestamp())
_ERROR_CUES = re.compile(r'"level":"error"|level=error| ERROR |\[error\]|" 5\d\d |"status":5\d\d|status=5\d\d')


def make(**options) -> DemoConnector:
    return DemoConnector(DemoOptions(**options), None)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fetch_all(conn: DemoConnector, now: datetime, hw_s: int | None = None) -> tuple[list[RawEvent], list[Batch]]:
    cursors = {} if hw_s is None else {PARTITION: {"hw_s": hw_s}}
    batches = list(conn.fetch(cursors, now))
    return [e for b in batches for e in b.events], batches


def window(conn: DemoConnector, start_s: int, end_s: int) -> list[RawEvent]:
    """Events of [T0+start_s, T0+end_s), read from a cursor."""
    return fetch_all(conn, at(end_s), T0_S + start_s)[0]


def as_tuple(e: RawEvent) -> tuple:
    return (e.dedupe_key, e.ts, e.message, e.source, e.received_at, e.attributes, e.level_hint, e.trace_id)


# --- contract and options ---------------------------------------------------------------------------


def test_contract_and_defaults():
    assert DemoConnector.provider == "demo"
    assert issubclass(DemoConnector.Options, ConnectorOptions)
    assert issubclass(DemoConnector.Secret, ConnectorSecret)
    opts = DemoOptions()
    assert (opts.poll_interval_s, opts.settle_s, opts.overlap_s, opts.max_backfill_s) == (2.0, 0.0, 0.0, 600)
    assert (opts.rate_per_s, opts.error_burst_every_s, opts.error_burst_len_s, opts.quiet_every_s) == (5.0, 120, 20, 0)
    assert len(opts.services) >= 3
    conn = registry.build("demo", {"seed": 7}, None)
    assert isinstance(conn, DemoConnector)
    assert registry.validate_secret("demo", {}) == DemoConnector.Secret()
    result = conn.test()
    assert result.ok and "demo" in result.message.lower()
    conn.close()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"rate_per_s": 0}, "rate_per_s"),
        ({"rate_per_s": 50_001}, "rate_per_s"),
        ({"seed": -1}, "seed"),
        ({"services": []}, "services"),
        ({"services": ["ok", "has space"]}, "services"),
        ({"services": ["a", "a"]}, "services"),
        ({"services": ["a/b"]}, "services"),
        ({"error_burst_every_s": 60, "error_burst_len_s": 60}, "error_burst_len_s"),
        ({"quiet_every_s": 30}, "quiet_len_s"),  # default length 60 does not fit in 30
        ({"max_backfill_s": 0}, "max_backfill_s"),
        ({"poll_interval_s": 0.5}, "poll_interval_s"),
        ({"error_burst_every_s": 1.5}, "error_burst_every_s"),
        ({"region": "eu"}, "region"),  # unknown keys are refused
    ],
)
def test_invalid_options_name_the_field(raw, field):
    with pytest.raises(ValidationError) as info:
        registry.validate_options("demo", raw)
    assert field in str(info.value)


def test_bursts_and_quiet_can_be_disabled_and_custom_services_accepted():
    opts = DemoOptions(error_burst_every_s=0, quiet_every_s=0, services=["billing.v2", "Gateway_1", "x"])
    conn = DemoConnector(opts, None)
    assert all(conn.burst_at(T0_S + s) is None and conn.quiet_at(T0_S + s) is None for s in range(0, 3600, 7))
    sources = {e.source for e in window(make(services=opts.services, rate_per_s=50), 0, 60)}
    assert sources == {"demo/billing.v2", "demo/Gateway_1", "demo/x"}


# --- determinism and the cursor ---------------------------------------------------------------------


def test_same_seed_same_window_gives_identical_events():
    first = [as_tuple(e) for e in window(make(seed=11, rate_per_s=40), 0, 300)]
    second = [as_tuple(e) for e in window(make(seed=11, rate_per_s=40), 0, 300)]
    assert first and first == second
    other = window(make(seed=12, rate_per_s=40), 0, 300)
    assert {e.dedupe_key for e in other}.isdisjoint(t[0] for t in first)
    assert [e.message for e in other] != [t[2] for t in first]


_DIGEST = """
import hashlib
from datetime import datetime, timedelta, timezone
from core.connectors.demo import DemoConnector, DemoOptions
conn = DemoConnector(DemoOptions(seed=21, rate_per_s=40, quiet_every_s=120, quiet_len_s=30), None)
now = datetime(2026, 11, 27, 10, tzinfo=timezone.utc)
digest = hashlib.sha256()
for batch in conn.fetch({}, now):
    for e in batch.events:
        digest.update(repr((e.dedupe_key, e.ts, e.message, e.source, e.received_at)).encode())
print(digest.hexdigest())
"""


def test_stream_is_the_same_in_another_process():
    """A restarted worker (new process, new str-hash salt) regenerates the very same events."""
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    root = Path(__file__).resolve().parents[2]
    other = subprocess.run([sys.executable, "-c", _DIGEST], capture_output=True, text=True, env=env, check=True,
                           cwd=root)
    here: dict = {"hashlib": hashlib}
    exec(_DIGEST.replace("print(digest.hexdigest())", "result = digest.hexdigest()"), here)  # noqa: S102
    assert other.stdout.strip() == here["result"]


def test_overlapping_windows_agree_on_the_shared_part():
    conn = make(seed=3, rate_per_s=30)
    a = {e.dedupe_key: as_tuple(e) for e in window(conn, 0, 200)}
    b = {e.dedupe_key: as_tuple(e) for e in window(make(seed=3, rate_per_s=30), 100, 300)}
    shared = a.keys() & b.keys()
    assert shared and all(a[k] == b[k] for k in shared)
    expected = {k for k, v in a.items() if v[1] >= at(100)}
    assert shared == expected  # the overlap is exactly the events of [100, 200)


def test_polls_with_cursors_fed_back_have_no_gaps_and_no_duplicates():
    conn = make(seed=5, rate_per_s=25, max_backfill_s=600)
    cursors: dict = {}
    keys: list[str] = []
    now = at(0)
    for step in [0.3, 1.7, 2.0, 0.1, 5.5, 2.2, 61.0, 2.0, 0.9, 120.4, 3.3] * 4:
        now += timedelta(seconds=step)
        for batch in conn.fetch(cursors, now):
            keys += [e.dedupe_key for e in batch.events]
            cursors.update(batch.cursors)
    assert len(keys) == len(set(keys))
    first_s = T0_S - 600
    whole = fetch_all(make(seed=5, rate_per_s=25, max_backfill_s=100_000), now, first_s)[0]
    assert set(keys) == {e.dedupe_key for e in whole}
    assert cursors == {PARTITION: {"hw_s": int(now.timestamp())}}


def test_overlap_rereads_the_same_keys():
    conn = make(seed=5, rate_per_s=25, overlap_s=30)
    first, _ = fetch_all(conn, at(100), T0_S)
    again, batches = fetch_all(conn, at(110), T0_S + 100)
    old = {e.dedupe_key: as_tuple(e) for e in first}
    repeated = [e for e in again if e.dedupe_key in old]
    assert repeated and all(old[e.dedupe_key] == as_tuple(e) for e in repeated)
    assert {e.ts >= at(70) for e in again} == {True}
    assert batches[-1].cursors == {PARTITION: {"hw_s": T0_S + 110}}


def test_first_poll_and_long_stop_are_capped_by_max_backfill():
    conn = make(seed=1, rate_per_s=20, max_backfill_s=120)
    events, batches = fetch_all(conn, at(0.5))
    assert events and min(e.ts for e in events) >= at(-120)
    assert batches[-1].cursors == {PARTITION: {"hw_s": T0_S}}
    events, batches = fetch_all(conn, at(0), T0_S - 10 * 3600)  # stopped for ten hours
    assert min(e.ts for e in events) >= at(-120)
    assert batches[-1].cursors == {PARTITION: {"hw_s": T0_S}}


def test_settle_holds_back_the_newest_seconds():
    events, batches = fetch_all(make(seed=1, rate_per_s=50, settle_s=5), at(0.9), T0_S - 60)
    assert max(e.ts for e in events) < at(-4)
    assert batches[-1].cursors == {PARTITION: {"hw_s": T0_S - 5}}


def test_nothing_new_yields_nothing_and_the_cursor_never_moves_back():
    conn = make(seed=1)
    assert list(conn.fetch({PARTITION: {"hw_s": T0_S}}, at(0.99))) == []
    assert list(conn.fetch({PARTITION: {"hw_s": T0_S + 50}}, at(0))) == []  # clock went back


def test_quiet_window_with_no_events_still_moves_the_cursor():
    batches = list(make(seed=1, rate_per_s=0.001).fetch({PARTITION: {"hw_s": T0_S - 2}}, at(0)))
    assert len(batches) == 1 and batches[0].cursors == {PARTITION: {"hw_s": T0_S}}


def test_naive_now_is_read_as_utc():
    conn = make(seed=2, rate_per_s=10)
    aware = [as_tuple(e) for e in fetch_all(conn, at(30), T0_S)[0]]
    naive = [as_tuple(e) for e in fetch_all(conn, at(30).replace(tzinfo=None), T0_S)[0]]
    assert aware == naive


@pytest.mark.parametrize("value", [{"hw_s": "soon"}, {"hw": 5}, {"hw_s": True}, ["hw_s", 1]])
def test_malformed_cursor_is_a_clear_error(value):
    with pytest.raises(BadConfigError, match="cursor"):
        list(make().fetch({PARTITION: value}, at(0)))


def test_batches_are_bounded_and_only_the_last_carries_the_cursor():
    events, batches = fetch_all(make(seed=9, rate_per_s=20_000), at(3), T0_S)
    assert len(events) > 3 * BATCH_MAX
    assert all(0 < len(b.events) <= BATCH_MAX for b in batches)
    assert [b.cursors for b in batches[:-1]] == [{}] * (len(batches) - 1)
    assert batches[-1].cursors == {PARTITION: {"hw_s": T0_S + 3}}
    assert len({e.dedupe_key for e in events}) == len(events)


# --- shape and content -------------------------------------------------------------------------------


def test_event_shape():
    services = DemoOptions().services
    events = window(make(seed=4, rate_per_s=50), 0, 120)
    for e in events:
        assert e.ts.tzinfo is not None and e.ts.utcoffset() == timedelta(0)
        assert e.ts.microsecond % 1000 == 0
        assert at(0) <= e.ts < at(120)
        assert timedelta(0) < e.received_at - e.ts < timedelta(seconds=1)
        assert e.source.removeprefix("demo/") in services
        assert (e.attributes, e.level_hint, e.trace_id) == (None, None, None)
        assert isinstance(e.message, str) and e.message
        seed, slot, index = e.dedupe_key.split(":")
        assert seed == "4" and int(slot) == int(e.ts.timestamp()) and index.isdigit()
    assert {e.source for e in events} == {f"demo/{s}" for s in services}


def test_json_logs_are_valid_and_carry_the_expected_fields():
    events = [e for e in window(make(seed=4, rate_per_s=50), 0, 300) if e.message.startswith("{")]
    assert len(events) > 500
    for e in events:
        doc = json.loads(e.message)
        assert {"ts", "level", "msg", "service", "trace_id", "user_id", "duration_ms"} <= doc.keys()
        assert re.fullmatch(r"[0-9a-f]{32}", doc["trace_id"])
        assert doc["ts"] == e.ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{e.ts.microsecond // 1000:03d}Z"
        assert doc["level"] in {"debug", "info", "warn", "error"}
        assert e.source == f"demo/{doc['service']}"


def test_every_format_is_present_with_level_cues():
    messages = [e.message for e in window(make(seed=4, rate_per_s=50), 0, 600)]
    access = re.compile(r'^\d+\.\d+\.\d+\.\d+ - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
                        r'"(GET|POST) /\S* HTTP/1.1" \d{3} \d+ "[^"]*" "[^"]*" \d+\.\d{3}$')
    assert sum(bool(access.match(m)) for m in messages) > 1000
    assert any(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARN  \[[\w-]+\] c\.e\.\S+ - ", m) for m in messages)
    assert any(m.startswith("time=") and " level=info " in m for m in messages)
    statuses = [int(m.split('" ')[1][:3]) for m in messages if access.match(m)]
    assert sum(200 <= s < 300 for s in statuses) / len(statuses) > 0.7
    assert any(400 <= s < 500 for s in statuses)


def test_multiline_traces_are_single_events():
    messages = [e.message for e in window(make(seed=4, rate_per_s=50), 0, 900)]
    python = [m for m in messages if "Traceback (most recent call last):" in m]
    java = [m for m in messages if "\n\tat com." in m]
    assert python and java
    for m in python:
        first, *rest = m.split("\n")
        assert " ERROR [" in first and rest[0] == "Traceback (most recent call last):"
        assert re.match(r"\w+(\.\w+)*: ", rest[-1])  # ends with the exception line
    for m in java:
        assert " ERROR [" in m.split("\n")[0] and re.search(r"\n[\w.]+(Exception|Error): ", m)
    # no continuation line ever arrives as an event of its own
    assert not any(m.startswith(("\tat ", "  File ", "Caused by:", "Traceback", "goroutine")) for m in messages)


def test_bursts_contain_more_errors():
    conn = make(seed=8, rate_per_s=50, error_burst_every_s=120, error_burst_len_s=20)
    events = window(conn, 0, 1200)
    in_burst = [e for e in events if conn.burst_at(int(e.ts.timestamp()))]
    calm = [e for e in events if not conn.burst_at(int(e.ts.timestamp()))]
    assert len(in_burst) > 1000 and len(calm) > 1000

    def error_share(evs: list[RawEvent]) -> float:
        return sum(bool(_ERROR_CUES.search(e.message)) for e in evs) / len(evs)

    assert error_share(in_burst) > 4 * error_share(calm)
    assert any("connection refused to db-primary:5432" in e.message for e in in_burst)
    degraded = {conn.burst_at(int(e.ts.timestamp())) for e in in_burst}
    assert len(degraded) > 1  # bursts move between services


def test_burst_schedule_follows_the_options():
    conn = make(seed=8, error_burst_every_s=300, error_burst_len_s=30)
    flags = [conn.burst_at(T0_S + s) is not None for s in range(3000)]
    assert sum(flags) == 10 * 30


def test_quiet_periods_silence_one_service():
    conn = make(seed=6, rate_per_s=40, quiet_every_s=300, quiet_len_s=60, error_burst_every_s=0)
    events = window(conn, 0, 900)
    quiet = [(e, conn.quiet_at(int(e.ts.timestamp()))) for e in events]
    assert sum(q is not None for _, q in quiet) > 100  # others keep talking during a quiet period
    assert not any(q is not None and e.source == f"demo/{q}" for e, q in quiet)
    silent = {q for _, q in quiet if q}
    assert silent and all(any(e.source == f"demo/{s}" for e in events) for s in silent)


def test_rate_is_roughly_honoured():
    for rate, seconds in [(5, 3600), (100, 900)]:
        events = window(make(seed=10, rate_per_s=rate, error_burst_every_s=0, max_backfill_s=3600), 0, seconds)
        assert abs(len(events) / seconds - rate) < 0.05 * rate
    with_bursts = window(make(seed=10, rate_per_s=5, max_backfill_s=3600), 0, 3600)
    assert abs(len(with_bursts) / 3600 - 5) < 0.25
