"""User accounts and project memberships."""

from __future__ import annotations

from sqlmodel import Session, select

from core.actor import Actor
from core.errors import NotFoundError, UsageError
from core.models import Membership, Project, User
from core.passwords import hash_password
from core.permissions import require
from core.store import audit
from core.store.projects import get_project

ROLES = ("admin", "operator", "viewer")


def create_user(
    session: Session, *, actor: Actor, username: str, password: str, role: str, projects: list[str] = ()
) -> User:
    require(actor, "admin", action="manage users")
    username = username.strip()
    if not username:
        raise UsageError("username must not be empty")
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if session.exec(select(User).where(User.username == username)).first():
        raise UsageError(f"user {username!r} already exists")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    user = User(username=username, password_hash=password_hash, role=role)
    session.add(user)
    session.flush()
    for name in projects:
        project = get_project(session, actor=actor, name=name)
        session.add(Membership(user_id=user.id, project_id=project.id))
    audit.record(
        session, actor=actor, action="user.create", target=username,
        details={"role": role, "projects": list(projects)},
    )
    return user


def get_user(session: Session, *, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"no user named {username!r} (see: loglytics users list)")
    return user


def list_users(session: Session, *, actor: Actor) -> list[tuple[User, list[str]]]:
    require(actor, "admin", action="list users")
    users = session.exec(select(User).order_by(User.username)).all()
    rows = session.exec(
        select(Membership.user_id, Project.name).join(Project, Project.id == Membership.project_id)
    ).all()
    projects: dict[int, list[str]] = {}
    for user_id, name in rows:
        projects.setdefault(user_id, []).append(name)
    return [(user, sorted(projects.get(user.id, []))) for user in users]


def set_password(session: Session, *, actor: Actor, username: str, password: str) -> None:
    require(actor, "admin", action="set other users' passwords")
    user = get_user(session, username=username)
    try:
        user.password_hash = hash_password(password)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    audit.record(session, actor=actor, action="user.password", target=username)


def set_disabled(session: Session, *, actor: Actor, username: str, disabled: bool = True) -> None:
    require(actor, "admin", action="manage users")
    user = get_user(session, username=username)
    user.disabled = disabled
    session.add(user)
    audit.record(session, actor=actor, action="user.disable" if disabled else "user.enable", target=username)


def add_membership(session: Session, *, actor: Actor, username: str, project: str) -> None:
    require(actor, "admin", action="manage memberships")
    user = get_user(session, username=username)
    proj = get_project(session, actor=actor, name=project)
    if session.get(Membership, (user.id, proj.id)) is None:
        session.add(Membership(user_id=user.id, project_id=proj.id))
        audit.record(session, actor=actor, action="membership.add", target=username, project_id=proj.id)

