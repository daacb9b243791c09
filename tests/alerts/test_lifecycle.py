"""Lifecycle: silences with an expiry, resolution notified, unread on news, concurrent writers, window acks."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core.alerts import lifecycle
from core.alerts.cache import RuleCache
from core.alerts.stream import make_hook
from core.alerts.window import WindowEvaluator
from core.db import session_scope
from core.levels import ERROR
from core.pipeline.loader import load_batch, prepare
from core.store import alerts as alert_store
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
)


@pytest.fixture
def setup(engine, db_url, vault):
    project = make_project(engine)
    return project, make_connection(db_url, project), make_channel(engine, vault, project, "inapp", {})


def events_of(db_url):
    return [n["event"] for n in notifications(db_url)]


def test_silence_holds_notifications_until_it_expires(engine, db_url, setup):
    project, connection, inbox = setup
    rule = make_rule(engine, project, "level", {"level": "error", "cooldown_s": 0, "channels": [inbox]})
    ingest = Ingest(engine, project, connection)
    t = base_time()
    ingest([ev(t, "boom", level=ERROR)])
    [alert] = alerts(db_url, rule)
    with session_scope(engine) as session:
        alert_store.silence(session, actor=ACTOR, alert_id=alert["id"], until=datetime.now(UTC) + timedelta(seconds=1))
        with pytest.raises(Exception, match="must end in the future"):
            alert_store.silence(session, actor=ACTOR, alert_id=alert["id"], until=datetime.now(UTC) - MIN)
    ingest([ev(t + MIN, "boom", level=ERROR)])
    assert events_of(db_url) == ["fired"] and alerts(db_url, rule)[0]["state"] == "silenced"
    time.sleep(1.1)
    ingest([ev(t + 2 * MIN, "boom", level=ERROR)])
    [alert] = alerts(db_url, rule)
    assert (alert["state"], alert["count"], alert["silenced_until"]) == ("firing", 3, None)
    assert events_of(db_url) == ["fired", "repeat"]


def test_expired_silences_wake_up_on_the_worker_pass(engine, db_url, setup):
    project, connection, _ = setup
    rule = make_rule(engine, project, "level", {"level": "error"})
    Ingest(engine, project, connection)([ev(base_time(), "boom", level=ERROR)])
    [alert] = alerts(db_url, rule)
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE alerts SET state = 'silenced', silenced_until = now() - interval '1 s'")
    WindowEvaluator().run(engine)
    assert alerts(db_url, rule)[0]["state"] == "firing"


def test_resolution_is_notified_and_a_new_match_opens_a_new_alert(engine, db_url, setup):
    project, connection, inbox = setup
    rule = make_rule(engine, project, "level", {"level": "error", "channels": [inbox]})
    ingest = Ingest(engine, project, connection)
    t = base_time()
    ingest([ev(t, "boom", level=ERROR)])
    [alert] = alerts(db_url, rule)
    with session_scope(engine) as session:
        alert_store.mark_read(session, actor=ACTOR, alert_id=alert["id"])
        resolved = alert_store.resolve(session, actor=ACTOR, alert_id=alert["id"])
    assert resolved.state == "resolved" and resolved.resolved_at is not None
    ingest([ev(t + MIN, "boom", level=ERROR)])
    old, new = alerts(db_url, rule)
    assert (old["state"], new["state"], new["read"]) == ("resolved", "firing", False)
    assert events_of(db_url) == ["fired", "resolved", "fired"]
    resolution = notifications(db_url)[1]["payload"]
    assert resolution["event"] == "resolved" and resolution["alert"]["state"] == "resolved"


def test_a_notified_repeat_marks_the_alert_unread_again(engine, db_url, setup):
    project, connection, inbox = setup
    rule = make_rule(engine, project, "level", {"level": "error", "cooldown_s": 120, "channels": [inbox]})
    ingest = Ingest(engine, project, connection)
    t = base_time()
    ingest([ev(t, "boom", level=ERROR)])
    alert_id = alerts(db_url, rule)[0]["id"]
    with session_scope(engine) as session:
        alert_store.mark_read(session, actor=ACTOR, alert_id=alert_id)
    ingest([ev(t + MIN, "boom", level=ERROR)])  # inside the cooldown: news, but no notification
    assert alerts(db_url, rule)[0]["read"] is True
    ingest([ev(t + 3 * MIN, "boom", level=ERROR)])
    assert alerts(db_url, rule)[0]["read"] is False


def test_acknowledged_window_alert_stays_quiet_and_still_resolves_itself(engine, db_url, setup):
    project, connection, inbox = setup
    rule = make_rule(engine, project, "threshold", {"threshold": 1, "window_s": 60, "cooldown_s": 0,
                                                   "channels": [inbox]})
    ingest = Ingest(engine, project, connection)
    t = base_time()
    evaluator = WindowEvaluator()
    ingest([ev(t + 10 * MIN + 5 * lifecycle.timedelta(seconds=1), "x")], hw=t + 11 * MIN)
    evaluator.run(engine, now=t + 11 * MIN)
    [alert] = alerts(db_url, rule)
    with session_scope(engine) as session:
        alert_store.acknowledge(session, actor=ACTOR, alert_id=alert["id"])
    ingest([ev(t + 11 * MIN + 5 * lifecycle.timedelta(seconds=1), "x")], hw=t + 13 * MIN)
    evaluator.run(engine, now=t + 13 * MIN)
    [alert] = alerts(db_url, rule)
    assert (alert["count"], alert["state"], alert["resolved_at"]) == (2, "resolved", t + 13 * MIN)
    assert events_of(db_url) == ["fired", "resolved"]


def test_two_batches_racing_on_a_new_fingerprint_share_one_alert(engine, db_url, setup):
    project, connection, inbox = setup
    rule = make_rule(engine, project, "level", {"level": "error", "channels": [inbox]})
    hook = make_hook(RuleCache())
    t = base_time()

    def batch(conn, key):
        prepare(conn)
        result = load_batch(conn, project_id=project, connection_id=connection, events=[ev(t, "boom", level=ERROR,
                                                                                          key=key)])
        hook(conn, project, connection, result.new_events)

    first = psycopg.connect(db_url)
    first.execute("BEGIN")
    batch(first, "a")  # its alert row is inserted, not yet committed

    def second():
        with psycopg.connect(db_url) as conn, conn.transaction():
            batch(conn, "b")  # waits on the unique index until the first commits

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    first.commit()
    first.close()
    thread.join(timeout=10)
    [alert] = alerts(db_url, rule)
    assert alert["count"] == 2 and events_of(db_url) == ["fired"]
