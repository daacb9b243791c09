"""Reading stored log events: newest first for tail, streamed in order for export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from core.actor import Actor
from core.db import scoped_connection
from core.errors import NotFoundError

COLUMNS = "ts, level, source, message, attributes, connection_id, dedupe_key, trace_id, received_at, ingested_at"


@dataclass(frozen=True, slots=True)
class LogFilter:
    project_id: int
    min_level: int | None = None
    grep: str | None = None  # case-insensitive substring
    connection_ids: tuple[int, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


def _where(flt: LogFilter) -> tuple[str, dict[str, Any]]:
    clauses, params = ["project_id = :project_id"], {"project_id": flt.project_id}
    if flt.min_level is not None:
        clauses.append("level >= :min_level")
        params["min_level"] = flt.min_level
    if flt.grep:
        clauses.append("message ILIKE :grep")
        params["grep"] = "%" + flt.grep.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if flt.connection_ids:
        clauses.append("connection_id = ANY(:connection_ids)")
        params["connection_ids"] = list(flt.connection_ids)
    if flt.since is not None:
        clauses.append("ts >= :since")
        params["since"] = flt.since
    if flt.until is not None:
        clauses.append("ts < :until")
        params["until"] = flt.until
    return " AND ".join(clauses), params


def _check(actor: Actor, project_id: int) -> None:
    if not actor.can_see(project_id):
        raise NotFoundError("no such project")


def latest(engine: Engine, *, actor: Actor, flt: LogFilter, limit: int = 200) -> list[dict[str, Any]]:
    """Newest ``limit`` events matching the filter, newest first."""
    _check(actor, flt.project_id)
    where, params = _where(flt)
    sql = text(f"SELECT {COLUMNS} FROM log_events WHERE {where} ORDER BY ts DESC LIMIT :limit")
    with scoped_connection(engine, actor=actor) as conn:
        return [dict(row._mapping) for row in conn.execute(sql, {**params, "limit": limit})]


def stream(engine: Engine, *, actor: Actor, flt: LogFilter, chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """Every matching event, oldest first, through a server-side cursor (bounded memory)."""
    _check(actor, flt.project_id)
    where, params = _where(flt)
    sql = text(f"SELECT {COLUMNS} FROM log_events WHERE {where} ORDER BY ts, connection_id, dedupe_key")
    with scoped_connection(engine, actor=actor) as conn:
        result = conn.execution_options(stream_results=True, max_row_buffer=chunk).execute(sql, params)
        for row in result:
            yield dict(row._mapping)


def count(engine: Engine, *, actor: Actor, flt: LogFilter) -> int:
    _check(actor, flt.project_id)
    where, params = _where(flt)
    with scoped_connection(engine, actor=actor) as conn:
        return conn.execute(text(f"SELECT count(*) FROM log_events WHERE {where}"), params).scalar_one()
