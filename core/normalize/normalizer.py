"""RawEvent -> LogEvent: the one pure function every connector's output goes through."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.events import LogEvent, RawEvent
from core.normalize.levels import level_from_fields, level_from_hint
from core.normalize.structured import (
    FLAGS_KEY,
    clean_trace,
    display_message,
    merge_attributes,
    parse_object,
    trace_from_fields,
    trace_from_text,
)
from core.normalize.text import scrub, to_text, truncate_utf8, utf8_len
from core.normalize.text_levels import level_from_text
from core.normalize.timestamps import MAX_FUTURE_SKEW, MIN_PLAUSIBLE_TS, as_utc, resolve_ts

DEFAULT_MAX_MESSAGE_BYTES = 32768
_NEWLINES = ("\n", "\r")
_JSON_START = ("{", " ", "\t", "\r", "\n")  # only such messages are worth a json.loads attempt


_latest: tuple[datetime | None, datetime | None] = (None, None)


def _latest_plausible(now: datetime) -> datetime:
    # A batch shares one ``now``: remember its bound instead of adding a timedelta per event.
    global _latest
    cached_now, latest = _latest
    if cached_now is not now or latest is None:
        latest = now + MAX_FUTURE_SKEW
        _latest = (now, latest)
    return latest


def normalize(raw: RawEvent, *, now: datetime, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> LogEvent:
    """Map one provider event to a storable event. Never drops and never raises on bad data.

    - ``message``: bytes decoded as UTF-8 (invalid sequences -> U+FFFD), NUL and lone surrogates
      -> U+FFFD, trailing newlines dropped, cut to ``max_message_bytes`` UTF-8 bytes at a
      character boundary. A JSON object message (at most ``max_message_bytes``) is parsed into
      ``attributes`` and shown as its ``message``/``msg``/``text`` field (not repeated in
      ``attributes``); see ``structured.merge_attributes`` for clashes with provider attributes.
    - ``ts``: the provider's time when plausible, else ``received_at`` (see timestamps.py); UTC.
    - ``level``: the provider's hint, then level fields, then the text (levels.py, text_levels.py).
    - ``trace_id``: the provider's, else from the JSON payload or provider attributes, else text.
    - What was repaired is recorded in ``attributes["_loglytics"]``: ``repaired_text``,
      ``truncated`` + ``original_length`` (UTF-8 bytes), ``ts_fallback`` + ``ts_reason`` +
      ``original_ts``, ``ts_assumed_utc``. Flags a connector put there are kept.
    """
    if max_message_bytes < 1:
        raise ValueError("max_message_bytes must be at least 1")
    flags: dict[str, Any] = {}
    text = raw.message
    if type(text) is not str or "\x00" in text or not text.isascii():  # the common case skips the call
        text, repaired = to_text(text)
        if repaired:
            flags["repaired_text"] = True
    if text[-1:] in _NEWLINES:
        text = text.rstrip("\r\n")

    parsed = message_key = None
    # Oversized JSON stays text: parsing it would move the whole payload, uncapped, into attributes.
    if text[:1] in _JSON_START and (len(text) * 4 <= max_message_bytes or utf8_len(text) <= max_message_bytes):
        parsed = parse_object(text)
    message = text
    if parsed is not None:
        message, message_key = display_message(parsed, text)
    if len(message) * 4 > max_message_bytes:  # else it fits whatever characters it holds
        message, original_size = truncate_utf8(message, max_message_bytes)
        if original_size is not None:
            flags["truncated"] = True
            flags["original_length"] = original_size
    provided = raw.attributes
    attributes = merge_attributes(provided, parsed, skip=message_key) if provided or parsed else {}

    level = level_from_hint(raw.level_hint) if raw.level_hint is not None else None
    if level is None and attributes:
        level = level_from_fields(attributes)
    if level is None:
        level = level_from_text(message)

    trace_id = clean_trace(raw.trace_id) if raw.trace_id is not None else None
    if trace_id is None and parsed is not None:
        trace_id = trace_from_fields(parsed)
    if trace_id is None and provided:
        trace_id = trace_from_fields(provided)
    if trace_id is None:
        trace_id = trace_from_text(message)

    if now.tzinfo is not UTC:
        now = as_utc(now)
    received_at = raw.received_at
    if type(received_at) is not datetime or received_at.tzinfo is not UTC:
        received_at = as_utc(received_at) if isinstance(received_at, datetime) else now
    ts = raw.ts
    if type(ts) is not datetime or ts.tzinfo is not UTC or not MIN_PLAUSIBLE_TS <= ts <= _latest_plausible(now):
        ts, ts_flags = resolve_ts(ts, received_at=received_at, now=now)
        flags.update(ts_flags)
    if flags:
        previous = attributes.get(FLAGS_KEY)
        attributes[FLAGS_KEY] = {**previous, **flags} if isinstance(previous, dict) else flags

    source = raw.source
    if type(source) is not str or "\x00" in source or not source.isascii():
        source = scrub(source if isinstance(source, str) else str(source or ""))
    # positional, in LogEvent's field order: keywords cost more than half a microsecond per event
    return LogEvent(ts, received_at, level, source, message, raw.dedupe_key, attributes, trace_id)
