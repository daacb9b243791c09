"""One poll of one connection: fetch -> normalize -> load, batch by batch, cursor with each batch.

Fetching, normalizing and COPY-encoding batch N+1 (Python, on a helper thread) overlaps loading
batch N (the server's work; psycopg releases the GIL while it waits), so both cores work. Batches are still
committed one by one and in order, each with its cursors, and memory stays bounded: a connector
yields pages of at most a few thousand events and at most ``PREFETCH`` of them wait, normalized,
for the loader. The lease is checked inside every load transaction.
"""

from __future__ import annotations

import queue
import statistics
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from sqlalchemy import Engine, text

from core.connectors.base import Connector, CursorValue
from core.events import LogEvent
from core.normalize import normalize
from core.pipeline.loader import encode, load_encoded, prepare
from core.store.leases import fence

PREFETCH = 2  # normalized batches waiting for the loader; one more is being fetched, one loaded

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
    prefetch = None
    try:
        conn: psycopg.Connection = raw.driver_connection
        with conn.transaction():
            prepare(conn)
        prefetch = _Prefetch(connector, cursors, now)
        for events, payload, batch_cursors in prefetch:
            with conn.transaction():
                if worker_id is not None:
                    fence(conn, connection_id=connection_id, worker_id=worker_id, lease_s=lease_s)
                result = load_encoded(conn, project_id=project_id, connection_id=connection_id, events=events,
                                      payload=payload, cursors=batch_cursors)
                if on_new_events and result.new_events:
                    on_new_events(conn, project_id, connection_id, result.new_events)
            _account(outcome, result.seen, result.new_events)
            if on_batch:
                on_batch(outcome)
            if stop is not None and stop.is_set():
                outcome.interrupted = True  # finish the committed batch, leave the rest for the next poll
                break
    finally:
        if prefetch is not None:
            prefetch.close()
        raw.close()
    return outcome


class _Prefetch:
    """Runs ``connector.fetch``, ``normalize`` and ``encode`` on a helper thread, ``PREFETCH`` batches ahead.

    Iterating yields ``(events, payload, cursors)`` in the connector's order, then re-raises the connector's
    error, if any, after the batches before it. ``close`` stops the thread (it finishes at most the
    page it is fetching) and waits for it, so the connector is never used after poll_once returns.
    """

    _END = object()

    def __init__(self, connector: Connector, cursors: Mapping[str, CursorValue], now: datetime) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=PREFETCH)
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(connector, cursors, now), daemon=True,
                                        name="loglytics-fetch")
        self._thread.start()

    def __iter__(self) -> Iterator[tuple[list[LogEvent], bytes, dict[str, CursorValue]]]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._cancel.set()
        self._thread.join()

    def _run(self, connector: Connector, cursors: Mapping[str, CursorValue], now: datetime) -> None:
        try:
            batches = connector.fetch(cursors, now)
            try:
                for batch in batches:
                    if self._cancel.is_set():
                        return
                    events = [normalize(event, now=now) for event in batch.events]
                    if not self._put((events, encode(events) if events else b"", batch.cursors)):
                        return
            finally:
                close = getattr(batches, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # noqa: BLE001 - handed to the loader thread, which raises it
            self._put(exc)
            return
        self._put(self._END)

    def _put(self, item: object) -> bool:
        """Queue ``item`` unless the loader has gone; False when it has."""
        while not self._cancel.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


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
