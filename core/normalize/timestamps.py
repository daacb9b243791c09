"""Event time: trust the provider's timestamp when it is plausible, else fall back to the receive time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

# No log we ingest was written before this; older values are epoch-0 defaults or unit mix-ups.
MIN_PLAUSIBLE_TS = datetime(2000, 1, 1, tzinfo=UTC)
# Clocks drift and providers batch, but a day ahead of our clock is a wrong clock or wrong unit.
MAX_FUTURE_SKEW = timedelta(days=1)

_NO_FLAGS: dict[str, Any] = {}  # shared and never mutated: callers only read it

# Epoch numbers are read by magnitude: seconds, milliseconds, microseconds or nanoseconds.
_EPOCH_DIVISORS = ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3), (0.0, 1.0))


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def _coerce(value: Any) -> tuple[datetime | None, bool]:
    """``(datetime or None, was_naive)`` from a datetime, an ISO 8601 string or an epoch number."""
    try:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
        elif isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
            # NaN matches no floor: divisor 1.0, then fromtimestamp raises ValueError
            divisor = next((d for floor, d in _EPOCH_DIVISORS if abs(seconds) >= floor), 1.0)
            return datetime.fromtimestamp(seconds / divisor, UTC), False
        else:
            return None, False
    except (ValueError, OverflowError, OSError):
        return None, False
    return as_utc(parsed), parsed.tzinfo is None


def resolve_ts(ts: Any, *, received_at: datetime, now: datetime) -> tuple[datetime, dict[str, Any]]:
    """Return ``(event_time, flags)``. Flags go to ``attributes["_loglytics"]``.

    Missing, unparseable, older than ``MIN_PLAUSIBLE_TS`` or more than ``MAX_FUTURE_SKEW``
    after ``now``: the receive time is used, with ``ts_fallback``, the reason and the original
    value as a string. A naive datetime is read as UTC and flagged ``ts_assumed_utc``.
    """
    if isinstance(ts, datetime) and ts.tzinfo is UTC:  # the common case, kept cheap
        if MIN_PLAUSIBLE_TS <= ts <= now + MAX_FUTURE_SKEW:
            return ts, _NO_FLAGS
        parsed, naive = ts, False
    else:
        parsed, naive = _coerce(ts)
    flags: dict[str, Any] = {}
    if parsed is None:
        reason = "missing" if ts is None else "unparseable"
    elif parsed < MIN_PLAUSIBLE_TS:
        reason = "too_old"
    elif parsed > now + MAX_FUTURE_SKEW:
        reason = "in_future"
    else:
        if naive:
            flags["ts_assumed_utc"] = True
        return parsed, flags
    flags["ts_fallback"] = True
    flags["ts_reason"] = reason
    if ts is not None:
        flags["original_ts"] = ts.isoformat() if isinstance(ts, datetime) else str(ts)[:200]
    return received_at, flags
