"""normalize() on bad input: broken text, oversized messages, odd timestamps (design.md 4.7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.events import RawEvent
from core.levels import ERROR, INFO
from core.normalize import normalize
from core.normalize.timestamps import MAX_FUTURE_SKEW, MIN_PLAUSIBLE_TS

NOW = datetime(2024, 4, 12, 10, 0, 0, tzinfo=UTC)
RECEIVED = NOW - timedelta(seconds=2)
TS = NOW - timedelta(seconds=5)


def raw(message: str | bytes = "hello", **overrides) -> RawEvent:
    fields = {"dedupe_key": "k1", "ts": TS, "message": message, "source": "group/stream", "received_at": RECEIVED}
    fields.update(overrides)
    return RawEvent(**fields)


def flags(event) -> dict:
    return event.attributes.get("_loglytics", {})


def test_clean_event_has_no_flags_and_keeps_everything():
    event = normalize(raw("2024-04-12 ERROR boom", attributes={"aws": {"log_stream": "s"}}), now=NOW)
    assert event.message == "2024-04-12 ERROR boom"
    assert (event.ts, event.received_at, event.level) == (TS, RECEIVED, ERROR)
    assert (event.source, event.dedupe_key) == ("group/stream", "k1")
    assert event.attributes == {"aws": {"log_stream": "s"}}


def test_invalid_utf8_is_replaced_and_flagged():
    event = normalize(raw(b"ERROR caf\xe9 \xff\xfe end"), now=NOW)
    assert event.message == "ERROR caf\ufffd \ufffd\ufffd end"
    assert event.level == ERROR
    assert flags(event) == {"repaired_text": True}


def test_valid_utf8_bytes_are_decoded_without_flag():
    event = normalize(raw("ünïcødé ✓ 日本".encode()), now=NOW)
    assert event.message == "ünïcødé ✓ 日本"
    assert "_loglytics" not in event.attributes


@pytest.mark.parametrize("message", ["binary\x00payload", b"binary\x00payload"])
def test_nul_is_replaced(message):
    event = normalize(raw(message), now=NOW)
    assert event.message == "binary\ufffdpayload"
    assert "\x00" not in event.message
    assert flags(event)["repaired_text"] is True


def test_lone_surrogates_are_replaced():
    event = normalize(raw("bad \udcff surrogate"), now=NOW)
    assert event.message == "bad \ufffd surrogate"
    event.message.encode("utf-8")  # PostgreSQL text needs valid UTF-8
    assert flags(event)["repaired_text"] is True


def test_json_escapes_that_postgres_cannot_hold_are_scrubbed():
    event = normalize(raw('{"msg":"a\\u0000b","bad":"\\ud800","ok":"\\u00e9"}'), now=NOW)
    assert event.message == "a\ufffdb"
    assert event.attributes["bad"] == "\ufffd"
    assert event.attributes["ok"] == "é"
    json.dumps(event.attributes).encode("utf-8")


def test_one_megabyte_message_is_truncated_with_original_length():
    message = "ERROR " + "x" * (1024 * 1024)
    event = normalize(raw(message), now=NOW)
    assert len(event.message.encode()) == 32768
    assert event.message == message[:32768]
    assert event.level == ERROR
    assert flags(event) == {"truncated": True, "original_length": len(message)}


def test_truncation_cuts_at_a_character_boundary():
    message = "é" * 40000  # 2 bytes each: the cap falls inside no character ...
    event = normalize(raw(message), now=NOW, max_message_bytes=101)  # ... except this odd one
    assert event.message == "é" * 50
    assert flags(event)["original_length"] == 80000
    event = normalize(raw("€" * 10), now=NOW, max_message_bytes=8)  # 3 bytes each
    assert event.message == "€€"


def test_message_at_the_cap_is_kept_whole():
    event = normalize(raw("y" * 100), now=NOW, max_message_bytes=100)
    assert event.message == "y" * 100
    assert "_loglytics" not in event.attributes


def test_oversized_json_stays_text():
    message = json.dumps({"level": "error", "msg": "big", "blob": "z" * 50_000})
    event = normalize(raw(message), now=NOW)
    assert "blob" not in event.attributes
    assert flags(event)["truncated"] is True
    assert event.level == ERROR  # the text still names the level near its start


def test_binary_junk_yields_one_event():
    junk = bytes(range(256)) * 4
    event = normalize(raw(junk), now=NOW)
    assert "\x00" not in event.message
    assert event.level == INFO
    assert flags(event)["repaired_text"] is True


def test_trailing_newlines_are_dropped_and_inner_ones_kept():
    event = normalize(raw("line one\nline two\r\n"), now=NOW)
    assert event.message == "line one\nline two"


def test_non_string_message_and_source_are_coerced():
    event = normalize(raw(None, source=None), now=NOW)  # type: ignore[arg-type]
    assert (event.message, event.source) == ("", "")
    assert normalize(raw(12345), now=NOW).message == "12345"  # type: ignore[arg-type]


def test_max_message_bytes_must_be_positive():
    with pytest.raises(ValueError, match="max_message_bytes"):
        normalize(raw(), now=NOW, max_message_bytes=0)


# --- timestamps ---------------------------------------------------------------------------


def test_missing_timestamp_falls_back_to_receive_time():
    event = normalize(raw(ts=None), now=NOW)
    assert event.ts == RECEIVED
    assert flags(event) == {"ts_fallback": True, "ts_reason": "missing"}


def test_naive_timestamp_is_taken_as_utc():
    event = normalize(raw(ts=datetime(2024, 4, 12, 9, 59, 0)), now=NOW)
    assert event.ts == datetime(2024, 4, 12, 9, 59, 0, tzinfo=UTC)
    assert flags(event) == {"ts_assumed_utc": True}


def test_other_time_zones_are_converted_to_utc():
    cest = timezone(timedelta(hours=2))
    event = normalize(raw(ts=datetime(2024, 4, 12, 11, 59, 0, tzinfo=cest)), now=NOW)
    assert event.ts == datetime(2024, 4, 12, 9, 59, 0, tzinfo=UTC)
    assert event.ts.tzinfo is UTC
    assert "_loglytics" not in event.attributes


@pytest.mark.parametrize(
    ("ts", "reason", "original"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), "too_old", "1970-01-01T00:00:00+00:00"),
        (MIN_PLAUSIBLE_TS - timedelta(microseconds=1), "too_old", "1999-12-31T23:59:59.999999+00:00"),
        (NOW + MAX_FUTURE_SKEW + timedelta(seconds=1), "in_future", "2024-04-13T10:00:01+00:00"),
        (datetime(2999, 1, 1), "in_future", "2999-01-01T00:00:00"),
        ("not a time", "unparseable", "not a time"),
        (object(), "unparseable", None),
    ],
)
def test_absurd_timestamps_fall_back_and_keep_the_original(ts, reason, original):
    event = normalize(raw(ts=ts), now=NOW)
    assert event.ts == RECEIVED
    assert flags(event)["ts_fallback"] is True
    assert flags(event)["ts_reason"] == reason
    if original is not None:
        assert flags(event)["original_ts"] == original


def test_bounds_themselves_are_plausible():
    assert normalize(raw(ts=MIN_PLAUSIBLE_TS), now=NOW).ts == MIN_PLAUSIBLE_TS
    edge = NOW + MAX_FUTURE_SKEW
    assert normalize(raw(ts=edge), now=NOW).ts == edge


@pytest.mark.parametrize(
    "ts",
    [
        "2024-04-12T09:59:55Z",
        "2024-04-12T09:59:55.000+00:00",
        1712915995,  # epoch seconds
        1712915995000,  # milliseconds (CloudWatch)
        1712915995000000,  # microseconds
        1712915995000000000,  # nanoseconds
    ],
)
def test_string_and_epoch_timestamps_are_understood(ts):
    assert normalize(raw(ts=ts), now=NOW).ts == TS


def test_naive_now_and_received_at_are_taken_as_utc():
    event = normalize(raw(received_at=RECEIVED.replace(tzinfo=None)), now=NOW.replace(tzinfo=None))
    assert event.received_at == RECEIVED
    assert event.ts == TS


def test_connector_flags_are_kept_beside_ours():
    event = normalize(raw(b"\xff", attributes={"_loglytics": {"partial_page": True}}), now=NOW)
    assert flags(event) == {"partial_page": True, "repaired_text": True}


def test_raw_event_is_not_mutated():
    attributes = {"aws": {"log_stream": "s"}}
    event = raw('{"msg":"x","k":1}', attributes=attributes, ts=None)
    normalize(event, now=NOW)
    assert attributes == {"aws": {"log_stream": "s"}}
    assert event.ts is None


def test_nul_bytes_inside_provider_attributes_are_replaced():
    from datetime import UTC, datetime

    from core.events import RawEvent
    from core.normalize import normalize

    now = datetime.now(UTC)
    raw = RawEvent(dedupe_key="k", ts=now, message="m", source="s", received_at=now,
                   attributes={"payload": {"bad\x00key": ["a\x00b", 1]}, "ok": "x"})
    event = normalize(raw, now=now)
    assert "\x00" not in repr(event.attributes)
    assert event.attributes["ok"] == "x"
