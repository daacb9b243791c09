"""Role checks shared by every core function that changes or reads project data.

admin: everything, every project, users and keys. operator: connections, rules, channels,
ack/resolve in their projects. viewer: read only in their projects.
"""

from __future__ import annotations

from core.actor import Actor
from core.errors import NotFoundError, PermissionDenied

RANK = {"viewer": 0, "operator": 1, "admin": 2}


def require(actor: Actor, role: str, *, project_id: int | None = None, action: str = "do this") -> None:
    """Raise unless ``actor`` has at least ``role`` (and sees ``project_id``, when given)."""
    if project_id is not None and not actor.can_see(project_id):
        raise NotFoundError("no such project")  # do not reveal that it exists
    if RANK.get(actor.role, -1) < RANK[role]:
        raise PermissionDenied(f"{actor.name} ({actor.role}) may not {action}; it needs the {role} role")


def can(actor: Actor, role: str) -> bool:
    return RANK.get(actor.role, -1) >= RANK[role]
