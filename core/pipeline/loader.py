"""Exactly-once loading of normalized events.

One transaction per batch: COPY the batch into a temporary staging table, move it into
``log_events`` with ``INSERT … ON CONFLICT DO NOTHING RETURNING``, add only the rows that were
new to the per-minute rollup ``log_counts``, and save the connector's cursors. A crash anywhere
rolls all of it back; the next poll re-reads and the unique key absorbs the repeats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.events import LogEvent

STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS loglytics_staging (
    ts timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    level smallint NOT NULL,
    source text NOT NULL,
    message text NOT NULL,
    attributes jsonb NOT NULL,
    dedupe_key text NOT NULL,
    trace_id text
) ON COMMIT DELETE ROWS
"""

COPY_SQL = (
    "COPY loglytics_staging (ts, received_at, level, source, message, attributes, dedupe_key, trace_id) FROM STDIN"
)

# DISTINCT ON keeps one row per key when a batch itself repeats an event (providers do).
MOVE_SQL = """
WITH new_rows AS (
    INSERT INTO log_events (project_id, connection_id, ts, received_at, level, source, message, attributes,
                            dedupe_key, trace_id)
    SELECT DISTINCT ON (dedupe_key, ts) %(project_id)s, %(connection_id)s, ts, received_at, level, source, message,
           attributes, dedupe_key, trace_id
    FROM loglytics_staging
    ON CONFLICT (connection_id, dedupe_key, ts) DO NOTHING
    RETURNING ts, level, dedupe_key
), rollup AS (
    INSERT INTO log_counts AS c (project_id, connection_id, minute, level, count)
    SELECT %(project_id)s, %(connection_id)s, date_trunc('minute', ts), level, count(*)
    FROM new_rows GROUP BY 2, 3, 4
    ON CONFLICT (project_id, connection_id, minute, level) DO UPDATE SET count = c.count + EXCLUDED.count
)
SELECT dedupe_key, ts FROM new_rows
"""

CURSOR_SQL = """
INSERT INTO cursors (connection_id, partition, project_id, value, updated_at)
VALUES (%s, %s, %s, %s, now())
ON CONFLICT (connection_id, partition) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
"""


@dataclass(slots=True)
class LoadResult:
    seen: int
    new_events: list[LogEvent] = field(default_factory=list)

    @property
    def inserted(self) -> int:
        return len(self.new_events)


def prepare(conn: psycopg.Connection) -> None:
    """Create the session's staging table (idempotent; once per database session is enough)."""
    conn.execute(STAGING_DDL)


def load_batch(
    conn: psycopg.Connection,
    *,
    project_id: int,
    connection_id: int,
    events: Sequence[LogEvent],
    cursors: Mapping[str, Mapping[str, Any]] | None = None,
) -> LoadResult:
    """Stage, insert the new rows, roll them up and save ``cursors``, all in the caller's transaction."""
    result = LoadResult(seen=len(events))
    if events:
        with conn.cursor() as cur:
            with cur.copy(COPY_SQL) as copy:
                write = copy.write_row
                for e in events:
                    write((e.ts, e.received_at, e.level, e.source, e.message, Jsonb(e.attributes), e.dedupe_key,
                           e.trace_id))
            cur.execute(MOVE_SQL, {"project_id": project_id, "connection_id": connection_id})
            new_keys = set(cur.fetchall())
        if len(new_keys) == len(events):
            result.new_events = list(events)
        else:
            result.new_events = [e for e in events if (e.dedupe_key, e.ts) in new_keys]
            # a batch repeating one key twice: keep the first occurrence only
            if len(result.new_events) != len(new_keys):
                unique: dict[tuple[str, Any], LogEvent] = {}
                for e in result.new_events:
                    unique.setdefault((e.dedupe_key, e.ts), e)
                result.new_events = list(unique.values())
    if cursors:
        with conn.cursor() as cur:
            cur.executemany(
                CURSOR_SQL, [(connection_id, part, project_id, Jsonb(dict(value))) for part, value in cursors.items()]
            )
    return result
