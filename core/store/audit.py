"""The audit trail: who did what, when, from where. Details must never hold secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from core.actor import Actor
from core.models import AuditEntry


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
            source=actor.source, project_id=project_id, details=details or {},
        )
    )


def list_entries(
    session: Session, *, project_id: int | None = None, since: datetime | None = None, limit: int = 1000
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if project_id is not None:
        query = query.where(AuditEntry.project_id == project_id)
    if since is not None:
        query = query.where(col(AuditEntry.ts) >= since)
    return list(session.exec(query))
