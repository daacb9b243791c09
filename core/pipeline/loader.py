"""Exactly-once loading of normalized events.

One transaction per batch: COPY the batch into a temporary staging table, move it into
``log_events`` with ``INSERT … ON CONFLICT DO NOTHING RETURNING``, add only the rows that were
new to the per-minute rollup ``log_counts``, and save the connector's cursors. A crash anywhere
rolls all of it back; the next poll re-reads and the unique key absorbs the repeats.

Speed (measured by ``make bench``, docs/benchmarks.md): ``encode`` turns a batch into binary
COPY data in plain Python, so the server parses no timestamps and the caller can do it on
another thread than the one that talks to the database (core/pipeline/ingest.py does);
attributes travel as JSON text ("{}" for the common empty case) and become jsonb in the
INSERT; and the statement returns only the positions of the rows that were *not* new, so the
usual all-new batch sends nothing back.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.events import LogEvent

# attributes is text here (cast to jsonb on the move); n is the row's position in the batch.
STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS loglytics_staging (
    ts timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    level smallint NOT NULL,
    source text NOT NULL,
    message text NOT NULL,
    attributes text NOT NULL,
    dedupe_key text NOT NULL,
    trace_id text,
    n integer NOT NULL
) ON COMMIT DELETE ROWS
"""

COPY_SQL = ("COPY loglytics_staging (ts, received_at, level, source, message, attributes, dedupe_key, trace_id, n) "
            "FROM STDIN (FORMAT BINARY)")
COPY_TYPES = ("timestamptz", "timestamptz", "int2", "text", "text", "text", "text", "text", "int4")  # for write_row

# PostgreSQL's binary COPY format: signature, flags, header extension; per row a field count and
# length-prefixed fields (-1 = NULL); timestamps as int64 microseconds since 2000-01-01 UTC.
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)
_ROW_START = struct.Struct(">hiqiqih").pack  # 9 fields; ts, received_at (8 bytes each), level (2 bytes)
_LENGTH = struct.Struct(">i").pack
_N = struct.Struct(">ii").pack  # the last field, n: its length (4) and value
_NULL = _LENGTH(-1)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(2000, 1, 1)  # naive datetimes are UTC here, never local time
_EMPTY_JSON = _LENGTH(2) + b"{}"

# ON CONFLICT DO NOTHING also absorbs a key repeated inside the batch (providers do repeat):
# the first occurrence in staging order is inserted, the later ones conflict with it.
MOVE_SQL = """
WITH new_rows AS (
    INSERT INTO log_events (project_id, connection_id, ts, received_at, level, source, message, attributes,
                            dedupe_key, trace_id)
    SELECT %(project_id)s, %(connection_id)s, ts, received_at, level, source, message, attributes::jsonb,
           dedupe_key, trace_id
    FROM loglytics_staging
    ON CONFLICT (connection_id, dedupe_key, ts) DO NOTHING
    RETURNING ts, level, dedupe_key
), rollup AS (
    INSERT INTO log_counts AS c (project_id, connection_id, minute, level, count)
    SELECT %(project_id)s, %(connection_id)s, date_trunc('minute', ts), level, count(*)
    FROM new_rows GROUP BY 2, 3, 4
    ON CONFLICT (project_id, connection_id, minute, level) DO UPDATE SET count = c.count + EXCLUDED.count
)
SELECT inserted,
       -- the positions that were not inserted; only worked out when some were not (the subquery runs lazily)
       CASE WHEN inserted < %(staged)s THEN
           ARRAY(SELECT s.n FROM loglytics_staging s
                 WHERE NOT EXISTS (SELECT 1 FROM new_rows r WHERE r.dedupe_key = s.dedupe_key AND r.ts = s.ts))
       ELSE '{}'::int[] END
FROM (SELECT count(*) AS inserted FROM new_rows) AS counted
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
    return load_encoded(conn, project_id=project_id, connection_id=connection_id, events=events,
                        payload=encode(events) if events else b"", cursors=cursors)


def load_encoded(
    conn: psycopg.Connection,
    *,
    project_id: int,
    connection_id: int,
    events: Sequence[LogEvent],
    payload: bytes,
    cursors: Mapping[str, Mapping[str, Any]] | None = None,
) -> LoadResult:
    """``load_batch`` for a batch already turned into COPY data by ``encode(events)``."""
    result = LoadResult(seen=len(events))
    if events:
        with conn.cursor() as cur:
            with cur.copy(COPY_SQL) as copy:
                copy.write(payload)
            cur.execute(MOVE_SQL, {"project_id": project_id, "connection_id": connection_id, "staged": len(events)})
            inserted, skipped = cur.fetchone()
        result.new_events = _new_events(events, inserted, skipped)
    if cursors:
        with conn.cursor() as cur:
            cur.executemany(
                CURSOR_SQL, [(connection_id, part, project_id, Jsonb(dict(value))) for part, value in cursors.items()]
            )
    return result


def encode(events: Sequence[LogEvent]) -> bytes:
    """The staging table's binary COPY data for ``events`` (pure; safe on any thread).

    ``ts``/``received_at`` are aware datetimes (naive ones are taken as UTC); ``attributes`` is
    serialized with json.dumps, as psycopg's Jsonb would.
    """
    parts = [_HEADER]
    add = parts.append
    dumps, length, epoch, naive = json.dumps, _LENGTH, _EPOCH, _EPOCH_NAIVE
    sources: dict[str, bytes] = {}  # a batch has few distinct sources
    for n, e in enumerate(events):
        ts, received = e.ts, e.received_at
        d = ts - (epoch if ts.tzinfo is not None else naive)
        r = received - (epoch if received.tzinfo is not None else naive)
        add(_ROW_START(9, 8, (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds,
                       8, (r.days * 86400 + r.seconds) * 1_000_000 + r.microseconds, 2, e.level))
        source = sources.get(e.source)
        if source is None:
            data = e.source.encode()
            source = sources[e.source] = length(len(data)) + data
        add(source)
        data = e.message.encode()
        add(length(len(data)))
        add(data)
        if e.attributes:
            data = dumps(e.attributes).encode()
            add(length(len(data)))
            add(data)
        else:
            add(_EMPTY_JSON)
        data = e.dedupe_key.encode()
        add(length(len(data)))
        add(data)
        if e.trace_id is None:
            add(_NULL)
        else:
            data = e.trace_id.encode()
            add(length(len(data)))
            add(data)
        add(_N(4, n))
    add(_TRAILER)
    return b"".join(parts)


def _new_events(events: Sequence[LogEvent], inserted: int, skipped: list[int]) -> list[LogEvent]:
    """The events that were inserted, from the positions that were not (usually none)."""
    if not skipped and inserted == len(events):
        return list(events)
    gone = set(skipped)
    new_events = [e for n, e in enumerate(events) if n not in gone]
    if len(new_events) != inserted:
        # a key repeated inside the batch: its first occurrence was inserted, keep only that one
        unique: dict[tuple[str, Any], LogEvent] = {}
        for e in new_events:
            unique.setdefault((e.dedupe_key, e.ts), e)
        new_events = list(unique.values())
    return new_events
