"""Structured content: JSON messages, the message shown for them, attribute merging, trace ids."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from core.normalize.text import scrub

MESSAGE_KEYS = ("message", "msg", "text")
TRACE_KEYS = ("trace_id", "traceId", "trace", "logging.googleapis.com/trace", "otelTraceID", "trace.id", "traceID")
# A JSON key that clashes with a provider attribute is kept under this suffix (Loki's convention).
CLASH_SUFFIX = "_extracted"
FLAGS_KEY = "_loglytics"
TRACE_SCAN = 8192  # text trace ids are looked for in the first this-many characters

_TRACE_VALUE = re.compile(r"[\w.:/-]{1,128}")
_GCP_TRACE = re.compile(r"projects/[^/]+/traces/([\w-]+)")
# Text trace ids: key=value (run only when the text says "trace" at all), W3C traceparent
# (found from its '-', a literal re scans for quickly) and X-Ray (run only after a substring test).
_TEXT_TRACE_KV = re.compile(
    r"(?<![A-Za-z0-9])(?i:trace[_.-]?id)[\"']?\s*[=:]\s*[\"']?([0-9A-Za-z][0-9A-Za-z-]{7,63})(?![\w=-])"
)
_W3C = re.compile(r"-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}(?![0-9a-f])")  # traceparent after its version
_XRAY = re.compile(r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24})")  # AWS X-Ray trace header
_HEX = frozenset("0123456789abcdef")
# JSON escapes that decode to what PostgreSQL cannot hold: \u0000 and lone surrogates.
_BAD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _constant(name: str) -> str:
    return name  # NaN/Infinity are not JSON and jsonb refuses them: keep them as strings


# Built once: json.loads with a keyword argument builds a new JSONDecoder (and its scanner) per
# call, which cost more than the parse itself on typical app-log lines.
_DECODER = json.JSONDecoder(parse_constant=_constant)


def parse_object(text: str) -> dict[str, Any] | None:
    """The JSON object ``text`` holds, or None. Cheap when it is not one (no parse attempted)."""
    stripped = text.strip() if text[:1].isspace() or text[-1:].isspace() else text
    if stripped[:1] != "{" or stripped[-1:] != "}":
        return None
    try:
        # what json.loads does for a text that starts with '{' and ends with '}' (no whitespace
        # around it to skip): decode from 0, and anything left after the value is an error
        parsed, end = _DECODER.raw_decode(stripped)
    except (ValueError, RecursionError):
        return None
    if end != len(stripped):
        return None
    if not isinstance(parsed, dict):
        return None
    if "\\u" in stripped and _BAD_ESCAPE.search(stripped):
        try:
            parsed = _scrub_value(parsed)
        except RecursionError:  # absurdly deep nesting: keep it as text
            return None
    return parsed


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(key): _scrub_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub_value(item) for item in value]
    return value


def display_message(parsed: Mapping[str, Any], original: str) -> tuple[str, str | None]:
    """``(message, key)``: the JSON's own message field and its key, else ``(original, None)``.

    An empty or null field does not count: the original text says more than nothing.
    """
    for key in MESSAGE_KEYS:
        value = parsed.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, str):
            return value, key
        return (json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)), key
    return original, None


def merge_attributes(
    provider: Mapping[str, Any] | None, parsed: Mapping[str, Any] | None, *, skip: str | None = None
) -> dict[str, Any]:
    """Provider attributes keep their keys; the parsed JSON's keys are added beside them, flat,
    so rules and filters can address ``attributes->>'user_id'`` whatever the source. On a clash
    with a different value the JSON's goes under ``key + CLASH_SUFFIX``: nothing is lost, and
    the provider's value (which the connector mapped on purpose) keeps the plain name.
    ``skip`` is the JSON key already shown as the message (not stored twice)."""
    if not provider and parsed and FLAGS_KEY not in parsed:
        # the usual JSON line without provider attributes: no clash is possible, copy in order
        merged = dict(parsed)
        if skip is not None:
            merged.pop(skip, None)
        return merged
    # provider payloads (GCP jsonPayload, Azure columns) may hold NULs: jsonb refuses them
    merged = _scrub_value(dict(provider)) if provider else {}
    if parsed:
        for key, value in parsed.items():
            if key == skip:
                continue
            if key not in merged and key != FLAGS_KEY:  # only the connector and we write our flags
                merged[key] = value
            elif merged.get(key) != value:
                merged[key + CLASH_SUFFIX] = value
    return merged


def clean_trace(value: Any) -> str | None:
    """A usable trace id from a field value: GCP's "projects/p/traces/<id>" becomes "<id>";
    values with spaces, over 128 characters, or all zeros ("no trace") give None."""
    if isinstance(value, Mapping):  # ECS: {"trace": {"id": "..."}}
        value = value.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value.startswith("projects/"):  # the regex needs it: most ids skip the call
        gcp = _GCP_TRACE.fullmatch(value)
        if gcp is not None:
            return gcp.group(1)
    return value if _TRACE_VALUE.fullmatch(value) and value.strip("0-") else None


def trace_from_fields(fields: Mapping[str, Any] | None) -> str | None:
    if not fields:
        return None
    for key in TRACE_KEYS:
        value = fields.get(key)
        if value is not None:
            trace = clean_trace(value)
            if trace is not None:
                return trace
    return None


def _trace_kv(head: str) -> str | None:
    """The first non-zero ``trace_id=...`` of ``head``, the one ``_TEXT_TRACE_KV.finditer`` gives.

    The pattern has no literal prefix, so a search tries it at every character. Every match
    starts at a "trace" in any case, so in ASCII text only those places are tried, in order and
    never inside the previous match, as finditer does. (Other text keeps the plain scan: lower()
    may change its length, and so the positions.)
    """
    if not head.isascii():
        for match in _TEXT_TRACE_KV.finditer(head):
            if match.group(1).strip("0-"):  # all-zero ids mean "no trace"
                return match.group(1)
        return None
    low = head.lower()
    start = low.find("trace")
    while start >= 0:
        match = _TEXT_TRACE_KV.match(head, start)
        if match is not None:
            if match.group(1).strip("0-"):
                return match.group(1)
            start = low.find("trace", match.end())
        else:
            start = low.find("trace", start + 1)
    return None


def trace_from_text(text: str) -> str | None:
    """``trace_id=...``/``traceId: ...``, a W3C traceparent or an X-Ray ``Root=`` in the text."""
    head = text[:TRACE_SCAN]
    if "race" in head or "RACE" in head:
        kv = _trace_kv(head)
        if kv is not None:
            return kv
    match = _W3C.search(head)
    while match is not None:
        start = match.start()  # "vv-<trace>-<span>-ff": two hex digits of version before, nothing else
        version_ok = start >= 2 and head[start - 2] in _HEX and head[start - 1] in _HEX
        if version_ok and (start == 2 or head[start - 3] not in _HEX) and match.group(1).strip("0"):
            return match.group(1)
        match = _W3C.search(head, match.end())
    if "Root=1-" in head:
        xray = _XRAY.search(head)
        if xray is not None:
            return xray.group(1)
    return None
