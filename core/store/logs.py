"""Reading stored log events: newest first for tail, streamed in order for export."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from core.actor import Actor
from core.db import scoped_connection
from core.errors import NotFoundError

_PLAIN_WORD = re.compile(r"^[A-Za-z0-9_]{3,}$")
SUBSTRING_WINDOW = timedelta(minutes=15)  # how far back a search also matches inside words
COLUMNS = "ts, level, source, message, attributes, connection_id, dedupe_key, trace_id, received_at, ingested_at"


@dataclass(frozen=True, slots=True)
class LogFilter:
    project_id: int
    min_level: int | None = None
    grep: str | None = None  # case-insensitive substring (a scan: keep the time range short)
    search: str | None = None  # full-text words (websearch syntax: "quoted phrase", -exclude, or)
    connection_ids: tuple[int, ...] = ()
    sources: tuple[str, ...] = ()
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
    if flt.search:
        clauses.append("to_tsvector('simple', message) @@ websearch_to_tsquery('simple', :search)")
        params["search"] = flt.search
        # A cheap substring test that every match passes: where no index helps (the open day's
        # partition), PostgreSQL runs it first and computes to_tsvector only for candidates.
        for index, word in enumerate(_required_words(flt.search)):
            clauses.append(f"message ILIKE :word{index}")
            params[f"word{index}"] = f"%{word}%"
    if flt.sources:
        clauses.append("source = ANY(:sources)")
        params["sources"] = list(flt.sources)
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


def _required_words(query: str) -> list[str]:
    """Plain words every full-text match must contain (none when the query uses OR)."""
    tokens = query.replace('"', " ").split()
    if any(t.lower() == "or" for t in tokens):
        return []
    return [t for t in tokens if _PLAIN_WORD.match(t)][:5]


def _check(actor: Actor, project_id: int) -> None:
    if not actor.can_see(project_id):
        raise NotFoundError("no such project")


def latest(engine: Engine, *, actor: Actor, flt: LogFilter, limit: int = 200) -> list[dict[str, Any]]:
    """Newest ``limit`` events matching the filter, newest first.

    A full-text ``search`` matches whole words over the whole range (the index), and also any
    substring within the recent window (a short scan): log text is full of paths, dotted names
    and key=value pairs that the word parser does not split the way people search them.
    """
    _check(actor, flt.project_id)
    if not flt.search:
        return _latest(engine, actor, flt, limit)
    recent = datetime.now(UTC) - SUBSTRING_WINDOW
    substring = replace(flt, search=None, grep=flt.search, since=max(flt.since or recent, recent))
    rows = {_key(r): r for r in _latest(engine, actor, flt, limit)}
    rows.update((_key(r), r) for r in _latest(engine, actor, substring, limit))
    return sorted(rows.values(), key=lambda r: r["ts"], reverse=True)[:limit]


def _key(row: dict[str, Any]) -> tuple:
    return row["connection_id"], row["dedupe_key"], row["ts"]


def _latest(engine: Engine, actor: Actor, flt: LogFilter, limit: int) -> list[dict[str, Any]]:
    if flt.search and not flt.grep:
        return _search(engine, actor, flt, limit)
    where, params = _where(flt)
    sql = text(f"SELECT {COLUMNS} FROM log_events WHERE {where} ORDER BY ts DESC LIMIT :limit")
    with scoped_connection(engine, actor=actor) as conn:
        return [dict(row._mapping) for row in conn.execute(sql, {**params, "limit": limit})]


def _search(engine: Engine, actor: Actor, flt: LogFilter, limit: int) -> list[dict[str, Any]]:
    """Full-text search through loglytics_search_events (migration 0003): the same project scope
    as row-level security, checked by the function, with the partitions' GIN indexes usable."""
    sql = text("SELECT * FROM loglytics_search_events(:p, :q, :words, :since, :until, :level, :conns, :sources, :n)")
    params = {"p": flt.project_id, "q": flt.search, "words": _required_words(flt.search), "since": flt.since,
              "until": flt.until, "level": flt.min_level, "conns": list(flt.connection_ids) or None,
              "sources": list(flt.sources) or None, "n": limit}
    with scoped_connection(engine, actor=actor) as conn:
        return [dict(row._mapping) for row in conn.execute(sql, params)]


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


def count_newer(engine: Engine, *, actor: Actor, flt: LogFilter, after: datetime, cap: int = 10_000) -> int:
    """How many matching events are newer than ``after`` (for "N new while paused"), capped."""
    _check(actor, flt.project_id)
    where, params = _where(flt)
    sql = text(f"SELECT count(*) FROM (SELECT 1 FROM log_events WHERE {where} AND ts > :after LIMIT :cap) s")
    with scoped_connection(engine, actor=actor) as conn:
        return conn.execute(sql, {**params, "after": after, "cap": cap}).scalar_one()


def recent_sources(engine: Engine, *, actor: Actor, project_id: int, limit: int = 200) -> list[str]:
    """Sources seen in the newest events (for filter choices), most frequent first."""
    _check(actor, project_id)
    sql = text("""SELECT source FROM (SELECT source FROM log_events WHERE project_id = :p
                  ORDER BY ts DESC LIMIT 5000) s GROUP BY source ORDER BY count(*) DESC LIMIT :limit""")
    with scoped_connection(engine, actor=actor) as conn:
        return list(conn.execute(sql, {"p": project_id, "limit": limit}).scalars())
