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


PARTIAL_MIN_AGE = timedelta(minutes=30)  # rebuild the open day's index at most this often
PARTIAL_LAG = timedelta(minutes=2)  # rows newer than this stay out of the index (they still arrive)


def refresh_open_day_search_index(owner_engine: Engine, *, now: datetime | None = None,
                                  min_age: timedelta = PARTIAL_MIN_AGE) -> str | None:
    """Build a partial full-text index over the open day's older rows (CONCURRENTLY: ingest goes on).

    Needs the table owner's connection (index DDL). Returns the new index name, or None when
    the current one is recent enough. Also drops partial indexes of days that have closed
    (their full index is built by loglytics_maintain_partitions).
    """
    now = now or datetime.now(UTC)
    day = now.date()
    partition = f"log_events_{day:%Y%m%d}"
    upto = (now - PARTIAL_LAG).replace(second=0, microsecond=0)
    with owner_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        _drop_closed_day_partials(conn, partition)
        exists = conn.execute(text("SELECT to_regclass(:p)"), {"p": partition}).scalar()
        current = conn.execute(text("SELECT upto, index_name FROM loglytics_fts_partial WHERE partition_name = :p"),
                               {"p": partition}).first()
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if exists is None or upto - day_start < min_age or (current and upto - current[0] < min_age):
            return None
        name = f"{partition}_fts_upto_{upto:%H%M}"
        conn.execute(text(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {partition} "
            f"USING gin (to_tsvector('simple', message)) WHERE ts < '{upto.isoformat()}'::timestamptz"))
        conn.execute(text("""
            INSERT INTO loglytics_fts_partial (partition_name, upto, index_name) VALUES (:p, :u, :n)
            ON CONFLICT (partition_name) DO UPDATE SET upto = EXCLUDED.upto, index_name = EXCLUDED.index_name,
                                                       built_at = now()"""), {"p": partition, "u": upto, "n": name})
        if current and current[1] != name:
            conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {current[1]}"))
    return name


def _drop_closed_day_partials(conn, open_partition: str) -> None:
    for partition, index_name in conn.execute(text(
            "SELECT partition_name, index_name FROM loglytics_fts_partial WHERE partition_name <> :p"),
            {"p": open_partition}).all():
        if conn.execute(text("SELECT to_regclass(:i)"), {"i": f"{partition}_fts"}).scalar() is None:
            continue  # keep it until the closed day's full index exists (hourly maintenance)
        conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {index_name}"))
        conn.execute(text("DELETE FROM loglytics_fts_partial WHERE partition_name = :p"), {"p": partition})
