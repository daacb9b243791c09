"""Message text repair: decode bytes, replace NULs and lone surrogates, cap the UTF-8 size."""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
# Lone surrogates come from surrogateescape decoding or JSON "\ud800" escapes; UTF-8 (and
# so PostgreSQL) cannot hold them.
_SURROGATES = re.compile("[\ud800-\udfff]")


def to_text(message: Any) -> tuple[str, bool]:
    """Return ``(text, repaired)``: bytes decoded as UTF-8 with U+FFFD for invalid sequences,
    NUL (which PostgreSQL text cannot hold) and lone surrogates replaced by U+FFFD."""
    repaired = False
    if isinstance(message, str):
        text = message
    elif isinstance(message, bytes | bytearray | memoryview):
        raw = bytes(message)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace")
            repaired = True
    elif message is None:
        text = ""
    else:
        text = str(message)
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
        repaired = True
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _SURROGATES.sub(REPLACEMENT, text)
            repaired = True
    return text, repaired


def utf8_len(text: str) -> int:
    """Size in UTF-8 bytes; ``text`` must hold no lone surrogates (``to_text`` output)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def truncate_utf8(text: str, max_bytes: int) -> tuple[str, int | None]:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes at a character boundary.

    Returns ``(text, original_size)``; ``original_size`` (UTF-8 bytes) is None when nothing was cut.
    """
    if len(text) * 4 <= max_bytes:  # no character takes more than 4 bytes: fits whatever it holds
        return text, None
    if text.isascii():
        return (text, None) if len(text) <= max_bytes else (text[:max_bytes], len(text))
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text, None
    # 'ignore' drops only the character cut in half at the end: the prefix is valid UTF-8
    return encoded[:max_bytes].decode("utf-8", "ignore"), len(encoded)


def scrub(text: str) -> str:
    """NUL and lone surrogates -> U+FFFD, for strings found inside parsed JSON."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if not text.isascii():
        text = _SURROGATES.sub(REPLACEMENT, text)
    return text
