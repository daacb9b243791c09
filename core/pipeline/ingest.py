"""One poll of one connection: fetch -> normalize -> load, batch by batch, cursor with each batch.

Memory stays bounded: a connector yields pages of at most a few thousand events and each is
committed before the next is fetched. The lease is checked inside every load transaction.
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from sqlalchemy import Engine, text

from core.connectors.base import Connector, CursorValue
from core.events import LogEvent
from core.normalize import normalize
from core.pipeline.loader import load_batch, prepare
from core.store.leases import fence

# Called inside the load transaction with the rows that were actually new (stream alert rules).
NewEventsHook = Callable[[psycopg.Connection, int, int, Sequence[LogEvent]], None]


@dataclass(slots=True)
class PollOutcome:
    seen: int = 0
    inserted: int = 0
    batches: int = 0
    last_event_at: datetime | None = None
    lag_s: float | None = None
    interrupted: bool = False


def load_cursors(engine: Engine, connection_id: int) -> dict[str, CursorValue]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT partition, value FROM cursors WHERE connection_id = :id"),
                            {"id": connection_id}).all()
    return {row[0]: row[1] for row in rows}


def poll_once(
    engine: Engine,
    *,
    connector: Connector,
    project_id: int,
    connection_id: int,
    worker_id: str | None = None,
    lease_s: float = 30.0,
    now: datetime | None = None,
    stop: threading.Event | None = None,
    on_new_events: NewEventsHook | None = None,
    on_batch: Callable[[PollOutcome], None] | None = None,
) -> PollOutcome:
    """Run one poll. Connector errors propagate (as ConnectorError) after the committed batches."""
    now = now or datetime.now(UTC)
    outcome = PollOutcome()
    cursors = load_cursors(engine, connection_id)
    raw = engine.raw_connection()
    try:
        conn: psycopg.Connection = raw.driver_connection
        with conn.transaction():
            prepare(conn)
        for batch in connector.fetch(cursors, now):
            events = [normalize(event, now=now) for event in batch.events]
            with conn.transaction():
                if worker_id is not None:
                    fence(conn, connection_id=connection_id, worker_id=worker_id, lease_s=lease_s)
                result = load_batch(conn, project_id=project_id, connection_id=connection_id, events=events,
                                    cursors=batch.cursors)
                if on_new_events and result.new_events:
                    on_new_events(conn, project_id, connection_id, result.new_events)
            _account(outcome, result.seen, result.new_events)
            if on_batch:
                on_batch(outcome)
            if stop is not None and stop.is_set():
                outcome.interrupted = True  # finish the committed batch, leave the rest for the next poll
                break
    finally:
        raw.close()
    return outcome


def _account(outcome: PollOutcome, seen: int, new_events: Sequence[LogEvent]) -> None:
    outcome.batches += 1
    outcome.seen += seen
    outcome.inserted += len(new_events)
    if new_events:
        newest = max(e.ts for e in new_events)
        if outcome.last_event_at is None or newest > outcome.last_event_at:
            outcome.last_event_at = newest
        wall = datetime.now(UTC)
        sample = new_events[:: max(1, len(new_events) // 200)]
        outcome.lag_s = statistics.median((wall - e.ts).total_seconds() for e in sample)
