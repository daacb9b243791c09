"""CloudWatch Logs connector against a real moto server through the real boto3 (no SDK mocks).

Faults moto cannot produce (throttling, odd pages) are injected with botocore event hooks on the
connector's own client, so botocore's retry and parsing code still runs.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from pydantic import ValidationError

from core.connectors import registry
from core.connectors.aws_cloudwatch import CloudWatchConnector, CloudWatchOptions, CloudWatchSecret, to_raw_event
from core.connectors.base import Batch
from core.connectors.ratelimit import BackoffPolicy
from core.errors import AuthError, BadConfigError, ThrottledError, UnavailableError
from tests.peers.cloudwatch import REGION, logs, put  # noqa: F401 - logs is a fixture

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aws"
FAST_BACKOFF = BackoffPolicy(retries=2, base_s=0.01, cap_s=0.02, max_wait_s=1.0)
NO_SDK_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=1, read_timeout=5)


# ---- helpers -------------------------------------------------------------------------------------


def now_ms() -> int:
    return int(time.time() * 1000) // 1000 * 1000  # whole seconds keep the window arithmetic readable


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def key_id() -> str:
    return "AKIA" + uuid.uuid4().hex[:16].upper()  # a fresh rate-limit bucket per connector


def connector(moto: str, secret: CloudWatchSecret | None = None, config: Config | None = None, **opts: Any):
    options = {"region": REGION, "endpoint_url": moto, "requests_per_s": 500, **opts}
    if "log_groups" not in opts and "log_group_prefix" not in opts:
        options["log_groups"] = ["/app/a"]
    secret = secret or CloudWatchSecret(access_key_id=key_id(), secret_access_key="testing")
    conn = CloudWatchConnector(CloudWatchOptions(**options), secret, config=config)
    conn.backoff = FAST_BACKOFF
    return conn




def drain(conn: CloudWatchConnector, cursors: dict[str, Any], now: int) -> list[Batch]:
    return list(conn.fetch(cursors, at(now)))


def messages(batches: list[Batch]) -> list[str]:
    return sorted(str(e.message) for b in batches for e in b.events)


def final_cursors(batches: list[Batch]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for b in batches:
        merged.update(b.cursors)
    return merged


def aws_error(request: Any, code: str, status: int = 400, headers: dict[str, str] | None = None) -> AWSResponse:
    class Raw:
        def stream(self, **_: Any):
            yield json.dumps({"__type": code, "message": f"injected {code}"}).encode()

    hdrs = {"Content-Type": "application/x-amz-json-1.1", **(headers or {})}
    return AWSResponse(request.url, status, hdrs, Raw())


def inject(conn: CloudWatchConnector, operation: str, respond: Callable[[Any, int], AWSResponse | None]) -> list[int]:
    """Hook ``respond(request, n)`` in front of moto for one operation; returns the list of call numbers seen."""
    seen: list[int] = []

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        seen.append(len(seen) + 1)
        return respond(request, len(seen))

    conn.client.meta.events.register(f"before-send.cloudwatch-logs.{operation}", hook)
    return seen


def free_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- options and secret --------------------------------------------------------------------------


def test_options_need_exactly_one_of_groups_or_prefix() -> None:
    ok = registry.validate_options("aws", {"region": REGION, "log_groups": ["/a", "/a", "/b"]})
    assert ok.log_groups == ["/a", "/b"]
    assert (ok.overlap_s, ok.settle_s, ok.poll_interval_s, ok.page_limit, ok.requests_per_s) == (120, 2, 5, 10000, 5)
    for bad in ({}, {"log_groups": []}, {"log_groups": ["/a"], "log_group_prefix": "/a"}):
        with pytest.raises(ValidationError, match="exactly one of log_groups"):
            CloudWatchOptions(region=REGION, **bad)
    for bad in ({"page_limit": 0}, {"page_limit": 10001}, {"poll_interval_s": 0.5}, {"unknown": 1},
                {"log_groups": ["bad name*"]}, {"endpoint_url": "localhost:4566"}, {"region": ""}):  # fmt: skip
        with pytest.raises(ValidationError):
            CloudWatchOptions(**{"region": REGION, "log_groups": ["/a"], **bad})


def test_secret_combinations_and_no_leak_in_repr() -> None:
    assert registry.validate_secret("aws", None) is None
    CloudWatchSecret()
    CloudWatchSecret(profile="prod")
    CloudWatchSecret(role_arn="arn:aws:iam::123456789012:role/reader", external_id="x-1")
    CloudWatchSecret(access_key_id="AKIAEXAMPLE12345", secret_access_key="s3cr3t", session_token="tok3n")
    for bad in (
        {"access_key_id": "AKIAEXAMPLE12345"},
        {"secret_access_key": "s3cr3t"},
        {"session_token": "tok3n"},
        {"profile": "p", "access_key_id": "AKIAEXAMPLE12345", "secret_access_key": "s"},
        {"external_id": "x"},
        {"role_arn": "arn:aws:iam::12:user/bob"},
        {"password": "x"},
    ):
        with pytest.raises(ValidationError):
            CloudWatchSecret(**bad)
    secret = CloudWatchSecret(access_key_id="AKIAEXAMPLE12345", secret_access_key="s3cr3t", session_token="tok3n")
    assert "s3cr3t" not in repr(secret) and "tok3n" not in repr(secret) and "s3cr3t" not in str(secret)


def test_provider_is_registered() -> None:
    assert registry.connector_class("aws") is CloudWatchConnector
    assert CloudWatchConnector.Options is CloudWatchOptions and CloudWatchConnector.Secret is CloudWatchSecret


# ---- mapping (pure, recorded payloads) -----------------------------------------------------------


def test_mapping_of_a_recorded_moto_payload() -> None:
    doc = json.loads((FIXTURES / "filter_log_events_moto.json").read_text())
    group, fetched = doc["logGroupName"], datetime(2026, 1, 1, tzinfo=UTC)
    raw = [to_raw_event(group, e, fetched) for page in doc["pages"] for e in page["events"]]
    first = raw[0]
    assert first.dedupe_key == "0"
    assert first.ts == datetime.fromtimestamp(1795772960001 / 1000, UTC) and first.ts.tzinfo is UTC
    assert first.received_at == datetime.fromtimestamp(1795773020007 / 1000, UTC)
    assert first.source == "/app/checkout/web-1"
    assert first.message == "INFO order 1041 accepted"
    assert first.attributes == {"aws": {"log_group": "/app/checkout", "log_stream": "web-1", "event_id": "0"}}
    assert [r.dedupe_key for r in raw] == ["0", "2", "1"]


def test_mapping_of_aws_shaped_edge_cases() -> None:
    doc = json.loads((FIXTURES / "filter_log_events_aws_shape.json").read_text())
    group, fetched = doc["logGroupName"], datetime(2026, 1, 1, tzinfo=UTC)
    assert doc["pages"][0]["events"] == [] and doc["pages"][0]["nextToken"]
    start, nul, absurd, no_ingest, no_id = (to_raw_event(group, e, fetched) for e in doc["pages"][1]["events"])
    assert start.dedupe_key == "38291467562801748291029384756102938475610293847561029384"
    assert start.source.startswith("/aws/lambda/ingest/2026/11/27/[$LATEST]")
    assert nul.message == "binary\x00payload"  # kept as is: the normalizer repairs
    assert absurd.ts is None and absurd.received_at == datetime.fromtimestamp(1795773001.470, UTC)
    assert no_ingest.received_at == fetched
    assert no_id.dedupe_key.startswith("sha256:")
    assert no_id.dedupe_key == to_raw_event(group, doc["pages"][1]["events"][4], fetched).dedupe_key


# ---- fetch semantics -----------------------------------------------------------------------------


def test_several_groups_and_streams_out_of_order_across_batches(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/app/a", "s2", [(t - 30_000, "a-s2-late"), (t - 29_000, "a-s2-later")])
    put(logs, "/app/a", "s1", [(t - 50_000, "a-s1-early"), (t - 10_000, "a-s1-new")])
    put(logs, "/app/a", "s1", [(t - 40_000, "a-s1-older-batch")])  # older than the previous batch
    put(logs, "/app/b", "x", [(t - 20_000, "b-x")])
    conn = connector(moto, log_groups=["/app/a", "/app/b"])
    cursors = {"/app/a": {"hw_ms": t - 60_000}, "/app/b": {"hw_ms": t - 60_000}}

    batches = drain(conn, cursors, t)

    assert messages(batches) == sorted(["a-s2-late", "a-s2-later", "a-s1-early", "a-s1-new", "a-s1-older-batch", "b-x"])
    assert final_cursors(batches) == {"/app/a": {"hw_ms": t - 2000}, "/app/b": {"hw_ms": t - 2000}}
    by_msg = {e.message: e for b in batches for e in b.events}
    assert by_msg["b-x"].source == "/app/b/x" and by_msg["b-x"].ts == at(t - 20_000)
    assert by_msg["a-s1-new"].attributes["aws"]["log_stream"] == "s1"
    assert len({e.dedupe_key for e in by_msg.values()}) == 6
    for b in batches:  # a cursor arrives with or after its group's events, never before
        if b.cursors:
            group = next(iter(b.cursors))
            assert all(e.source.startswith(group + "/") for e in b.events)


def test_new_connection_starts_near_live(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/app/a", "s", [(t - 600_000, "history"), (t - 119_000, "inside overlap"), (t - 1_000, "unsettled")])
    batches = drain(connector(moto), {}, t)
    assert messages(batches) == ["inside overlap"]
    assert final_cursors(batches) == {"/app/a": {"hw_ms": t - 2000}}


def test_late_event_is_read_again_inside_the_overlap(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/app/a", "s", [(t - 50_000, "first"), (t - 30_000, "second")])
    conn = connector(moto)
    poll1 = drain(conn, {"/app/a": {"hw_ms": t - 60_000}}, t)
    cursors = final_cursors(poll1)
    assert messages(poll1) == ["first", "second"]

    put(logs, "/app/a", "other-stream", [(t - 40_000, "late")])  # written after poll 1, stamped before it
    poll2 = drain(conn, cursors, t + 5_000)

    assert messages(poll2) == ["first", "late", "second"]  # overlap re-reads: the store's unique key absorbs repeats
    keys1 = {e.message: e.dedupe_key for b in poll1 for e in b.events}
    keys2 = {e.message: e.dedupe_key for b in poll2 for e in b.events}
    assert keys2["first"] == keys1["first"] and keys2["second"] == keys1["second"]
    assert keys2["late"] not in keys1.values()
    assert final_cursors(poll2) == {"/app/a": {"hw_ms": t + 3000}}


def test_pagination_follows_every_page_and_sets_the_cursor_on_the_last_batch_only(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/app/a", "s1", [(t - 50_000 + i * 1000, f"s1-{i:02}") for i in range(10)])
    put(logs, "/app/a", "s2", [(t - 49_500 + i * 1000, f"s2-{i:02}") for i in range(10)])
    conn = connector(moto, page_limit=3)
    calls = inject(conn, "FilterLogEvents", lambda request, n: None)

    batches = drain(conn, {"/app/a": {"hw_ms": t - 60_000}}, t)

    assert len(calls) == 7 and [len(b.events) for b in batches] == [3, 3, 3, 3, 3, 3, 2]
    assert len({e.dedupe_key for b in batches for e in b.events}) == 20
    assert [b.cursors for b in batches[:-1]] == [{}] * 6
    assert batches[-1].cursors == {"/app/a": {"hw_ms": t - 2000}}


def test_an_empty_page_with_a_token_is_not_the_end(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/app/a", "s", [(t - 10_000, "after the empty page")])
    conn = connector(moto)

    def empty_page_first(request: Any, n: int) -> AWSResponse | None:
        if n > 1:
            return None
        raw = json.dumps({"events": [], "searchedLogStreams": [], "nextToken": "FAKE-TOKEN"}).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(raw))

    def drop_fake_token(params: dict[str, Any], **_: Any) -> None:
        assert params.get("nextToken", "FAKE-TOKEN") == "FAKE-TOKEN"
        params.pop("nextToken", None)  # moto does not know our token: let it serve the first real page

    calls = inject(conn, "FilterLogEvents", empty_page_first)
    conn.client.meta.events.register("before-parameter-build.cloudwatch-logs.FilterLogEvents", drop_fake_token)
    batches = drain(conn, {"/app/a": {"hw_ms": t - 60_000}}, t)

    assert len(calls) == 2
    assert [len(b.events) for b in batches] == [1]  # the empty page yields nothing and carries no cursor
    assert batches[-1].cursors == {"/app/a": {"hw_ms": t - 2000}}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any):
        yield self.body


def test_log_group_prefix_is_resolved_on_every_poll(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/svc/api", "s", [(t - 10_000, "api")])
    put(logs, "/svc/worker", "s", [(t - 10_000, "worker")])
    put(logs, "/other/api", "s", [(t - 10_000, "not matched")])
    conn = connector(moto, log_group_prefix="/svc/")
    start = {"/svc/api": {"hw_ms": t - 60_000}, "/svc/worker": {"hw_ms": t - 60_000}}

    poll1 = drain(conn, start, t)
    assert messages(poll1) == ["api", "worker"]
    assert set(final_cursors(poll1)) == {"/svc/api", "/svc/worker"}

    put(logs, "/svc/new", "s", [(t + 1_000, "new group")])
    poll2 = drain(conn, final_cursors(poll1), t + 10_000)
    assert set(final_cursors(poll2)) == {"/svc/api", "/svc/worker", "/svc/new"}
    assert "new group" in messages(poll2)  # a new group starts at now - overlap, which covers it


def test_settle_boundary_is_exclusive_and_read_on_the_next_poll(moto: str, logs) -> None:
    t = now_ms()
    end = t - 2000
    put(logs, "/app/a", "s", [(end - 1, "just before end"), (end, "exactly at end")])
    conn = connector(moto)

    poll1 = drain(conn, {"/app/a": {"hw_ms": t - 60_000}}, t)
    assert messages(poll1) == ["just before end"]
    assert final_cursors(poll1) == {"/app/a": {"hw_ms": end}}

    poll2 = drain(conn, final_cursors(poll1), t + 1000)
    assert messages(poll2) == ["exactly at end", "just before end"]


def test_stream_prefix_and_filter_pattern_are_passed(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/app/a", "web-1", [(t - 10_000, "ERROR web broke"), (t - 9_000, "INFO web fine")])
    conn = connector(moto, log_stream_prefix="web-", filter_pattern="ERROR", page_limit=7)
    sent: list[dict[str, Any]] = []
    inject(conn, "FilterLogEvents", lambda req, n: sent.append(json.loads(req.body)))
    assert messages(drain(conn, {"/app/a": {"hw_ms": t - 60_000}}, t)) == ["ERROR web broke"]
    # moto 5.2.5 ignores logStreamNamePrefix (AWS honours it), so check the request itself.
    assert sent == [{
        "logGroupName": "/app/a", "startTime": t - 180_000, "endTime": t - 2001, "limit": 7, "interleaved": True,
        "logStreamNamePrefix": "web-", "filterPattern": "ERROR",
    }]  # fmt: skip


def test_nothing_to_read_when_the_window_is_empty(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/app/a", "s", [(t - 10_000, "x")])
    conn = connector(moto, overlap_s=0, settle_s=5)
    calls = inject(conn, "FilterLogEvents", lambda request, n: None)
    assert drain(conn, {"/app/a": {"hw_ms": t}}, t) == []  # end <= start: skipped, cursor unchanged
    assert drain(conn, {}, t) == [Batch([], {"/app/a": {"hw_ms": t - 5000}})]  # a new group starts tracking
    assert calls == []


def test_malformed_cursor_is_a_bad_config_error(moto: str, logs) -> None:
    put(logs, "/app/a", "s", [(now_ms() - 1000, "x")])
    with pytest.raises(BadConfigError, match="cursor for log group '/app/a' is malformed"):
        drain(connector(moto), {"/app/a": {"hw_ms": "yesterday"}}, now_ms())


# ---- throttling ----------------------------------------------------------------------------------


def test_throttling_is_retried_transparently_by_botocore(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/app/a", "s", [(t - 10_000, "x")])
    conn = connector(moto)  # default client config: standard retries, 4 attempts
    calls = inject(conn, "FilterLogEvents", lambda req, n: aws_error(req, "ThrottlingException") if n <= 2 else None)

    batches = drain(conn, {"/app/a": {"hw_ms": t - 60_000}}, t)

    assert len(calls) == 3
    assert messages(batches) == ["x"] and final_cursors(batches) == {"/app/a": {"hw_ms": t - 2000}}


def test_a_throttle_escaping_botocore_is_backed_off_inside_fetch(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/app/a", "s", [(t - 10_000, "x")])
    conn = connector(moto, config=NO_SDK_RETRY)
    calls = inject(conn, "FilterLogEvents", lambda req, n: aws_error(req, "RequestLimitExceeded") if n == 1 else None)
    assert messages(drain(conn, {"/app/a": {"hw_ms": t - 60_000}}, t)) == ["x"]
    assert len(calls) == 2


def test_persistent_throttling_escapes_as_throttled_error_and_only_finished_groups_move(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/app/a", "s", [(t - 10_000, "a")])
    put(logs, "/app/b", "s", [(t - 10_000, "b")])
    conn = connector(moto, log_groups=["/app/a", "/app/b"], config=NO_SDK_RETRY)

    def throttle_b(request: Any, n: int) -> AWSResponse | None:
        if json.loads(request.body)["logGroupName"] == "/app/b":
            return aws_error(request, "ThrottlingException", headers={"x-amz-retry-after": "20"})
        return None

    calls = inject(conn, "FilterLogEvents", throttle_b)
    got: list[Batch] = []
    with pytest.raises(ThrottledError, match="throttled FilterLogEvents") as info:
        for batch in conn.fetch({"/app/a": {"hw_ms": t - 60_000}, "/app/b": {"hw_ms": t - 60_000}}, at(t)):
            got.append(batch)

    assert final_cursors(got) == {"/app/a": {"hw_ms": t - 2000}}  # b did not move
    assert messages(got) == ["a"]
    assert len(calls) == 1 + 1 + FAST_BACKOFF.retries  # a once, b first try + retries
    assert info.value.status == "throttled" and info.value.retry_after_s == pytest.approx(0.02)


def test_every_call_takes_a_token_from_the_shared_bucket(moto: str, logs) -> None:
    t = now_ms()
    put(logs, "/app/a", "s", [(t - 10_000 + i, f"e{i}") for i in range(16)])
    secret = CloudWatchSecret(access_key_id=key_id(), secret_access_key="testing")
    slow = connector(moto, secret=secret, requests_per_s=10, page_limit=1)  # 16 calls: 10 burst, then 10/s
    other = connector(moto, secret=secret, requests_per_s=50)  # same account and region: same bucket
    assert other._bucket is slow._bucket and slow._bucket.rate == 10
    started = time.monotonic()
    assert len(messages(drain(slow, {"/app/a": {"hw_ms": t - 60_000}}, t))) == 16
    assert time.monotonic() - started >= 0.5


# ---- errors at the edge --------------------------------------------------------------------------


def test_bad_credentials_are_an_auth_error(moto: str, logs, enforce_iam) -> None:
    put(logs, "/app/a", "s", [(now_ms() - 1000, "x")])
    enforce_iam()
    secret = CloudWatchSecret(access_key_id=key_id(), secret_access_key="super-secret-value")
    conn = connector(moto, secret=secret, config=NO_SDK_RETRY)

    with pytest.raises(AuthError, match="rejected the credentials") as info:
        drain(conn, {}, now_ms())
    assert "super-secret-value" not in str(info.value)

    result = conn.test()
    assert not result.ok and "rejected the credentials" in result.message
    assert "super-secret-value" not in result.message


def test_wrong_secret_for_a_known_key_is_an_auth_error(moto: str, logs, enforce_iam) -> None:
    iam = boto3.client("iam", endpoint_url=moto, region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
    iam.create_user(UserName="reader")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    enforce_iam()
    conn = connector(moto, CloudWatchSecret(access_key_id=key["AccessKeyId"], secret_access_key="wrong"), NO_SDK_RETRY)
    with pytest.raises(AuthError, match="rejected the credentials.*SignatureDoesNotMatch"):
        drain(conn, {"/app/a": {"hw_ms": now_ms() - 60_000}}, now_ms())


def test_missing_permission_names_the_permission(moto: str, logs, enforce_iam) -> None:
    put(logs, "/app/a", "s", [(now_ms() - 1000, "x")])
    iam = boto3.client("iam", endpoint_url=moto, region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
    iam.create_user(UserName="describer")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="describer", PolicyName="describe-only", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="describer")["AccessKey"]
    enforce_iam()
    secret = CloudWatchSecret(access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"])
    conn = connector(moto, secret, NO_SDK_RETRY)

    with pytest.raises(AuthError, match="lack permission logs:FilterLogEvents"):
        drain(conn, {"/app/a": {"hw_ms": now_ms() - 60_000}}, now_ms())
    result = conn.test()
    assert not result.ok and "lack permission logs:FilterLogEvents" in result.message
    assert result.details["status"] == "error"


def test_injected_auth_error_codes_are_mapped(moto: str, logs) -> None:
    put(logs, "/app/a", "s", [(now_ms() - 1000, "x")])
    cases = {
        "UnrecognizedClientException": "rejected the credentials",
        "ExpiredTokenException": "expired",
        "AccessDeniedException": "lack permission logs:FilterLogEvents",
    }
    for code, text in cases.items():
        conn = connector(moto, config=NO_SDK_RETRY)
        inject(conn, "FilterLogEvents", lambda req, n, code=code: aws_error(req, code))
        with pytest.raises(AuthError, match=text):
            drain(conn, {"/app/a": {"hw_ms": now_ms() - 60_000}}, now_ms())


def test_server_errors_and_invalid_parameters_are_mapped(moto: str, logs) -> None:
    put(logs, "/app/a", "s", [(now_ms() - 1000, "x")])
    conn = connector(moto, config=NO_SDK_RETRY)
    inject(conn, "FilterLogEvents", lambda req, n: aws_error(req, "ServiceUnavailableException", 503))
    with pytest.raises(UnavailableError, match="server error"):
        drain(conn, {}, now_ms())
    conn = connector(moto, config=NO_SDK_RETRY)
    inject(conn, "FilterLogEvents", lambda req, n: aws_error(req, "InvalidParameterException"))
    with pytest.raises(BadConfigError, match="check the options"):
        drain(conn, {}, now_ms())


def test_missing_log_group_is_bad_config(moto: str, logs) -> None:
    put(logs, "/app/a", "s", [(now_ms() - 1000, "x")])
    conn = connector(moto, log_groups=["/app/a", "/app/missing"])
    got: list[Batch] = []
    with pytest.raises(BadConfigError, match="log group '/app/missing' does not exist in region us-east-1"):
        for batch in conn.fetch({}, at(now_ms())):
            got.append(batch)
    assert set(final_cursors(got)) == {"/app/a"}

    result = conn.test()
    assert not result.ok and result.message == "log group '/app/missing' does not exist in region us-east-1"


def test_test_succeeds_and_reports_groups(moto: str, logs) -> None:
    put(logs, "/svc/a", "s", [(now_ms() - 1000, "x")])
    put(logs, "/svc/b", "s", [(now_ms() - 1000, "y")])
    result = connector(moto, log_group_prefix="/svc/").test()
    assert result.ok and result.details["log_groups"] == ["/svc/a", "/svc/b"]
    assert "2 log group(s)" in result.message

    empty = connector(moto, log_group_prefix="/nothing/").test()
    assert not empty.ok and "no log group starts with '/nothing/'" in empty.message


def test_unreachable_endpoint_is_unavailable_fast(moto: str) -> None:
    dead = f"http://127.0.0.1:{free_closed_port()}"
    conn = connector(moto, endpoint_url=dead)  # default retries: refused connections back off from 50 ms
    started = time.monotonic()
    with pytest.raises(UnavailableError, match=f"could not reach {dead}"):
        drain(conn, {}, now_ms())
    result = conn.test()
    assert not result.ok and result.details["error"] == "UnavailableError"
    assert time.monotonic() - started < 5


def test_missing_profile_is_bad_config_in_test(moto: str) -> None:
    conn = connector(moto, secret=CloudWatchSecret(profile="nope"))
    result = conn.test()
    assert not result.ok and "profile 'nope' is not configured" in result.message


# ---- credentials ---------------------------------------------------------------------------------


def test_role_is_assumed_through_sts(moto: str, logs, monkeypatch: pytest.MonkeyPatch) -> None:
    t = now_ms()
    put(logs, "/app/a", "s", [(t - 10_000, "via role")])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASOURCE0000000001")  # the default chain supplies the source identity
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "source-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto)
    secret = CloudWatchSecret(role_arn="arn:aws:iam::123456789012:role/log-reader", external_id="ext-42")
    conn = connector(moto, secret=secret)

    assert messages(drain(conn, {"/app/a": {"hw_ms": t - 60_000}}, t)) == ["via role"]
    creds = conn.client._request_signer._credentials
    assert creds.method == "assume-role"
    assert creds.get_frozen_credentials().access_key != "AKIASOURCE0000000001"
    assert conn._quota_key() == "aws:123456789012:us-east-1"


def test_default_chain_without_credentials_is_an_auth_error(moto: str) -> None:
    result = connector(moto, secret=CloudWatchSecret(), config=NO_SDK_RETRY).test()
    assert not result.ok and "no AWS credentials found" in result.message


def test_close_closes_the_client(moto: str, logs) -> None:
    conn = connector(moto)
    client = conn.client
    conn.close()
    assert "client" not in conn.__dict__
    conn.close()  # idempotent
    assert client is not conn.client  # a later use builds a fresh client
