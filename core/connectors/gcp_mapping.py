"""Cloud Logging LogEntry (REST JSON) -> RawEvent, and RFC 3339 times at nanosecond precision (pure functions).

Entries are mapped from the raw JSON, not from ``google.cloud.logging`` entry objects: those cut
timestamps to microseconds, and the dedupe key (``insertId`` + timestamp, Logging's own
duplicate rule) needs the nanoseconds.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from core.connectors.azure_mapping import json_safe
from core.events import RawEvent

NS_PER_S = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:\d\d)$")
_PARENT = re.compile(r"^((?:projects|organizations|folders|billingAccounts)/[^/]+)/logs/(.+)$")

# The labels that name a resource best, in order; other types use their sorted labels.
RESOURCE_LABELS: dict[str, tuple[str, ...]] = {
    "k8s_container": ("cluster_name", "namespace_name", "pod_name", "container_name"),
    "k8s_pod": ("cluster_name", "namespace_name", "pod_name"),
    "k8s_node": ("cluster_name", "node_name"),
    "cloud_run_revision": ("service_name", "revision_name"),
    "cloud_run_job": ("job_name",),
    "cloud_function": ("function_name",),
    "gce_instance": ("zone", "instance_id"),
    "gae_app": ("module_id", "version_id"),
    "cloudsql_database": ("database_id",),
    "http_load_balancer": ("forwarding_rule_name",),
}
_META = (
    "logName",
    "insertId",
    "severity",
    "labels",
    "httpRequest",
    "operation",
    "sourceLocation",
    "spanId",
    "traceSampled",
    "split",
    "receiveTimestamp",
)


def to_nanos(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


def format_nanos(ns: int) -> str:
    """``2024-05-01T12:00:00.123456789Z``: 9 fraction digits always, so equal times have equal text."""
    seconds, fraction = divmod(ns, NS_PER_S)
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:09d}Z"


def parse_nanos(text: Any) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time (any offset, 0..9 fraction digits); None if not one."""
    match = _RFC3339.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    day, clock, fraction, offset = match.groups()
    try:
        whole = datetime.fromisoformat(f"{day}T{clock}{'+00:00' if offset in 'Zz' else offset}")
    except ValueError:
        return None
    return to_nanos(whole) + int((fraction or "").ljust(9, "0"))


def nanos_to_datetime(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def entry_to_raw_event(entry: Mapping[str, Any], fetched_at: datetime) -> RawEvent:
    """Map one LogEntry. Never raises on odd entries: missing fields give empty values, not errors."""
    ts_ns = parse_nanos(entry.get("timestamp"))
    received_ns = parse_nanos(entry.get("receiveTimestamp"))
    log_name = str(entry.get("logName") or "")
    parent, log_id = _split_log_name(log_name)
    insert_id = entry.get("insertId")
    if insert_id:  # Logging's duplicate rule: same project, same timestamp, same insertId
        stamp = format_nanos(ts_ns) if ts_ns is not None else str(entry.get("timestamp") or "")
        key = f"{parent}|{stamp}|{insert_id}"
    else:
        body = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        key = "sha256:" + hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
    resource = entry.get("resource") if isinstance(entry.get("resource"), Mapping) else {}
    gcp: dict[str, Any] = {
        "log_name": log_id,
        "parent": parent,
        "insert_id": insert_id,
        "resource": {"type": resource.get("type"), "labels": resource.get("labels") or {}},
    }
    gcp.update({_snake(k): entry[k] for k in _META[2:-1] if entry.get(k) not in (None, "", {}, [])})
    message, payload_attrs = _payload(entry)
    if payload_attrs is not None:
        gcp["proto_payload"] = payload_attrs
    trace = entry.get("trace")
    return RawEvent(
        dedupe_key=key,
        ts=nanos_to_datetime(ts_ns) if ts_ns is not None else None,
        message=message,
        source=resource_source(resource) or log_id or parent,
        received_at=nanos_to_datetime(received_ns) if received_ns is not None else fetched_at,
        attributes={"gcp": json_safe(gcp)},
        level_hint=entry.get("severity") if isinstance(entry.get("severity"), str | int) else None,
        trace_id=str(trace) if trace else None,
    )


def resource_source(resource: Mapping[str, Any]) -> str:
    """``k8s_container/prod-eu/checkout/checkout-7d9f/app``: the resource type and its naming labels."""
    kind = str(resource.get("type") or "")
    labels = resource.get("labels") if isinstance(resource.get("labels"), Mapping) else {}
    names = RESOURCE_LABELS.get(kind) or tuple(sorted(k for k in labels if k != "project_id"))
    parts = [str(labels[n]) for n in names if labels.get(n) not in (None, "")]
    return "/".join([kind, *parts]) if kind else "/".join(parts)


def _payload(entry: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """``(message, proto payload for attributes)``. A jsonPayload becomes JSON text: the normalizer moves its
    fields into attributes and shows its ``message`` field (and keeps an oversized one as capped text)."""
    if isinstance(entry.get("textPayload"), str):
        return entry["textPayload"], None
    if isinstance(entry.get("jsonPayload"), Mapping):
        return json.dumps(entry["jsonPayload"], ensure_ascii=False, separators=(",", ":")), None
    proto = entry.get("protoPayload")
    if isinstance(proto, Mapping):  # audit logs: a one-line summary, the payload itself as an attribute
        summary = " ".join(str(proto[k]) for k in ("methodName", "resourceName") if proto.get(k))
        status = proto.get("status") if isinstance(proto.get("status"), Mapping) else {}
        if status.get("message"):
            summary += f": {status['message']}"
        return summary or str(proto.get("@type") or ""), dict(proto)
    return "", None


def _split_log_name(log_name: str) -> tuple[str, str]:
    match = _PARENT.match(log_name)
    return (match.group(1), unquote(match.group(2))) if match else ("", log_name)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
