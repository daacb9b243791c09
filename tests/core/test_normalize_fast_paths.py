"""Cases the normalizer's shortcuts must not get wrong: each one skips work only when the slow way
could not find anything, so these events sit just inside or outside what a shortcut skips."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from core.events import RawEvent
from core.levels import DEBUG, ERROR, INFO, WARNING
from core.levels import TRACE as TRACE_LEVEL
from core.normalize import detect_level, normalize, text_levels
from core.normalize.structured import merge_attributes, parse_object, trace_from_text
from core.normalize.text_levels import level_from_text

NOW = datetime(2024, 4, 12, 10, 0, 0, tzinfo=UTC)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def raw(message: str, **overrides) -> RawEvent:
    fields = {
        "dedupe_key": "k",
        "ts": NOW - timedelta(seconds=1),
        "message": message,
        "source": "s",
        "received_at": NOW,
    }
    fields.update(overrides)
    return RawEvent(**fields)


# --- JSON: one shared decoder instead of json.loads(..., parse_constant=...) per call


@pytest.mark.parametrize("text", ['{"a": 1} }', '{"a": 1}{"b": 2}', '{"a": 1,}', '{"a": 1} x }', "{}}"])
def test_json_with_anything_after_the_object_stays_text(text):
    assert parse_object(text) is None
    event = normalize(raw(text), now=NOW)
    assert event.message == text and event.attributes == {}


def test_shared_decoder_keeps_nan_as_text_and_parses_repeatedly():
    for _ in range(3):  # the decoder is reused: no state may leak from one call to the next
        assert parse_object('{"x": NaN, "y": -Infinity, "z": [1, {"a": "b"}]}') == {
            "x": "NaN", "y": "-Infinity", "z": [1, {"a": "b"}]}  # fmt: skip


def test_json_without_provider_attributes_is_copied_in_order_minus_the_message_key():
    parsed = {"b": 1, "msg": "hi", "a": None, "c": [1]}
    merged = merge_attributes(None, parsed, skip="msg")
    assert list(merged.items()) == [("b", 1), ("a", None), ("c", [1])]
    assert parsed == {"b": 1, "msg": "hi", "a": None, "c": [1]}  # the caller's dict is not changed


def test_json_key_named_like_our_flags_still_goes_under_the_suffix_without_provider_attributes():
    event = normalize(raw('{"msg": "m", "_loglytics": {"x": 1}, "k": 2}'), now=NOW)
    assert event.attributes == {"_loglytics_extracted": {"x": 1}, "k": 2}


# --- trace ids in text: only the places where "trace" is written are tried


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"tRAce_id={TRACE} then race", TRACE),  # mixed case found because another "race" is there
        (f"TraceId: {TRACE}", TRACE),
        (f"trace_id=00000000-0000 trace_id={TRACE}", TRACE),  # all-zero first one is skipped
        (f"xtrace_id={TRACE}", None),  # not at a word start
        (f"trace-trace_id={TRACE}", TRACE),  # a "trace" that does not match, then one that does
        (f"trace_id=0000-trace_id-{TRACE}", None),
        (f"é trace_id={TRACE}", TRACE),  # non-ASCII text takes the plain scan
        (f"İİ tRAce_id={TRACE} race", TRACE),
        (f"{'x' * 9000} trace_id={TRACE}", None),  # beyond the scanned head
    ],
)
def test_trace_id_key_value_in_text(text, expected):
    assert trace_from_text(text) == expected


# --- level keys: the search starts near the first "level" when no other key word is there


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("time=2024-04-12T10:00:00Z level=warn msg=x", WARNING),
        ("time=2024-04-12T10:00:00Z log_level=error msg=x", ERROR),
        ("time=2024-04-12T10:00:00Z log.level=warn msg=x", WARNING),
        ("time=2024-04-12T10:00:00Z LOGLEVEL: error msg=x", ERROR),
        ("severity=error x level=warn", ERROR),  # the earlier key wins, whichever word it holds
        ("lvl=warn level=error", WARNING),
        ("levelname=warn", WARNING),
        ("x=İİ level=warn", WARNING),  # non-ASCII: lower() may move positions, full search
        ("a?level=error&b=1", INFO),  # in a URL query: not a key
        ("level=infos level=warn", WARNING),
    ],
)
def test_level_key_value_positions(line, expected):
    assert level_from_text(line) == expected


# --- klog after a prefix: skipped when no "] " follows ":<digits>"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("] x: E0412 10:00:02.345678       1 reflector.go:147] failed", ERROR),  # first "] " at position 0
        ("a] b W0412 10:00:02.345678 1 x.go:9] slow", WARNING),
        ("journal: E0412 10:00:02.345678 1 x.go:\u0664\u0662] failed", ERROR),  # Arabic-Indic digits are \d too
        ("10.0.0.1 - - [12/Apr/2024:10:00:00 +0000] something E0412 happened", INFO),
        ("2024-04-12 10:00:00,000 [main] c.e.App - E0412 10:00:02.345678 1 x.go:9] failed", ERROR),
    ],
)
def test_klog_after_a_prefix(line, expected):
    assert level_from_text(line) == expected


# --- logcat threadtime: matched only when the line starts like "MM-DD" or "YYYY-MM-DD"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("04-12 10:00:00.123  1234  5678 E ActivityManager: boom", ERROR),
        ("2024-04-12 10:00:00.123  1234  5678 W ActivityManager: hmm", WARNING),
        ("1234 10:00:00.123  1234  5678 E x", INFO),
    ],
)
def test_threadtime(line, expected):
    assert detect_level(line) == expected


# --- access log: the quoted request, escaped quotes included


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('1.2.3.4 - - [12/Apr/2024:10:00:00 +0000] "GET /a\\"b HTTP/1.1" 503 12 "-" "curl"', ERROR),
        ('1.2.3.4 - - [12/Apr/2024:10:00:00 +0000] "GET /a\\\\" 404 - "-" "curl"', WARNING),
        ('1.2.3.4 - - [12/Apr/2024:10:00:00 +0000] "GET /a\\" 404 - "-" "curl"', INFO),  # quote never closed
        ('1.2.3.4 - - [12/Apr/2024:10:00:00 +0000] "" 500 0', ERROR),
    ],
)
def test_access_log_request_with_escapes(line, expected):
    assert detect_level(line) == expected


# --- level words: one group of alternatives per first letter, the same matches as the plain list

_PLAIN_WORDS = re.compile(
    "|".join(
        text_levels._alternatives([w.upper() for w in text_levels._FULL] + list(text_levels._UPPER_ONLY),
                                  text_levels._LOOSE_END)
        + text_levels._alternatives([w.capitalize() for w in text_levels._FULL], text_levels._STRICT_END)
    )
)  # fmt: skip


@pytest.mark.parametrize(
    "line",
    [
        "INFORMATION: x", "INFO x", "INF x", "INFOS x", "FINEST x", "FINER x", "FINE x", "FINES x", "ERRORS ERR: x",
        "Error: x", "Err: x", "Errors: x", "Information  x", "EMERGENCY|", "EMERG.", "EMERG.x WARN", "xERROR ERROR",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Safari/537.36 WARN",
        "FAILURE]", "Fatal>", "TRACE", "Trace:", "VERBOSE\t", "DBG,", "WRN;", "FTL'", "TRC\"", "NOTICE[",
    ],
)  # fmt: skip
def test_level_word_pattern_matches_like_the_plain_alternation(line):
    for start in range(len(line)):
        fast, plain = text_levels._WORD_TOKEN.search(line, start), _PLAIN_WORDS.search(line, start)
        assert (fast and (fast.span(), fast.group())) == (plain and (plain.span(), plain.group()))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("INFORMATION: x", INFO), ("FINEST x", TRACE_LEVEL), ("FINER x", TRACE_LEVEL), ("FINE x", DEBUG),
        ("ERRORS ERR: x", ERROR), ("WARNING x", WARNING), ("Errors: x", INFO),
    ],
)  # fmt: skip
def test_longest_level_word_wins(line, expected):
    assert level_from_text(line) == expected


@pytest.mark.parametrize("message", ["[ınfo] x", "‹ınfo> x", "<ınfo> x", "level=ınfo x", "level=İnfo x",
                                     "level=ſevere x", "[ſevere] disk"])
def test_unicode_look_alikes_of_level_words_never_raise(message):
    from datetime import UTC, datetime

    from core.events import RawEvent
    from core.normalize import normalize

    now = datetime.now(UTC)
    event = normalize(RawEvent(dedupe_key="k", ts=now, message=message, source="s", received_at=now), now=now)
    assert event.message == message
