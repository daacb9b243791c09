"""Alerts for people: the inbox (list, read/unread) and the actions ack, resolve, silence; each audited.

The transitions themselves live in core.alerts.lifecycle; these functions check visibility,
run them in the session's transaction and record who did it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlmodel import Session, col, select

from core.actor import Actor
from core.alerts import lifecycle
from core.errors import NotFoundError, UsageError
from core.models import Alert, AlertRule
from core.permissions import require
from core.store import audit

STATE_FILTERS = ("open", "firing", "acknowledged", "silenced", "resolved", "all")


def pg_connection(session: Session) -> psycopg.Connection:
    """The session's own psycopg connection: same transaction as the ORM work and the audit row."""
    session.flush()
    return session.connection().connection.driver_connection


def get_alert(session: Session, *, actor: Actor, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, populate_existing=True)
    if alert is None or not actor.can_see(alert.project_id):
        raise NotFoundError(f"no alert with id {alert_id} (see: loglytics alerts list)")
    return alert


def list_alerts(
    session: Session, *, actor: Actor, project_id: int | None = None, state: str = "open", unread: bool = False,
    rule_id: int | None = None, limit: int = 200,
) -> list[tuple[Alert, str]]:
    """Alerts with their rule's name, newest activity first."""
    if state not in STATE_FILTERS:
        raise UsageError(f"unknown state {state!r}; use one of {', '.join(STATE_FILTERS)}")
    query = (select(Alert, AlertRule.name).join(AlertRule, AlertRule.id == Alert.rule_id)
             .order_by(col(Alert.last_seen).desc(), col(Alert.id).desc()).limit(limit))
    if project_id is not None:
        query = query.where(Alert.project_id == project_id)
    if state == "open":
        query = query.where(Alert.state != "resolved")
    elif state != "all":
        query = query.where(Alert.state == state)
    if unread:
        query = query.where(Alert.read == False)  # noqa: E712
    if rule_id is not None:
        query = query.where(Alert.rule_id == rule_id)
    return [(a, name) for a, name in session.exec(query) if actor.can_see(a.project_id)]


def acknowledge(session: Session, *, actor: Actor, alert_id: int, comment: str | None = None) -> Alert:
    alert = get_alert(session, actor=actor, alert_id=alert_id)
    require(actor, "operator", project_id=alert.project_id, action="acknowledge alerts")
    lifecycle.acknowledge(pg_connection(session), alert_id=alert_id, user_id=actor.user_id, comment=comment)
    audit.record(session, actor=actor, action="alert.ack", target=f"alert:{alert_id}", project_id=alert.project_id,
                 details={"comment": comment} if comment else {})
    return get_alert(session, actor=actor, alert_id=alert_id)


def resolve(session: Session, *, actor: Actor, alert_id: int) -> Alert:
    alert = get_alert(session, actor=actor, alert_id=alert_id)
    require(actor, "operator", project_id=alert.project_id, action="resolve alerts")
    lifecycle.resolve(pg_connection(session), alert_id=alert_id, user_id=actor.user_id)
    audit.record(session, actor=actor, action="alert.resolve", target=f"alert:{alert_id}",
                 project_id=alert.project_id)
    return get_alert(session, actor=actor, alert_id=alert_id)


def silence(session: Session, *, actor: Actor, alert_id: int, until: datetime) -> Alert:
    alert = get_alert(session, actor=actor, alert_id=alert_id)
    require(actor, "operator", project_id=alert.project_id, action="silence alerts")
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    lifecycle.silence(pg_connection(session), alert_id=alert_id, until=until)
    audit.record(session, actor=actor, action="alert.silence", target=f"alert:{alert_id}",
                 project_id=alert.project_id, details={"until": until.isoformat()})
    return get_alert(session, actor=actor, alert_id=alert_id)


def mark_read(session: Session, *, actor: Actor, alert_id: int, read: bool = True) -> Alert:
    alert = get_alert(session, actor=actor, alert_id=alert_id)
    lifecycle.mark_read(pg_connection(session), alert_id=alert_id, read=read)
    audit.record(session, actor=actor, action="alert.read" if read else "alert.unread", target=f"alert:{alert_id}",
                 project_id=alert.project_id)
    return get_alert(session, actor=actor, alert_id=alert_id)


def notifications(session: Session, *, actor: Actor, alert_id: int) -> list[dict[str, Any]]:
    """Each delivery of an alert and its status (pending, sending, sent, dead) with the last error."""
    alert = get_alert(session, actor=actor, alert_id=alert_id)
    rows = pg_connection(session).execute(
        "SELECT n.id, c.name, c.type, n.event, n.status, n.attempts, n.next_attempt_at, n.last_error, n.sent_at "
        "FROM notifications n JOIN channels c ON c.id = n.channel_id WHERE n.alert_id = %s ORDER BY n.id",
        (alert.id,),
    ).fetchall()
    keys = ("id", "channel", "type", "event", "status", "attempts", "next_attempt_at", "last_error", "sent_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]
