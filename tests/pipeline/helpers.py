"""Setting up projects and connections for pipeline and worker tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg

from core.actor import Actor
from core.db import session_scope
from core.models import Connection
from core.store import connections, projects

ACTOR = Actor.system("cli")


def make_project(engine, name: str = "p") -> int:
    with session_scope(engine) as session:
        return projects.ensure_project(session, actor=ACTOR, name=name).id


def make_connection(engine, vault, *, project_id: int, provider: str, config: dict[str, Any],
                    secret: dict[str, Any] | None = None, name: str | None = None) -> Connection:
    with session_scope(engine) as session:
        return connections.create_connection(
            session, actor=ACTOR, vault=vault, project_id=project_id, name=name or uuid.uuid4().hex[:8],
            provider=provider, config=config, secret=secret,
        )


def aws_config(moto: str, groups: list[str], **extra: Any) -> dict[str, Any]:
    return {"region": "us-east-1", "endpoint_url": moto, "log_groups": groups, "overlap_s": 600, "settle_s": 0,
            "poll_interval_s": 1, "requests_per_s": 500, **extra}


def aws_secret() -> dict[str, str]:
    return {"access_key_id": "AKIA" + uuid.uuid4().hex[:16].upper(), "secret_access_key": "testing"}


def scalar(db_url: str, sql: str, params: tuple = ()) -> Any:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def wait_for(predicate, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def assert_exactly_once(db_url: str, connection_id: int, expected: int) -> None:
    """Every event once: row count, distinct keys and the rollup all agree."""
    with psycopg.connect(db_url) as conn:
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT dedupe_key) FROM log_events WHERE connection_id = %s", (connection_id,)
        ).fetchone()
        rolled = conn.execute("SELECT coalesce(sum(count), 0) FROM log_counts WHERE connection_id = %s",
                              (connection_id,)).fetchone()[0]
    assert (rows, distinct, rolled) == (expected, expected, expected)
