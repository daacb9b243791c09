"""Stream rules (pattern, level) on the rows each batch actually inserted, inside the ingest transaction."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from core.alerts.cache import RuleCache, RuleSet
from core.alerts.rules import compile_rule
from core.alerts.stream import StreamMatcher, make_hook
from core.connectors.base import Batch
from core.db import session_scope
from core.events import RawEvent
from core.levels import ERROR, WARNING
from core.pipeline.ingest import poll_once
from core.store import rules as rule_store
from tests.alerts.helpers import (
    ACTOR,
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
    rows,
)


@pytest.fixture
def setup(engine, db_url, vault):
    project = make_project(engine)
    connection = make_connection(db_url, project)
    inbox = make_channel(engine, vault, project, "inapp", {})
    return project, connection, inbox


def test_pattern_fires_on_a_match_and_not_on_a_near_miss(engine, db_url, setup):
    project, connection, inbox = setup
    rule = make_rule(engine, project, "pattern", {"pattern": r"timeout after \d+ms", "channels": [inbox]})
    ingest = Ingest(engine, project, connection)
    t = base_time()
    ingest([ev(t, "upstream timeout after ms"), ev(t, "Upstream Timeout after 30ms")])  # near misses
    assert alerts(db_url, rule) == []
    ingest([ev(t + MIN, "upstream timeout after 30ms")])
    [alert] = alerts(db_url, rule)
    assert (alert["state"], alert["count"], alert["first_seen"]) == ("firing", 1, t + MIN)
    assert alert["samples"][0]["message"] == "upstream timeout after 30ms"
    assert [(n["event"], n["channel_id"]) for n in notifications(db_url)] == [("fired", inbox)]


def test_pattern_on_an_attribute_and_ignore_case(engine, db_url, setup):
    project, connection, _ = setup
    rule = make_rule(engine, project, "pattern", {"pattern": "^checkout$", "field": "attr:http.route",
                                                  "ignore_case": True})
    ingest = Ingest(engine, project, connection)
    t = base_time()
    ingest([ev(t, "x", attributes={"http": {"route": "checkout-v2"}}), ev(t, "y", attributes={})])
    assert alerts(db_url, rule) == []
    ingest([ev(t, "z", attributes={"http": {"route": "CHECKOUT"}})])
    assert len(alerts(db_url, rule)) == 1


def test_level_rule_boundary(engine, db_url, setup):
    project, connection, _ = setup
    rule = make_rule(engine, project, "level", {"level": "error"})
    ingest = Ingest(engine, project, connection)
    ingest([ev(base_time(), "disk almost full", level=WARNING)])
    assert alerts(db_url, rule) == []
    ingest([ev(base_time(), "disk full", level=ERROR)])
    assert [a["title"] for a in alerts(db_url, rule)] == [f"{rule_name(engine, rule)}: disk full"]


def rule_name(engine, rule_id: int) -> str:
    with session_scope(engine) as session:
        return rule_store.get_rule(session, actor=ACTOR, rule_id=rule_id).name


def test_scope_filters_connection_source_level_and_text(engine, db_url, setup):
    project, connection, _ = setup
    other = make_connection(db_url, project, name="c2")
    rule = make_rule(engine, project, "pattern", {"pattern": "fail", "scope": {
        "connections": [connection], "sources": ["pay*", "auth"], "min_level": "warning", "text": "CARD"}})
    t = base_time()
    Ingest(engine, project, other)([ev(t, "card fail", level=ERROR, source="payments")])  # other connection
    ingest = Ingest(engine, project, connection)
    ingest([ev(t, "card fail", level=ERROR, source="web"),  # source not in scope
            ev(t, "card fail", level=2, source="payments"),  # below min level
            ev(t, "login fail", level=ERROR, source="auth")])  # no 'card'
    assert alerts(db_url, rule) == []
    ingest([ev(t, "Card fail", level=ERROR, source="payments-eu")])
    assert len(alerts(db_url, rule)) == 1


def test_group_by_source_and_cooldown(engine, db_url, setup):
    project, connection, inbox = setup
    rule = make_rule(engine, project, "level", {"level": "error", "group_by": "source", "cooldown_s": 600,
                                                "channels": [inbox]})
    ingest = Ingest(engine, project, connection)
    t = base_time()
    ingest([ev(t, "boom", level=ERROR, source="api"), ev(t, "bang", level=ERROR, source="db"),
            ev(t + MIN, "boom again", level=ERROR, source="api")])
    by_group = {a["group_key"]: a for a in alerts(db_url, rule)}
    assert {g: a["count"] for g, a in by_group.items()} == {"api": 2, "db": 1}
    ingest([ev(t + 9 * MIN, "inside the cooldown", level=ERROR, source="api")])
    assert [n["event"] for n in notifications(db_url)] == ["fired", "fired"]
    ingest([ev(t + 10 * MIN, "cooldown over", level=ERROR, source="api")])
    events = [(n["event"], n["alert_id"]) for n in notifications(db_url)]
    assert events[-1] == ("repeat", by_group["api"]["id"]) and len(events) == 3
    api = next(a for a in alerts(db_url, rule) if a["group_key"] == "api")
    assert (api["count"], api["last_seen"], api["last_notified_at"]) == (4, t + 10 * MIN, t + 10 * MIN)


def test_acknowledged_alert_counts_repeats_but_never_renotifies(engine, db_url, setup):
    from core.store import alerts as alert_store

    project, connection, inbox = setup
    rule = make_rule(engine, project, "level", {"level": "error", "cooldown_s": 0, "channels": [inbox]})
    ingest = Ingest(engine, project, connection)
    t = base_time()
    ingest([ev(t, "boom", level=ERROR)])
    [alert] = alerts(db_url, rule)
    with session_scope(engine) as session:
        alert_store.acknowledge(session, actor=ACTOR, alert_id=alert["id"], comment="on it")
    for i in range(1, 4):
        ingest([ev(t + i * MIN, "boom", level=ERROR)])
    [alert] = alerts(db_url, rule)
    assert (alert["state"], alert["count"], alert["ack_comment"]) == ("acknowledged", 4, "on it")
    assert [n["event"] for n in notifications(db_url)] == ["fired"]
    audit = rows(db_url, "SELECT actor, action, target, details FROM audit_log WHERE action = 'alert.ack'")
    assert audit == [("system:cli", "alert.ack", f"alert:{alert['id']}", {"comment": "on it"})]


def test_quiet_period_resolves_then_a_new_match_opens_a_new_alert(engine, db_url, setup):
    project, connection, inbox = setup
    rule = make_rule(engine, project, "pattern", {"pattern": "panic", "resolve_after_s": 600, "channels": [inbox]})
    ingest = Ingest(engine, project, connection)
    t = base_time()
    ingest([ev(t, "panic: one"), ev(t + 5 * MIN, "panic: two"), ev(t + 15 * MIN, "panic: three")])
    first, second = alerts(db_url, rule)
    assert (first["state"], first["count"], first["resolved_at"]) == ("resolved", 2, t + 15 * MIN)
    assert (second["state"], second["count"]) == ("firing", 1)
    assert [n["event"] for n in notifications(db_url)] == ["fired", "resolved", "fired"]


def test_only_rows_the_batch_inserted_are_evaluated(engine, db_url, setup):
    """A real poll_once re-reading the same window (overlap, crash) never re-raises or recounts."""
    project, connection, _ = setup
    rule = make_rule(engine, project, "pattern", {"pattern": "OutOfMemory"})
    t = datetime.now(UTC) - timedelta(minutes=5)

    class Rereader:
        def fetch(self, cursors, now):
            raw = [RawEvent(dedupe_key=f"e{i}", ts=t + timedelta(seconds=i), message=f"java.lang.OutOfMemory {i}",
                            source="jvm", received_at=t) for i in range(3)]
            yield Batch(raw[:2])
            yield Batch(raw, {"p": {"hw_ms": int(now.timestamp() * 1000)}})  # overlaps the first page

    hook = make_hook(RuleCache())
    for _ in range(2):
        poll_once(engine, connector=Rereader(), project_id=project, connection_id=connection, on_new_events=hook)
    [alert] = alerts(db_url, rule)
    assert alert["count"] == 3


def test_alert_rows_roll_back_with_the_batch(engine, db_url, setup):
    project, connection, inbox = setup
    rule = make_rule(engine, project, "level", {"level": "error", "channels": [inbox]})
    real = make_hook(RuleCache())

    def hook_then_crash(conn, project_id, connection_id, events):
        real(conn, project_id, connection_id, events)
        raise RuntimeError("the batch fails after the rules ran")

    with pytest.raises(RuntimeError):
        Ingest(engine, project, connection, hook=hook_then_crash)([ev(base_time(), "boom", level=ERROR)])
    assert rows(db_url, "SELECT count(*) FROM log_events") == [(0,)]
    assert alerts(db_url, rule) == [] and notifications(db_url) == []


def test_a_failing_rule_does_not_stop_ingest(engine, db_url, setup, monkeypatch):
    project, connection, _ = setup
    make_rule(engine, project, "level", {"level": "error"})
    from core.alerts import lifecycle

    def broken(*args, **kwargs):
        raise RuntimeError("bug in a rule")

    monkeypatch.setattr(lifecycle, "observe", broken)
    assert Ingest(engine, project, connection)([ev(base_time(), "boom", level=ERROR)]) == 1
    assert rows(db_url, "SELECT count(*) FROM log_events") == [(1,)]


def test_edited_rules_are_picked_up_by_the_cache(engine, db_url, setup):
    project, connection, _ = setup
    rule = make_rule(engine, project, "pattern", {"pattern": "alpha"})
    ingest = Ingest(engine, project, connection)
    t = base_time()
    ingest([ev(t, "alpha")])
    with session_scope(engine) as session:
        rule_store.update_rule(session, actor=ACTOR, rule_id=rule, options={"pattern": "beta"})
    ingest([ev(t, "alpha"), ev(t, "beta")])
    assert alerts(db_url, rule)[0]["count"] == 2  # the first alpha, then only beta
    with session_scope(engine) as session:
        rule_store.set_enabled(session, actor=ACTOR, rule_id=rule, enabled=False)
    ingest([ev(t, "beta")])
    assert alerts(db_url, rule)[0]["count"] == 2


def test_a_pathological_regex_does_not_stall(engine, db_url, setup):
    project, connection, _ = setup
    rule = make_rule(engine, project, "pattern", {"pattern": "(a+)+$"})
    evil = "a" * 50_000 + "!"
    started = time.monotonic()
    Ingest(engine, project, connection)([ev(base_time(), evil, key=f"evil{i}") for i in range(20)])
    assert time.monotonic() - started < 2.0  # backtracking engines take forever on this
    assert alerts(db_url, rule) == []


def _compiled(rule_id: int, options: dict) -> object:
    return compile_rule(id=rule_id, project_id=1, project_name="p", name=f"r{rule_id}", type="pattern",
                        severity="warning", options=options)


def test_the_set_prefilter_agrees_with_a_plain_search():
    """Chunked RE2-set matching (with its anchor handling) finds exactly what per-message search finds."""
    patterns = [r"^GET", r"200$", r"\btimeout\b", r"(?i)ERROR", r"\Aboot", r"done\z", r"a.b", r"^$",
                r"[^x]+y", r"(?s)start.*end", r"(?-m)^only"]
    rules = [_compiled(i, {"pattern": p}) for i, p in enumerate(patterns, start=1)]
    matcher = StreamMatcher(rules)
    rng = random.Random(7)
    words = ["GET", "200", "timeout", "error", "boot", "done", "a", "b", "x", "y", "start", "end", "only", "\n", " "]
    messages = ["".join(rng.choice(words) for _ in range(rng.randint(0, 8))) for _ in range(3000)]
    events = [ev(base_time(), m) for m in messages]
    expected = {}
    for rule in rules:
        hits = [i for i, m in enumerate(messages) if rule.regex.search(m) is not None]
        if hits:
            expected[rule.id] = hits
    assert matcher.match(1, events) == expected
    assert RuleSet(version=(0, None), rules=rules).stream == rules
