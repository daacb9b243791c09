"""Our level scale: syslog severities inverted so that higher means worse (easy >= filters).

Stored as smallint in ``log_events.level``.
"""

from __future__ import annotations

TRACE, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL, ALERT, EMERGENCY = 0, 1, 2, 3, 4, 5, 6, 7, 8
UNKNOWN = INFO  # an event that says nothing of its level is stored as INFO

NAMES = {
    TRACE: "TRACE",
    DEBUG: "DEBUG",
    INFO: "INFO",
    NOTICE: "NOTICE",
    WARNING: "WARNING",
    ERROR: "ERROR",
    CRITICAL: "CRITICAL",
    ALERT: "ALERT",
    EMERGENCY: "EMERGENCY",
}
BY_NAME = {name: value for value, name in NAMES.items()}


def level_name(level: int) -> str:
    return NAMES.get(level, str(level))


def parse_level_name(name: str) -> int:
    """'warn', 'WARNING', 'error' ... -> level; raises ValueError with the accepted names."""
    key = name.strip().upper()
    aliases = {"WARN": "WARNING", "ERR": "ERROR", "CRIT": "CRITICAL", "FATAL": "CRITICAL", "EMERG": "EMERGENCY"}
    key = aliases.get(key, key)
    if key not in BY_NAME:
        raise ValueError(f"unknown level {name!r}; use one of {', '.join(NAMES.values())}")
    return BY_NAME[key]
