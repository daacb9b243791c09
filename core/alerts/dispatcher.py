"""Sends due notifications from the outbox: claim, send, record; retries with backoff; dead after a limit.

Delivery is at-least-once with an idempotency key, which makes it exactly-once wherever the
receiver deduplicates on the key (see docs/alerts.md):

1. A row is claimed in its own short transaction (``FOR UPDATE SKIP LOCKED``): status ``sending``,
   ``attempts + 1``, and ``next_attempt_at`` becomes the claim's expiry. Only the oldest unsent row
   of each (alert, channel) is claimable, so a repeat never overtakes the message that opened the
   alert's thread.
2. The notifier sends, outside any transaction, carrying the idempotency key.
3. The outcome is recorded only if the claim is still ours (same ``attempts``): ``sent`` with the
   receiver's reference, or ``pending`` again after an exponential backoff with jitter (never
   sooner than the receiver's Retry-After), or ``dead`` with the reason when the error is
   permanent or the attempts are used up.

A worker that dies between 1 and 3 leaves the row ``sending``; once the claim expires another
dispatcher claims it again and tells the notifier the outcome of the previous attempt is
unknown (``uncertain``), so a notifier that can check (Jira) looks before writing twice.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from core.errors import LoglyticsError, NotifierError, UsageError
from core.notifiers import registry
from core.notifiers.base import Message, sample_message, scrub, secret_values
from core.vault import Vault

log = logging.getLogger("loglytics.alerts")
ERROR_CHARS = 1000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 5.0
    cap_s: float = 900.0
    max_attempts: int = 8
    claim_s: float = 120.0  # longer than any notifier's timeout: a live send is never claimed twice
    max_retry_after_s: float = 3600.0

    def delay(self, attempts: int, retry_after_s: float | None) -> float:
        """Exponential backoff with 'equal jitter'; the receiver's Retry-After is a floor."""
        ceiling = min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after_s:
            delay = max(delay, min(retry_after_s, self.max_retry_after_s))
        return delay


@dataclass(slots=True)
class DispatchStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    lost_claims: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.dead


CLAIM_SQL = """
WITH due AS (
    SELECT n.id, n.status AS was FROM notifications n
    WHERE n.status IN ('pending', 'sending') AND n.next_attempt_at <= now()
      AND NOT EXISTS (
          SELECT 1 FROM notifications p
          WHERE p.status IN ('pending', 'sending') AND p.alert_id = n.alert_id AND p.channel_id = n.channel_id
            AND p.id < n.id)
    ORDER BY n.next_attempt_at, n.id
    LIMIT 1
    FOR UPDATE OF n SKIP LOCKED
)
UPDATE notifications n SET status = 'sending', attempts = n.attempts + 1,
       next_attempt_at = now() + make_interval(secs => %s)
FROM due WHERE n.id = due.id
RETURNING n.id, n.project_id, n.alert_id, n.channel_id, n.event, n.idempotency_key, n.attempts, n.payload, due.was
"""

CHANNEL_SQL = "SELECT id, project_id, name, type, config, secret, enabled FROM channels WHERE id = %s"
THREAD_SQL = """
SELECT payload->'delivery'->>'ref' FROM notifications
WHERE alert_id = %s AND channel_id = %s AND status = 'sent' AND id < %s AND payload->'delivery'->>'ref' IS NOT NULL
ORDER BY id LIMIT 1
"""
SENT_SQL = """
UPDATE notifications SET status = 'sent', sent_at = now(), last_error = NULL,
       payload = payload || jsonb_build_object('delivery', %s::jsonb)
WHERE id = %s AND status = 'sending' AND attempts = %s
"""
RETRY_SQL = """
UPDATE notifications SET status = 'pending', last_error = %s, next_attempt_at = now() + make_interval(secs => %s)
WHERE id = %s AND status = 'sending' AND attempts = %s
"""
DEAD_SQL = """
UPDATE notifications SET status = 'dead', last_error = %s WHERE id = %s AND status = 'sending' AND attempts = %s
"""


def claim(conn: psycopg.Connection, *, claim_s: float) -> dict[str, Any] | None:
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(CLAIM_SQL, (claim_s,)).fetchone()


def alert_link(dashboard_url: str | None, alert_id: int | None) -> str | None:
    if not dashboard_url or alert_id is None:
        return None
    return f"{dashboard_url.rstrip('/')}/alerts?alert={alert_id}"


def dispatch_due(
    engine: Engine, *, vault: Vault, dashboard_url: str | None = None, policy: RetryPolicy | None = None,
    max_items: int = 200, budget_s: float = 30.0,
) -> DispatchStats:
    """Send what is due, one claim at a time, until nothing is due or the budget is spent."""
    policy = policy or RetryPolicy()
    stats = DispatchStats()
    deadline = time.monotonic() + budget_s
    raw = engine.raw_connection()
    try:
        conn: psycopg.Connection = raw.driver_connection
        for _ in range(max_items):
            if time.monotonic() > deadline:
                break
            row = claim(conn, claim_s=policy.claim_s)
            if row is None:
                break
            deliver(conn, row, vault=vault, dashboard_url=dashboard_url, policy=policy, stats=stats)
    finally:
        raw.close()
    return stats


def deliver(conn: psycopg.Connection, row: dict[str, Any], *, vault: Vault, dashboard_url: str | None,
            policy: RetryPolicy, stats: DispatchStats) -> None:
    """Send one claimed row and record the outcome (each write its own short transaction)."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        channel = cur.execute(CHANNEL_SQL, (row["channel_id"],)).fetchone()
        thread = conn.execute(THREAD_SQL, (row["alert_id"], row["channel_id"], row["id"])).fetchone()
    secrets: list[str] = []
    try:
        if channel is None or not channel["enabled"]:
            raise NotifierError("channel disabled or deleted", permanent=True)
        secret = vault.decrypt(channel["secret"]) if channel["secret"] is not None else None
        secrets = secret_values(secret)
        try:
            notifier = registry.build(channel["type"], channel["config"], secret)
        except UsageError as exc:
            raise NotifierError(f"channel settings are invalid: {exc}", permanent=True) from exc
        message = Message.from_payload(
            row["payload"], idempotency_key=row["idempotency_key"], link=alert_link(dashboard_url, row["alert_id"]),
            thread_ref=thread[0] if thread else None, uncertain=row["was"] == "sending",
        )
        try:
            delivery = notifier.send(message)
        finally:
            notifier.close()
    except NotifierError as exc:
        _failed(conn, row, exc, secrets, policy, stats)
        return
    except LoglyticsError as exc:  # a vault key missing: an operator can fix it, so retry
        _failed(conn, row, NotifierError(str(exc)), secrets, policy, stats)
        return
    except Exception as exc:  # noqa: BLE001 - a bug in a notifier must not stop the others
        log.exception("notification %s: unexpected error", row["id"])
        _failed(conn, row, NotifierError(f"internal error: {type(exc).__name__}: {exc}"), secrets, policy, stats)
        return
    result = {"ref": delivery.ref, **({"details": delivery.details} if delivery.details else {})}
    with conn.transaction():
        done = conn.execute(SENT_SQL, (Jsonb(result), row["id"], row["attempts"])).rowcount
    if done:
        stats.sent += 1
    else:
        stats.lost_claims += 1
        log.warning("notification %s was sent but its claim had expired; it may be sent again", row["id"])


def _failed(conn: psycopg.Connection, row: dict[str, Any], exc: NotifierError, secrets: list[str],
            policy: RetryPolicy, stats: DispatchStats) -> None:
    reason = scrub(str(exc), secrets)
    attempts = row["attempts"]
    with conn.transaction():
        if exc.permanent or attempts >= policy.max_attempts:
            why = "permanent error" if exc.permanent else f"gave up after {attempts} attempts"
            updated = conn.execute(DEAD_SQL, (f"{why}: {reason}"[:ERROR_CHARS], row["id"], attempts)).rowcount
            stats.dead += updated
        else:
            delay = policy.delay(attempts, exc.retry_after_s)
            note = f"{reason} (attempt {attempts} of {policy.max_attempts}; retry in {delay:.1f} s)"
            updated = conn.execute(RETRY_SQL, (note[:ERROR_CHARS], delay, row["id"], attempts)).rowcount
            stats.retried += updated
    if not updated:
        stats.lost_claims += 1
    stats.errors.append(reason)


def send_test(*, channel_type: str, config: dict[str, Any], secret: dict[str, Any] | None, project: str,
              channel_name: str, dashboard_url: str | None = None) -> tuple[bool, str]:
    """'Send a test notification': synchronous, no outbox; the reason comes back scrubbed of secrets."""
    secrets = secret_values(secret)
    try:
        notifier = registry.build(channel_type, config, secret)
    except UsageError as exc:
        return False, scrub(f"invalid settings: {exc}", secrets)
    try:
        delivery = notifier.send(sample_message(project=project, channel=channel_name,
                                                link=dashboard_url.rstrip("/") if dashboard_url else None))
    except NotifierError as exc:
        return False, scrub(str(exc), secrets)
    except Exception as exc:  # noqa: BLE001 - shown to the operator, never raised
        return False, scrub(f"{type(exc).__name__}: {exc}", secrets)
    finally:
        notifier.close()
    return True, "sent" + (f" ({delivery.ref})" if delivery.ref else "")
