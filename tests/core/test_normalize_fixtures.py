"""normalize() over recorded payloads (tests/fixtures/normalize, expectations in expected.json).

The provider payloads are mapped to RawEvents the plain way a connector would: the point here
is the normalizer, so the mapping stays minimal.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.events import LogEvent, RawEvent
from core.levels import BY_NAME
from core.normalize import normalize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "normalize"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
NOW = datetime(2024, 4, 12, 10, 5, 0, tzinfo=UTC)
RECEIVED = NOW - timedelta(seconds=1)


def _cloudwatch(payload: dict) -> list[RawEvent]:
    return [
        RawEvent(
            dedupe_key=event["eventId"],
            ts=datetime.fromtimestamp(event["timestamp"] / 1000, UTC),
            message=event["message"],
            source=f"/aws/lambda/checkout/{event['logStreamName']}",
            received_at=RECEIVED,
            attributes={"aws": {"log_stream": event["logStreamName"], "ingestion_time": event["ingestionTime"]}},
        )
        for event in payload["events"]
    ]


def _gcp(entries: list[dict]) -> list[RawEvent]:
    return [
        RawEvent(
            dedupe_key=f"{entry['insertId']}@{entry['timestamp']}",
            ts=datetime.fromisoformat(entry["timestamp"]),
            message=entry.get("textPayload") or json.dumps(entry.get("jsonPayload", {})),
            source=entry["logName"],
            received_at=RECEIVED,
            attributes={"resource": entry["resource"]},
            level_hint=entry.get("severity"),
            trace_id=entry.get("trace"),
        )
        for entry in entries
    ]


def _azure(payload: dict) -> list[RawEvent]:
    table = payload["tables"][0]
    names = [column["name"] for column in table["columns"]]
    events = []
    for values in table["rows"]:
        row = dict(zip(names, values, strict=True))
        events.append(
            RawEvent(
                dedupe_key=row["_ItemId"],
                ts=datetime.fromisoformat(row["TimeGenerated"]),
                message=row["Message"],
                source=row["AppRoleName"],
                received_at=RECEIVED,
                attributes={"Properties": row["Properties"]},
                level_hint=row["SeverityLevel"],
                trace_id=row["OperationId"],
            )
        )
    return events


def _lines(path: Path) -> list[RawEvent]:
    return [
        RawEvent(dedupe_key=f"{path.name}:{n}", ts=None, message=line.encode(), source=path.name, received_at=RECEIVED)
        for n, line in enumerate(path.read_text().splitlines())
    ]


def _whole(path: Path) -> list[RawEvent]:
    return [RawEvent(dedupe_key=path.name, ts=None, message=path.read_text(), source=path.name, received_at=RECEIVED)]


PROVIDERS = {
    "cloudwatch_filter_log_events.json": _cloudwatch,
    "gcp_entries.json": _gcp,
    "azure_apptraces.json": _azure,
}


def _events(name: str) -> list[LogEvent]:
    path = FIXTURES / name
    if name in PROVIDERS:
        raws = PROVIDERS[name](json.loads(path.read_text()))
    elif isinstance(EXPECTED["levels"][name], str):
        raws = _whole(path)
    else:
        raws = _lines(path)
    return [normalize(event, now=NOW) for event in raws]


def test_every_fixture_has_expectations():
    files = {path.name for path in FIXTURES.iterdir()} - {"expected.json"}
    assert files == set(EXPECTED["levels"])


@pytest.mark.parametrize("name", sorted(EXPECTED["levels"]))
def test_levels(name):
    expected = EXPECTED["levels"][name]
    expected = [expected] if isinstance(expected, str) else expected
    events = _events(name)
    assert len(events) == len(expected), "one event per input, nothing dropped"
    got = [next(k for k, v in BY_NAME.items() if v == event.level) for event in events]
    assert got == expected


@pytest.mark.parametrize("name", sorted(EXPECTED["trace_ids"]))
def test_trace_ids(name):
    events = _events(name)
    expected = {int(index): trace for index, trace in EXPECTED["trace_ids"][name].items()}
    got = {index: event.trace_id for index, event in enumerate(events) if event.trace_id is not None}
    assert got == expected


@pytest.mark.parametrize("name", sorted(EXPECTED["messages"]))
def test_displayed_messages(name):
    events = _events(name)
    for index, message in EXPECTED["messages"][name].items():
        assert events[int(index)].message == message


def test_provider_events_keep_their_times_and_ids():
    events = _events("cloudwatch_filter_log_events.json")
    assert events[0].ts == datetime(2024, 4, 12, 10, 0, 0, 123000, tzinfo=UTC)
    assert events[0].message.startswith("START RequestId") and not events[0].message.endswith("\n")
    assert events[6].attributes["order_id"] == "o-1932"
    assert events[6].attributes["aws"]["log_stream"] == "ecs/checkout/5d2b8a3e9f1c4e7a"
    assert all("_loglytics" not in event.attributes for event in events)
    azure = _events("azure_apptraces.json")
    assert azure[0].ts == datetime(2024, 4, 12, 10, 0, 5, 123456, tzinfo=UTC)


def test_text_lines_without_time_fall_back_to_receive_time():
    event = _events("klog.log")[0]
    assert event.ts == RECEIVED
    assert event.attributes["_loglytics"] == {"ts_fallback": True, "ts_reason": "missing"}
