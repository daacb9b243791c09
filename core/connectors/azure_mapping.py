"""Azure Monitor Log Analytics rows -> RawEvent, and Kusto datetimes at full precision (pure functions).

A row is ``{column: value}`` as ``LogsQueryClient`` returns it: ``datetime`` columns parsed (to
microseconds), ``dynamic`` columns as JSON text (or already parsed), plus the two helper columns
the connector projects: ``_it`` = ``tostring(ingestion_time())`` (7 fraction digits, because the
SDK cuts parsed datetimes to microseconds) and ``_ItemId``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core.events import RawEvent
from core.normalize.text import to_text

INGEST_COLUMN = "_it"
ITEM_ID_COLUMN = "_ItemId"
TICKS_PER_S = 10_000_000  # Kusto datetimes are 100 ns ticks
MAX_ATTRIBUTE_CHARS = 32_768  # a longer string column is cut in attributes (the message has its own cap)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KUSTO_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(?:Z|\+00:00)?$")
_TABLE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which columns hold the event's time, level, message, source parts and trace id."""

    time: str = "TimeGenerated"
    level: str | None = None
    message: str | None = None
    source: tuple[str, ...] = ("_ResourceId", "Computer")
    trace: str | None = None


# Defaults for common tables; every other column lands in attributes.
TABLE_DEFAULTS: dict[str, ColumnMap] = {
    "AppTraces": ColumnMap(
        level="SeverityLevel", message="Message", source=("AppRoleName", "AppRoleInstance"), trace="OperationId"
    ),
    "AppExceptions": ColumnMap(
        level="SeverityLevel", message="OuterMessage", source=("AppRoleName", "AppRoleInstance"), trace="OperationId"
    ),
    "ContainerLogV2": ColumnMap(
        level="LogLevel", message="LogMessage", source=("PodNamespace", "PodName", "ContainerName")
    ),
    "Syslog": ColumnMap(level="SeverityLevel", message="SyslogMessage", source=("Computer", "ProcessName")),
    "AzureDiagnostics": ColumnMap(level="Level", message="Message", source=("_ResourceId",)),
}
FALLBACK = ColumnMap()


def query_table(query: str) -> str | None:
    """The table a KQL query starts from (``AppTraces | where ...`` -> ``AppTraces``), if it starts with one."""
    match = _TABLE.match(query)
    return match.group(1) if match and match.group(1) not in {"let", "union", "search", "print"} else None


def column_map(table: str | None, overrides: Mapping[str, Any]) -> ColumnMap:
    """The table's defaults with the connection's explicit column options laid over them."""
    base = TABLE_DEFAULTS.get(table or "", FALLBACK)
    chosen = {k: v for k, v in overrides.items() if v is not None}
    if "source" in chosen:
        chosen["source"] = tuple(chosen["source"])
    return replace(base, **chosen)


def to_ticks(moment: datetime) -> int:
    """100 ns ticks since the Unix epoch; a naive datetime is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * TICKS_PER_S + delta.microseconds * 10


def format_ticks(ticks: int) -> str:
    """Kusto's own text form, 7 fraction digits: ``2024-05-01T12:00:00.1234567Z``."""
    seconds, fraction = divmod(ticks, TICKS_PER_S)
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:07d}Z"


def parse_ticks(text: Any) -> int | None:
    """Ticks of a Kusto/ISO UTC time string with up to 9 fraction digits (beyond 7 are dropped); None if not one."""
    match = _KUSTO_TIME.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    try:
        whole = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return to_ticks(whole) + int((match.group(2) or "").ljust(7, "0")[:7])


def ticks_to_datetime(ticks: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ticks // 10)


def row_to_raw_event(
    row: Mapping[str, Any],
    columns: ColumnMap,
    *,
    workspace_id: str,
    fetched_at: datetime,
    types: Mapping[str, str] | None = None,
) -> RawEvent:
    """Map one result row. Never raises on odd values: missing columns give empty fields, not errors."""
    types = types or {}
    ingest_text = row.get(INGEST_COLUMN)
    ingest = parse_ticks(ingest_text)
    table = str(row.get("Type") or "")
    message_column = columns.message if columns.message in row else None
    used = {INGEST_COLUMN, ITEM_ID_COLUMN, "Type", columns.time, columns.level, message_column, columns.trace}
    attributes = {
        name: _attribute(value, types.get(name))
        for name, value in row.items()
        if name not in used and value is not None and value != ""
    }
    item_id = row.get(ITEM_ID_COLUMN)
    key = str(item_id) if item_id else "sha256:" + _row_hash(row)
    if message_column is not None:
        message = row.get(message_column)
        message = "" if message is None else message if isinstance(message, str) else str(message)
    else:  # no message column: the row itself, so nothing is hidden from the console
        message = json.dumps(attributes, ensure_ascii=False, separators=(",", ":"))
    attributes["azure"] = {
        "workspace_id": workspace_id,
        "table": table,
        "item_id": str(item_id or ""),
        "ingestion_time": ingest_text if isinstance(ingest_text, str) else None,
    }
    cut = [name for name, value in attributes.items() if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_CHARS]
    for name in cut:
        attributes[name] = attributes[name][:MAX_ATTRIBUTE_CHARS]
    if cut:
        attributes["_loglytics"] = {"truncated_attributes": cut}
    trace = row.get(columns.trace) if columns.trace else None
    return RawEvent(
        dedupe_key=key,
        ts=_as_datetime(row.get(columns.time)),
        message=message,
        source=_source(row, columns.source) or table or workspace_id,
        received_at=ticks_to_datetime(ingest) if ingest is not None else fetched_at,
        attributes=attributes,
        level_hint=_level_hint(row.get(columns.level)) if columns.level else None,
        trace_id=str(trace) if trace else None,
    )


def _row_hash(row: Mapping[str, Any]) -> str:
    """sha256 of the row as canonical JSON (sorted keys), without the helper columns: stable across polls."""
    body = {k: v for k, v in row.items() if k not in (INGEST_COLUMN, ITEM_ID_COLUMN)}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _source(row: Mapping[str, Any], names: Iterable[str]) -> str:
    return "/".join(str(row[n]).strip("/") for n in names if row.get(n) not in (None, ""))


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    ticks = parse_ticks(value)  # the SDK leaves a value it could not parse as text
    return ticks_to_datetime(ticks) if ticks is not None else None


def _level_hint(value: Any) -> str | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value if isinstance(value, int | str) else str(value)


def _attribute(value: Any, kind: str | None) -> Any:
    """A jsonb-safe value: dynamic JSON text parsed, datetimes as ISO text, NUL/surrogates/NaN repaired."""
    if kind == "dynamic" and isinstance(value, str) and value[:1] in ("{", "["):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    return json_safe(value)


def json_safe(value: Any) -> Any:
    """Recursively make ``value`` storable as jsonb (PostgreSQL refuses NUL, lone surrogates and NaN)."""
    if isinstance(value, str):
        return to_text(value)[0]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {to_text(str(k))[0]: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return to_text(str(value))[0]
