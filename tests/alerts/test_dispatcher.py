"""The outbox dispatcher: claims, backoff, dead letters, per-alert order, and a worker killed mid-send."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from core.alerts.dispatcher import RetryPolicy, dispatch_due
from core.db import session_scope
from core.store import channels as channel_store
from tests.alerts.helpers import (
    ACTOR,
    MIN,
    Ingest,
    base_time,
    drain,
    ev,
    fast_policy,
    make_channel,
    make_connection,
    make_project,
    make_rule,
    notifications,
    raise_alert,
)
from tests.conftest import repo_root
from tests.peers.webhooks import Reply

HOOK = "/hooks/T1/B1/kill-test-secret"


def test_backoff_grows_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(base_s=2, cap_s=60)
    for attempt, ceiling in ((1, 2), (2, 4), (3, 8), (6, 60), (10, 60)):
        delays = [policy.delay(attempt, None) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(set(delays)) > 1
    assert policy.delay(1, 30) == 30  # Retry-After is a floor
    assert policy.delay(1, 10**6) == policy.max_retry_after_s


def test_inbox_deliveries_are_immediate(engine, db_url, vault):
    raise_alert(engine, db_url, vault, "inapp", {}, None)
    stats = dispatch_due(engine, vault=vault)
    assert stats.sent == 1 and notifications(db_url)[0]["status"] == "sent"


def test_a_disabled_channel_makes_the_delivery_dead(engine, db_url, vault):
    _, channel, _, _ = raise_alert(engine, db_url, vault, "inapp", {}, None)
    with session_scope(engine) as session:
        channel_store.update_channel(session, actor=ACTOR, vault=vault, channel_id=channel, enabled=False)
    dispatch_due(engine, vault=vault)
    [n] = notifications(db_url)
    assert (n["status"], n["last_error"]) == ("dead", "permanent error: channel disabled or deleted")


def test_a_repeat_never_overtakes_the_message_that_opened_the_alert(engine, db_url, vault, webhook_server):
    webhook_server.script("/hooks/", Reply(500))
    _, _, _, ingest = raise_alert(engine, db_url, vault, "slack", {}, {"webhook_url": webhook_server.url + HOOK},
                                  cooldown_s=0)
    ingest([ev(base_time() + MIN, "declined again", level=5, source="checkout-api")])
    drain(engine, vault)
    events = [r.json["text"].split(": ")[0] for r in webhook_server.requests]
    assert events == ["[CRITICAL] checkout errors fired"] * 2 + ["[CRITICAL] checkout errors still firing"]


def test_two_dispatchers_never_send_one_notification_twice(engine, db_url, vault, webhook_server):
    project = make_project(engine)
    connection = make_connection(db_url, project)
    channel = make_channel(engine, vault, project, "slack", {}, {"webhook_url": webhook_server.url + HOOK})
    make_rule(engine, project, "level", {"level": "error", "group_by": "source", "channels": [channel]})
    Ingest(engine, project, connection)([ev(base_time(), "x", level=5, source=f"s{i}") for i in range(20)])
    policy = fast_policy()
    threads = [threading.Thread(target=dispatch_due, args=(engine,), kwargs={"vault": vault, "policy": policy})
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(webhook_server.requests) == 20 == len({r.header("Idempotency-Key") for r in webhook_server.requests})
    assert {n["status"] for n in notifications(db_url)} == {"sent"}


DISPATCHER = """
import os, time
from core.alerts.dispatcher import RetryPolicy, dispatch_due
from core.db import make_engine
from core.vault import Vault
engine = make_engine(os.environ["DATABASE_URL"])
vault = Vault([os.environ["CREDENTIAL_ENCRYPTION_KEYS"]])
policy = RetryPolicy(base_s=0.05, cap_s=0.2, claim_s=float(os.environ["CLAIM_S"]))
while True:
    dispatch_due(engine, vault=vault, policy=policy)
    time.sleep(0.05)
"""


@pytest.mark.slow
def test_a_dispatcher_killed_mid_send_delivers_each_notification_once(engine, db_url, vault, fernet_key,
                                                                       webhook_server):
    """SIGKILL while the receiver holds the first request: after restart each message arrives exactly once.

    The killed attempt did reach the receiver, so the retry puts a second request on the wire
    (at-least-once): the receiver sees the same Idempotency-Key and keeps one message.
    """
    project = make_project(engine)
    connection = make_connection(db_url, project)
    channel = make_channel(engine, vault, project, "slack", {}, {"webhook_url": webhook_server.url + HOOK})
    make_rule(engine, project, "level", {"level": "error", "group_by": "source", "channels": [channel]})
    Ingest(engine, project, connection)([ev(base_time(), "x", level=5, source=f"svc-{i}") for i in range(3)])
    webhook_server.script("/hooks/", Reply(delay_s=5))  # the first answer comes too late for the worker
    env = {**os.environ, "DATABASE_URL": db_url, "CREDENTIAL_ENCRYPTION_KEYS": fernet_key, "CLAIM_S": "1.5"}
    proc = subprocess.Popen([sys.executable, "-c", DISPATCHER], cwd=repo_root(), env=env)
    try:
        webhook_server.wait_for_requests(1, timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    states = [(n["status"], n["attempts"]) for n in notifications(db_url)]
    assert states == [("sending", 1), ("pending", 0), ("pending", 0)]
    started = time.monotonic()
    drain(engine, vault, policy=fast_policy(claim_s=1.5))  # the restarted worker
    assert time.monotonic() - started >= 0.5  # it waited for the dead worker's claim to expire
    sent = notifications(db_url)
    assert [(n["status"], n["attempts"]) for n in sent] == [("sent", 2), ("sent", 1), ("sent", 1)]
    keys = [r.header("Idempotency-Key") for r in webhook_server.requests]
    assert sorted(keys) == sorted([sent[0]["idempotency_key"]] * 2 + [n["idempotency_key"] for n in sent[1:]])
    assert sorted(m.header("Idempotency-Key") for m in webhook_server.slack_messages) == sorted(
        n["idempotency_key"] for n in sent)  # each message exactly once at the receiver
