"""The outbox: notification rows written in the same transaction as the alert change that causes them.

One row per (alert change, channel). Its ``idempotency_key`` is derived from the alert (id,
fingerprint, first-seen time), the change (event and sequence number) and the channel, so
re-running the same evaluation inserts nothing twice and receivers can deduplicate on it.
The payload is a snapshot of the alert at that moment: what the message will say, whenever
the dispatcher sends it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

if TYPE_CHECKING:
    from core.alerts.lifecycle import AlertState
    from core.alerts.rules import CompiledRule

EVENTS = ("fired", "repeat", "resolved")

INSERT_SQL = """
INSERT INTO notifications (project_id, alert_id, channel_id, event, idempotency_key, payload)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (idempotency_key) DO NOTHING
"""


def idempotency_key(alert: AlertState, event: str, seq: int, channel_id: int) -> str:
    first = alert.first_seen.isoformat() if alert.first_seen else ""
    raw = f"{alert.id}|{alert.fingerprint}|{first}|{event}|{seq}|{channel_id}"
    return f"ll-{alert.id}-{event}-{seq}-{hashlib.sha256(raw.encode()).hexdigest()[:16]}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def snapshot(rule: CompiledRule, alert: AlertState, event: str, at: datetime | None) -> dict[str, Any]:
    """What a notification says; built now so a later send reports this moment, not a later one."""
    return {
        "event": event,
        "at": _iso(at),
        "project": {"id": rule.project_id, "name": rule.project_name},
        "rule": {"id": rule.id, "name": rule.name, "type": rule.type},
        "alert": {
            "id": alert.id, "title": alert.title, "state": alert.state, "severity": alert.severity,
            "group_key": alert.group_key, "count": alert.count, "first_seen": _iso(alert.first_seen),
            "last_seen": _iso(alert.last_seen), "resolved_at": _iso(alert.resolved_at),
            "samples": list(alert.samples[-5:]),
        },
    }


def channel_ids(conn: psycopg.Connection, *, project_id: int, wanted: list[int]) -> list[int]:
    """The rule's channels that exist in its project and are enabled."""
    if not wanted:
        return []
    rows = conn.execute(
        "SELECT id FROM channels WHERE project_id = %s AND id = ANY(%s) AND enabled ORDER BY id", (project_id, wanted)
    ).fetchall()
    return [row[0] for row in rows]


def enqueue(
    conn: psycopg.Connection, *, rule: CompiledRule, alert: AlertState, changes: list[tuple[str, int, datetime]]
) -> int:
    """Queue one row per change and channel, in the caller's transaction. Returns rows queued."""
    channels = channel_ids(conn, project_id=rule.project_id, wanted=list(rule.options.channels))
    if not channels or not changes:
        return 0
    rows = []
    for event, seq, at in changes:
        payload = Jsonb(snapshot(rule, alert, event, at))
        for channel_id in channels:
            rows.append((rule.project_id, alert.id, channel_id, event, idempotency_key(alert, event, seq, channel_id),
                         payload))
    with conn.cursor() as cur:
        cur.executemany(INSERT_SQL, rows)
    return len(rows)
