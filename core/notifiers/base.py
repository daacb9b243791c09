"""The notifier contract: one class per channel type, each with pydantic ``Options`` and ``Secret``.

A notifier turns one ``Message`` into one delivery to its receiver and knows nothing of the
database; the dispatcher (core/alerts/dispatcher.py) decides when to call it and records the
outcome. Semantics every notifier keeps:

- ``send`` returns a ``Delivery`` or raises ``core.errors.NotifierError``: ``retry_after_s`` is
  the receiver's hint (HTTP ``Retry-After``), ``permanent=True`` means retrying cannot help
  (bad credentials, unknown channel or project, payload refused). Every other error of the
  underlying library is mapped at the edge (``raise NotifierError(...) from exc``).
- Error messages never carry secrets; the dispatcher scrubs them once more before storing.
- ``message.idempotency_key`` identifies the delivery across retries: it is sent along (an
  ``Idempotency-Key`` header, a Message-ID, a Jira label or comment marker) so a receiver that
  deduplicates can drop a repeat; ``message.uncertain`` says a previous attempt may have been
  delivered without us learning of it, so a notifier able to look (Jira) checks first.
- ``message.thread_ref`` is the ``Delivery.ref`` of this alert's first delivery on the channel
  (a Jira issue key, a Slack message ts): repeats and the resolution go there, not to a new thread.
- Log text is untrusted: it is escaped for the target format, never interpreted as markup.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from core.errors import NotifierError

SAMPLE_LINES = 3
SAMPLE_CHARS = 300
EVENT_WORDS = {"fired": "fired", "repeat": "still firing", "resolved": "resolved", "test": "test notification"}


class NotifierOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NotifierSecret(BaseModel):
    """Never logged, shown or audited; stored only as a Fernet token."""

    model_config = ConfigDict(extra="forbid")


@dataclass(slots=True)
class Message:
    event: str  # fired | repeat | resolved | test
    project: str
    rule: str
    rule_type: str
    severity: str
    title: str
    state: str
    count: int
    group_key: str = ""
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    resolved_at: datetime | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    alert_id: int | None = None
    link: str | None = None
    idempotency_key: str = ""
    thread_ref: str | None = None
    uncertain: bool = False

    @classmethod
    def from_payload(cls, payload: dict[str, Any], *, idempotency_key: str, link: str | None = None,
                     thread_ref: str | None = None, uncertain: bool = False) -> Message:
        alert, rule = payload.get("alert", {}), payload.get("rule", {})
        return cls(
            event=payload.get("event", "fired"), project=payload.get("project", {}).get("name", ""),
            rule=rule.get("name", ""), rule_type=rule.get("type", ""), severity=alert.get("severity", "warning"),
            title=alert.get("title", ""), state=alert.get("state", ""), count=int(alert.get("count", 1)),
            group_key=alert.get("group_key", ""), first_seen=_dt(alert.get("first_seen")),
            last_seen=_dt(alert.get("last_seen")), resolved_at=_dt(alert.get("resolved_at")),
            samples=list(alert.get("samples", [])), alert_id=alert.get("id"), link=link,
            idempotency_key=idempotency_key, thread_ref=thread_ref, uncertain=uncertain,
        )

    @property
    def headline(self) -> str:
        """'[CRITICAL] checkout errors fired' — no log text in it."""
        group = f" ({self.group_key})" if self.group_key else ""
        return f"[{self.severity.upper()}] {self.rule}{group} {EVENT_WORDS.get(self.event, self.event)}"

    def sample_lines(self) -> list[str]:
        lines = []
        for s in self.samples[-SAMPLE_LINES:]:
            text = str(s.get("message", "")).replace("\r", "")
            if len(text) > SAMPLE_CHARS:
                text = text[:SAMPLE_CHARS] + "…"
            lines.append(f"{s.get('ts', '')[:19].replace('T', ' ')} {s.get('source', '')}: {text}")
        return lines

    def facts(self) -> list[tuple[str, str]]:
        rows = [("Project", self.project), ("Rule", f"{self.rule} ({self.rule_type})"),
                ("Severity", self.severity), ("State", self.state), ("Count", str(self.count))]
        if self.group_key:
            rows.append(("Group", self.group_key))
        rows += [("First seen", fmt_time(self.first_seen)), ("Last seen", fmt_time(self.last_seen))]
        if self.resolved_at:
            rows.append(("Resolved", fmt_time(self.resolved_at)))
        return rows

    def plain_text(self) -> str:
        parts = [self.headline, self.title, ""]
        parts += [f"{k}: {v}" for k, v in self.facts()]
        lines = self.sample_lines()
        if lines:
            parts += ["", "Sample lines:", *(f"  {line}" for line in lines)]
        if self.link:
            parts += ["", f"Open: {self.link}"]
        return "\n".join(parts)


@dataclass(slots=True)
class Delivery:
    """What the receiver said: ``ref`` identifies the message there (issue key, message ts)."""

    ref: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Notifier(Protocol):
    type: ClassVar[str]
    Options: ClassVar[type[NotifierOptions]]
    Secret: ClassVar[type[NotifierSecret]]

    def __init__(self, options: NotifierOptions, secret: NotifierSecret | None) -> None: ...

    def send(self, message: Message) -> Delivery:
        """Deliver one message; raises NotifierError (see the module docstring)."""
        ...

    def close(self) -> None: ...


def _dt(value: Any) -> datetime | None:
    if not value:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def fmt_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def sample_message(*, project: str, channel: str, link: str | None = None) -> Message:
    now = datetime.now(UTC)
    return Message(
        event="test", project=project, rule=f"test of channel {channel}", rule_type="test", severity="info",
        title="If you can read this, the channel works.", state="test", count=1, first_seen=now, last_seen=now,
        samples=[{"ts": now.isoformat(), "source": "loglytics", "message": "a sample log line <b>as text</b>"}],
        link=link, idempotency_key=f"ll-test-{now.timestamp():.6f}",
    )


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def http_error(what: str, status: int, *, retry_after: str | None = None, detail: str = "") -> NotifierError:
    """Map an HTTP status: 408/425/429 and 5xx are worth retrying, other 4xx are not."""
    detail = f": {detail[:200]}" if detail else ""
    retryable = status in (408, 425, 429) or status >= 500
    return NotifierError(f"{what} answered HTTP {status}{detail}", retry_after_s=parse_retry_after(retry_after),
                         permanent=not retryable)


def scrub(text: str, secrets: list[str]) -> str:
    """Remove secret values (and their URL-quoted forms) from a message before it is stored or shown."""
    from urllib.parse import quote

    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote(secret, safe="/:")}:
            text = text.replace(form, "********")
    return text


def secret_values(secret: dict[str, Any] | None) -> list[str]:
    return [str(v) for v in (secret or {}).values() if v]
