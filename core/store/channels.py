"""Notification channels: per project, options in the clear, the secret only as a Fernet token.

Secrets are write-only: reads show which secret fields are set, masked; audit entries name the
secret fields changed, never their values.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from core.actor import Actor
from core.errors import NotFoundError, UsageError
from core.models import Channel, Project
from core.notifiers import registry
from core.permissions import require
from core.store import audit
from core.store.connections import MASK
from core.vault import Vault, reveal


def validate(channel_type: str, config: dict[str, Any], secret: dict[str, Any] | None) -> tuple[dict, dict | None]:
    """Validate options and secret (building the notifier checks how they fit together)."""
    notifier = registry.build(channel_type, config, secret)
    options = notifier.options.model_dump(mode="json")
    checked = None
    if secret:
        checked = reveal(registry.notifier_class(channel_type).Secret.model_validate(secret))
    notifier.close()
    return options, checked or None


def create_channel(
    session: Session, *, actor: Actor, vault: Vault, project_id: int, name: str, type: str,
    config: dict[str, Any], secret: dict[str, Any] | None = None, enabled: bool = True,
) -> Channel:
    require(actor, "operator", project_id=project_id, action="create channels")
    name = name.strip()
    if not name:
        raise UsageError("channel name must not be empty")
    options, checked = validate(type, config, secret)
    if session.exec(select(Channel).where(Channel.project_id == project_id, Channel.name == name)).first():
        raise UsageError(f"a channel named {name!r} already exists in this project")
    channel = Channel(project_id=project_id, name=name, type=type, config=options,
                      secret=vault.encrypt(checked) if checked else None, enabled=enabled)
    session.add(channel)
    session.flush()
    audit.record(session, actor=actor, action="channel.create", target=f"channel:{channel.id}", project_id=project_id,
                 details={"name": name, "type": type, "secret_fields": sorted(checked or {})})
    return channel


def get_channel(session: Session, *, actor: Actor, channel_id: int) -> Channel:
    channel = session.get(Channel, channel_id)
    if channel is None or not actor.can_see(channel.project_id):
        raise NotFoundError(f"no channel with id {channel_id} (see: loglytics channels list)")
    return channel


def find_channel(session: Session, *, actor: Actor, project_id: int, ref: str) -> Channel:
    """A channel of the project by id or by name."""
    query = select(Channel).where(Channel.project_id == project_id)
    query = query.where(Channel.id == int(ref)) if ref.isdigit() else query.where(Channel.name == ref)
    channel = session.exec(query).first()
    if channel is None or not actor.can_see(channel.project_id):
        raise NotFoundError(f"no channel {ref!r} in this project (see: loglytics channels list)")
    return channel


def list_channels(session: Session, *, actor: Actor, project_id: int | None = None) -> list[Channel]:
    query = select(Channel).order_by(Channel.id)
    if project_id is not None:
        query = query.where(Channel.project_id == project_id)
    return [c for c in session.exec(query) if actor.can_see(c.project_id)]


def masked_secret(channel: Channel, vault: Vault) -> dict[str, str]:
    if channel.secret is None:
        return {}
    return {key: MASK for key in vault.decrypt(channel.secret)}


def decrypt_secret(channel: Channel, vault: Vault) -> dict[str, Any] | None:
    return vault.decrypt(channel.secret) if channel.secret is not None else None


def update_channel(
    session: Session, *, actor: Actor, vault: Vault, channel_id: int, config: dict[str, Any] | None = None,
    secret: dict[str, Any] | None = None, enabled: bool | None = None, name: str | None = None,
) -> Channel:
    """Change options, replace the secret (``secret=None`` keeps it: 'leave blank to keep'), enable/disable."""
    channel = get_channel(session, actor=actor, channel_id=channel_id)
    require(actor, "operator", project_id=channel.project_id, action="edit channels")
    current = decrypt_secret(channel, vault)
    options, checked = validate(channel.type, config if config is not None else channel.config,
                                secret if secret is not None else current)
    changed = []
    if config is not None:
        channel.config = options
        changed.append("config")
    if secret is not None:
        channel.secret = vault.encrypt(checked) if checked else None
        changed.append("secret")
    if enabled is not None and enabled != channel.enabled:
        channel.enabled = enabled
        changed.append("enabled")
    if name and name.strip() != channel.name:
        channel.name = name.strip()
        changed.append("name")
    session.add(channel)
    audit.record(session, actor=actor, action="channel.update", target=f"channel:{channel_id}",
                 project_id=channel.project_id, details={"changed": changed})
    return channel


def delete_channel(session: Session, *, actor: Actor, channel_id: int) -> None:
    """Deletes the channel and its queued or past deliveries; rules naming it stop notifying it."""
    channel = get_channel(session, actor=actor, channel_id=channel_id)
    require(actor, "operator", project_id=channel.project_id, action="delete channels")
    session.delete(channel)
    audit.record(session, actor=actor, action="channel.delete", target=f"channel:{channel_id}",
                 project_id=channel.project_id, details={"name": channel.name, "type": channel.type})


def send_test(session: Session, *, actor: Actor, vault: Vault, channel_id: int,
                 dashboard_url: str | None = None) -> tuple[bool, str]:
    """Send a test notification now (not through the outbox); audited with its outcome."""
    from core.alerts.dispatcher import send_test

    channel = get_channel(session, actor=actor, channel_id=channel_id)
    require(actor, "operator", project_id=channel.project_id, action="send test notifications")
    project = session.get(Project, channel.project_id)
    ok, message = send_test(channel_type=channel.type, config=channel.config, secret=decrypt_secret(channel, vault),
                            project=project.name if project else "", channel_name=channel.name,
                            dashboard_url=dashboard_url)
    audit.record(session, actor=actor, action="channel.test", target=f"channel:{channel_id}",
                 project_id=channel.project_id, outcome="ok" if ok else "failed", details={"message": message})
    return ok, message
