"""A backtest over stored history reports what live evaluation raised and sent on the same data."""

from __future__ import annotations

import random
from datetime import timedelta

import psycopg

from core.alerts.backtest import backtest
from core.alerts.lifecycle import load_rule
from core.alerts.window import WindowEvaluator
from core.levels import ERROR
from tests.alerts.helpers import (
    MIN,
    Ingest,
    alerts,
    base_time,
    ev,
    make_channel,
    make_connection,
    make_project,
    make_rule,
    notifications,
)

SEC = timedelta(seconds=1)


def history(t, minutes: int, seed: int = 3):
    """Per minute and source: quiet stretches and bursts of errors, some info noise."""
    rng = random.Random(seed)
    batches = []
    for minute in range(minutes):
        burst = (minute // 7) % 3 == 0
        events = []
        for source in ("api", "db", "worker"):
            errors = rng.randint(2, 5) if burst and source != "worker" else rng.choice([0, 0, 0, 1])
            events += [ev(t + minute * MIN + rng.randint(0, 59) * SEC, f"{source} failed", level=ERROR,
                          source=source) for _ in range(errors)]
            events += [ev(t + minute * MIN + rng.randint(0, 59) * SEC, "ok", source=source) for _ in range(3)]
        batches.append(sorted(events, key=lambda e: e.ts))
    return batches


def live_changes(db_url, rule_id):
    got = [(n["event"], n["payload"]["alert"]["group_key"], n["payload"]["at"]) for n in notifications(db_url)
           if n["payload"]["rule"]["id"] == rule_id]
    return sorted(got, key=lambda c: (c[2], c[1], c[0]))


def replayed(db_url, rule_id, since, until):
    with psycopg.connect(db_url) as conn:
        result = backtest(conn, load_rule(conn, rule_id), since=since, until=until)
    changes = [(c["event"], c["group_key"], c["at"].isoformat()) for c in result.changes]
    return result, sorted(changes, key=lambda c: (c[2], c[1], c[0]))


def test_backtest_matches_live_evaluation(engine, db_url, vault):
    project = make_project(engine)
    t = base_time()
    connection = make_connection(db_url, project, created_at=t - 20 * MIN)
    inbox = make_channel(engine, vault, project, "inapp", {})
    stream_rule = make_rule(engine, project, "level", {"level": "error", "group_by": "source", "cooldown_s": 300,
                                                       "resolve_after_s": 300, "channels": [inbox]})
    window_rule = make_rule(engine, project, "threshold", {"threshold": 8, "window_s": 180, "group_by": "source",
                                                           "cooldown_s": 120, "scope": {"min_level": "error"},
                                                           "channels": [inbox]})
    ingest = Ingest(engine, project, connection)
    evaluator = WindowEvaluator()
    minutes = 50
    for minute, batch in enumerate(history(t, minutes)):
        ingest(batch, hw=t + (minute + 1) * MIN)  # the stream rule runs inside each batch
        evaluator.run(engine, now=t + (minute + 1) * MIN + 5 * SEC)  # the worker's pass after it
    until = t + minutes * MIN
    since = t - 10 * MIN

    result, changes = replayed(db_url, stream_rule, since, until)
    live = live_changes(db_url, stream_rule)
    assert changes == live and len(live) > 10
    assert {e for e, _, _ in live} == {"fired", "repeat", "resolved"}
    assert result.alerts == len(alerts(db_url, stream_rule))
    assert result.notifications == len(live) == result.deliveries  # one channel

    result, changes = replayed(db_url, window_rule, since, until)
    live = live_changes(db_url, window_rule)
    assert changes == live and {e for e, _, _ in live} == {"fired", "repeat", "resolved"}
    assert result.alerts == len(alerts(db_url, window_rule))
    assert result.open_at_end == sum(a["state"] != "resolved" for a in alerts(db_url, window_rule))
