"""One contract suite for every cloud connector: the semantics of core/connectors/base.py, run through the
real SDKs against local peers (moto for AWS, the HTTPS fake for Azure, the REST fake for Google).

Each provider gets a small adapter that knows how to seed events, inject throttling, break credentials,
produce a partial result and write odd payloads. Times are each provider's cursor clock: the event
timestamp for AWS, ingestion_time() for Azure, receiveTimestamp for Google.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from core.connectors.aws_cloudwatch import CloudWatchConnector, CloudWatchOptions, CloudWatchSecret
from core.connectors.azure_mapping import format_ticks, parse_ticks, ticks_to_datetime, to_ticks
from core.connectors.azure_monitor import AzureMonitorConnector, AzureOptions, AzureSecret
from core.connectors.base import Batch
from core.connectors.gcp_logging import GcpLoggingConnector, GcpOptions, GcpSecret
from core.connectors.gcp_mapping import format_nanos, nanos_to_datetime, parse_nanos, to_nanos
from core.connectors.ratelimit import BackoffPolicy
from core.errors import AuthError, ConnectorError, ThrottledError
from core.normalize import normalize
from tests.peers import azure_monitor as az
from tests.peers import gcp_logging as gc
from tests.peers.cloudwatch import admin_client, put

FAST_BACKOFF = BackoffPolicy(retries=2, base_s=0.01, cap_s=0.02, max_wait_s=1.0)
BAD_SECRET = "very-secret-wrong-value-42"
HUGE = "x" * 200_000


# ---- adapters ------------------------------------------------------------------------------------


class AwsPeer:
    name = "aws"
    group = "/app/contract"

    def __init__(self, moto: str, enforce_iam: Any) -> None:
        self.moto, self.enforce_iam, self.logs = moto, enforce_iam, admin_client(moto)
        self.streams = 0

    def make(self, secret: CloudWatchSecret | None = None, **opts: Any) -> CloudWatchConnector:
        options = {
            "region": "us-east-1",
            "endpoint_url": self.moto,
            "log_groups": [self.group],
            "overlap_s": 120,
            "settle_s": 0,
            "requests_per_s": 500,
            **opts,
        }
        secret = secret or CloudWatchSecret(access_key_id="AKIA" + uuid.uuid4().hex[:16].upper(), secret_access_key="t")
        conn = CloudWatchConnector(
            CloudWatchOptions(**options), secret, config=Config(retries={"mode": "standard", "total_max_attempts": 1})
        )
        conn.backoff = FAST_BACKOFF
        return conn

    def seed(self, items: list[tuple[str, datetime]]) -> None:
        self.streams += 1  # a new stream per call: moto wants each batch in time order within its stream
        put(self.logs, self.group, f"s{self.streams}", [(_ms(at), msg) for msg, at in items])

    def cursors(self, at: datetime) -> dict[str, Any]:
        return {self.group: {"hw_ms": _ms(at)}}

    def hw_of(self, cursors: dict[str, Any]) -> datetime:
        return datetime.fromtimestamp(cursors[self.group]["hw_ms"] / 1000, UTC)

    small_pages = {"page_limit": 3}

    def throttle(self, conn: CloudWatchConnector, times: int) -> None:
        seen = {"n": 0}

        def hook(request: Any, **_: Any) -> AWSResponse | None:
            seen["n"] += 1
            if seen["n"] > times:
                return None
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body))

        conn.client.meta.events.register("before-send.cloudwatch-logs.FilterLogEvents", hook)

    def bad_credentials(self) -> CloudWatchConnector:
        self.enforce_iam()
        return self.make(
            CloudWatchSecret(access_key_id="AKIA" + uuid.uuid4().hex[:16].upper(), secret_access_key=BAD_SECRET)
        )

    def partial(self, conn: Any) -> None:
        pytest.skip("CloudWatch has no partial results: FilterLogEvents pages either arrive whole or fail")

    def seed_bad(self, at: datetime) -> int:
        self.seed(
            [
                ("nul\x00byte", at - timedelta(seconds=3)),
                (HUGE, at - timedelta(seconds=2)),
                ('{"level": "error", "msg": "half a json', at - timedelta(seconds=1)),
            ]
        )
        return 3


class AzurePeer:
    name = "azure"

    def __init__(self, server: az.AzureServer) -> None:
        self.server, self.fake = server, server.fake

    def make(self, secret: dict[str, Any] | None = None, **opts: Any) -> AzureMonitorConnector:
        conn = AzureMonitorConnector(
            AzureOptions(**az.azure_options(self.server, overlap_s=120, **opts)),
            AzureSecret(**(secret or az.azure_secret())),
        )
        conn.backoff, conn.sdk_retries = FAST_BACKOFF, 0
        return conn

    def seed(self, items: list[tuple[str, datetime]]) -> None:
        for msg, at in items:
            self.fake.add(
                "AppTraces", [{"TimeGenerated": at - timedelta(seconds=2), "Message": msg, "SeverityLevel": 1}], at
            )

    def cursors(self, at: datetime) -> dict[str, Any]:
        return {az.WORKSPACE: {"it_hw": format_ticks(to_ticks(at))}}

    def hw_of(self, cursors: dict[str, Any]) -> datetime:
        return ticks_to_datetime(parse_ticks(cursors[az.WORKSPACE]["it_hw"]))

    small_pages = {"max_rows": 3}  # no pages in Log Analytics: a fuller window is halved instead

    def throttle(self, conn: Any, times: int) -> None:
        self.fake.throttle(times, retry_after="0")

    def bad_credentials(self) -> AzureMonitorConnector:
        return self.make(az.azure_secret(client_secret=BAD_SECRET))

    def partial(self, conn: Any) -> None:
        self.fake.partial(1000)

    def seed_bad(self, at: datetime) -> int:
        rows = [
            {"TimeGenerated": at - timedelta(seconds=5), "Message": "nul\x00byte", "SeverityLevel": 3},
            {"TimeGenerated": at - timedelta(seconds=4), "Message": HUGE},
            {"TimeGenerated": at - timedelta(seconds=3), "Message": None, "SeverityLevel": None},
            {"TimeGenerated": at - timedelta(seconds=2), "Message": "bad dynamic", "Properties": "{not json"},
        ]
        self.fake.add("AppTraces", rows, at)
        self.fake.add(
            "AppTraces", [{"TimeGenerated": at - timedelta(seconds=1), "Message": "no item id"}], at, item_ids=False
        )
        return 5


class GcpPeer:
    name = "gcp"

    def __init__(self, server: gc.GcpServer) -> None:
        self.server, self.fake = server, server.fake
        self.secret = gc.gcp_secret(server)

    def make(self, secret: dict[str, Any] | None = None, **opts: Any) -> GcpLoggingConnector:
        conn = GcpLoggingConnector(
            GcpOptions(**gc.gcp_options(self.server, **opts)), GcpSecret(**(secret or self.secret))
        )
        conn.backoff = FAST_BACKOFF
        return conn

    def seed(self, items: list[tuple[str, datetime]]) -> None:
        for msg, at in items:
            stamp = gc.rfc3339(gc.nanos(at - timedelta(seconds=2)))
            self.fake.add([{"timestamp": stamp, "severity": "INFO", "textPayload": msg}], at)

    def cursors(self, at: datetime) -> dict[str, Any]:
        return {f"projects/{gc.PROJECT}": {"rt_hw": format_nanos(to_nanos(at))}}

    def hw_of(self, cursors: dict[str, Any]) -> datetime:
        return nanos_to_datetime(parse_nanos(cursors[f"projects/{gc.PROJECT}"]["rt_hw"]))

    small_pages = {"page_size": 3}

    def throttle(self, conn: Any, times: int) -> None:
        self.fake.throttle(times)

    def bad_credentials(self) -> GcpLoggingConnector:
        return self.make(gc.gcp_secret(self.server, registered=False))

    def partial(self, conn: Any) -> None:
        self.fake.fail_call(2, 503)  # the page chain breaks after its first page

    def seed_bad(self, at: datetime) -> int:
        stamp = gc.rfc3339(gc.nanos(at - timedelta(seconds=3)))
        self.fake.add(
            [
                {"timestamp": stamp, "textPayload": "nul\x00byte", "severity": "ERROR"},
                {"timestamp": stamp, "textPayload": HUGE},
                {"timestamp": stamp, "jsonPayload": {"message": "json nul\x00", "nested": {"k": [1, None]}}},
                {"timestamp": stamp},  # no payload, severity or resource labels
            ],
            at,
        )
        entry = {"timestamp": stamp, "textPayload": "no insert id", "logName": f"projects/{gc.PROJECT}/logs/x"}
        self.fake.entries.append(
            {**entry, "resource": {"type": "global"}, "receiveTimestamp": gc.rfc3339(gc.nanos(at))}
        )
        return 5


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any):
        yield self.body


@pytest.fixture(params=["aws", "azure", "gcp"])
def peer(request: pytest.FixtureRequest) -> Any:
    if request.param == "aws":
        return AwsPeer(request.getfixturevalue("moto"), request.getfixturevalue("enforce_iam"))
    if request.param == "azure":
        return AzurePeer(request.getfixturevalue("azure_peer"))
    return GcpPeer(request.getfixturevalue("gcp_peer"))


# ---- helpers -------------------------------------------------------------------------------------


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def now_s() -> datetime:
    return datetime.fromtimestamp(int(time.time()), UTC)  # whole seconds keep windows readable


def drain(conn: Any, cursors: dict[str, Any], now: datetime) -> list[Batch]:
    return list(conn.fetch(cursors, now))


def messages(batches: list[Batch]) -> list[str]:
    return sorted(str(e.message) for b in batches for e in b.events)


def final_cursors(batches: list[Batch]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for b in batches:
        merged.update(b.cursors)
    return merged


def db_key(event: Any, now: datetime) -> tuple[str, datetime]:
    """The database's unique key of an event (the connection is fixed): dedupe_key and normalized ts."""
    normalized = normalize(event, now=now)
    return normalized.dedupe_key, normalized.ts


# ---- the contract --------------------------------------------------------------------------------


def test_reads_the_window_and_moves_the_cursor_to_now_minus_settle(peer: Any) -> None:
    t = now_s()
    peer.seed([("old", t - timedelta(seconds=500)), ("a", t - timedelta(seconds=50)), ("b", t - timedelta(seconds=20))])
    batches = drain(peer.make(), peer.cursors(t - timedelta(seconds=60)), t)
    assert "a" in messages(batches) and "b" in messages(batches) and "old" not in messages(batches)
    assert final_cursors(batches) == peer.cursors(t)
    assert batches[-1].cursors  # the batch that completes the window carries the cursor


def test_late_events_inside_the_overlap_are_read_on_the_next_poll(peer: Any) -> None:
    t = now_s()
    peer.seed([("first", t - timedelta(seconds=50)), ("second", t - timedelta(seconds=30))])
    conn = peer.make()
    poll1 = drain(conn, peer.cursors(t - timedelta(seconds=60)), t)
    assert messages(poll1) == ["first", "second"]

    peer.seed([("late", t - timedelta(seconds=40))])  # visible only now, behind the cursor but inside the overlap
    poll2 = drain(conn, final_cursors(poll1), t + timedelta(seconds=5))

    assert messages(poll2) == ["first", "late", "second"]
    keys1 = {e.message: db_key(e, t) for b in poll1 for e in b.events}
    keys2 = {e.message: db_key(e, t) for b in poll2 for e in b.events}
    assert keys2["first"] == keys1["first"] and keys2["second"] == keys1["second"]  # repeats collapse in the store
    assert final_cursors(poll2) == peer.cursors(t + timedelta(seconds=5))


def assert_cursor_never_runs_ahead(peer: Any, seeded: list[tuple[str, datetime]], batches: list[Batch]) -> None:
    """When a batch carries a cursor, every seeded event at or before it has been yielded (no overlap needed)."""
    seen: set[str] = set()
    for batch in batches:
        seen.update(str(e.message) for e in batch.events)
        if batch.cursors:
            hw = peer.hw_of(batch.cursors)
            assert {m for m, at in seeded if at <= hw} <= seen, f"cursor {batch.cursors} ran ahead of its events"


def spread(prefix: str, count: int, t: datetime) -> list[tuple[str, datetime]]:
    """Events over the last 15 minutes: far wider than the overlap, so a cursor that runs ahead loses some."""
    return [(f"{prefix}{i:02}", t - timedelta(seconds=900 - 60 * i)) for i in range(count)]


def test_small_pages_are_all_followed(peer: Any) -> None:
    t = now_s()
    seeded = spread("e", 15, t)
    peer.seed(seeded)
    batches = drain(peer.make(**peer.small_pages), peer.cursors(t - timedelta(seconds=1000)), t)
    assert messages(batches) == [m for m, _ in seeded]
    assert len(batches) >= 5 and all(len(b.events) <= 3 for b in batches)
    assert len({db_key(e, t) for b in batches for e in b.events}) == 15
    assert final_cursors(batches) == peer.cursors(t)
    assert_cursor_never_runs_ahead(peer, seeded, batches)


def test_restart_mid_batch_loads_every_event_exactly_once(peer: Any) -> None:
    t = now_s()
    seeded = spread("r", 15, t)
    expected = [m for m, _ in seeded]
    peer.seed(seeded)
    start = peer.cursors(t - timedelta(seconds=1000))
    store: dict[tuple[str, datetime], str] = {}
    committed = dict(start)

    fetch = peer.make(**peer.small_pages).fetch(committed, t)
    for _ in range(2):  # a crash after two committed batches: the generator is dropped halfway
        batch = next(fetch)
        store.update({db_key(e, t): str(e.message) for e in batch.events})
        committed.update(batch.cursors)
    fetch.close()

    for batch in peer.make(**peer.small_pages).fetch(committed, t):  # a fresh worker resumes from the cursors
        store.update({db_key(e, t): str(e.message) for e in batch.events})
        committed.update(batch.cursors)

    assert sorted(store.values()) == expected  # nothing lost, and one key per event: nothing doubled
    assert committed == peer.cursors(t)


def test_throttling_backs_off_then_succeeds(peer: Any) -> None:
    t = now_s()
    peer.seed([("through", t - timedelta(seconds=10))])
    conn = peer.make()
    peer.throttle(conn, FAST_BACKOFF.retries)
    assert messages(drain(conn, peer.cursors(t - timedelta(seconds=60)), t)) == ["through"]


def test_persistent_throttling_raises_throttled_error_without_moving_the_cursor(peer: Any) -> None:
    t = now_s()
    peer.seed([("never", t - timedelta(seconds=10))])
    conn = peer.make()
    peer.throttle(conn, 1000)
    got: list[Batch] = []
    with pytest.raises(ThrottledError) as info:
        for batch in conn.fetch(peer.cursors(t - timedelta(seconds=60)), t):
            got.append(batch)
    assert info.value.status == "throttled" and final_cursors(got) == {}


def test_bad_credentials_are_an_auth_error_and_fail_the_test(peer: Any) -> None:
    t = now_s()
    peer.seed([("x", t - timedelta(seconds=10))])
    conn = peer.bad_credentials()
    with pytest.raises(AuthError) as info:
        drain(conn, peer.cursors(t - timedelta(seconds=60)), t)
    assert BAD_SECRET not in str(info.value)
    result = peer.bad_credentials().test()
    assert not result.ok and result.message and BAD_SECRET not in result.message
    assert result.details["error"] == "AuthError"


def test_partial_results_never_advance_the_cursor(peer: Any) -> None:
    t = now_s()
    peer.seed([(f"p{i}", t - timedelta(seconds=50 - i)) for i in range(5)])
    conn = peer.make(**peer.small_pages)
    peer.partial(conn)
    got: list[Batch] = []
    with pytest.raises(ConnectorError):
        for batch in conn.fetch(peer.cursors(t - timedelta(seconds=60)), t):
            got.append(batch)
    assert final_cursors(got) == {}


def test_bad_payloads_still_yield_events_with_stable_keys(peer: Any) -> None:
    t = now_s()
    expected = peer.seed_bad(t - timedelta(seconds=10))
    conn = peer.make()
    first = [e for b in drain(conn, peer.cursors(t - timedelta(seconds=60)), t) for e in b.events]
    again = [e for b in drain(conn, peer.cursors(t - timedelta(seconds=60)), t) for e in b.events]
    assert len(first) == expected
    keys = {db_key(e, t) for e in first}
    assert len(keys) == expected and keys == {db_key(e, t) for e in again}
    for event in first:
        stored = normalize(event, now=t)
        assert "\x00" not in stored.message and len(stored.message.encode()) <= 32_768
        json.dumps(stored.attributes)  # storable as jsonb
    assert any(normalize(e, now=t).attributes.get("_loglytics", {}).get("truncated") for e in first)
