"""Alerts inbox, rules and channels pages under streamlit.testing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest

from core.db import session_scope
from core.store import rules
from tests.dashboard.conftest import ADMIN, XSS


@pytest.fixture
def alerts_world(world, engine, db_url):
    with session_scope(engine) as session:
        rule = rules.create_rule(session, actor=ADMIN, project_id=world["A"], name="errors", type="level",
                                 options={"level": "error"}, severity="critical")
        rule_id = rule.id
    now = datetime.now(UTC)
    with psycopg.connect(db_url) as conn:
        for fingerprint, title in (("f1", XSS), ("f2", "payments failing")):
            conn.execute("INSERT INTO alerts (project_id, rule_id, fingerprint, title, severity, first_seen, "
                         "last_seen, samples) VALUES (%s, %s, %s, %s, 'critical', %s, %s, %s)",
                         (world["A"], rule_id, fingerprint, title, now, now, json.dumps([{"message": XSS}])))
    return {**world, "rule": rule_id}


def _state(db_url, title):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT state, ack_comment, read FROM alerts WHERE title = %s", (title,)).fetchone()


def test_operator_acknowledges_and_the_alert_moves_tabs(app, alerts_world, db_url):
    at = app("otto", page="alerts")
    assert not at.exception
    firing = at.dataframe(key="alerts_firing").value
    assert set(firing["title"]) == {XSS, "payments failing"}  # literal text, in a dataframe cell
    row = list(firing["title"]).index("payments failing")
    at.session_state["alerts_firing"] = {"selection": {"rows": [row], "columns": []}}
    at.run()
    at.text_input(key="comment_firing").input("on it")
    at.button(key="ack_firing").click().run()
    assert _state(db_url, "payments failing")[:2] == ("acknowledged", "on it")
    assert list(at.dataframe(key="alerts_acknowledged").value["title"]) == ["payments failing"]
    assert list(at.dataframe(key="alerts_firing").value["title"]) == [XSS]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT actor FROM audit_log WHERE action = 'alert.ack'").fetchone()[0] == "otto"


def test_details_show_samples_as_text_and_viewers_cannot_ack(app, alerts_world, db_url):
    at = app("vera", page="alerts")
    firing = at.dataframe(key="alerts_firing").value
    at.session_state["alerts_firing"] = {"selection": {"rows": [list(firing["title"]).index(XSS)], "columns": []}}
    at.run()
    assert not at.exception
    assert any(XSS in c.value for c in at.code)  # samples: a code block, never Markdown
    assert all(XSS not in m.value for m in at.markdown)
    assert "ack_firing" not in [b.key for b in at.button]
    at.button(key="read_firing").click().run()
    assert _state(db_url, XSS)[2] is True


def test_rules_page_previews_then_saves_a_rule(app, alerts_world, db_url):
    at = app("otto", page="rules")
    assert "errors" in set(at.dataframe(key="rules_table").value["name"])
    at.selectbox(key="new_rule_type").select("threshold").run()
    at.text_input(key="rule.threshold.name").input("many errors")
    at.text_input(key="rule.threshold.threshold").input("1")
    at.selectbox(key="rule.threshold.scope.level").select("ERROR")
    at.button(key="FormSubmitter:new_rule_threshold-Preview: backtest last 24 h").click().run()
    assert not at.exception
    assert any("would have opened" in i.value for i in at.info), [e.value for e in at.main.error]
    at.button(key="FormSubmitter:new_rule_threshold-Save rule").click().run()
    with psycopg.connect(db_url) as conn:
        saved = conn.execute("SELECT type, options FROM alert_rules WHERE name = 'many errors'").fetchone()
    assert saved[0] == "threshold" and saved[1]["threshold"] == 1


def test_channels_page_adds_an_inbox_and_sends_a_test(app, alerts_world, db_url):
    at = app("otto", page="channels")
    at.selectbox(key="new_channel_type").select("inapp").run()
    at.text_input(key="channel.inapp.name").input("team inbox")
    at.button(key="FormSubmitter:new_channel_inapp-Save channel").click().run()
    assert not at.main.error, [e.value for e in at.main.error]
    at.session_state["channels_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    at.button(key="channel_test").click().run()
    assert [s.value for s in at.success] and not at.main.error  # the inbox accepted the test
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT outcome FROM audit_log WHERE action = 'channel.test'").fetchone()[0] == "ok"
    viewer = app("vera", page="channels")
    assert "channel_test" not in [b.key for b in viewer.button]


def test_alert_detail_opens_live_logs_on_its_window(app, alerts_world):
    at = app("otto", page="alerts")
    firing = at.dataframe(key="alerts_firing").value
    at.session_state["alerts_firing"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    alert_id = int(firing.iloc[0]["id"])
    at.button(key=f"open_logs_{alert_id}").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Live logs"]
    assert any("alert's window" in i.value for i in at.info)
