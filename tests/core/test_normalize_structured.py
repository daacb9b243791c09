"""JSON messages, attribute merging and trace ids in normalize()."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from core.events import RawEvent
from core.levels import ERROR, INFO, WARNING
from core.normalize import normalize

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


def test_json_message_is_parsed_into_attributes_and_shows_its_message():
    event = normalize(raw('{"level":"warn","msg":"disk 91%","mount":"/var","n":3,"tags":["a"]}'), now=NOW)
    assert event.message == "disk 91%"
    assert event.level == WARNING
    assert event.attributes == {"level": "warn", "mount": "/var", "n": 3, "tags": ["a"]}  # msg is the message


@pytest.mark.parametrize("key", ["message", "msg", "text"])
def test_message_keys(key):
    assert normalize(raw(json.dumps({key: "hello", "x": 1})), now=NOW).message == "hello"


def test_message_key_preference_and_non_string_values():
    assert normalize(raw('{"text":"t","message":"m","msg":"g"}'), now=NOW).message == "m"
    assert normalize(raw('{"message":{"a":1}}'), now=NOW).message == '{"a": 1}'
    assert normalize(raw('{"message":42}'), now=NOW).message == "42"


def test_json_without_message_key_keeps_the_original_text():
    text = '{"event":"user logged in","user_id":31}'
    event = normalize(raw(text), now=NOW)
    assert event.message == text
    assert event.attributes == {"event": "user logged in", "user_id": 31}


@pytest.mark.parametrize(
    "text",
    ["{not json}", '["a", "b"]', '{"a": 1} trailing', "{", '{"a": NaN-}', '  {"msg": "x"', "{}}"],
)
def test_what_is_not_a_json_object_stays_text(text):
    event = normalize(raw(text), now=NOW)
    assert event.message == text.rstrip("\r\n")
    assert event.attributes == {}


def test_json_with_surrounding_whitespace_is_parsed():
    assert normalize(raw('  {"msg":"x"}  \n'), now=NOW).message == "x"


def test_json_nan_becomes_a_string_because_jsonb_refuses_it():
    event = normalize(raw('{"msg":"x","ratio":NaN,"max":Infinity}'), now=NOW)
    assert event.attributes == {"ratio": "NaN", "max": "Infinity"}


def test_provider_attributes_keep_their_keys_and_clashing_json_keys_get_a_suffix():
    attributes = {"service": "orders-api", "region": "eu-west-1"}
    event = normalize(
        raw('{"msg":"x","service":"checkout","region":"eu-west-1","k":1}', attributes=attributes), now=NOW
    )
    assert event.attributes == {"service": "orders-api", "region": "eu-west-1", "service_extracted": "checkout", "k": 1}


def test_json_key_named_like_our_flags_does_not_hide_them():
    event = normalize(raw('{"msg":"x","_loglytics":"spoof"}', ts=None), now=NOW)
    assert event.attributes["_loglytics"]["ts_fallback"] is True
    assert event.attributes["_loglytics_extracted"] == "spoof"


def test_provider_level_attribute_is_read():
    assert normalize(raw("plain text", attributes={"severity": "ERROR"}), now=NOW).level == ERROR


def test_level_hint_beats_json_fields():
    assert normalize(raw('{"level":"error","msg":"x"}', level_hint="INFO"), now=NOW).level == INFO


# --- trace ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["trace_id", "traceId", "trace", "otelTraceID", "logging.googleapis.com/trace"])
def test_trace_id_from_json_keys(key):
    assert normalize(raw(json.dumps({"msg": "x", key: TRACE})), now=NOW).trace_id == TRACE


def test_gcp_trace_resource_name_is_reduced_to_the_id():
    event = normalize(
        raw(json.dumps({"msg": "x", "logging.googleapis.com/trace": f"projects/p-1/traces/{TRACE}"})), now=NOW
    )
    assert event.trace_id == TRACE
    assert normalize(raw("x", trace_id=f"projects/p-1/traces/{TRACE}"), now=NOW).trace_id == TRACE


def test_ecs_nested_trace_id():
    assert normalize(raw(json.dumps({"msg": "x", "trace": {"id": TRACE}})), now=NOW).trace_id == TRACE


@pytest.mark.parametrize(
    "text",
    [
        f"request done trace_id={TRACE} status=ok",
        f"request done traceId: {TRACE}",
        f'request done "trace_id":"{TRACE}"',
        f"upstream traceparent=00-{TRACE}-00f067aa0ba902b7-01 took 81ms",
        f"traceparent: 00-{TRACE}-00f067aa0ba902b7-01",
    ],
)
def test_trace_id_from_text(text):
    assert normalize(raw(text), now=NOW).trace_id == TRACE


def test_xray_trace_header_in_text():
    event = normalize(raw("X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"), now=NOW)
    assert event.trace_id == "1-5759e988-bd862e3fe1be46a994272793"


@pytest.mark.parametrize(
    "text",
    [
        "no trace here",
        "trace_id=00000000000000000000000000000000",  # all zeros: no trace
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "stacktrace_id=abcdef0123456789",  # another key that merely ends in trace
        "2024-04-12 10:00:00-07:00 something",
    ],
)
def test_no_trace_id(text):
    assert normalize(raw(text), now=NOW).trace_id is None


def test_trace_value_that_is_a_stack_trace_is_not_an_id():
    event = normalize(raw('{"msg":"x","trace":"Traceback (most recent call last): ..."}'), now=NOW)
    assert event.trace_id is None


def test_provider_trace_id_wins():
    event = normalize(raw(f"trace_id={TRACE}", trace_id="0af7651916cd43dd8448eb211c80319c"), now=NOW)
    assert event.trace_id == "0af7651916cd43dd8448eb211c80319c"


def test_empty_message_field_keeps_the_original_text():
    text = '{"message":"","code":7}'
    event = normalize(raw(text), now=NOW)
    assert event.message == text
    assert event.attributes == {"message": "", "code": 7}


def test_deeply_nested_json_stays_text_or_parses_but_never_raises():
    text = '{"a":' * 5000 + "1" + "}" * 5000
    event = normalize(raw(text), now=NOW)
    assert event.message == text
