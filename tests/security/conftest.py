from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from core.actor import Actor
from core.db import APP_ROLE, WORKER_ROLE, make_engine, session_scope
from core.store import projects, users

ADMIN = Actor.system("cli")
PASSWORD = "correct horse battery"


@pytest.fixture
def app_engine(db_url):
    """The dashboard's engine: SET ROLE loglytics_app, row-level security applies."""
    engine = make_engine(db_url, role=APP_ROLE)
    yield engine
    engine.dispose()


@pytest.fixture
def worker_engine(db_url):
    engine = make_engine(db_url, role=WORKER_ROLE)
    yield engine
    engine.dispose()


@pytest.fixture
def two_projects(engine, db_url):
    """Projects A and B, each with a connection, log rows, an audit row; users per role."""
    with session_scope(engine) as session:
        a = projects.create_project(session, actor=ADMIN, name="A")
        b = projects.create_project(session, actor=ADMIN, name="B")
        users.create_user(session, actor=ADMIN, username="vera", password=PASSWORD, role="viewer", projects=["A"])
        users.create_user(session, actor=ADMIN, username="otto", password=PASSWORD, role="operator", projects=["A"])
        users.create_user(session, actor=ADMIN, username="ada", password=PASSWORD, role="admin")
        ids = {"A": a.id, "B": b.id}
    now = datetime.now(UTC)
    with psycopg.connect(db_url) as conn:
        for name, pid in ids.items():
            cid = conn.execute("INSERT INTO connections (project_id, name, provider) VALUES (%s, %s, 'demo') "
                               "RETURNING id", (pid, f"c{name}")).fetchone()[0]
            for i in range(3 if name == "A" else 5):
                conn.execute(
                    "INSERT INTO log_events (project_id, connection_id, ts, received_at, level, source, message, "
                    "dedupe_key) VALUES (%s, %s, %s, %s, 2, 's', %s, %s)", (pid, cid, now, now, f"{name} {i}", str(i)))
    return ids
