"""Secret hygiene: scrub secrets out of text before it is logged, shown or stored.

Two nets: the exact values of every secret this process decrypted (registered by the vault),
and patterns of well-known secret formats (AWS keys, Azure client secrets, private keys,
Slack tokens and webhook URLs, bearer tokens, password=... pairs).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "[REDACTED]"
_MIN_SECRET_LEN = 6  # shorter values would mask ordinary words

_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
    re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
    re.compile(r"\bxox[abposer]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bxapp-\d-[A-Za-z0-9-]{10,}"),
    re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}\b"),
    re.compile(r"\b[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}\b"),  # Azure AD client secret
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    # key=value / "key": "value" forms of secret-looking names (AWS secret keys are 40 chars of base64)
    re.compile(
        r"""(?ix)
        (?P<key>(?:aws_)?secret(?:_access)?_?key|secretaccesskey|client_secret|password|passwd|api[_-]?token
           |access[_-]?token|session[_-]?token|private[_-]?key|webhook[_-]?url|authorization)
        (?P<sep>["']?\s*[:=]\s*["']?)
        (?P<value>[^\s"',;}&]{4,})
        """
    ),
]

_known: set[str] = set()
_known_lock = threading.Lock()
_known_regex: re.Pattern[str] | None = None


def register_secret_values(values: Iterable[Any]) -> None:
    """Remember secret values (strings, nested dicts) so that scrub() masks them anywhere."""
    global _known_regex
    added = False
    with _known_lock:
        for value in _flatten(values):
            if len(value) >= _MIN_SECRET_LEN and value not in _known:
                _known.add(value)
                added = True
        if added:
            ordered = sorted(_known, key=len, reverse=True)
            _known_regex = re.compile("|".join(re.escape(v) for v in ordered))


def _flatten(values: Iterable[Any]) -> Iterable[str]:
    for value in values:
        if isinstance(value, dict):
            yield from _flatten(value.values())
        elif isinstance(value, list | tuple | set):
            yield from _flatten(value)
        elif isinstance(value, str):
            yield value
            if "\n" in value:  # multi-line secrets (PEM, JSON keys): each line on its own too
                yield from (line.strip() for line in value.splitlines() if len(line.strip()) >= 16)


def scrub(text: str) -> str:
    """``text`` with registered secret values and known secret formats replaced by [REDACTED]."""
    if not text:
        return text
    known = _known_regex
    if known is not None:
        text = known.sub(MASK, text)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group("key") + m.group("sep") + MASK, text)
        else:
            text = pattern.sub(MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs the formatted message (and exception text) of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        record.msg, record.args = scrub(message), None
        return True


def install_log_redaction() -> None:
    """Attach the filter to every handler of the root logger (call after logging is configured)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
