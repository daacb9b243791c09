"""Partition upkeep of log_events and worker heartbeats."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlmodel import Session, select

from core import __version__
from core.models import WorkerHeartbeat


def maintain_partitions(engine: Engine, *, retention_days: int, ahead_days: int = 3) -> list[tuple[str, str]]:
    """Create daily partitions ahead, drop those past retention, index closed days. Returns actions."""
    with engine.begin() as conn:
        rows = conn.execute(
            text("SELECT action, partition_name FROM loglytics_maintain_partitions(:r, :a)"),
            {"r": retention_days, "a": ahead_days},
        ).all()
    return [(r[0], r[1]) for r in rows]


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def beat(session: Session, *, worker_id: str) -> None:
    now = datetime.now(UTC)
    row = session.get(WorkerHeartbeat, worker_id)
    if row is None:
        row = WorkerHeartbeat(
            id=worker_id, host=socket.gethostname(), pid=os.getpid(), version=__version__, started_at=now
        )
    row.last_beat = now
    session.add(row)


def remove_worker(session: Session, *, worker_id: str) -> None:
    row = session.get(WorkerHeartbeat, worker_id)
    if row is not None:
        session.delete(row)


def live_workers(session: Session, *, within_s: float = 30) -> list[WorkerHeartbeat]:
    cutoff = datetime.now(UTC) - timedelta(seconds=within_s)
    return list(session.exec(select(WorkerHeartbeat).where(WorkerHeartbeat.last_beat >= cutoff)))
