"""Level names and numbers as the world writes them, mapped onto core.levels."""

from __future__ import annotations

from core.levels import ALERT, CRITICAL, DEBUG, EMERGENCY, ERROR, INFO, NOTICE, TRACE, WARNING

# Names used by log4j, logback, syslog, python, JUL, zap, zerolog, serilog, .NET console, GCP
# severity and IBM RAS (FAILURE). "verbose" is TRACE: the libraries that have both put it below
# debug (Android, Serilog). Azure's SeverityLevel 0 "Verbose" is the exception, see AZURE.
WORDS: dict[str, int] = {
    "trace": TRACE, "trc": TRACE, "trce": TRACE, "finest": TRACE, "finer": TRACE,
    "verbose": TRACE, "debug": DEBUG, "dbg": DEBUG, "dbug": DEBUG, "fine": DEBUG,
    "info": INFO, "inf": INFO, "information": INFO, "informational": INFO,
    "notice": NOTICE,
    "warn": WARNING, "warning": WARNING, "wrn": WARNING,
    "error": ERROR, "err": ERROR, "severe": ERROR, "fail": ERROR, "failure": ERROR,
    "critical": CRITICAL, "crit": CRITICAL, "fatal": CRITICAL, "ftl": CRITICAL, "panic": CRITICAL, "dpanic": CRITICAL,
    "alert": ALERT,
    "emergency": EMERGENCY, "emerg": EMERGENCY,
}  # fmt: skip

SYSLOG = (EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG)  # index: syslog severity 0..7
# index: Azure SeverityLevel 0..4, Verbose..Critical. Application Insights folds both Trace and
# Debug into Verbose, so it maps to DEBUG: a "DEBUG and worse" filter still shows debug logs.
AZURE = (DEBUG, INFO, WARNING, ERROR, CRITICAL)
GCP_NUMERIC = (None, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL, ALERT, EMERGENCY)  # index: LogSeverity // 100
BUNYAN = (TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL)  # index: value // 10 - 1, bunyan/pino 10..60
LETTERS = {"V": TRACE, "D": DEBUG, "I": INFO, "W": WARNING, "E": ERROR, "F": CRITICAL, "A": CRITICAL}  # klog, logcat


def level_from_number(value: float) -> int | None:
    """A number in a level field: syslog 0..7 (GELF), bunyan/pino 10..60, GCP LogSeverity 100..800."""
    number = int(value)
    if 0 <= number <= 7:
        return SYSLOG[number]
    if 10 <= number < 100:
        return BUNYAN[min(number // 10, 6) - 1]
    if 100 <= number < 900:
        return GCP_NUMERIC[number // 100]
    return None


def level_from_name(name: str) -> int | None:
    """'warn', 'WARNING', 'Err', '50' ... -> level, or None when it names no level."""
    key = name.strip().lower()
    level = WORDS.get(key)
    if level is None and key.isdecimal() and len(key) <= 4:
        level = level_from_number(int(key))
    return level
