"""Property: normalize() never raises and always yields one storable event (seeded random input)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from core.events import RawEvent
from core.levels import NAMES
from core.normalize import detect_level, normalize

NOW = datetime(2024, 4, 12, 10, 0, 0, tzinfo=UTC)
CASES = 3000

# Fragments that steer random input into the interesting paths (JSON, tokens, traces, escapes).
_FRAGMENTS = [
    b"{", b"}", b'"level":', b'"msg":"', b"ERROR", b"[warn]", b"level=", b"E0412 10:00:00.123456 1 a.go:1] ",
    b"\\u0000", b"\\ud800", b"\x00", b"\xff", b"\xed\xa0\x80", b"\n", b"\tat a.B(C.java:1)", b"Traceback",
    b'"GET / HTTP/1.1" 500 1', b"[12/Apr/2024:10:00:00 +0000] ", b"trace_id=", b"00-", b"<", b">", b": ", b"\r\n",
    b"NaN", "日本語".encode(), "é".encode(), b"\xf0\x9f", b"99999999999999999999",
]  # fmt: skip
_TIMESTAMPS = [None, NOW, datetime(1900, 1, 1), datetime(9999, 12, 31, tzinfo=UTC), "junk", 1e300, -1, float("nan"), 0]
_HINTS = [None, "ERROR", "DEFAULT", 3, 700, -5, "syslog:x", "", "\x00"]


def _random_message(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randint(0, 12)):
        if rng.random() < 0.5:
            parts.append(rng.choice(_FRAGMENTS))
        else:
            parts.append(rng.randbytes(rng.randint(0, 40)))
    return b"".join(parts)


def _assert_storable(event, max_bytes: int) -> None:
    assert isinstance(event.message, str)
    assert "\x00" not in event.message
    assert len(event.message.encode("utf-8")) <= max_bytes  # valid UTF-8 (no surrogates) and capped
    assert event.level in NAMES
    assert event.ts.tzinfo is not None
    encoded = json.dumps(event.attributes, ensure_ascii=False, allow_nan=False)  # what jsonb will get
    assert "\\u0000" not in encoded
    encoded.encode("utf-8")


def test_normalize_never_raises_on_random_bytes():
    rng = random.Random(20240412)
    for n in range(CASES):
        message: bytes | str = _random_message(rng)
        if n % 3 == 0:
            message = message.decode("utf-8", "surrogateescape")  # str with lone surrogates
        max_bytes = rng.choice([1, 7, 64, 32768])
        event = normalize(
            RawEvent(
                dedupe_key=str(n),
                ts=rng.choice(_TIMESTAMPS),
                message=message,
                source="fuzz",
                received_at=NOW - timedelta(seconds=1),
                level_hint=rng.choice(_HINTS),
            ),
            now=NOW,
            max_message_bytes=max_bytes,
        )
        _assert_storable(event, max_bytes)


def test_detect_level_never_raises_on_random_text():
    rng = random.Random(7)
    for _ in range(CASES):
        text = _random_message(rng).decode("utf-8", "replace")
        assert detect_level(text) in NAMES
