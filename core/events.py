"""The two shapes an event takes: as a connector fetched it, and normalized for storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class RawEvent:
    """One event as a provider returned it, before normalization.

    ``dedupe_key`` is the provider's stable id (AWS eventId, Azure _ItemId, GCP insertId +
    timestamp, demo id). ``ts`` may be ``None`` or absurd: the normalizer decides.
    ``message`` may be bytes with invalid UTF-8 or NULs: the normalizer repairs it.
    """

    dedupe_key: str
    ts: datetime | None
    message: str | bytes
    source: str
    received_at: datetime
    attributes: dict[str, Any] | None = None
    level_hint: str | int | None = None  # provider severity (GCP severity, Azure SeverityLevel)
    trace_id: str | None = None


@dataclass(slots=True)
class LogEvent:
    """A normalized event, ready for the loader. ``level`` uses core.levels (syslog-like)."""

    ts: datetime
    received_at: datetime
    level: int
    source: str
    message: str
    dedupe_key: str
    attributes: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
