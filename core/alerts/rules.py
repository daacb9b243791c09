"""Rule types: one pydantic options model each, and the registry that validates and compiles them.

Stream rules (``pattern``, ``level``) look at each new event; window rules (``threshold``,
``error_rate``, ``spike``, ``absence``) look at counts over a window of whole minutes. Every type
shares the common options: scope filter, group-by, cooldown and channels (severity and enabled
are columns of ``alert_rules``). Regular expressions use RE2 (linear time: no backreferences or
look-around), so a user's pattern cannot stall ingest; they are compiled when the rule is saved.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar

import re2
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from core import levels
from core.errors import UsageError
from core.events import LogEvent

SEVERITIES = ("info", "warning", "critical")
STREAM, WINDOW = "stream", "window"
MAX_PATTERN_LEN = 2000
_ATTR_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


def _level(value: Any) -> int:
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return levels.parse_level_name(value)
    level = int(value)
    if level not in levels.NAMES:
        raise ValueError(f"level must be {min(levels.NAMES)}..{max(levels.NAMES)} or a name such as 'error'")
    return level


Level = Annotated[int, BeforeValidator(_level)]


def _check_ref(value: str | None, what: str) -> str | None:
    """'source', 'connection' or 'attr:<name>' (an attribute, dotted for nested keys)."""
    if value is None or value in ("source", "connection"):
        return value
    if value.startswith("attr:") and _ATTR_NAME.match(value[5:]):
        return value
    raise ValueError(f"{what} must be 'source', 'connection' or 'attr:<attribute name>'")


class Scope(BaseModel):
    """Which events a rule looks at. Empty lists mean every connection / source."""

    model_config = ConfigDict(extra="forbid")

    connections: list[int] = Field(default_factory=list, description="Connection ids.")
    sources: list[str] = Field(default_factory=list, description="Exact source names, or prefixes ending in '*'.")
    min_level: Level | None = Field(None, description="Only events at or above this level.")
    text: str | None = Field(None, min_length=1, max_length=500, description="Case-insensitive substring.")

    def source_ok(self, source: str) -> bool:
        if not self.sources:
            return True
        return any(source.startswith(s[:-1]) if s.endswith("*") else source == s for s in self.sources)

    def accepts(self, connection_id: int, event: LogEvent) -> bool:
        if self.connections and connection_id not in self.connections:
            return False
        if self.min_level is not None and event.level < self.min_level:
            return False
        if self.text is not None and self.text.lower() not in event.message.lower():
            return False
        return self.source_ok(event.source)


class RuleOptions(BaseModel):
    """Options every rule type has."""

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str]

    scope: Scope = Field(default_factory=Scope)
    group_by: str | None = Field(None, description="One alert per source, connection or attribute value.")
    cooldown_s: int = Field(900, ge=0, le=7 * 86_400, description="Minimum time between notifications of one alert.")
    channels: list[int] = Field(default_factory=list, description="Channel ids notified (the inbox always is).")

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: str | None) -> str | None:
        return _check_ref(value, "group_by")


class StreamOptions(RuleOptions):
    kind: ClassVar[str] = STREAM
    resolve_after_s: int | None = Field(
        None, ge=60, le=30 * 86_400, description="Resolve after this long without a match; unset = by hand only."
    )


class PatternOptions(StreamOptions):
    pattern: str = Field(min_length=1, max_length=MAX_PATTERN_LEN, description="RE2 regular expression.")
    field: str = Field("message", description="'message' or 'attr:<name>'.")
    ignore_case: bool = False

    @field_validator("field")
    @classmethod
    def _field(cls, value: str) -> str:
        if value == "message":
            return value
        if value.startswith("attr:") and _ATTR_NAME.match(value[5:]):
            return value
        raise ValueError("field must be 'message' or 'attr:<attribute name>'")

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        compile_pattern(value, ignore_case=False)
        return value


class LevelOptions(StreamOptions):
    level: Level = Field(levels.ERROR, description="Fire on events at or above this level.")


class WindowOptions(RuleOptions):
    kind: ClassVar[str] = WINDOW
    window_s: int = Field(300, ge=60, le=86_400, description="Window length, whole minutes.")

    @field_validator("window_s")
    @classmethod
    def _whole_minutes(cls, value: int) -> int:
        if value % 60:
            raise ValueError("window_s must be a whole number of minutes (the rollup is per minute)")
        return value


class ThresholdOptions(WindowOptions):
    threshold: int = Field(ge=1, description="Fire when the window holds at least this many matching events.")


class ErrorRateOptions(WindowOptions):
    percent: float = Field(gt=0, le=100, description="Fire when errors / all events >= this percentage.")
    min_events: int = Field(20, ge=1, description="Minimum events in the window before the rate counts.")
    error_level: Level = Field(levels.ERROR, description="What counts as an error.")


class SpikeOptions(WindowOptions):
    factor: float = Field(gt=1, le=1000, description="Fire when the window count >= factor x the baseline.")
    baseline_windows: int = Field(6, ge=1, le=48, description="Baseline: mean count of this many previous windows.")
    min_events: int = Field(10, ge=1, description="Ignore windows with fewer events (tiny absolute changes).")


class AbsenceOptions(WindowOptions):
    group_by: str | None = Field("connection", description="Expected senders: each connection, source or attribute.")
    lookback_windows: int = Field(
        6, ge=1, le=48, description="Sources/attribute values seen in this many previous windows are expected."
    )


@dataclass(frozen=True, slots=True)
class RuleType:
    name: str
    options: type[RuleOptions]
    summary: str

    @property
    def kind(self) -> str:
        return self.options.kind


RULE_TYPES: dict[str, RuleType] = {
    "pattern": RuleType("pattern", PatternOptions, "regular expression on the message or an attribute"),
    "level": RuleType("level", LevelOptions, "an event at or above a level"),
    "threshold": RuleType("threshold", ThresholdOptions, "at least N matching events in a window"),
    "error_rate": RuleType("error_rate", ErrorRateOptions, "errors / all events in a window >= X %"),
    "spike": RuleType("spike", SpikeOptions, "window count >= K x the baseline of previous windows"),
    "absence": RuleType("absence", AbsenceOptions, "no (matching) events from a connection or source in a window"),
}


def rule_type(name: str) -> RuleType:
    if name not in RULE_TYPES:
        raise UsageError(f"unknown rule type {name!r}; use one of {', '.join(RULE_TYPES)}")
    return RULE_TYPES[name]


def compile_pattern(pattern: str, *, ignore_case: bool) -> Any:
    """Compile with RE2 or raise ValueError naming what RE2 does not support."""
    if len(pattern) > MAX_PATTERN_LEN:
        raise ValueError(f"pattern is longer than {MAX_PATTERN_LEN} characters")
    options = re2.Options()
    options.log_errors = False  # the reason goes into our error, not onto stderr
    options.case_sensitive = not ignore_case
    options.max_mem = 8 << 20
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(
            f"invalid regular expression: {reason} (RE2 syntax: no backreferences or look-around)"
        ) from None


def parse_options(type_name: str, raw: dict[str, Any]) -> RuleOptions:
    """Validate a rule's options; raises UsageError with one readable line."""
    from core.store.connections import describe_validation_error

    kind = rule_type(type_name)
    try:
        return kind.options.model_validate(raw)
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc, "options")) from None


def check_severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise UsageError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
    return severity


@dataclass(slots=True)
class CompiledRule:
    """A rule ready to evaluate: validated options, compiled regex, names for messages."""

    id: int
    project_id: int
    project_name: str
    name: str
    type: str
    severity: str
    options: Any
    updated_at: datetime | None = None
    created_at: datetime | None = None
    regex: Any = None
    _fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.options.kind

    @property
    def resolve_after_s(self) -> int | None:
        return getattr(self.options, "resolve_after_s", None)

    def fingerprint(self, group_key: str) -> str:
        fp = self._fingerprints.get(group_key)
        if fp is None:
            fp = hashlib.sha256(f"{self.id}\x00{group_key}".encode()).hexdigest()[:32]
            if len(self._fingerprints) < 10_000:
                self._fingerprints[group_key] = fp
        return fp

    def group_key(self, connection_id: int, event: LogEvent) -> str:
        return group_value(self.options.group_by, connection_id, event.source, event.attributes)


def attribute(attributes: dict[str, Any] | None, dotted: str) -> Any:
    value: Any = attributes or {}
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def group_value(group_by: str | None, connection_id: int, source: str, attributes: dict[str, Any] | None) -> str:
    if group_by is None:
        return ""
    if group_by == "source":
        return source
    if group_by == "connection":
        return str(connection_id)
    value = attribute(attributes, group_by[5:])
    return "" if value is None else str(value)


def compile_rule(
    *, id: int, project_id: int, project_name: str, name: str, type: str, severity: str,
    options: dict[str, Any], updated_at: datetime | None = None, created_at: datetime | None = None,
) -> CompiledRule:
    parsed = RULE_TYPES[type].options.model_validate(options)
    regex = compile_pattern(parsed.pattern, ignore_case=parsed.ignore_case) if type == "pattern" else None
    return CompiledRule(id=id, project_id=project_id, project_name=project_name, name=name, type=type,
                        severity=severity, options=parsed, updated_at=updated_at, created_at=created_at, regex=regex)
