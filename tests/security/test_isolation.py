"""Project isolation, enforced by PostgreSQL row-level security behind the core's own checks."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from core import auth
from core.db import scoped_connection, session_scope
from core.errors import NotFoundError, PermissionDenied
from core.store import connections, logs, projects
from tests.security.conftest import ADMIN, PASSWORD

PROJECT_TABLES = ["projects", "connections", "log_events", "log_counts", "cursors", "alert_rules", "alerts",
                  "channels", "notifications", "memberships", "audit_log"]


def _viewer(app_engine):
    return auth.login(app_engine, username="vera", password=PASSWORD, source="dashboard").actor


def test_viewer_of_a_reads_zero_rows_of_b_even_with_raw_sql(app_engine, two_projects, db_url):
    viewer = _viewer(app_engine)
    assert viewer.project_ids == frozenset({two_projects["A"]})
    with scoped_connection(app_engine, actor=viewer) as conn:
        assert conn.execute(text("SELECT count(*) FROM log_events")).scalar_one() == 3
        assert conn.execute(text("SELECT count(*) FROM log_events WHERE project_id = :b"),
                            {"b": two_projects["B"]}).scalar_one() == 0
        assert conn.execute(text("SELECT name FROM projects")).scalars().all() == ["A"]
        for table in PROJECT_TABLES:
            column = "id" if table == "projects" else "project_id"
            leaked = conn.execute(text(f"SELECT count(*) FROM {table} WHERE {column} = :b"),
                                  {"b": two_projects["B"]}).scalar_one()
            assert leaked == 0, table
    # a partition reached directly has no policies: the role has no rights on it at all
    with pytest.raises(ProgrammingError, match="permission denied"), \
            scoped_connection(app_engine, actor=viewer) as conn:
        part = conn.execute(text("SELECT inhrelid::regclass::text FROM pg_inherits "
                                 "WHERE inhparent = 'log_events'::regclass LIMIT 1")).scalar_one()
        conn.execute(text(f"SELECT count(*) FROM {part}"))
    # sanity: the rows of B are really there (seen by the owner)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM log_events WHERE project_id = %s",
                            (two_projects["B"],)).fetchone()[0] == 5


def test_unscoped_transactions_see_nothing_and_writes_outside_scope_are_refused(app_engine, two_projects):
    with app_engine.begin() as conn:  # no scope set: fail closed
        assert conn.execute(text("SELECT count(*) FROM log_events")).scalar_one() == 0
    viewer = _viewer(app_engine)
    with pytest.raises(DBAPIError, match="row-level security"), \
            scoped_connection(app_engine, actor=viewer) as conn:
        conn.execute(text("INSERT INTO connections (project_id, name, provider) VALUES (:b, 'x', 'demo')"),
                     {"b": two_projects["B"]})


def test_admin_and_worker_roles_see_every_project(app_engine, worker_engine, two_projects):
    admin = auth.login(app_engine, username="ada", password=PASSWORD, source="dashboard").actor
    with scoped_connection(app_engine, actor=admin) as conn:
        assert conn.execute(text("SELECT count(*) FROM log_events")).scalar_one() == 8
    with worker_engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM log_events")).scalar_one() == 8


def test_core_functions_scope_to_the_acting_users_projects(app_engine, two_projects, vault):
    viewer = _viewer(app_engine)
    with session_scope(app_engine, actor=viewer) as session:
        assert [p.name for p in projects.list_projects(session, actor=viewer)] == ["A"]
        assert [c.name for c in connections.list_connections(session, actor=viewer)] == ["cA"]
        with pytest.raises(NotFoundError):
            projects.get_project(session, actor=viewer, name="B")
    rows = logs.latest(app_engine, actor=viewer, flt=logs.LogFilter(project_id=two_projects["A"]))
    assert {r["message"][0] for r in rows} == {"A"}
    with pytest.raises(NotFoundError):
        logs.latest(app_engine, actor=viewer, flt=logs.LogFilter(project_id=two_projects["B"]))


def test_roles_gate_actions(app_engine, two_projects, vault):
    viewer = _viewer(app_engine)
    operator = auth.login(app_engine, username="otto", password=PASSWORD, source="dashboard").actor
    demo = {"rate_per_s": 1, "seed": 1}
    with session_scope(app_engine, actor=viewer) as session, pytest.raises(PermissionDenied, match="operator"):
        connections.create_connection(session, actor=viewer, vault=vault, project_id=two_projects["A"],
                                      name="x", provider="demo", config=demo)
    with session_scope(app_engine, actor=operator) as session:
        created = connections.create_connection(session, actor=operator, vault=vault,
                                                project_id=two_projects["A"], name="x", provider="demo", config=demo)
        assert created.id
        with pytest.raises(NotFoundError):
            connections.create_connection(session, actor=operator, vault=vault, project_id=two_projects["B"],
                                          name="y", provider="demo", config=demo)
        with pytest.raises(PermissionDenied):
            projects.create_project(session, actor=operator, name="C")


def test_audit_log_is_append_only_for_the_application_roles(app_engine, worker_engine, two_projects):
    for engine in (app_engine, worker_engine):
        for statement in ("UPDATE audit_log SET outcome = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(ProgrammingError, match="permission denied"), \
                    scoped_connection(engine, actor=ADMIN) as conn:
                conn.execute(text(statement))
    with scoped_connection(app_engine, actor=ADMIN) as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() > 0


def test_full_text_search_function_refuses_projects_outside_the_scope(app_engine, two_projects):
    viewer = _viewer(app_engine)
    search = text("SELECT count(*) FROM loglytics_search_events(:p, 'B', NULL, NULL, NULL, NULL, NULL, NULL, 10)")
    with scoped_connection(app_engine, actor=viewer) as conn:
        assert conn.execute(search, {"p": two_projects["A"]}).scalar_one() == 0  # A's rows say "A n"
    with pytest.raises(DBAPIError, match="not visible"), scoped_connection(app_engine, actor=viewer) as conn:
        conn.execute(search, {"p": two_projects["B"]})
    with pytest.raises(DBAPIError, match="not visible"), app_engine.begin() as conn:  # no scope at all
        conn.execute(search, {"p": two_projects["A"]})
    admin = auth.login(app_engine, username="ada", password=PASSWORD, source="dashboard").actor
    with scoped_connection(app_engine, actor=admin) as conn:
        assert conn.execute(search, {"p": two_projects["B"]}).scalar_one() == 5


def test_viewers_cannot_change_rules_channels_or_alerts(app_engine, engine, db_url, two_projects, vault):
    from core.store import alerts, channels, rules

    with session_scope(engine) as session:
        rule = rules.create_rule(session, actor=ADMIN, project_id=two_projects["A"], name="r", type="level",
                                 options={"level": "error"})
        rule_id = rule.id
    with psycopg.connect(db_url) as conn:
        alert_id = conn.execute("INSERT INTO alerts (project_id, rule_id, fingerprint) VALUES (%s, %s, 'f') "
                                "RETURNING id", (two_projects["A"], rule_id)).fetchone()[0]
    viewer = _viewer(app_engine)
    attempts = [
        lambda s: rules.create_rule(s, actor=viewer, project_id=two_projects["A"], name="x", type="level",
                                    options={"level": "error"}),
        lambda s: rules.set_enabled(s, actor=viewer, rule_id=rule_id, enabled=False),
        lambda s: rules.delete_rule(s, actor=viewer, rule_id=rule_id),
        lambda s: channels.create_channel(s, actor=viewer, vault=vault, project_id=two_projects["A"], name="c",
                                          type="inapp", config={}),
        lambda s: alerts.acknowledge(s, actor=viewer, alert_id=alert_id),
        lambda s: alerts.resolve(s, actor=viewer, alert_id=alert_id),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied), session_scope(app_engine, actor=viewer) as session:
            attempt(session)
    with session_scope(app_engine, actor=viewer) as session:  # reading and marking read stay open to viewers
        assert alerts.mark_read(session, actor=viewer, alert_id=alert_id).read is True
