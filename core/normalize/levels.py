"""Level detection: the provider's severity, then structured fields, then what the text says."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.normalize.names import AZURE, GCP_NUMERIC, SYSLOG, WORDS, level_from_name, level_from_number
from core.normalize.structured import display_message, parse_object
from core.normalize.text_levels import level_from_text

# Structured fields that carry a level (JSON payloads, provider attributes), in priority order.
LEVEL_KEYS = ("level", "severity", "lvl", "log.level", "levelname", "loglevel", "log_level",
              "Level", "Severity", "LEVEL", "levelName", "severity_text", "SeverityText")  # fmt: skip


def level_from_hint(hint: str | int | None) -> int | None:
    """The provider's severity, or None when it says nothing.

    Ints are Azure SeverityLevel (0..4) or GCP LogSeverity numbers (100..800); strings are names
    (GCP, syslog, common) or ``"syslog:N"`` for a syslog severity number. GCP ``DEFAULT`` means
    "not set": it returns None so detection goes on with the payload.
    """
    if isinstance(hint, bool):
        return None
    if isinstance(hint, int):
        if 0 <= hint < len(AZURE):
            return AZURE[hint]
        return GCP_NUMERIC[hint // 100] if 100 <= hint < 900 else None
    if isinstance(hint, str):
        key = hint.strip().lower()
        if key.startswith("syslog:"):
            number = key[7:]
            return SYSLOG[int(number)] if number.isdecimal() and len(number) == 1 and number < "8" else None
        if key.isdecimal() and len(key) <= 4:
            return level_from_hint(int(key))
        return WORDS.get(key)
    return None


def level_from_value(value: Any) -> int | None:
    if isinstance(value, str):
        return level_from_name(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:  # NaN != NaN
        return level_from_number(value) if abs(value) < 1e6 else None
    return None


def level_from_fields(fields: Mapping[str, Any]) -> int | None:
    """The first of ``LEVEL_KEYS`` whose value names a level; ECS's nested {"log": {"level": ...}} too."""
    for key in LEVEL_KEYS:
        value = fields.get(key)
        if value is not None:
            level = level_from_value(value)
            if level is not None:
                return level
    log = fields.get("log")
    if isinstance(log, Mapping) and "level" in log:
        return level_from_value(log["level"])
    return None


def detect_level(message: str, attributes: Mapping[str, Any] | None = None, level_hint: str | int | None = None) -> int:
    """Level of an event on the core.levels scale (higher is worse), INFO when nothing says.

    In order: the provider's ``level_hint``; a level field in ``attributes`` or, when the
    message is a JSON object, in it; what the text says (core.normalize.text_levels).
    """
    if not isinstance(message, str):
        message = bytes(message).decode("utf-8", "replace") if isinstance(message, bytes | bytearray) else str(message)
    level = level_from_hint(level_hint)
    if level is None and attributes:
        level = level_from_fields(attributes)
    if level is None and message[:1] == "{":
        parsed = parse_object(message)
        if parsed is not None:
            level = level_from_fields(parsed)
            message = display_message(parsed, message)[0]
    return level if level is not None else level_from_text(message)
