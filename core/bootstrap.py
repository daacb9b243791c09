"""First start: the admin user, and a demo project streaming synthetic logs."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from core.actor import Actor
from core.alerts.defaults import ensure_demo_alerting
from core.models import Connection, User
from core.passwords import generate_password
from core.store import connections, projects, users
from core.vault import Vault

ADMIN = "admin"
DEMO = "demo"


@dataclass
class BootstrapResult:
    generated_password: str | None = None
    created_admin: bool = False
    created_demo: bool = False


def bootstrap(
    session: Session, *, vault: Vault, admin_password: str | None, with_demo: bool = True
) -> BootstrapResult:
    """Runs once, on an empty users table; later starts change nothing."""
    result = BootstrapResult()
    if session.exec(select(User.id)).first() is not None:
        return result
    actor = Actor.system("cli")
    password = admin_password or generate_password()
    users.create_user(session, actor=actor, username=ADMIN, password=password, role="admin")
    result.created_admin = True
    result.generated_password = None if admin_password else password
    if not with_demo:
        return result
    project = projects.ensure_project(session, actor=actor, name=DEMO)
    if session.exec(select(Connection.id).where(Connection.project_id == project.id)).first() is None:
        connections.create_connection(
            session, actor=actor, vault=vault, project_id=project.id, name=DEMO, provider="demo",
            config={"seed": secrets.randbelow(2**31)},
        )
        # an inbox channel and an "error burst" rule, so the demo's bursts show up as alerts
        ensure_demo_alerting(session, actor=actor, vault=vault, project_id=project.id)
        result.created_demo = True
    return result
