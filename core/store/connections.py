"""Connections: provider, options, encrypted secret, desired state and observed status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from core.actor import Actor
from core.connectors import registry
from core.errors import NotFoundError, UsageError
from core.models import Connection, Cursor
from core.permissions import require
from core.store import audit
from core.vault import Vault, reveal

DESIRED_STATES = ("running", "stopped", "paused")
MASK = "********"


def describe_validation_error(exc: ValidationError, prefix: str) -> str:
    """One readable line from a pydantic error: 'config.region: Field required; ...'."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{prefix}.{where}: {error['msg']}" if where else f"{prefix}: {error['msg']}")
    return "; ".join(parts)


def validate(provider: str, config: dict[str, Any], secret: dict[str, Any] | None) -> tuple[dict, dict | None]:
    """Validate options and secret against the provider's models; returns the normalized dicts."""
    cls = registry.connector_class(provider)
    try:
        options = cls.Options.model_validate(config)
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc, "config")) from None
    checked_secret = None
    if secret is not None:
        try:
            model = cls.Secret.model_validate(secret)
        except ValidationError as exc:
            # messages only: the error's input (the secret itself) is never echoed
            raise UsageError(describe_validation_error(exc, "secret")) from None
        checked_secret = reveal(model)
    return options.model_dump(mode="json", exclude_unset=False), checked_secret


def create_connection(
    session: Session, *, actor: Actor, vault: Vault, project_id: int, name: str, provider: str,
    config: dict[str, Any], secret: dict[str, Any] | None = None, desired_state: str = "running",
) -> Connection:
    require(actor, "operator", project_id=project_id, action="create connections")
    name = name.strip()
    if not name:
        raise UsageError("connection name must not be empty")
    if desired_state not in DESIRED_STATES:
        raise UsageError(f"unknown state {desired_state!r}; use one of {', '.join(DESIRED_STATES)}")
    options, checked_secret = validate(provider, config, secret)
    same_name = (Connection.project_id == project_id) & (Connection.name == name)
    exists = session.exec(select(Connection).where(same_name)).first()
    if exists:
        raise UsageError(f"a connection named {name!r} already exists in this project")
    connection = Connection(
        project_id=project_id, name=name, provider=provider, config=options,
        secret=vault.encrypt(checked_secret) if checked_secret else None, desired_state=desired_state,
    )
    session.add(connection)
    session.flush()
    audit.record(
        session, actor=actor, action="connection.create", target=f"connection:{connection.id}",
        project_id=project_id,
        details={"name": name, "provider": provider, "secret_fields": sorted(checked_secret or {})},
    )
    return connection


def get_connection(session: Session, *, actor: Actor, connection_id: int) -> Connection:
    connection = session.get(Connection, connection_id)
    if connection is None or not actor.can_see(connection.project_id):
        raise NotFoundError(f"no connection with id {connection_id} (see: loglytics connections list)")
    return connection


def list_connections(session: Session, *, actor: Actor, project_id: int | None = None) -> list[Connection]:
    query = select(Connection).order_by(Connection.id)
    if project_id is not None:
        query = query.where(Connection.project_id == project_id)
    return [c for c in session.exec(query) if actor.can_see(c.project_id)]


def masked_secret(connection: Connection, vault: Vault) -> dict[str, str]:
    """Which secret fields are set, with their values masked."""
    if connection.secret is None:
        return {}
    return {key: MASK for key in vault.decrypt(connection.secret)}


def set_desired_state(session: Session, *, actor: Actor, connection_id: int, state: str) -> Connection:
    if state not in DESIRED_STATES:
        raise UsageError(f"unknown state {state!r}; use one of {', '.join(DESIRED_STATES)}")
    connection = get_connection(session, actor=actor, connection_id=connection_id)
    require(actor, "operator", project_id=connection.project_id, action="start, stop or pause connections")
    connection.desired_state = state
    connection.updated_at = datetime.now(UTC)
    session.add(connection)
    action = {"running": "start", "stopped": "stop", "paused": "pause"}[state]
    audit.record(
        session, actor=actor, action=f"connection.{action}", target=f"connection:{connection_id}",
        project_id=connection.project_id,
    )
    return connection


def update_connection(
    session: Session, *, actor: Actor, vault: Vault, connection_id: int,
    config: dict[str, Any] | None = None, secret: dict[str, Any] | None = None, name: str | None = None,
) -> Connection:
    """Change options and/or replace the secret ('leave blank to keep': ``secret=None`` keeps it)."""
    connection = get_connection(session, actor=actor, connection_id=connection_id)
    require(actor, "operator", project_id=connection.project_id, action="edit connections")
    options, checked_secret = validate(connection.provider, config if config is not None else connection.config, secret)
    changed = []
    if config is not None:
        connection.config = options
        changed.append("config")
    if checked_secret is not None:
        connection.secret = vault.encrypt(checked_secret)
        changed.append("secret")
    if name:
        connection.name = name.strip()
        changed.append("name")
    connection.updated_at = datetime.now(UTC)
    session.add(connection)
    audit.record(
        session, actor=actor, action="connection.update", target=f"connection:{connection_id}",
        project_id=connection.project_id, details={"changed": changed},
    )
    return connection


def delete_connection(session: Session, *, actor: Actor, connection_id: int) -> None:
    connection = get_connection(session, actor=actor, connection_id=connection_id)
    require(actor, "operator", project_id=connection.project_id, action="delete connections")
    for cursor in session.exec(select(Cursor).where(Cursor.connection_id == connection_id)):
        session.delete(cursor)
    session.delete(connection)
    audit.record(
        session, actor=actor, action="connection.delete", target=f"connection:{connection_id}",
        project_id=connection.project_id, details={"name": connection.name},
    )


def decrypt_secret(connection: Connection, vault: Vault) -> dict[str, Any] | None:
    return vault.decrypt(connection.secret) if connection.secret is not None else None
