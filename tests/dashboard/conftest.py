"""Run the real Streamlit app under streamlit.testing against this test's database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import auth
from core.actor import Actor
from core.db import session_scope
from core.store import connections, projects, users
from tests.conftest import repo_root

APP = str(repo_root() / "dashboard" / "app.py")
PASSWORD = "correct horse battery"
ADMIN = Actor.system("cli")
XSS = "<script>alert('x')</script> **bold** [link](http://evil.example)"


@pytest.fixture
def world(app_env, engine, vault, db_url):
    """Projects A and B, users of each role, a demo connection and log rows (one with XSS text)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    with session_scope(engine) as session:
        a = projects.create_project(session, actor=ADMIN, name="A")
        b = projects.create_project(session, actor=ADMIN, name="B")
        for name, role, member in (("ada", "admin", []), ("otto", "operator", ["A"]), ("vera", "viewer", ["A"])):
            users.create_user(session, actor=ADMIN, username=name, password=PASSWORD, role=role, projects=member)
        conn_a = connections.create_connection(session, actor=ADMIN, vault=vault, project_id=a.id, name="demo-a",
                                               provider="demo", config={"seed": 1})
        conn_b = connections.create_connection(session, actor=ADMIN, vault=vault, project_id=b.id, name="demo-b",
                                               provider="demo", config={"seed": 2})
        ids = {"A": a.id, "B": b.id, "conn_a": conn_a.id, "conn_b": conn_b.id}
    now = datetime.now(UTC)
    with psycopg.connect(db_url) as conn:
        rows = [(ids["A"], ids["conn_a"], now - timedelta(seconds=30), 2, "demo/api", "GET /health 200", "a1"),
                (ids["A"], ids["conn_a"], now - timedelta(seconds=20), 5, "demo/api", XSS, "a2"),
                (ids["B"], ids["conn_b"], now - timedelta(seconds=10), 5, "demo/secret", "B-ONLY secret row", "b1")]
        for pid, cid, ts, level, source, message, key in rows:
            conn.execute("INSERT INTO log_events (project_id, connection_id, ts, received_at, level, source, message, "
                         "dedupe_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                         (pid, cid, ts, ts, level, source, message, key))
            conn.execute("INSERT INTO log_counts VALUES (%s, %s, date_trunc('minute', %s::timestamptz), %s, 1) "
                         "ON CONFLICT (project_id, connection_id, minute, level) DO UPDATE SET count = "
                         "log_counts.count + 1", (pid, cid, ts, level))
    yield ids
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def app(world, engine):
    """An AppTest factory: app("vera") is the app with vera signed in (None: signed out)."""

    def make(username: str | None = None, page: str | None = None) -> AppTest:
        st.cache_data.clear()  # each call sees the database as it is now
        at = AppTest.from_file(APP, default_timeout=30)
        if username:
            at.session_state["login"] = auth.login(engine, username=username, password=PASSWORD, source="dashboard")
        if page:
            at.switch_page(f"views/{page}.py")
        return at.run()

    return make


def texts(at: AppTest) -> str:
    """Everything the page shows as text, markdown, captions, alerts, code and dataframes."""
    parts = [str(e.value) for e in (*at.markdown, *at.caption, *at.text, *at.code, *at.error, *at.info,
                                    *at.success, *at.warning, *at.title, *at.subheader)]
    for frame in at.dataframe:
        parts.append(frame.value.to_string())
    return "\n".join(parts)
