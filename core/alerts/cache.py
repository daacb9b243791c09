"""Compiled rules, cached per project and rebuilt when the project's rules change.

The version of a project's rules is ``(count, max(updated_at))`` of ``alert_rules``: every
create, edit, enable/disable sets ``updated_at`` and a delete lowers the count. Checking it is
one index lookup per batch; compiling (pydantic + RE2) happens only when it moved.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from core.alerts.rules import STREAM, WINDOW, CompiledRule, compile_rule

log = logging.getLogger("loglytics.alerts")

VERSION_SQL = "SELECT count(*), max(updated_at) FROM alert_rules WHERE project_id = %s"
RULES_SQL = """
SELECT r.id, r.project_id, p.name AS project_name, r.name, r.type, r.severity, r.options, r.updated_at, r.created_at
FROM alert_rules r JOIN projects p ON p.id = r.project_id
WHERE r.project_id = %s AND r.enabled ORDER BY r.id
"""


@dataclass(slots=True)
class RuleSet:
    """A project's enabled rules, compiled."""

    version: tuple[int, datetime | None]
    rules: list[CompiledRule] = field(default_factory=list)
    matcher: Any = field(init=False, default=None)
    by_id: dict[int, CompiledRule] = field(init=False, default_factory=dict)
    stream: list[CompiledRule] = field(init=False, default_factory=list)
    window: list[CompiledRule] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        from core.alerts.stream import StreamMatcher

        self.by_id = {r.id: r for r in self.rules}
        self.stream = [r for r in self.rules if r.kind == STREAM]
        self.window = [r for r in self.rules if r.kind == WINDOW]
        self.matcher = StreamMatcher(self.stream) if self.stream else None


def load_rules(conn: psycopg.Connection, project_id: int) -> list[CompiledRule]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(RULES_SQL, (project_id,)).fetchall()
    compiled = []
    for row in rows:
        try:
            compiled.append(compile_rule(**row))
        except Exception:  # noqa: BLE001 - a rule saved by an older version; the others still run
            log.exception("rule %s cannot be compiled; skipped", row["id"])
    return compiled


class RuleCache:
    """Thread-safe: the worker's poll threads share one cache."""

    def __init__(self) -> None:
        self._sets: dict[int, RuleSet] = {}
        self._lock = threading.Lock()

    def get(self, conn: psycopg.Connection, project_id: int) -> RuleSet:
        count, latest = conn.execute(VERSION_SQL, (project_id,)).fetchone()
        version = (count, latest)
        with self._lock:
            cached = self._sets.get(project_id)
        if cached is not None and cached.version == version:
            return cached
        ruleset = RuleSet(version=version, rules=load_rules(conn, project_id) if count else [])
        with self._lock:
            self._sets[project_id] = ruleset
        return ruleset

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()
