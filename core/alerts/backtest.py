"""Backtest: replay a rule over stored history with the live decision code, alerts kept in memory.

Stream rules see the stored events of the range in time order (the live hook sees them in
arrival order: the two agree unless events arrived out of order); window rules judge every
complete window ending in the range. Cooldown, grouping and quiet-period resolution are the
lifecycle's own, so the report says what live evaluation would have raised and sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from core.alerts import lifecycle, stream
from core.alerts.cache import RuleSet
from core.alerts.outbox import channel_ids
from core.alerts.rules import STREAM, CompiledRule
from core.alerts.window import load_connections, plan_steps, run_steps, units_for
from core.events import LogEvent

CHUNK = 5000
MAX_LISTED = 1000


class MemoryStore:
    """An AlertStore in memory; it records every notification the rule would have queued."""

    def __init__(self) -> None:
        self.open: dict[str, lifecycle.AlertState] = {}
        self.marks: dict[str, datetime] = {}
        self.changes: list[dict[str, Any]] = []
        self.opened = 0

    def open_alert(self, rule: CompiledRule, fingerprint: str) -> lifecycle.AlertState | None:
        return self.open.get(fingerprint)

    def resolved_mark(self, rule: CompiledRule, fingerprint: str) -> datetime | None:
        return self.marks.get(fingerprint)

    def open_groups(self, rule: CompiledRule) -> set[str]:
        return {a.group_key for a in self.open.values()}

    def quiet_alerts(self, rule: CompiledRule, last_seen_before: datetime) -> list[lifecycle.AlertState]:
        return [a for a in self.open.values() if a.last_seen <= last_seen_before]

    def save(self, rule: CompiledRule, alert: lifecycle.AlertState) -> bool:
        if alert.id is None:
            self.opened += 1
            alert.id = self.opened
        for event, _seq, at in alert.changes:
            self.changes.append({"at": at, "event": event, "group_key": alert.group_key, "alert": alert.id,
                                 "count": alert.count, "title": alert.title})
        alert.changes = []
        if alert.state == "resolved":
            self.open.pop(alert.fingerprint, None)
            marks = [t for t in (self.marks.get(alert.fingerprint), alert.last_seen, alert.resolved_at) if t]
            self.marks[alert.fingerprint] = max(marks)
        else:
            self.open[alert.fingerprint] = alert
        return True


@dataclass
class BacktestResult:
    rule_id: int
    rule_name: str
    rule_type: str
    since: datetime
    until: datetime
    alerts: int = 0
    notifications: int = 0
    deliveries: int = 0
    by_event: dict[str, int] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    scanned: int = 0
    open_at_end: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id, "rule": self.rule_name, "type": self.rule_type, "since": self.since,
            "until": self.until, "alerts": self.alerts, "notifications": self.notifications,
            "deliveries": self.deliveries, "by_event": self.by_event, "open_at_end": self.open_at_end,
            "scanned": self.scanned, "timeline": self.changes[:MAX_LISTED],
        }


def _events(conn: psycopg.Connection, rule: CompiledRule, since: datetime,
            until: datetime) -> Iterator[list[tuple[int, LogEvent]]]:
    scope = rule.options.scope
    floor = max(getattr(rule.options, "level", 0), scope.min_level or 0)
    clauses, params = ["project_id = %s", "ts >= %s", "ts < %s"], [rule.project_id, since, until]
    if floor:
        clauses.append("level >= %s")
        params.append(floor)
    if scope.connections:
        clauses.append("connection_id = ANY(%s)")
        params.append(list(scope.connections))
    sql = ("SELECT connection_id, ts, received_at, level, source, message, dedupe_key, attributes, trace_id "
           f"FROM log_events WHERE {' AND '.join(clauses)} ORDER BY ts, connection_id, dedupe_key")
    with conn.cursor(name="loglytics_backtest") as cur:
        cur.itersize = CHUNK
        cur.execute(sql, params)
        while rows := cur.fetchmany(CHUNK):
            yield [(r[0], LogEvent(ts=r[1], received_at=r[2], level=r[3], source=r[4], message=r[5],
                                   dedupe_key=r[6], attributes=r[7] or {}, trace_id=r[8])) for r in rows]


def backtest(conn: psycopg.Connection, rule: CompiledRule, *, since: datetime, until: datetime | None = None,
             now: datetime | None = None) -> BacktestResult:
    """Replay ``rule`` over ``[since, until)``: when it would have fired, and what it would have sent."""
    now = now or datetime.now(UTC)
    until = min(until or now, now)
    store = MemoryStore()
    result = BacktestResult(rule.id, rule.name, rule.type, since, until)
    connections = load_connections(conn, [rule.project_id])
    units = units_for(rule, connections.values())
    if rule.kind == STREAM:
        ruleset = RuleSet(version=(0, None), rules=[rule])
        for chunk in _events(conn, rule, since, until):
            result.scanned += len(chunk)
            by_connection: dict[int, list[LogEvent]] = {}
            for connection_id, event in chunk:
                by_connection.setdefault(connection_id, []).append(event)
            work: stream.Work = {}
            for connection_id, events in by_connection.items():
                stream.collect(ruleset, connection_id, events, into=work)
            stream.apply(store, ruleset, work, now=now)  # sorts each group's occurrences by time
        horizon = min([until, *(u.horizon for u in units)])
        for alert in store.quiet_alerts(rule, horizon - timedelta(seconds=rule.resolve_after_s or 0)):
            lifecycle.resolve_quiet(store, rule, alert, horizon, now=now)
    else:
        for unit in units:
            steps = plan_steps(rule, unit, since, until)
            result.scanned += len(steps)
            run_steps(conn, store, rule, unit, steps, now=now)
    store.changes.sort(key=lambda c: (c["at"], c["group_key"]))
    result.changes = store.changes
    result.alerts = store.opened
    result.notifications = len(store.changes)
    for change in store.changes:
        result.by_event[change["event"]] = result.by_event.get(change["event"], 0) + 1
    result.deliveries = result.notifications * len(channel_ids(conn, project_id=rule.project_id,
                                                                wanted=list(rule.options.channels)))
    result.open_at_end = len(store.open)
    return result
