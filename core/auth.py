"""The authentication service the dashboard and the CLI share.

Passwords are argon2id hashes. Five failures in a row lock an account for 15 minutes.
A login session expires after an idle time; it is re-checked against the database on every
use, so a disabled user or a changed role or membership takes effect at the next page view.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.actor import Actor
from core.db import session_scope
from core.errors import AuthenticationFailed, UsageError
from core.models import Membership, User
from core.passwords import hash_password, verify_password
from core.store import audit

MAX_FAILURES = 5
LOCK_DURATION = timedelta(minutes=15)
_SYSTEM = Actor.system("auth")
# verified against when the user does not exist, so both paths cost one argon2 hash
_DUMMY_HASH = hash_password("not-a-real-password-0")


@dataclass(frozen=True)
class LoginSession:
    user_id: int
    username: str
    role: str
    project_ids: frozenset[int] | None  # None: every project (admins)
    source: str
    started_at: datetime
    last_seen_at: datetime

    @property
    def actor(self) -> Actor:
        return Actor(name=self.username, source=self.source, role=self.role, user_id=self.user_id,
                     project_ids=self.project_ids)


def _now() -> datetime:
    return datetime.now(UTC)


def _projects(session: Session, user: User) -> frozenset[int] | None:
    if user.role == "admin":
        return None
    rows = session.exec(select(Membership.project_id).where(Membership.user_id == user.id)).all()
    return frozenset(rows)


def _audit(session: Session, username: str, source: str, action: str, outcome: str, **details) -> None:
    actor = Actor(name=username, source=source)
    audit.record(session, actor=actor, action=action, target=f"user:{username}", outcome=outcome, details=details)


def login(engine: Engine, *, username: str, password: str, source: str, now: datetime | None = None) -> LoginSession:
    """Verify a password; raises AuthenticationFailed with a message safe to show."""
    now = now or _now()
    username = username.strip()[:128]
    with session_scope(engine, actor=_SYSTEM) as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            verify_password(_DUMMY_HASH, password)
            _audit(session, username, source, "login", "failed", reason="unknown user")
            failure = AuthenticationFailed("invalid username or password")
        elif user.locked_until and user.locked_until > now:
            _audit(session, username, source, "login", "locked")
            failure = AuthenticationFailed(
                f"account locked after {MAX_FAILURES} failed logins; try again after {user.locked_until:%H:%M} UTC")
        elif not verify_password(user.password_hash, password):
            user.failed_logins += 1
            failure = AuthenticationFailed("invalid username or password")
            _audit(session, username, source, "login", "failed", reason="bad password")
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until = now + LOCK_DURATION
                user.failed_logins = 0
                _audit(session, username, source, "user.lockout", "ok", minutes=LOCK_DURATION.seconds // 60)
            session.add(user)
        elif user.disabled:
            _audit(session, username, source, "login", "failed", reason="disabled")
            failure = AuthenticationFailed("this account is disabled")
        else:
            user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
            session.add(user)
            _audit(session, username, source, "login", "ok")
            return LoginSession(user_id=user.id, username=user.username, role=user.role,
                                project_ids=_projects(session, user), source=source, started_at=now,
                                last_seen_at=now)
    raise failure  # after the commit: failures and lockouts are recorded


def resume(engine: Engine, *, login_session: LoginSession, idle: timedelta,
           now: datetime | None = None) -> LoginSession | None:
    """The session refreshed from the database, or None when it idled out or the user was disabled."""
    now = now or _now()
    if now - login_session.last_seen_at > idle:
        return None
    with session_scope(engine, actor=_SYSTEM) as session:
        user = session.get(User, login_session.user_id)
        if user is None or user.disabled:
            return None
        return replace(login_session, role=user.role, project_ids=_projects(session, user), last_seen_at=now)


def logout(engine: Engine, *, login_session: LoginSession) -> None:
    with session_scope(engine, actor=_SYSTEM) as session:
        _audit(session, login_session.username, login_session.source, "logout", "ok")


def change_password(engine: Engine, *, login_session: LoginSession, old: str, new: str) -> None:
    with session_scope(engine, actor=_SYSTEM) as session:
        user = session.get(User, login_session.user_id)
        if user is None or not verify_password(user.password_hash, old):
            _audit(session, login_session.username, login_session.source, "user.password", "failed")
            session.commit()
            raise AuthenticationFailed("the current password is wrong")
        try:
            user.password_hash = hash_password(new)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        session.add(user)
        _audit(session, login_session.username, login_session.source, "user.password", "ok")
