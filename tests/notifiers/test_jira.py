"""Jira over REST v2 (plain requests) against a local fake: one issue per alert, comments on repeats and resolution."""

from __future__ import annotations

import base64

from core.db import session_scope
from core.notifiers.jira import description
from core.notifiers.registry import build
from core.store import alerts as alert_store
from tests.alerts.helpers import ACTOR, MIN, alerts, base_time, drain, ev, fast_policy, notifications, raise_alert
from tests.notifiers.test_email import HOSTILE, message
from tests.peers.webhooks import JIRA_TOKEN, JIRA_USER, Reply


def config(peer, **extra) -> dict:
    return {"base_url": peer.url, "project_key": "OPS", "username": JIRA_USER, **extra}


def test_create_issue_payload_is_exact(webhook_server):
    notifier = build("jira", config(webhook_server), {"api_token": JIRA_TOKEN})
    delivery = notifier.send(message())
    [request] = webhook_server.requests
    assert (request.method, request.path, delivery.ref) == ("POST", "/rest/api/2/issue", "OPS-1")
    auth = base64.b64encode(f"{JIRA_USER}:{JIRA_TOKEN}".encode()).decode()
    assert request.header("Authorization") == f"Basic {auth}"
    assert request.json == {"fields": {
        "project": {"key": "OPS"},
        "summary": f"[CRITICAL] checkout errors (checkout-api) fired: checkout errors: {HOSTILE}",
        "description": description(message()),
        "issuetype": {"name": "Bug"},
        "labels": ["loglytics", "ll-7-fired-0-0123456789abcdef"],
    }}
    body = request.json["fields"]["description"]
    # log text sits in noformat blocks (titles included), which it cannot close
    assert body.startswith("{noformat}\ncheckout errors: " + HOSTILE + "\n\nProject: shop\n")
    assert "{noformat}\n2026-03-01 12:00:00 checkout-api: " + HOSTILE + "\n{noformat}" in body
    assert "[Open in Loglytics|http://localhost:8501/alerts?alert=7]" in body


def test_noformat_cannot_be_closed_by_log_text():
    text = description(message(samples=[{"ts": "", "source": "x", "message": "{noformat}[link|http://evil]"}]))
    assert text.count("{noformat}") == 4 and "{ noformat}[link|http://evil]" in text


def test_bearer_token_without_username(webhook_server):
    notifier = build("jira", config(webhook_server, username=None), {"api_token": JIRA_TOKEN})
    notifier.send(message())
    assert webhook_server.requests[0].header("Authorization") == f"Bearer {JIRA_TOKEN}"


def test_one_issue_per_alert_comments_on_repeats_and_resolution(engine, db_url, vault, webhook_server):
    project, channel, rule, ingest = raise_alert(engine, db_url, vault, "jira", config(webhook_server),
                                                 {"api_token": JIRA_TOKEN}, cooldown_s=60)
    ingest([ev(base_time() + 2 * MIN, "payment declined again", level=5, source="checkout-api")])  # a repeat
    [alert] = alerts(db_url, rule)
    with session_scope(engine) as session:
        alert_store.resolve(session, actor=ACTOR, alert_id=alert["id"])
    drain(engine, vault)
    assert list(webhook_server.issues) == ["OPS-1"]
    comments = webhook_server.issues["OPS-1"]["comments"]
    assert [c["body"].split("\n")[0] for c in comments] == ["Still firing: 2 occurrences, last seen "
                                                            f"{(base_time() + 2 * MIN):%Y-%m-%d %H:%M:%S} UTC",
                                                            "Resolved."]
    sent = notifications(db_url)
    assert [(n["event"], n["status"], n["payload"]["delivery"]["ref"]) for n in sent] == [
        ("fired", "sent", "OPS-1"), ("repeat", "sent", "OPS-1"), ("resolved", "sent", "OPS-1")]
    assert all(f"[loglytics:{n['idempotency_key']}]" in c["body"] for n, c in zip(sent[1:], comments, strict=True))


def test_429_then_500_then_success_creates_exactly_one_issue(engine, db_url, vault, webhook_server):
    webhook_server.script("/rest/api/2/issue", Reply(429, {"Retry-After": "1"}, {"errorMessages": ["slow down"]}),
                          Reply(500, body={"errorMessages": ["internal"]}))
    raise_alert(engine, db_url, vault, "jira", config(webhook_server), {"api_token": JIRA_TOKEN})
    drain(engine, vault, policy=fast_policy())
    assert len(webhook_server.to("/rest/api/2/issue")) == 3 and list(webhook_server.issues) == ["OPS-1"]
    [n] = notifications(db_url)
    assert (n["status"], n["attempts"], n["payload"]["delivery"]["ref"]) == ("sent", 3, "OPS-1")


def test_an_unknown_outcome_is_checked_before_writing_again(webhook_server):
    """A retry after a lost answer finds the issue (by label) and the comment (by marker) instead of doubling them."""
    notifier = build("jira", config(webhook_server), {"api_token": JIRA_TOKEN})
    first = notifier.send(message())
    again = notifier.send(message(uncertain=True))
    assert (first.ref, again.ref, again.details) == ("OPS-1", "OPS-1", {"deduplicated": True})
    repeat = message(event="repeat", thread_ref="OPS-1", idempotency_key="ll-7-repeat-2-abc")
    notifier.send(repeat)
    notifier.send(message(event="repeat", thread_ref="OPS-1", idempotency_key="ll-7-repeat-2-abc", uncertain=True))
    assert list(webhook_server.issues) == ["OPS-1"] and len(webhook_server.issues["OPS-1"]["comments"]) == 1


def test_bad_credentials_are_permanent(webhook_server):
    notifier = build("jira", config(webhook_server), {"api_token": "not-the-token"})
    try:
        notifier.send(message())
    except Exception as exc:  # noqa: BLE001
        assert exc.permanent and "401" in str(exc) and "not-the-token" not in str(exc)
    else:
        raise AssertionError("expected a NotifierError")
