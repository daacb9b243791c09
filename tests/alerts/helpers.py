"""Setting up projects, connections, rules and ingested events for the alerting tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from core.actor import Actor
from core.alerts.cache import RuleCache
from core.alerts.stream import make_hook
from core.db import session_scope
from core.events import LogEvent
from core.pipeline.loader import load_batch, prepare
from core.store import channels, projects, rules

ACTOR = Actor.system("cli")
MIN = timedelta(minutes=1)
_keys = itertools.count()


def base_time() -> datetime:
    """A minute boundary an hour ago: every window of a test lies in the past."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)


def ev(ts: datetime, message: str = "GET / 200", *, level: int = 2, source: str = "api",
       attributes: dict[str, Any] | None = None, key: str | None = None) -> LogEvent:
    return LogEvent(ts=ts, received_at=ts, level=level, source=source, message=message,
                    dedupe_key=key or f"k{next(_keys)}", attributes=attributes or {})


def make_project(engine, name: str = "shop") -> int:
    with session_scope(engine) as session:
        return projects.ensure_project(session, actor=ACTOR, name=name).id


def make_connection(db_url: str, project_id: int, name: str = "c1", created_at: datetime | None = None,
                    settle_s: float = 0) -> int:
    """A connection row (no connector runs: tests load events themselves), created a day ago by default."""
    created_at = created_at or datetime.now(UTC) - timedelta(days=1)
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "INSERT INTO connections (project_id, name, provider, config, created_at, updated_at) "
            "VALUES (%s, %s, 'demo', %s, %s, %s) RETURNING id",
            (project_id, name, psycopg.types.json.Jsonb({"settle_s": settle_s}), created_at, created_at),
        ).fetchone()[0]


def make_rule(engine, project_id: int, type: str, options: dict[str, Any], *, name: str | None = None,
              severity: str = "warning") -> int:
    with session_scope(engine) as session:
        return rules.create_rule(session, actor=ACTOR, project_id=project_id, name=name or f"{type}-{next(_keys)}",
                                 type=type, options=options, severity=severity).id


def make_channel(engine, vault, project_id: int, type: str, config: dict[str, Any],
                 secret: dict[str, Any] | None = None, name: str | None = None) -> int:
    with session_scope(engine) as session:
        return channels.create_channel(session, actor=ACTOR, vault=vault, project_id=project_id,
                                       name=name or f"{type}-{next(_keys)}", type=type, config=config,
                                       secret=secret).id


Hook = Callable[[psycopg.Connection, int, int, Sequence[LogEvent]], None]


class Ingest:
    """Loads batches exactly like core.pipeline.ingest.poll_once: one transaction, the hook inside it."""

    def __init__(self, engine, project_id: int, connection_id: int, hook: Hook | None = None):
        self.engine, self.project_id, self.connection_id = engine, project_id, connection_id
        self.hook = hook if hook is not None else make_hook(RuleCache())

    def __call__(self, events: Sequence[LogEvent], *, hw: datetime | None = None, partition: str = "p") -> int:
        raw = self.engine.raw_connection()
        try:
            conn = raw.driver_connection
            with conn.transaction():
                prepare(conn)
            with conn.transaction():
                cursors = {partition: {"hw_ms": int(hw.timestamp() * 1000)}} if hw else None
                result = load_batch(conn, project_id=self.project_id, connection_id=self.connection_id,
                                    events=list(events), cursors=cursors)
                if result.new_events and self.hook:
                    self.hook(conn, self.project_id, self.connection_id, result.new_events)
            return result.inserted
        finally:
            raw.close()


def rows(db_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params or None).fetchall()


def alerts(db_url: str, rule_id: int | None = None) -> list[dict[str, Any]]:
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        where = "WHERE rule_id = %s" if rule_id is not None else ""
        return conn.execute(f"SELECT * FROM alerts {where} ORDER BY id", (rule_id,) if rule_id else ()).fetchall()


def notifications(db_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM notifications ORDER BY id").fetchall()



def fast_policy(**kw):
    from core.alerts.dispatcher import RetryPolicy

    return RetryPolicy(**{"base_s": 0.05, "cap_s": 0.2, "max_attempts": 5, "claim_s": 5.0, **kw})


def drain(engine, vault, *, policy=None, timeout: float = 15.0, dashboard_url: str | None = None) -> None:
    """Dispatch until no notification is pending or sending (sleeping through backoffs)."""
    import time

    from core.alerts.dispatcher import dispatch_due

    policy = policy or fast_policy()
    deadline = time.monotonic() + timeout
    while True:
        dispatch_due(engine, vault=vault, policy=policy, dashboard_url=dashboard_url)
        with engine.connect() as conn:
            left = conn.exec_driver_sql(
                "SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')").scalar_one()
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{left} notification(s) still undelivered")
        time.sleep(0.05)


def raise_alert(engine, db_url, vault, channel_type: str, config: dict[str, Any], secret: dict[str, Any] | None,
                **rule_options: Any) -> tuple[int, int, int, Ingest]:
    """Project, connection, channel and a level rule; one ERROR event raises an alert. Returns ids and the loader."""
    project = make_project(engine)
    connection = make_connection(db_url, project)
    channel = make_channel(engine, vault, project, channel_type, config, secret)
    rule = make_rule(engine, project, "level", {"level": "error", "channels": [channel], **rule_options},
                     name="checkout errors", severity="critical")
    ingest = Ingest(engine, project, connection)
    ingest([ev(base_time(), "payment <declined> for order #42", level=5, source="checkout-api")])
    return project, channel, rule, ingest
