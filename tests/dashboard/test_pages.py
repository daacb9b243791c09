"""Every page under streamlit.testing: with data, empty, forms, role gating, XSS literal."""

from __future__ import annotations

import psycopg

from tests.dashboard.conftest import PASSWORD, XSS, texts


def test_login_page_then_wrong_and_right_password(app):
    at = app()
    assert [t.value for t in at.title] == ["Loglytics Live"]
    at.text_input(key="login_username").input("vera")
    at.text_input(key="login_password").input("wrong password")
    at.button[0].click().run()
    assert "invalid username or password" in [e.value for e in at.error]
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    assert [t.value for t in at.title] == ["Live logs"]


def test_live_logs_shows_project_rows_literally_and_never_other_projects(app):
    at = app("vera")
    assert not at.exception
    shown = texts(at)
    assert "GET /health 200" in shown
    assert XSS in shown  # the exact text, not rendered markup
    assert "B-ONLY" not in shown
    assert all(XSS not in m.value for m in at.markdown)  # never handed to Markdown


def test_live_logs_filters_by_level_and_search(app):
    at = app("vera")
    at.selectbox(key="live_level").select("ERROR").run()
    frame = at.dataframe[-1].value
    assert list(frame["level"]) == ["ERROR"]
    at.selectbox(key="live_level").select("(any)").run()
    at.text_input(key="live_search").input("health").run()
    assert list(at.dataframe[-1].value["message"]) == ["GET /health 200"]


def test_metrics_page_with_data_and_empty(app, world, db_url):
    at = app("vera", page="metrics")
    assert not at.exception
    assert len(at.get("plotly_chart")) >= 2
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM log_counts")
        conn.execute("DELETE FROM log_events")
    empty = app("vera", page="metrics")
    assert not empty.exception
    assert any("No events in this range" in i.value for i in empty.info)


def test_viewer_sees_no_edit_controls_and_no_admin_pages(app):
    at = app("vera", page="connections")
    assert not at.exception
    assert "demo-a" in texts(at)
    labels = [b.label for b in at.button]
    assert "Save" not in labels and "Start" not in labels
    assert any("read-only" in c.value for c in at.caption)
    assert "Users" not in [p for p in _nav_titles(at)]


def test_operator_adds_a_connection_with_validation_errors_in_words(app, world, db_url):
    at = app("otto", page="connections")
    at.selectbox(key="new_provider").select("aws").run()
    at.text_input(key="new.aws.name").input("api")
    at.button(key="FormSubmitter:new_aws-Save").click().run()
    assert any("config.region" in e.value for e in at.error)
    at.text_input(key="new.aws.region").input("eu-west-1")
    at.text_area(key="new.aws.log_groups").input("/app/api")
    at.text_input(key="new.aws.secret.access_key_id").input("AKIAIOSFODNN7EXAMPLE")
    at.text_input(key="new.aws.secret.secret_access_key").input("dashboard-planted-secret-value")
    at.button(key="FormSubmitter:new_aws-Save").click().run()
    assert not at.main.error, [e.value for e in at.main.error]
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT config, secret FROM connections WHERE name = 'api'").fetchone()
    assert row[0]["region"] == "eu-west-1" and b"dashboard-planted" not in bytes(row[1])
    assert "dashboard-planted-secret-value" not in texts(at)


def test_admin_pages_users_and_audit(app):
    at = app("ada", page="users")
    assert not at.exception
    assert {"ada", "otto", "vera"} <= set(at.dataframe[0].value["username"])
    at = app("ada", page="audit")
    assert not at.exception
    assert "login" in set(at.dataframe[0].value["action"])
    denied = app("vera", page="users")  # not in a viewer's navigation: falls back to the default page
    assert [t.value for t in denied.title] == ["Live logs"]
    assert "otto" not in texts(denied)


def test_account_page_changes_password(app, engine):
    at = app("vera", page="account")
    at.text_input(key="old_password").input(PASSWORD)
    at.text_input(key="new_password_self").input("another password")
    at.text_input(key="new_password_again").input("another password")
    at.button(key="FormSubmitter:change_password-Change password").click().run()
    assert [s.value for s in at.success] == ["Password changed."]


def _nav_titles(at):
    return [str(getattr(el, "proto", el)) for el in at.sidebar]


def test_every_provider_has_a_form_and_test_connection_works(app):
    at = app("otto", page="connections")
    for provider in ("aws", "azure", "gcp", "demo"):
        at.selectbox(key="new_provider").select(provider).run()
        assert not at.exception, provider
        assert at.text_input(key=f"new.{provider}.name")
    at.text_input(key="new.demo.name").input("more-demo")
    at.button(key="FormSubmitter:new_demo-Test connection").click().run()
    assert any("Demo generator ready" in s.value for s in at.success)


def test_operator_pauses_and_deletes_a_connection(app, world, db_url):
    at = app("otto", page="connections")
    at.dataframe(key="connections_table")  # the table is there
    at.session_state["connections_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    at.button(key="state_paused").click().run()
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT desired_state FROM connections WHERE name = 'demo-a'").fetchone()[0] == "paused"
