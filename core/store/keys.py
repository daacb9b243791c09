"""Key rotation: re-encrypt every stored secret with the newest key, in one transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, select

from core.actor import Actor
from core.models import Channel, Connection
from core.permissions import require
from core.store import audit
from core.vault import Vault


def rotate_secrets(
    session: Session, *, actor: Actor, vault: Vault, progress: Callable[[int, int], None] | None = None
) -> int:
    """Returns how many secrets were re-encrypted. The caller's transaction makes it atomic."""
    require(actor, "admin", action="rotate keys")
    rows = [*session.exec(select(Connection).where(Connection.secret.is_not(None))),
            *session.exec(select(Channel).where(Channel.secret.is_not(None)))]
    for index, row in enumerate(rows, start=1):
        row.secret = vault.rotate(row.secret)
        session.add(row)
        if progress:
            progress(index, len(rows))
    audit.record(session, actor=actor, action="keys.rotate", details={"secrets": len(rows)})
    return len(rows)
