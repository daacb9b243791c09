"""Alert rules: create, edit, enable/disable, delete (each audited) and read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from core.actor import Actor
from core.alerts.rules import check_severity, parse_options, rule_type
from core.errors import NotFoundError, UsageError
from core.models import AlertRule, Channel
from core.permissions import require
from core.store import audit


def _check_channels(session: Session, project_id: int, channel_ids: list[int]) -> None:
    if not channel_ids:
        return
    found = set(session.exec(select(Channel.id).where(Channel.project_id == project_id,
                                                      col(Channel.id).in_(channel_ids))))
    missing = sorted(set(channel_ids) - found)
    if missing:
        raise UsageError(f"options.channels: no channel {', '.join(map(str, missing))} in this project "
                         "(see: loglytics channels list)")


def _validated(session: Session, project_id: int, type_name: str, options: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_options(type_name, options)
    _check_channels(session, project_id, parsed.channels)
    return parsed.model_dump(mode="json", exclude_defaults=False)


def create_rule(
    session: Session, *, actor: Actor, project_id: int, name: str, type: str, options: dict[str, Any],
    severity: str = "warning", enabled: bool = True,
) -> AlertRule:
    require(actor, "operator", project_id=project_id, action="create rules")
    name = name.strip()
    if not name:
        raise UsageError("rule name must not be empty")
    rule_type(type)
    check_severity(severity)
    checked = _validated(session, project_id, type, options)
    if session.exec(select(AlertRule).where(AlertRule.project_id == project_id, AlertRule.name == name)).first():
        raise UsageError(f"a rule named {name!r} already exists in this project")
    now = datetime.now(UTC)
    rule = AlertRule(project_id=project_id, name=name, type=type, options=checked, severity=severity, enabled=enabled,
                     created_at=now, updated_at=now)
    session.add(rule)
    session.flush()
    audit.record(session, actor=actor, action="rule.create", target=f"rule:{rule.id}", project_id=project_id,
                 details={"name": name, "type": type, "severity": severity, "enabled": enabled, "options": checked})
    return rule


def get_rule(session: Session, *, actor: Actor, rule_id: int) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None or not actor.can_see(rule.project_id):
        raise NotFoundError(f"no rule with id {rule_id} (see: loglytics rules list)")
    return rule


def list_rules(session: Session, *, actor: Actor, project_id: int | None = None) -> list[AlertRule]:
    query = select(AlertRule).order_by(AlertRule.id)
    if project_id is not None:
        query = query.where(AlertRule.project_id == project_id)
    return [r for r in session.exec(query) if actor.can_see(r.project_id)]


def update_rule(
    session: Session, *, actor: Actor, rule_id: int, name: str | None = None, options: dict[str, Any] | None = None,
    severity: str | None = None,
) -> AlertRule:
    rule = get_rule(session, actor=actor, rule_id=rule_id)
    require(actor, "operator", project_id=rule.project_id, action="edit rules")
    changed: dict[str, Any] = {}
    if options is not None:
        rule.options = _validated(session, rule.project_id, rule.type, options)
        changed["options"] = rule.options
    if severity is not None:
        rule.severity = changed["severity"] = check_severity(severity)
    if name is not None and name.strip() and name.strip() != rule.name:
        rule.name = changed["name"] = name.strip()
    rule.updated_at = datetime.now(UTC)  # the evaluators' caches reload on it
    session.add(rule)
    audit.record(session, actor=actor, action="rule.update", target=f"rule:{rule_id}", project_id=rule.project_id,
                 details=changed)
    return rule


def set_enabled(session: Session, *, actor: Actor, rule_id: int, enabled: bool) -> AlertRule:
    rule = get_rule(session, actor=actor, rule_id=rule_id)
    require(actor, "operator", project_id=rule.project_id, action="enable or disable rules")
    rule.enabled = enabled
    rule.updated_at = datetime.now(UTC)
    session.add(rule)
    audit.record(session, actor=actor, action="rule.enable" if enabled else "rule.disable", target=f"rule:{rule_id}",
                 project_id=rule.project_id)
    return rule


def delete_rule(session: Session, *, actor: Actor, rule_id: int) -> None:
    """Deletes the rule with its alerts and their notifications (history goes with it)."""
    rule = get_rule(session, actor=actor, rule_id=rule_id)
    require(actor, "operator", project_id=rule.project_id, action="delete rules")
    session.delete(rule)
    audit.record(session, actor=actor, action="rule.delete", target=f"rule:{rule_id}", project_id=rule.project_id,
                 details={"name": rule.name, "type": rule.type})


def backtest(session: Session, *, actor: Actor, rule_id: int, since: datetime, until: datetime | None = None):
    """Replay a rule over stored history (see core.alerts.backtest); nothing is written."""
    from core.alerts.backtest import backtest as replay
    from core.alerts.lifecycle import load_rule
    from core.store.alerts import pg_connection

    get_rule(session, actor=actor, rule_id=rule_id)  # visibility
    conn = pg_connection(session)
    return replay(conn, load_rule(conn, rule_id), since=since, until=until)


def preview_backtest(session: Session, *, actor: Actor, project_id: int, type: str, options: dict[str, Any],
                     since: datetime, severity: str = "warning", until: datetime | None = None):
    """Backtest a rule before it is saved (the form's preview); nothing is written."""
    from core.alerts.backtest import backtest as replay
    from core.alerts.rules import compile_rule
    from core.models import Project
    from core.store.alerts import pg_connection

    if not actor.can_see(project_id):
        raise NotFoundError("no such project")
    rule_type(type)
    checked = _validated(session, project_id, type, options)
    project = session.get(Project, project_id)
    rule = compile_rule(id=0, project_id=project_id, project_name=project.name, name="(preview)", type=type,
                        severity=check_severity(severity), options=checked)
    return replay(pg_connection(session), rule, since=since, until=until)
