"""Email through a real aiosmtpd server: STARTTLS, AUTH, text and HTML bodies with log text escaped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import NotifierError
from core.notifiers.base import Message
from core.notifiers.registry import build

HOSTILE = '<script>alert("x")</script> & </pre><img src=x onerror=1>'


def message(**kw) -> Message:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    return Message(**{
        "event": "fired", "project": "shop", "rule": "checkout errors", "rule_type": "level", "severity": "critical",
        "title": f"checkout errors: {HOSTILE}", "state": "firing", "count": 3, "group_key": "checkout-api",
        "first_seen": at, "last_seen": at, "alert_id": 7, "link": "http://localhost:8501/alerts?alert=7",
        "samples": [{"ts": at.isoformat(), "source": "checkout-api", "message": HOSTILE}],
        "idempotency_key": "ll-7-fired-0-0123456789abcdef", **kw})


def test_mail_arrives_over_starttls_with_login(smtp_server):
    notifier = build("email", smtp_server.config(), {"password": smtp_server.password})
    delivery = notifier.send(message())
    [got] = smtp_server.received
    assert (got.tls, got.login, got.mail_from, got.rcpt_tos) == (True, smtp_server.username,
                                                                  "loglytics@example.com", ["oncall@example.com"])
    mail = got.message
    assert mail["Subject"].startswith("[CRITICAL] checkout errors (checkout-api) fired: checkout errors: <script>")
    assert mail["Message-ID"] == "<ll-7-fired-0-0123456789abcdef@loglytics>" == delivery.ref
    assert mail["X-Loglytics-Idempotency-Key"] == "ll-7-fired-0-0123456789abcdef"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert HOSTILE in text  # plain text is shown as text
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;/pre&gt;&lt;img src=x onerror=1&gt;" in html
    assert 'href="http://localhost:8501/alerts?alert=7"' in html
    assert "Count</th><td>3</td>" in html


def test_a_refused_login_is_permanent_and_never_shows_the_password(smtp_server):
    notifier = build("email", smtp_server.config(), {"password": "wrong-password-123"})
    with pytest.raises(NotifierError) as info:
        notifier.send(message())
    assert info.value.permanent and "login refused" in str(info.value)
    assert "wrong-password-123" not in str(info.value)
    assert smtp_server.received == [] and smtp_server.refused_logins >= 1  # smtplib tries PLAIN, then LOGIN


def test_the_server_requires_tls_first(smtp_server):
    notifier = build("email", smtp_server.config(security="none", username=None), None)
    with pytest.raises(NotifierError) as info:
        notifier.send(message())
    assert info.value.permanent and "530" in str(info.value)


def test_an_untrusted_certificate_is_refused(smtp_server):
    notifier = build("email", smtp_server.config(ca_file=None), {"password": smtp_server.password})
    with pytest.raises(NotifierError) as info:
        notifier.send(message())
    assert "TLS" in str(info.value) and info.value.permanent


def test_unreachable_server_is_worth_retrying(smtp_server):
    notifier = build("email", smtp_server.config(port=1), {"password": smtp_server.password})
    with pytest.raises(NotifierError) as info:
        notifier.send(message())
    assert not info.value.permanent and "unreachable" in str(info.value)
