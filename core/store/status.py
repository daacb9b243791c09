"""Observed state of connections, written by the worker for the dashboard and the CLI."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, text

POLL_SQL = text("""
UPDATE connections SET
    status = :status,
    last_error = :error,
    last_poll_at = now(),
    last_event_at = coalesce(:last_event_at, last_event_at),
    lag_s = coalesce(:lag_s, lag_s),
    events_per_min = (
        SELECT coalesce(sum(count), 0) / 5.0 FROM log_counts
        WHERE project_id = connections.project_id AND connection_id = connections.id
          AND minute >= date_trunc('minute', now()) - interval '5 minutes'
    )
WHERE id = :id
""")


def record_poll(
    engine: Engine, *, connection_id: int, status: str, error: str | None,
    last_event_at: datetime | None = None, lag_s: float | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(POLL_SQL, {"id": connection_id, "status": status, "error": error,
                                "last_event_at": last_event_at, "lag_s": lag_s})


def set_status(engine: Engine, *, connection_id: int, status: str, error: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE connections SET status = :s, last_error = :e WHERE id = :id"),
                     {"s": status, "e": error, "id": connection_id})


def settle_stopped(engine: Engine, *, worker_id: str) -> None:
    """Connections asked to stop or pause show it, once no live worker polls them."""
    with engine.begin() as conn:
        conn.execute(text("""
            UPDATE connections SET status = desired_state
            WHERE desired_state <> 'running' AND status <> desired_state
              AND (lease_owner IS NULL OR lease_owner = :w OR lease_expires_at < now())
        """), {"w": worker_id})
