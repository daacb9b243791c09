"""Rule options: each type's model validates on save with one readable line."""

from __future__ import annotations

import pytest

from core.alerts.rules import RULE_TYPES, Scope, compile_rule, group_value, parse_options
from core.errors import UsageError
from core.levels import ERROR, WARNING
from tests.alerts.helpers import base_time, ev


@pytest.mark.parametrize(("type_name", "options", "error"), [
    ("pattern", {}, "options.pattern: Field required"),
    ("pattern", {"pattern": "(?<=x)y"}, "invalid perl operator: (?<="),
    ("pattern", {"pattern": "[a-"}, "missing ]"),
    ("pattern", {"pattern": "x", "field": "payload"}, "field must be 'message' or 'attr:<attribute name>'"),
    ("level", {"level": "loud"}, "unknown level 'loud'"),
    ("level", {"level": 9}, "level must be 0..8"),
    ("threshold", {"threshold": 0}, "options.threshold: Input should be greater than or equal to 1"),
    ("threshold", {"threshold": 1, "window_s": 30}, "greater than or equal to 60"),
    ("error_rate", {"percent": 101}, "less than or equal to 100"),
    ("spike", {"factor": 1}, "options.factor: Input should be greater than 1"),
    ("absence", {"group_by": "host"}, "group_by must be 'source', 'connection' or 'attr:<attribute name>'"),
    ("absence", {"scope": {"nope": 1}}, "options.scope.nope: Extra inputs are not permitted"),
    ("level", {"resolve_after_s": 10}, "greater than or equal to 60"),
    ("chaos", {}, "unknown rule type 'chaos'"),
])
def test_invalid_options_say_what_to_fix(type_name, options, error):
    with pytest.raises(UsageError, match=None) as info:
        parse_options(type_name, options)
    assert error in str(info.value)


def test_defaults_and_names_are_normalized():
    assert parse_options("level", {"level": "warn"}).level == WARNING
    assert parse_options("level", {}).level == ERROR
    absence = parse_options("absence", {})
    assert (absence.group_by, absence.window_s, absence.cooldown_s) == ("connection", 300, 900)
    assert parse_options("error_rate", {"percent": 5, "error_level": "critical"}).error_level == 6
    assert set(RULE_TYPES) == {"pattern", "level", "threshold", "error_rate", "spike", "absence"}


def test_scope_and_group_keys():
    scope = Scope(connections=[3], sources=["pay*", "auth"], min_level="warning", text="Card")
    t = base_time()
    assert scope.accepts(3, ev(t, "bad CARD", level=WARNING, source="payments"))
    assert not scope.accepts(4, ev(t, "bad CARD", level=WARNING, source="payments"))
    assert not scope.accepts(3, ev(t, "bad CARD", level=WARNING, source="authz"))
    assert group_value("attr:k8s.pod", 1, "s", {"k8s": {"pod": "web-1"}}) == "web-1"
    assert group_value("attr:missing", 1, "s", {}) == ""
    assert group_value("connection", 7, "s", {}) == "7"
    rule = compile_rule(id=1, project_id=1, project_name="p", name="r", type="level", severity="info", options={})
    assert rule.fingerprint("a") != rule.fingerprint("b") and len(rule.fingerprint("a")) == 32


def test_cursor_watermarks_in_event_time():
    from datetime import UTC, datetime, timedelta

    from core.alerts.window import ARRIVAL_LATENESS, GRACE, watermark

    committed = datetime(2026, 5, 1, 12, 0, 30, tzinfo=UTC)
    noon = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert watermark({"hw_ms": int(noon.timestamp() * 1000)}, committed, 60) == noon  # AWS: net of settle already
    assert watermark({"hw_s": int(noon.timestamp())}, committed, 0) == noon  # demo
    assert watermark({"it_hw": "2026-05-01T12:00:00.1234567Z"}, committed, 60) == noon - ARRIVAL_LATENESS  # Azure
    assert watermark({"rt_hw": "2026-05-01T12:00:00.123456789Z"}, committed, 60) == noon - ARRIVAL_LATENESS
    assert watermark({"other": 1}, committed, 60) == committed - timedelta(seconds=60) - GRACE - ARRIVAL_LATENESS
