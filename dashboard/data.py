"""The dashboard's one door to core: a cached engine and cached queries. No SQL here.

Cached results are keyed by the acting user (an ``Actor`` argument), so one user's rows are
never served to another from the cache.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st
from sqlalchemy import Engine

from core.actor import Actor
from core.config import Settings, load_settings
from core.db import APP_ROLE, make_engine, resolve_url, session_scope
from core.store import connections, logs, metrics, projects, stats
from core.store.maintenance import live_workers
from core.vault import Vault


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource
def engine() -> Engine:
    return make_engine(resolve_url(settings()), role=APP_ROLE, pool_size=5)


@st.cache_resource
def vault() -> Vault:
    return Vault(settings().fernet_keys())


def session(actor: Actor):
    return session_scope(engine(), actor=actor)


@st.cache_data(ttl=5, show_spinner=False)
def visible_projects(actor: Actor) -> list[dict[str, Any]]:
    with session(actor) as s:
        return [{"id": p.id, "name": p.name} for p in projects.list_projects(s, actor=actor)]


@st.cache_data(ttl=2, show_spinner=False)
def connection_rows(actor: Actor, project_id: int) -> list[dict[str, Any]]:
    with session(actor) as s:
        return [c.model_dump(exclude={"secret"}) | {"has_secret": c.secret is not None}
                for c in connections.list_connections(s, actor=actor, project_id=project_id)]


def latest_logs(actor: Actor, flt: logs.LogFilter, limit: int = 200) -> list[dict[str, Any]]:
    return logs.latest(engine(), actor=actor, flt=flt, limit=limit)  # live: never cached


def count_newer(actor: Actor, flt: logs.LogFilter, after: datetime) -> int:
    return logs.count_newer(engine(), actor=actor, flt=flt, after=after)


@st.cache_data(ttl=30, show_spinner=False)
def recent_sources(actor: Actor, project_id: int) -> list[str]:
    return logs.recent_sources(engine(), actor=actor, project_id=project_id)


@st.cache_data(ttl=10, show_spinner=False)
def chart_data(actor: Actor, project_id: int, range_key: str) -> dict[str, Any]:
    since = datetime.now(UTC) - metrics.RANGES[range_key]
    kw = {"actor": actor, "project_id": project_id}
    return {
        "by_level": metrics.events_by_level(engine(), since=since, **kw),
        "error_rate": metrics.error_rate(engine(), since=since, **kw),
        "thresholds": metrics.error_rate_thresholds(engine(), **kw),
        "by_connection": metrics.throughput_by_connection(engine(), since=since, **kw),
        "top_sources": metrics.top_sources(engine(), since=since, **kw),
        "alerts": metrics.alerts_over_time(engine(), since=since, **kw),
    }


@st.cache_data(ttl=5, show_spinner=False)
def worker_count(actor: Actor) -> int:
    with session(actor) as s:
        return len(live_workers(s))


@st.cache_data(ttl=5, show_spinner=False)
def table_counts(actor: Actor) -> dict[str, int]:
    with session(actor) as s:
        return stats.table_counts(s)


def since(range_key: str) -> datetime:
    return datetime.now(UTC) - {"15m": timedelta(minutes=15), **metrics.RANGES}[range_key]


def clear_caches() -> None:
    """After a change: the next render reads fresh rows."""
    st.cache_data.clear()


@st.cache_data(ttl=3, show_spinner=False)
def unread_alerts(actor: Actor, project_id: int) -> int:
    with session(actor) as s:
        return stats.unread_alerts(s, project_id=project_id)
