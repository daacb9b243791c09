"""The authentication service: passwords, lockout, idle expiry, password change, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core import auth
from core.db import session_scope
from core.errors import AuthenticationFailed
from core.store import users
from tests.security.conftest import ADMIN, PASSWORD


def _audit(db_url, action):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT actor, outcome, source FROM audit_log WHERE action = %s ORDER BY id",
                            (action,)).fetchall()


def test_login_returns_a_session_and_records_it(app_engine, two_projects, db_url):
    login = auth.login(app_engine, username="vera", password=PASSWORD, source="dashboard")
    assert (login.username, login.role, login.project_ids) == ("vera", "viewer", frozenset({two_projects["A"]}))
    assert _audit(db_url, "login") == [("vera", "ok", "dashboard")]


def test_wrong_password_and_unknown_user_say_the_same(app_engine, two_projects, db_url):
    with pytest.raises(AuthenticationFailed, match="^invalid username or password$"):
        auth.login(app_engine, username="vera", password="nope nope nope", source="cli")
    with pytest.raises(AuthenticationFailed, match="^invalid username or password$"):
        auth.login(app_engine, username="nobody", password=PASSWORD, source="cli")
    assert [row[1] for row in _audit(db_url, "login")] == ["failed", "failed"]


def test_five_failures_lock_the_account_for_fifteen_minutes(app_engine, two_projects, db_url):
    now = datetime.now(UTC)
    for _ in range(auth.MAX_FAILURES):
        with pytest.raises(AuthenticationFailed):
            auth.login(app_engine, username="vera", password="wrong password", source="dashboard", now=now)
    with pytest.raises(AuthenticationFailed, match="locked"):  # even the right password, while locked
        auth.login(app_engine, username="vera", password=PASSWORD, source="dashboard", now=now)
    assert _audit(db_url, "user.lockout") == [("vera", "ok", "dashboard")]
    later = now + auth.LOCK_DURATION + timedelta(seconds=1)
    assert auth.login(app_engine, username="vera", password=PASSWORD, source="dashboard", now=later).username == "vera"


def test_a_success_resets_the_failure_count(app_engine, two_projects):
    for _ in range(auth.MAX_FAILURES - 1):
        with pytest.raises(AuthenticationFailed):
            auth.login(app_engine, username="vera", password="wrong password", source="cli")
    auth.login(app_engine, username="vera", password=PASSWORD, source="cli")
    with pytest.raises(AuthenticationFailed, match="invalid"):
        auth.login(app_engine, username="vera", password="wrong password", source="cli")
    auth.login(app_engine, username="vera", password=PASSWORD, source="cli")  # not locked


def test_sessions_expire_when_idle_and_follow_role_and_account_changes(app_engine, engine, two_projects):
    login = auth.login(app_engine, username="vera", password=PASSWORD, source="dashboard")
    idle = timedelta(minutes=30)
    assert auth.resume(app_engine, login_session=login, idle=idle, now=login.last_seen_at + timedelta(minutes=29))
    assert auth.resume(app_engine, login_session=login, idle=idle,
                       now=login.last_seen_at + timedelta(minutes=31)) is None
    with session_scope(engine) as session:
        users.add_membership(session, actor=ADMIN, username="vera", project="B")
    refreshed = auth.resume(app_engine, login_session=login, idle=idle)
    assert refreshed.project_ids == frozenset(two_projects.values())
    with session_scope(engine) as session:
        users.set_disabled(session, actor=ADMIN, username="vera")
    assert auth.resume(app_engine, login_session=login, idle=idle) is None
    with pytest.raises(AuthenticationFailed, match="disabled"):
        auth.login(app_engine, username="vera", password=PASSWORD, source="dashboard")


def test_users_change_their_own_password(app_engine, two_projects, db_url):
    login = auth.login(app_engine, username="vera", password=PASSWORD, source="dashboard")
    with pytest.raises(AuthenticationFailed, match="current password"):
        auth.change_password(app_engine, login_session=login, old="wrong password", new="new password 1")
    auth.change_password(app_engine, login_session=login, old=PASSWORD, new="new password 1")
    auth.login(app_engine, username="vera", password="new password 1", source="dashboard")
    assert [row[1] for row in _audit(db_url, "user.password")] == ["failed", "ok"]
    with psycopg.connect(db_url) as conn:  # argon2id, never the password
        stored = conn.execute("SELECT password_hash FROM users WHERE username = 'vera'").fetchone()[0]
    assert stored.startswith("$argon2id$") and "new password 1" not in stored
