"""The audit trail: who did what, when, from where. Details must never hold secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from core.actor import Actor
from core.models import AuditEntry
from core.permissions import require
from core.redact import scrub


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    target: str = "",
    outcome: str = "ok",
    project_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor=actor.name, action=action, target=target, outcome=outcome,
            source=actor.source, project_id=project_id, details=_scrubbed(details or {}),
        )
    )


def _scrubbed(value: Any) -> Any:
    """Details are written by our code without secrets; this is the safety net."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def list_entries(
    session: Session, *, actor: Actor, project_id: int | None = None, since: datetime | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    require(actor, "admin", action="read the audit trail")
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if project_id is not None:
        query = query.where(AuditEntry.project_id == project_id)
    if since is not None:
        query = query.where(col(AuditEntry.ts) >= since)
    return list(session.exec(query))
