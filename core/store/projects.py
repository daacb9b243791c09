"""Projects: the unit of isolation."""

from __future__ import annotations

from sqlmodel import Session, select

from core.actor import Actor
from core.errors import NotFoundError, UsageError
from core.models import Project
from core.permissions import require
from core.store import audit


def create_project(session: Session, *, actor: Actor, name: str) -> Project:
    require(actor, "admin", action="create projects")
    name = name.strip()
    if not name:
        raise UsageError("project name must not be empty")
    if session.exec(select(Project).where(Project.name == name)).first():
        raise UsageError(f"project {name!r} already exists")
    project = Project(name=name)
    session.add(project)
    session.flush()
    audit.record(session, actor=actor, action="project.create", target=name, project_id=project.id)
    return project


def list_projects(session: Session, *, actor: Actor) -> list[Project]:
    projects = session.exec(select(Project).order_by(Project.name)).all()
    return [p for p in projects if actor.can_see(p.id)]


def project_names(session: Session, *, actor: Actor) -> dict[int, str]:
    """id -> name of the projects the actor sees (for listing rows by project name)."""
    return {p.id: p.name for p in list_projects(session, actor=actor)}


def get_project(session: Session, *, actor: Actor, name: str) -> Project:
    project = session.exec(select(Project).where(Project.name == name)).first()
    if project is None or not actor.can_see(project.id):
        raise NotFoundError(f"no project named {name!r} (see: loglytics projects list)")
    return project


def ensure_project(session: Session, *, actor: Actor, name: str) -> Project:
    existing = session.exec(select(Project).where(Project.name == name)).first()
    return existing or create_project(session, actor=actor, name=name)
