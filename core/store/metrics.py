"""Chart data, read from the per-minute rollup ``log_counts`` (never a scan of log_events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from core.actor import Actor
from core.db import scoped_connection
from core.errors import NotFoundError
from core.levels import ERROR

RANGES = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


def bucket_for(span: timedelta) -> str:
    """Per-minute points up to a day; hourly beyond (a week of minutes is 10k points per level)."""
    return "minute" if span <= timedelta(hours=24) else "hour"


def _check(actor: Actor, project_id: int) -> None:
    if not actor.can_see(project_id):
        raise NotFoundError("no such project")


def _rows(engine: Engine, actor: Actor, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with scoped_connection(engine, actor=actor) as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql), params)]


def events_by_level(engine: Engine, *, actor: Actor, project_id: int, since: datetime,
                    connection_ids: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    """[{bucket, level, count}] over ``since`` .. now."""
    _check(actor, project_id)
    bucket = bucket_for(datetime.now(UTC) - since)
    where = "project_id = :p AND minute >= :since" + (" AND connection_id = ANY(:c)" if connection_ids else "")
    return _rows(engine, actor, f"""
        SELECT date_trunc('{bucket}', minute) AS bucket, level, sum(count)::bigint AS count
        FROM log_counts WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2""",
                 {"p": project_id, "since": since, "c": list(connection_ids)})


def error_rate(engine: Engine, *, actor: Actor, project_id: int, since: datetime) -> list[dict[str, Any]]:
    """[{bucket, total, errors, rate_pct}]: errors are level >= ERROR."""
    _check(actor, project_id)
    bucket = bucket_for(datetime.now(UTC) - since)
    return _rows(engine, actor, f"""
        SELECT date_trunc('{bucket}', minute) AS bucket, sum(count)::bigint AS total,
               (sum(count) FILTER (WHERE level >= {ERROR}))::bigint AS errors,
               round(100.0 * coalesce(sum(count) FILTER (WHERE level >= {ERROR}), 0) / sum(count), 2) AS rate_pct
        FROM log_counts WHERE project_id = :p AND minute >= :since GROUP BY 1 ORDER BY 1""",
                 {"p": project_id, "since": since})


def throughput_by_connection(engine: Engine, *, actor: Actor, project_id: int,
                             since: datetime) -> list[dict[str, Any]]:
    """[{bucket, connection_id, name, count}] per connection."""
    _check(actor, project_id)
    bucket = bucket_for(datetime.now(UTC) - since)
    return _rows(engine, actor, f"""
        SELECT date_trunc('{bucket}', lc.minute) AS bucket, lc.connection_id, c.name, sum(lc.count)::bigint AS count
        FROM log_counts lc JOIN connections c ON c.id = lc.connection_id
        WHERE lc.project_id = :p AND lc.minute >= :since GROUP BY 1, 2, 3 ORDER BY 1""",
                 {"p": project_id, "since": since})


def top_sources(engine: Engine, *, actor: Actor, project_id: int, since: datetime,
                limit: int = 10) -> list[dict[str, Any]]:
    """Busiest sources over the last hour at most (the rollup has no source column; this reads events)."""
    _check(actor, project_id)
    since = max(since, datetime.now(UTC) - timedelta(hours=1))
    return _rows(engine, actor, """
        SELECT source, count(*) AS count, count(*) FILTER (WHERE level >= :error) AS errors
        FROM log_events WHERE project_id = :p AND ts >= :since
        GROUP BY source ORDER BY count(*) DESC LIMIT :limit""",
                 {"p": project_id, "since": since, "limit": limit, "error": ERROR})


def alerts_over_time(engine: Engine, *, actor: Actor, project_id: int, since: datetime) -> list[dict[str, Any]]:
    """[{bucket, severity, count}] of alerts first seen in the range."""
    _check(actor, project_id)
    bucket = "hour" if datetime.now(UTC) - since > timedelta(hours=6) else "minute"
    return _rows(engine, actor, f"""
        SELECT date_trunc('{bucket}', first_seen) AS bucket, severity, count(*) AS count
        FROM alerts WHERE project_id = :p AND first_seen >= :since GROUP BY 1, 2 ORDER BY 1""",
                 {"p": project_id, "since": since})


def error_rate_thresholds(engine: Engine, *, actor: Actor, project_id: int) -> list[dict[str, Any]]:
    """Active error-rate rules' thresholds, drawn as lines on the error-rate chart."""
    _check(actor, project_id)
    rows = _rows(engine, actor, """
        SELECT name, options FROM alert_rules WHERE project_id = :p AND enabled AND type = 'error_rate'""",
                 {"p": project_id})
    out = []
    for row in rows:
        options = row["options"] or {}
        value = options.get("percent")
        if isinstance(value, int | float):
            out.append({"name": row["name"], "threshold_pct": float(value)})
    return out
