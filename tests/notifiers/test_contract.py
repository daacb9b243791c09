"""One contract, every notifier: a test message arrives; unreachable means retry; secrets never leak."""

from __future__ import annotations

import pytest

from core.alerts.dispatcher import send_test
from core.errors import NotifierError, UsageError
from core.notifiers import registry
from core.notifiers.base import sample_message
from tests.peers.webhooks import JIRA_TOKEN, JIRA_USER, SLACK_TOKEN


def settings(kind: str, request) -> tuple[dict, dict | None, callable]:
    """(config, secret, delivered()) of a channel of this kind pointed at its local peer."""
    if kind == "inapp":
        return {}, None, lambda: True
    if kind == "email":
        smtp = request.getfixturevalue("smtp_server")
        return smtp.config(), {"password": smtp.password}, lambda: len(smtp.received) == 1
    peer = request.getfixturevalue("webhook_server")
    if kind == "slack":
        return {}, {"webhook_url": peer.url + "/hooks/T/B/contract-secret"}, lambda: len(peer.slack_messages) == 1
    if kind == "slack-bot":
        return ({"channel": "#ops", "api_base_url": peer.url + "/api/"}, {"bot_token": SLACK_TOKEN},
                lambda: len(peer.slack_messages) == 1)
    return ({"base_url": peer.url, "project_key": "OPS", "username": JIRA_USER}, {"api_token": JIRA_TOKEN},
            lambda: list(peer.issues) == ["OPS-1"])


KINDS = ["inapp", "email", "slack", "slack-bot", "jira"]


def _type(kind: str) -> str:
    return kind.split("-")[0]


@pytest.mark.parametrize("kind", KINDS)
def test_a_test_message_arrives(kind, request):
    config, secret, delivered = settings(kind, request)
    ok, message = send_test(channel_type=_type(kind), config=config, secret=secret, project="shop", channel_name="c",
                            dashboard_url="http://localhost:8501")
    assert ok, message
    assert delivered()


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "inapp"])
def test_unreachable_is_retryable_and_secret_free(kind, request):
    config, secret, _ = settings(kind, request)
    if kind == "email":
        config = {**config, "port": 1}
    elif kind == "slack":
        secret = {"webhook_url": "http://127.0.0.1:1/hooks/T/B/contract-secret"}
    elif kind == "slack-bot":
        config = {**config, "api_base_url": "http://127.0.0.1:1/api/"}
    else:
        config = {**config, "base_url": "http://127.0.0.1:1"}
    notifier = registry.build(_type(kind), config, secret)
    with pytest.raises(NotifierError) as info:
        notifier.send(sample_message(project="shop", channel="c"))
    assert not info.value.permanent
    text = str(info.value)
    for value in (secret or {}).values():
        assert value not in text


@pytest.mark.parametrize(("kind", "config", "secret", "error"), [
    ("email", {"host": "h", "from_addr": "a@b.c", "to_addrs": []}, None, "config.to_addrs"),
    ("email", {"host": "h", "from_addr": "a@b.c", "to_addrs": ["x@y.z"], "username": "u"}, None,
     "secret.password is required"),
    ("slack", {}, {}, "set exactly one of webhook_url or bot_token"),
    ("slack", {}, {"webhook_url": "ftp://x"}, "must be an http(s) URL"),
    ("jira", {"base_url": "https://x", "project_key": "ops"}, {"api_token": "t"}, "config.project_key"),
    ("jira", {"base_url": "https://x", "project_key": "OPS"}, {}, "secret.api_token: Field required"),
    ("pager", {}, None, "unknown channel type 'pager'"),
])
def test_settings_are_validated_before_saving(kind, config, secret, error):
    with pytest.raises(UsageError) as info:
        registry.build(kind, config, secret)
    assert error in str(info.value)
