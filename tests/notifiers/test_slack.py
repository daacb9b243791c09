"""Slack through slack_sdk against a local fake: exact payloads, threads, 429/500/success, exactly one message."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from core.errors import NotifierError
from core.notifiers.registry import build
from core.notifiers.slack import render_blocks
from tests.alerts.helpers import drain, fast_policy, notifications, raise_alert
from tests.notifiers.test_email import HOSTILE, message
from tests.peers.webhooks import SLACK_TOKEN, Reply

HOOK_PATH = "/hooks/T0001/B0001/abcdefSECRETxyz"


def expected_blocks() -> list[dict]:
    def plain(text):
        return {"type": "plain_text", "text": text, "emoji": False}

    return [
        {"type": "header", "text": plain("[CRITICAL] checkout errors (checkout-api) fired")},
        {"type": "section", "text": plain(f"checkout errors: {HOSTILE}")},
        {"type": "section", "fields": [plain(t) for t in (
            "Project: shop", "Rule: checkout errors (level)", "Severity: critical", "State: firing", "Count: 3",
            "Group: checkout-api", "First seen: 2026-03-01 12:00:00 UTC", "Last seen: 2026-03-01 12:00:00 UTC")]},
        {"type": "rich_text", "elements": [{"type": "rich_text_preformatted", "elements": [
            {"type": "text", "text": f"2026-03-01 12:00:00 checkout-api: {HOSTILE}"}]}]},
        {"type": "actions", "elements": [{"type": "button", "text": plain("Open in Loglytics"),
                                          "url": "http://localhost:8501/alerts?alert=7"}]},
    ]


def test_webhook_payload_is_exact(webhook_server):
    notifier = build("slack", {}, {"webhook_url": webhook_server.url + HOOK_PATH})
    notifier.send(message())
    [request] = webhook_server.requests
    assert (request.method, request.path) == ("POST", HOOK_PATH)
    assert request.header("Content-Type") == "application/json;charset=utf-8"
    assert request.header("Idempotency-Key") == "ll-7-fired-0-0123456789abcdef"
    assert request.json == {
        "text": "[CRITICAL] checkout errors (checkout-api) fired: checkout errors (3x)",
        "blocks": expected_blocks(),
    }


def test_fallback_text_escapes_what_slack_would_link_or_mention():
    blocks = render_blocks(message(group_key="<!channel>"))
    assert blocks[0]["text"]["type"] == "plain_text"  # shown literally
    notifier_text = "[CRITICAL] checkout errors (&lt;!channel&gt;) fired"
    from core.notifiers.slack import _escape

    assert _escape(message(group_key="<!channel>").headline) == notifier_text


def test_bot_token_posts_and_threads_repeats(webhook_server):
    notifier = build("slack", {"channel": "#alerts", "api_base_url": webhook_server.url + "/api"},
                     {"bot_token": SLACK_TOKEN})
    first = notifier.send(message())
    again = notifier.send(message(event="repeat", count=9, thread_ref=first.ref, idempotency_key="ll-7-repeat-9-x"))
    one, two = webhook_server.to("/api/chat.postMessage")
    assert one.header("Authorization") == f"Bearer {SLACK_TOKEN}"
    assert one.json["channel"] == "#alerts" and one.json["blocks"] == expected_blocks()
    assert "thread_ts" not in one.json
    assert two.json["thread_ts"] == first.ref == again.ref.replace("000002", "000001")
    assert two.header("Idempotency-Key") == "ll-7-repeat-9-x"


def test_bot_token_refused_is_permanent_and_secret_free(webhook_server):
    notifier = build("slack", {"channel": "#alerts", "api_base_url": webhook_server.url + "/api/"},
                     {"bot_token": "xoxb-9999-wrong-token"})
    try:
        notifier.send(message())
    except NotifierError as exc:
        assert exc.permanent and "invalid_auth" in str(exc) and "xoxb-9999" not in str(exc)
    else:
        raise AssertionError("expected a NotifierError")


def test_429_then_500_then_success_sends_exactly_one_message(engine, db_url, vault, webhook_server):
    webhook_server.script("/hooks/", Reply(429, {"Retry-After": "1"}, "rate_limited"), Reply(500, body="oops"))
    url = webhook_server.url + HOOK_PATH
    raise_alert(engine, db_url, vault, "slack", {}, {"webhook_url": url})
    started = time.monotonic()
    drain(engine, vault, policy=fast_policy(), dashboard_url="http://dash.example")
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert len(webhook_server.requests) == 3 and len(webhook_server.slack_messages) == 1
    keys = {r.header("Idempotency-Key") for r in webhook_server.requests}
    [notification] = notifications(db_url)
    assert keys == {notification["idempotency_key"]}
    assert (notification["status"], notification["attempts"], notification["last_error"]) == ("sent", 3, None)
    body = webhook_server.slack_messages[0].json
    assert body["blocks"][-1]["elements"][0]["url"] == f"http://dash.example/alerts?alert={notification['alert_id']}"
    assert "payment <declined> for order #42" in body["blocks"][3]["elements"][0]["elements"][0]["text"]


def test_errors_are_stored_without_the_webhook_secret(engine, db_url, vault, webhook_server):
    webhook_server.script("/hooks/", Reply(404, body="no_service"))
    raise_alert(engine, db_url, vault, "slack", {}, {"webhook_url": webhook_server.url + HOOK_PATH})
    drain(engine, vault)
    [notification] = notifications(db_url)
    assert notification["status"] == "dead" and notification["attempts"] == 1
    assert notification["last_error"] == "permanent error: Slack webhook answered HTTP 404: no_service"
    with engine.connect() as conn:
        for table in ("audit_log", "notifications", "channels"):
            dump = conn.exec_driver_sql(f"SELECT t::text FROM {table} t").scalars().all()
            assert not any("SECRETxyz" in row for row in dump), table


def test_unreachable_is_retried_and_scrubbed(engine, db_url, vault):
    secret_url = "http://127.0.0.1:1/hooks/T1/B1/SECRETtoken99"
    raise_alert(engine, db_url, vault, "slack", {}, {"webhook_url": secret_url})
    drain(engine, vault, policy=fast_policy(max_attempts=2))
    [notification] = notifications(db_url)
    assert notification["status"] == "dead" and notification["attempts"] == 2
    assert notification["last_error"].startswith("gave up after 2 attempts: Slack unreachable")
    assert "SECRETtoken99" not in notification["last_error"]
    assert datetime.now(UTC) >= notification["created_at"]
