"""Window rules over complete windows: each type at its boundaries, auto-resolve, late data, restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.alerts.window import WindowEvaluator
from core.levels import ERROR
from core.pipeline.ingest import poll_once
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
from tests.peers.cloudwatch import logs, put  # noqa: F401 - logs is a fixture
from tests.pipeline.helpers import aws_config, aws_secret
from tests.pipeline.helpers import make_connection as make_aws_connection

SEC = timedelta(seconds=1)


@pytest.fixture
def project(engine):
    return make_project(engine)


def fired(db_url, rule):
    return {a["group_key"]: a for a in alerts(db_url, rule)}


def test_threshold_fires_at_n_not_n_minus_1_then_resolves_itself(engine, db_url, vault, project):
    c = make_connection(db_url, project)
    inbox = make_channel(engine, vault, project, "inapp", {})
    rule = make_rule(engine, project, "threshold", {"threshold": 3, "window_s": 300, "group_by": "source",
                                                   "scope": {"min_level": "error"}, "channels": [inbox]})
    t = base_time()
    events = [ev(t + i * MIN, "boom", level=ERROR, source="b") for i in (1, 2, 3)]
    events += [ev(t + i * MIN, "boom", level=ERROR, source="a") for i in (1, 2)]
    events += [ev(t + i * MIN, "fine", source="a") for i in (1, 2)]  # below the scope's level
    Ingest(engine, project, c)(events, hw=t + 8 * MIN)
    stats = WindowEvaluator().run(engine, now=t + 10 * MIN)
    by_group = fired(db_url, rule)
    assert set(by_group) == {"b"}  # a had 2 errors: one short of the threshold
    b = by_group["b"]
    # windows ending T+4, T+5, T+6 hold all three; the one ending T+7 holds two: resolved there
    assert (b["first_seen"], b["last_seen"], b["count"]) == (t - MIN, t + 6 * MIN, 3)
    assert (b["state"], b["resolved_at"]) == ("resolved", t + 7 * MIN)
    assert "3 matching events in 5 min (threshold 3)" in b["title"]
    assert [n["event"] for n in notifications(db_url)] == ["fired", "resolved"]
    assert stats.fired == 3 and stats.resolved == 1


def test_window_not_judged_before_the_connection_read_past_its_end(engine, db_url, project):
    c = make_connection(db_url, project)
    rule = make_rule(engine, project, "threshold", {"threshold": 1, "window_s": 60})
    t = base_time()
    ingest = Ingest(engine, project, c)
    ingest([ev(t + 30 * SEC, "x")], hw=t + 59 * SEC)
    evaluator = WindowEvaluator()
    evaluator.run(engine, now=t + 5 * MIN)
    assert alerts(db_url, rule) == []  # the window [t, t+1) is not complete: nothing judged
    ingest([], hw=t + MIN)
    evaluator.run(engine, now=t + 5 * MIN)
    assert [a["last_seen"] for a in alerts(db_url, rule)] == [t + MIN]


def test_threshold_with_a_text_scope_grouped_by_an_attribute(engine, db_url, project):
    c = make_connection(db_url, project)
    rule = make_rule(engine, project, "threshold", {"threshold": 2, "window_s": 60, "group_by": "attr:http.host",
                                                   "scope": {"text": "TIMEOUT"}})
    t = base_time()
    events = [ev(t + i * SEC, "upstream timeout", attributes={"http": {"host": "a.example"}}) for i in (1, 2)]
    events += [ev(t + 3 * SEC, "upstream timeout", attributes={"http": {"host": "b.example"}}),
               ev(t + 4 * SEC, "all fine", attributes={"http": {"host": "b.example"}})]
    Ingest(engine, project, c)(events, hw=t + MIN)
    WindowEvaluator().run(engine, now=t + MIN)
    by_group = fired(db_url, rule)
    assert set(by_group) == {"a.example"}
    assert [s["message"] for s in by_group["a.example"]["samples"]] == ["upstream timeout"] * 2


def test_error_rate_needs_the_rate_and_the_volume(engine, db_url, project):
    c1, c2, c3 = (make_connection(db_url, project, name=n) for n in ("c1", "c2", "c3"))
    rule = make_rule(engine, project, "error_rate", {"percent": 50, "min_events": 4, "window_s": 120,
                                                    "group_by": "connection"})
    t = base_time()
    mix = {c1: [ERROR, ERROR, 2, 2],  # 50 % of 4: fires
           c2: [ERROR, ERROR, ERROR],  # 100 % but only 3 events
           c3: [ERROR, ERROR, 2, 2, 2]}  # 40 %
    for c, levels in mix.items():
        Ingest(engine, project, c)([ev(t + 30 * SEC, "m", level=lv) for lv in levels], hw=t + 2 * MIN)
    WindowEvaluator().run(engine, now=t + 3 * MIN)
    by_group = fired(db_url, rule)
    assert set(by_group) == {str(c1)}
    assert "50.0% errors (2/4)" in by_group[str(c1)]["title"]


def test_spike_over_the_baseline_by_source(engine, db_url, project):
    c = make_connection(db_url, project)
    rule = make_rule(engine, project, "spike", {"factor": 3, "baseline_windows": 3, "min_events": 5,
                                               "window_s": 60, "group_by": "source"})
    t = base_time()
    events = []
    for minute in range(3):  # baseline: 2 per minute for both sources
        events += [ev(t + minute * MIN + i * SEC, "req", source=s) for s in ("up", "flat") for i in range(2)]
    events += [ev(t + 3 * MIN + i * SEC, "req", source="up") for i in range(6)]  # 6 >= 3 x 2
    events += [ev(t + 3 * MIN + i * SEC, "req", source="flat") for i in range(5)]  # 5 < 6
    Ingest(engine, project, c)(events, hw=t + 4 * MIN)
    WindowEvaluator().run(engine, now=t + 4 * MIN)
    by_group = fired(db_url, rule)
    assert set(by_group) == {"up"} and by_group["up"]["last_seen"] == t + 4 * MIN
    assert "6 events in 1 min, 3x over the baseline of 2.0" in by_group["up"]["title"]
    assert [s["source"] for s in by_group["up"]["samples"]] == ["up", "up", "up"]  # a few lines of the window


def test_absence_per_connection_and_per_source(engine, db_url, project):
    t = base_time()
    quiet = make_connection(db_url, project, name="quiet", created_at=t - MIN)
    busy = make_connection(db_url, project, name="busy", created_at=t - MIN)
    per_connection = make_rule(engine, project, "absence", {"window_s": 120})
    per_source = make_rule(engine, project, "absence", {"window_s": 60, "group_by": "source", "lookback_windows": 3,
                                                       "scope": {"connections": [busy]}})
    Ingest(engine, project, quiet)([ev(t - 30 * SEC, "last words")], hw=t + 3 * MIN)
    busy_events = [ev(t + i * 20 * SEC, "tick", source="cron") for i in range(9)]
    busy_events += [ev(t - 90 * SEC, "bye", source="legacy")]  # seen in the lookback, silent after
    Ingest(engine, project, busy)(busy_events, hw=t + 3 * MIN)
    evaluator = WindowEvaluator()
    evaluator.run(engine, now=t + 3 * MIN)
    assert set(fired(db_url, per_connection)) == {str(quiet)}
    # windows are judged from the connection's creation on: [t-1, t+1) held 'last words', [t, t+2) is empty
    assert (fired(db_url, per_connection)[str(quiet)]["first_seen"], fired(db_url, per_connection)[str(quiet)]
            ["last_seen"]) == (t, t + 3 * MIN)
    legacy = fired(db_url, per_source)
    assert set(legacy) == {"legacy"} and legacy["legacy"]["state"] == "firing"
    Ingest(engine, project, quiet)([ev(t + 3 * MIN + 10 * SEC, "back")], hw=t + 5 * MIN)
    Ingest(engine, project, busy)([ev(t + 3 * MIN + i * 20 * SEC, "tick", source="cron") for i in range(6)],
                                  hw=t + 5 * MIN)
    evaluator.run(engine, now=t + 5 * MIN)
    assert fired(db_url, per_connection)[str(quiet)]["state"] == "resolved"
    assert fired(db_url, per_source)["legacy"]["state"] == "firing"  # still silent: stays open, not forgotten


def test_late_events_inside_the_settle_time_raise_no_absence(engine, db_url, vault, project, moto, logs):
    """The real AWS connector against moto: an event arrives 45 s late, inside a 60 s settle time."""
    t = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    t_ms = int(t.timestamp() * 1000)
    put(logs, "/app/settled", "s1", [(t_ms - 30_000, "earlier")])
    put(logs, "/app/unsettled", "s1", [(t_ms - 30_000, "earlier")])
    connections = {}
    for group, settle in (("/app/settled", 60), ("/app/unsettled", 0)):
        row = make_aws_connection(engine, vault, project_id=project, provider="aws", name=group,
                                  config=aws_config(moto, [group], settle_s=settle, overlap_s=600),
                                  secret=aws_secret())
        connections[group] = row
    with engine.begin() as conn:  # windows are judged from a connection's creation on: make it t - 30 s
        conn.exec_driver_sql("UPDATE connections SET created_at = %s", (t - 30 * SEC,))
    rule = make_rule(engine, project, "absence", {"window_s": 60})
    from core.connectors import registry

    def poll(group: str, now: datetime) -> None:
        row = connections[group]
        connector = registry.build("aws", row.config, aws_secret())
        try:
            poll_once(engine, connector=connector, project_id=project, connection_id=row.id, now=now)
        finally:
            connector.close()

    evaluator = WindowEvaluator()
    for group in connections:
        poll(group, t + 70 * SEC)  # reads up to now - settle: t+10s (settled), t+70s (unsettled)
    evaluator.run(engine, now=t + 70 * SEC)
    by_connection = {a["group_key"]: a for a in alerts(db_url, rule)}
    assert set(by_connection) == {str(connections["/app/unsettled"].id)}  # judged before the late event: false alarm
    for group in connections:
        put(logs, group, "s1", [(t_ms + 30_000, "late by 45 s")])  # ts t+30s, arriving at t+75s
        poll(group, t + 130 * SEC)
    evaluator.run(engine, now=t + 130 * SEC)
    by_connection = {a["group_key"]: a for a in alerts(db_url, rule)}
    assert str(connections["/app/settled"].id) not in by_connection  # waited for the settle time: no absence


def test_re_judging_windows_after_a_restart_changes_nothing(engine, db_url, project):
    c = make_connection(db_url, project)
    rule = make_rule(engine, project, "threshold", {"threshold": 1, "window_s": 60, "cooldown_s": 0})
    t = base_time()
    Ingest(engine, project, c)([ev(t + i * MIN + SEC, "x") for i in range(4)], hw=t + 4 * MIN)
    WindowEvaluator().run(engine, now=t + 4 * MIN)
    before = (alerts(db_url, rule), notifications(db_url))
    WindowEvaluator().run(engine, now=t + 4 * MIN)  # a fresh worker re-judges the last windows
    assert (alerts(db_url, rule), notifications(db_url)) == before
    assert before[0][0]["count"] == 4


def test_stopped_connections_are_not_expected_to_send(engine, db_url, project):
    c = make_connection(db_url, project)
    rule = make_rule(engine, project, "absence", {"window_s": 60})
    t = base_time()
    Ingest(engine, project, c)([], hw=t + 3 * MIN)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE connections SET desired_state = 'stopped'")
    WindowEvaluator().run(engine, now=t + 3 * MIN)
    assert alerts(db_url, rule) == []
