"""The alert lifecycle: one open alert per fingerprint (rule + group key), cooldown, ack, silence, resolve.

States: ``firing`` -> ``acknowledged`` -> ``resolved``; ``silenced`` (until an expiry) from firing
or acknowledged. Repeats raise ``count`` and ``last_seen``; a repeat notifies only when the
alert is firing (not acknowledged, not silenced) and the cooldown has passed since the last
notification. Resolution is notified unless the alert is silenced.

Times are data times: an event's timestamp for stream rules, the window's end for window rules.
Cooldown and the quiet period are measured on them, so a backtest over stored history takes
the same decisions as live evaluation did. User actions (ack, resolve, silence) use wall time.

The decisions are written once, against ``AlertStore``; ``PgAlertStore`` keeps alerts in the
database (inside the caller's transaction, rows locked ``FOR UPDATE``), the backtest keeps them
in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from core.alerts import outbox
from core.alerts.rules import STREAM, WINDOW, CompiledRule, compile_rule
from core.errors import NotFoundError, UsageError

MAX_SAMPLES = 5
SAMPLE_CHARS = 1000
OPEN_STATES = ("firing", "acknowledged", "silenced")


@dataclass(slots=True)
class Occurrence:
    """The condition seen once: one matching event, or one firing window."""

    first: datetime
    at: datetime
    count: int = 1
    samples: list[dict[str, Any]] = field(default_factory=list)
    title: str | None = None
    lazy_samples: Callable[[], list[dict[str, Any]]] | None = None


@dataclass(slots=True)
class AlertState:
    id: int | None
    rule_id: int
    project_id: int
    fingerprint: str
    group_key: str
    severity: str
    title: str = ""
    state: str = "firing"
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    last_notified_at: datetime | None = None
    silenced_until: datetime | None = None
    acked_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: int | None = None
    read: bool = False
    samples: list[dict[str, Any]] = field(default_factory=list)
    changes: list[tuple[str, int, datetime]] = field(default_factory=list)  # notifications to queue on save

    def silenced(self, now: datetime) -> bool:
        return self.state == "silenced" and self.silenced_until is not None and self.silenced_until > now


class AlertStore(Protocol):
    def open_alert(self, rule: CompiledRule, fingerprint: str) -> AlertState | None:
        """The open alert of this fingerprint, locked for this transaction, or None."""

    def resolved_mark(self, rule: CompiledRule, fingerprint: str) -> datetime | None:
        """The latest data time a resolved alert of this fingerprint covered (its last_seen or resolution)."""

    def save(self, rule: CompiledRule, alert: AlertState) -> bool:
        """Write the alert and queue its ``changes``; False when a concurrent writer opened it first."""

    def open_groups(self, rule: CompiledRule) -> set[str]:
        """Group keys of the rule's open alerts."""

    def quiet_alerts(self, rule: CompiledRule, last_seen_before: datetime) -> list[AlertState]:
        """Open alerts of the rule last seen at or before a time, locked."""


def sample(ts: datetime, source: str, message: str) -> dict[str, Any]:
    return {"ts": ts.isoformat(), "source": source, "message": message[:SAMPLE_CHARS]}


def _merge_samples(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return (old + new)[-MAX_SAMPLES:] if new else old


def _new_alert(rule: CompiledRule, fingerprint: str, group_key: str, occ: Occurrence) -> AlertState:
    samples = occ.samples or (occ.lazy_samples() if occ.lazy_samples else [])
    alert = AlertState(
        id=None, rule_id=rule.id, project_id=rule.project_id, fingerprint=fingerprint, group_key=group_key,
        severity=rule.severity, title=occ.title or rule.name, count=occ.count, first_seen=occ.first,
        last_seen=occ.at, last_notified_at=occ.at, samples=samples[-MAX_SAMPLES:],
    )
    alert.changes.append(("fired", 0, occ.at))
    return alert


def _resolve(alert: AlertState, at: datetime, now: datetime, by: int | None = None) -> None:
    notify = not alert.silenced(now)
    alert.state, alert.resolved_at, alert.resolved_by, alert.read = "resolved", at, by, False
    if notify:
        alert.changes.append(("resolved", 0, at))


def _wake_expired_silence(alert: AlertState, now: datetime) -> None:
    if alert.state == "silenced" and not alert.silenced(now):
        alert.state = "acknowledged" if alert.acked_at else "firing"
        alert.silenced_until = None


def _repeat(rule: CompiledRule, alert: AlertState, occ: Occurrence, now: datetime) -> None:
    alert.count += occ.count
    alert.last_seen = max(alert.last_seen, occ.at) if alert.last_seen else occ.at
    if occ.title and rule.kind == WINDOW:  # a window's title says the latest value; a stream alert keeps its first
        alert.title = occ.title
    _wake_expired_silence(alert, now)
    cooldown = timedelta(seconds=rule.options.cooldown_s)
    due = alert.last_notified_at is None or occ.at - alert.last_notified_at >= cooldown
    if alert.state == "firing" and due:
        alert.last_notified_at = occ.at
        alert.read = False
        alert.samples = _merge_samples(alert.samples, occ.samples or (occ.lazy_samples() if occ.lazy_samples else []))
        alert.changes.append(("repeat", alert.count, occ.at))
    elif occ.samples:
        alert.samples = _merge_samples(alert.samples, occ.samples)


def observe(
    store: AlertStore, rule: CompiledRule, group_key: str, occurrences: Sequence[Occurrence], *, now: datetime,
    _retry: bool = True,
) -> None:
    """Apply occurrences (sorted by time) of one fingerprint: open, repeat, or re-open after a quiet period."""
    fingerprint = rule.fingerprint(group_key)
    alert = store.open_alert(rule, fingerprint)
    done: list[AlertState] = []
    quiet = timedelta(seconds=rule.resolve_after_s) if rule.kind == STREAM and rule.resolve_after_s else None
    mark = None
    for occ in occurrences:
        if alert is not None and quiet is not None and occ.first - alert.last_seen >= quiet:
            _resolve(alert, alert.last_seen + quiet, now)
            done.append(alert)
            alert = None
        if alert is None:
            if rule.kind == WINDOW:
                mark = mark or store.resolved_mark(rule, fingerprint)
                if mark is not None and occ.at <= mark:
                    continue  # this window was already judged (a restart re-evaluating it)
            alert = _new_alert(rule, fingerprint, group_key, occ)
            continue
        if rule.kind == WINDOW and occ.at <= alert.last_seen:
            continue  # already counted
        _repeat(rule, alert, occ, now)
    if alert is not None:
        done.append(alert)
    for index, item in enumerate(done):
        if not store.save(rule, item):
            if _retry and index == 0 and item.id is None:  # another transaction opened it: count ours as repeats
                observe(store, rule, group_key, occurrences, now=now, _retry=False)
                return
            raise RuntimeError(f"alert {rule.id}/{fingerprint} changed concurrently")


def clear(store: AlertStore, rule: CompiledRule, group_key: str, at: datetime, *, now: datetime) -> bool:
    """A window rule's condition is not met in the window ending at ``at``: resolve its open alert."""
    alert = store.open_alert(rule, rule.fingerprint(group_key))
    if alert is None or alert.last_seen >= at:
        return False
    _resolve(alert, at, now)
    store.save(rule, alert)
    return True


def resolve_quiet(store: AlertStore, rule: CompiledRule, alert: AlertState, horizon: datetime, *,
                  now: datetime) -> bool:
    """A stream alert with no match for ``resolve_after_s`` of complete data resolves itself."""
    if not rule.resolve_after_s or alert.last_seen is None:
        return False
    at = alert.last_seen + timedelta(seconds=rule.resolve_after_s)
    if at > horizon:
        return False
    _resolve(alert, at, now)
    store.save(rule, alert)
    return True


# --- PostgreSQL ---------------------------------------------------------------------------------

ALERT_COLUMNS = (
    "id, rule_id, project_id, fingerprint, group_key, severity, title, state, count, first_seen, last_seen, "
    "last_notified_at, silenced_until, acked_at, resolved_at, resolved_by, read, samples"
)


def _state(row: dict[str, Any]) -> AlertState:
    return AlertState(**{k: row[k] for k in ALERT_COLUMNS.split(", ")})


class PgAlertStore:
    """Alerts in the database, in the caller's transaction (the ingest batch, or the window pass)."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def open_alert(self, rule: CompiledRule, fingerprint: str) -> AlertState | None:
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                f"SELECT {ALERT_COLUMNS} FROM alerts WHERE rule_id = %s AND fingerprint = %s AND state <> 'resolved' "
                "FOR UPDATE", (rule.id, fingerprint),
            ).fetchone()
        return _state(row) if row else None

    def open_groups(self, rule: CompiledRule) -> set[str]:
        rows = self.conn.execute("SELECT group_key FROM alerts WHERE rule_id = %s AND state <> 'resolved'", (rule.id,))
        return {row[0] for row in rows}

    def quiet_alerts(self, rule: CompiledRule, last_seen_before: datetime) -> list[AlertState]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                f"SELECT {ALERT_COLUMNS} FROM alerts WHERE rule_id = %s AND state <> 'resolved' AND last_seen <= %s "
                "ORDER BY id FOR UPDATE", (rule.id, last_seen_before),
            ).fetchall()
        return [_state(row) for row in rows]

    def resolved_mark(self, rule: CompiledRule, fingerprint: str) -> datetime | None:
        return self.conn.execute(
            "SELECT max(greatest(last_seen, resolved_at)) FROM alerts "
            "WHERE rule_id = %s AND fingerprint = %s AND state = 'resolved'", (rule.id, fingerprint),
        ).fetchone()[0]

    def save(self, rule: CompiledRule, alert: AlertState) -> bool:
        values = (alert.state, alert.title, alert.count, alert.first_seen, alert.last_seen, alert.last_notified_at,
                  alert.silenced_until, alert.resolved_at, alert.resolved_by, alert.read, Jsonb(alert.samples))
        if alert.id is None:
            row = self.conn.execute(
                "INSERT INTO alerts (project_id, rule_id, fingerprint, group_key, severity, state, title, count, "
                "first_seen, last_seen, last_notified_at, silenced_until, resolved_at, resolved_by, read, samples) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (rule_id, fingerprint) WHERE state <> 'resolved' DO NOTHING RETURNING id",
                (alert.project_id, alert.rule_id, alert.fingerprint, alert.group_key, alert.severity, *values),
            ).fetchone()
            if row is None:
                return False
            alert.id = row[0]
        else:
            self.conn.execute(
                "UPDATE alerts SET state = %s, title = %s, count = %s, first_seen = %s, last_seen = %s, "
                "last_notified_at = %s, silenced_until = %s, resolved_at = %s, resolved_by = %s, read = %s, "
                "samples = %s WHERE id = %s", (*values, alert.id),
            )
        outbox.enqueue(self.conn, rule=rule, alert=alert, changes=alert.changes)
        alert.changes = []
        return True


def load_rule(conn: psycopg.Connection, rule_id: int) -> CompiledRule:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT r.id, r.project_id, p.name AS project_name, r.name, r.type, r.severity, r.options, r.updated_at, "
            "r.created_at FROM alert_rules r JOIN projects p ON p.id = r.project_id WHERE r.id = %s", (rule_id,),
        ).fetchone()
    if row is None:
        raise NotFoundError(f"no rule with id {rule_id} (see: loglytics rules list)")
    return compile_rule(**row)


# --- user actions (wall time, audited by core.store.alerts) ----------------------------------------

def _locked(conn: psycopg.Connection, alert_id: int) -> tuple[CompiledRule, AlertState]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = %s FOR UPDATE", (alert_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no alert with id {alert_id} (see: loglytics alerts list)")
    return load_rule(conn, row["rule_id"]), _state(row)


def acknowledge(conn: psycopg.Connection, *, alert_id: int, user_id: int | None, comment: str | None,
                now: datetime | None = None) -> AlertState:
    """Stops re-notification until the alert resolves; a comment says what is being done."""
    now = now or datetime.now(UTC)
    _, alert = _locked(conn, alert_id)
    if alert.state == "resolved":
        raise UsageError(f"alert {alert_id} is already resolved")
    conn.execute(
        "UPDATE alerts SET state = CASE WHEN state = 'silenced' AND silenced_until > %s THEN state "
        "ELSE 'acknowledged' END, acked_by = %s, acked_at = %s, ack_comment = %s, read = true WHERE id = %s",
        (now, user_id, now, comment, alert_id),
    )
    alert.state = "silenced" if alert.silenced(now) else "acknowledged"
    return alert


def resolve(conn: psycopg.Connection, *, alert_id: int, user_id: int | None, now: datetime | None = None) -> AlertState:
    """Resolve by hand; the resolution is notified (unless silenced)."""
    now = now or datetime.now(UTC)
    rule, alert = _locked(conn, alert_id)
    if alert.state == "resolved":
        raise UsageError(f"alert {alert_id} is already resolved")
    _resolve(alert, now, now, by=user_id)
    alert.read = True  # the person resolving it has seen it
    PgAlertStore(conn).save(rule, alert)
    return alert


def silence(conn: psycopg.Connection, *, alert_id: int, until: datetime, now: datetime | None = None) -> AlertState:
    now = now or datetime.now(UTC)
    if until <= now:
        raise UsageError("a silence must end in the future")
    _, alert = _locked(conn, alert_id)
    if alert.state == "resolved":
        raise UsageError(f"alert {alert_id} is already resolved")
    conn.execute("UPDATE alerts SET state = 'silenced', silenced_until = %s WHERE id = %s", (until, alert_id))
    alert.state, alert.silenced_until = "silenced", until
    return alert


def mark_read(conn: psycopg.Connection, *, alert_id: int, read: bool = True) -> None:
    cur = conn.execute("UPDATE alerts SET read = %s WHERE id = %s", (read, alert_id))
    if cur.rowcount != 1:
        raise NotFoundError(f"no alert with id {alert_id} (see: loglytics alerts list)")


def wake_expired_silences(conn: psycopg.Connection, *, now: datetime | None = None) -> int:
    """Silences that ended: back to firing (or acknowledged); the next repeat notifies again."""
    cur = conn.execute(
        "UPDATE alerts SET state = CASE WHEN acked_at IS NOT NULL THEN 'acknowledged' ELSE 'firing' END, "
        "silenced_until = NULL WHERE state = 'silenced' AND silenced_until <= %s", (now or datetime.now(UTC),),
    )
    return cur.rowcount
