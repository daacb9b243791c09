"""`loglytics channels|rules|alerts …` against the test database, as the row-level-security app role."""

from __future__ import annotations

import json

from core.levels import ERROR
from tests.alerts.helpers import Ingest, base_time, ev, make_connection, rows
from tests.cli.conftest import cli  # noqa: F401 - the fixture
from tests.peers.webhooks import SLACK_TOKEN

HOOK = "/hooks/T9/B9/cli-secret-part"


def test_channels_add_list_show_test_delete(cli, webhook_server, db_url):
    assert cli("projects", "add", "shop").code == 0
    assert cli("channels", "add", "--project", "shop", "--type", "inapp", "--name", "inbox").code == 0
    secret = json.dumps({"webhook_url": webhook_server.url + HOOK})
    added = cli("channels", "add", "--project", "shop", "--type", "slack", "--name", "ops", "--secret-stdin",
                "--json", stdin=secret)
    assert added.code == 0
    slack_id = added.json()["id"]
    listed = cli("channels", "list", "--json")
    assert [(c["name"], c["type"], c["has_secret"]) for c in listed.json()] == [("inbox", "inapp", False),
                                                                                ("ops", "slack", True)]
    assert "cli-secret-part" not in listed.out
    shown = cli("channels", "show", str(slack_id), "--json").json()
    assert shown["secret"] == {"webhook_url": "********"}
    tested = cli("channels", "test", str(slack_id))
    assert (tested.code, tested.out.strip()) == (0, "ok: sent")
    assert len(webhook_server.slack_messages) == 1
    assert "test notification" in webhook_server.slack_messages[0].json["text"]
    audit = rows(db_url, "SELECT action, outcome, details::text FROM audit_log "
                         "WHERE action LIKE 'channel.%' ORDER BY id")
    assert [a[:2] for a in audit] == [("channel.create", "ok"), ("channel.create", "ok"), ("channel.test", "ok")]
    assert not any("cli-secret-part" in a[2] for a in audit)
    assert cli("channels", "delete", str(slack_id)).code == 0
    assert len(cli("channels", "list", "--json").json()) == 1


def test_channel_validation_and_failed_test(cli, webhook_server):
    cli("projects", "add", "shop")
    bad = cli("channels", "add", "--project", "shop", "--type", "slack", "--name", "x", "--secret-stdin",
              stdin=json.dumps({"bot_token": SLACK_TOKEN}))
    assert bad.code == 2 and "config.channel is required with a bot token" in bad.err
    email = cli("channels", "add", "--project", "shop", "--type", "email", "--name", "mail",
                "--config", json.dumps({"host": "127.0.0.1", "port": 1, "from_addr": "a@b.c", "to_addrs": ["x"]}))
    assert email.code == 2 and "config.to_addrs: Value error, 'x' must look like name@example.com" in email.err
    added = cli("channels", "add", "--project", "shop", "--type", "slack", "--name", "down", "--json",
                "--secret-stdin", stdin=json.dumps({"webhook_url": "http://127.0.0.1:1/hooks/secret-value-77"}))
    tested = cli("channels", "test", str(added.json()["id"]))
    assert tested.code == 1 and tested.out.startswith("failed: Slack unreachable")
    assert "secret-value-77" not in tested.out + tested.err


def test_rules_add_list_disable_delete_and_regex_errors(cli, db_url):
    cli("projects", "add", "shop")
    cli("channels", "add", "--project", "shop", "--type", "inapp", "--name", "inbox")
    bad = cli("rules", "add", "--project", "shop", "--name", "r", "--type", "pattern",
              "--options", json.dumps({"pattern": r"(\w+) \1"}))
    assert bad.code == 2
    assert "options.pattern: Value error, invalid regular expression: invalid escape sequence: \\1" in bad.err
    assert "no backreferences or look-around" in bad.err
    unknown = cli("rules", "add", "--project", "shop", "--name", "r", "--type", "threshold",
                  "--options", json.dumps({"threshold": 5, "window_s": 90}))
    assert unknown.code == 2 and "window_s must be a whole number of minutes" in unknown.err
    added = cli("rules", "add", "--project", "shop", "--name", "errors", "--type", "level", "--severity", "critical",
                "--channel", "inbox", "--options", json.dumps({"level": "error", "group_by": "source"}), "--json")
    assert added.code == 0
    rule_id = added.json()["id"]
    [listed] = cli("rules", "list", "--json").json()
    assert (listed["name"], listed["severity"], listed["enabled"], listed["summary"]) == (
        "errors", "critical", True, "level >= 5 by source")
    assert listed["options"]["channels"] == [1]
    assert cli("rules", "disable", str(rule_id)).code == 0
    assert cli("rules", "list", "--json").json()[0]["enabled"] is False
    assert cli("rules", "enable", str(rule_id)).code == 0
    assert cli("rules", "delete", str(rule_id)).code == 0
    assert cli("rules", "list").out.strip() == "(none)"
    assert cli("rules", "delete", str(rule_id)).code == 2
    audit = rows(db_url, "SELECT actor, action, target FROM audit_log WHERE action LIKE 'rule.%' ORDER BY id")
    assert audit == [("system:cli", a, f"rule:{rule_id}") for a in ("rule.create", "rule.disable", "rule.enable",
                                                                      "rule.delete")]


def test_alerts_inbox_ack_silence_read_resolve_and_backtest(cli, engine, db_url):
    cli("projects", "add", "shop")
    cli("channels", "add", "--project", "shop", "--type", "inapp", "--name", "inbox")
    rule_id = cli("rules", "add", "--project", "shop", "--name", "errors", "--type", "level", "--channel", "inbox",
                  "--options", json.dumps({"group_by": "source"}), "--json").json()["id"]
    connection = make_connection(db_url, 1)
    t = base_time()
    Ingest(engine, 1, connection)([ev(t, "db down", level=ERROR, source="db"),
                                   ev(t, "api down", level=ERROR, source="api")])
    listed = cli("alerts", "list", "--json", "--unread").json()
    assert sorted((a["rule"], a["title"], a["state"]) for a in listed) == [
        ("errors", "errors: api down", "firing"), ("errors", "errors: db down", "firing")]
    first, second = sorted(a["id"] for a in listed)
    assert cli("alerts", "ack", str(first), "--comment", "looking").code == 0
    assert cli("alerts", "silence", str(second), "--for", "1h").code == 0
    assert cli("alerts", "read", str(second)).code == 0
    states = {a["id"]: (a["state"], a["read"]) for a in cli("alerts", "list", "--json").json()}
    assert states == {first: ("acknowledged", True), second: ("silenced", True)}
    assert cli("alerts", "resolve", str(first)).code == 0
    assert cli("alerts", "resolve", str(first)).code == 2  # already resolved
    assert [a["id"] for a in cli("alerts", "list", "--json", "--state", "resolved").json()] == [first]
    shown = cli("alerts", "show", str(first), "--json").json()
    assert [(d["event"], d["status"]) for d in shown["deliveries"]] == [("fired", "pending"), ("resolved", "pending")]
    audit = rows(db_url, "SELECT action, target FROM audit_log WHERE action LIKE 'alert.%' ORDER BY id")
    assert audit == [("alert.ack", f"alert:{first}"), ("alert.silence", f"alert:{second}"),
                     ("alert.read", f"alert:{second}"), ("alert.resolve", f"alert:{first}")]
    replay = cli("rules", "backtest", str(rule_id), "--since", "2h", "--json")
    assert replay.code == 0
    report = replay.json()
    assert (report["alerts"], report["by_event"], report["deliveries"]) == (2, {"fired": 2}, 2)
    text = cli("rules", "backtest", str(rule_id), "--since", "2h")
    assert "alerts: 2   notifications: 2 (fired 2)" in text.out
    assert cli("alerts", "silence", "999", "--for", "1h").code == 2
