"""Google Cloud Logging specifics through the real google-cloud-logging/google-auth against the REST fake.

The shared semantics are in test_contract.py; this file covers what only Google has: the filter the
connector emits (and the client's hidden 24-hour filter it suppresses), nanosecond timestamps,
empty pages with tokens, the per-project budget, payload and severity mapping.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from core.connectors import registry
from core.connectors.base import Batch
from core.connectors.gcp_logging import GcpLoggingConnector, GcpOptions, GcpSecret
from core.connectors.gcp_mapping import (
    entry_to_raw_event,
    format_nanos,
    nanos_to_datetime,
    parse_nanos,
    resource_source,
    to_nanos,
)
from core.connectors.ratelimit import BackoffPolicy
from core.errors import AuthError, BadConfigError, ThrottledError, UnavailableError
from core.levels import ERROR, NOTICE, WARNING
from core.normalize import normalize
from tests.peers.gcp_logging import EMAIL, PROJECT, GcpServer, gcp_options, gcp_secret, nanos, rfc3339

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gcp"
FAST_BACKOFF = BackoffPolicy(retries=2, base_s=0.01, cap_s=0.02, max_wait_s=1.0)
NOW = datetime(2024, 4, 12, 10, 5, tzinfo=UTC)
PART = f"projects/{PROJECT}"


@pytest.fixture
def secret(gcp_peer: GcpServer) -> dict[str, Any]:
    return gcp_secret(gcp_peer)


def connector(server: GcpServer, secret: dict[str, Any] | None, **opts: Any) -> GcpLoggingConnector:
    conn = GcpLoggingConnector(GcpOptions(**gcp_options(server, **opts)), GcpSecret(**secret) if secret else None)
    conn.backoff = FAST_BACKOFF
    return conn


def now_s() -> datetime:
    return datetime.fromtimestamp(int(time.time()), UTC)


def cursor_at(at: datetime | int) -> dict[str, Any]:
    return {PART: {"rt_hw": format_nanos(at if isinstance(at, int) else to_nanos(at))}}


def drain(conn: GcpLoggingConnector, cursors: dict[str, Any], now: datetime) -> list[Batch]:
    return list(conn.fetch(cursors, now))


def messages(batches: list[Batch]) -> list[str]:
    return sorted(str(e.message) for b in batches for e in b.events)


def final(batches: list[Batch]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for b in batches:
        merged.update(b.cursors)
    return merged


def log(server: GcpServer, text: str, received: datetime | int, *, age_s: float = 2, **extra: Any) -> None:
    stamp = rfc3339(nanos(received) - round(age_s * 1e9))
    server.fake.add([{"timestamp": stamp, "textPayload": text, **extra}], received)


def page(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


# ---- options and secret --------------------------------------------------------------------------


def test_options_defaults_and_validation() -> None:
    ok = registry.validate_options("gcp", {"project_id": "shop-prod"})
    assert ok.names == ["projects/shop-prod"]
    assert (ok.poll_interval_s, ok.overlap_s, ok.settle_s, ok.page_size, ok.requests_per_s, ok.max_late_s) == (
        15,
        120,
        60,
        1000,
        1,
        86400,
    )
    names = ["organizations/123", "projects/a-b/locations/global/buckets/_Default/views/_AllLogs", "organizations/123"]
    assert GcpOptions(resource_names=names).names == names[:2]
    for bad in (
        {},
        {"project_id": "Bad_Project"},
        {"resource_names": ["project/x"]},
        {"page_size": 1001},
        {"project_id": "p-1", "api_endpoint": "localhost:8080"},
        {"project_id": "p-1", "unknown": 1},
    ):
        with pytest.raises(ValidationError):
            GcpOptions(**bad)


def test_secret_validation_and_no_leak(gcp_peer: GcpServer) -> None:
    info = gcp_peer.fake.service_account()
    secret = GcpSecret(service_account_json=json.dumps(info))
    assert secret.info["client_email"] == EMAIL
    assert info["private_key"][40:80] not in repr(secret) and "PRIVATE KEY" not in str(secret)
    for bad in ("not json", json.dumps({"type": "authorized_user"}), json.dumps({**info, "private_key": ""})):
        with pytest.raises(ValidationError, match="service_account_json"):
            GcpSecret(service_account_json=bad)
    assert registry.connector_class("gcp") is GcpLoggingConnector


# ---- mapping (pure, recorded payloads) ----------------------------------------------------------


def test_rfc3339_at_nanosecond_precision() -> None:
    ns = parse_nanos("2024-04-12T10:00:02.345678901Z")
    assert format_nanos(ns) == "2024-04-12T10:00:02.345678901Z"
    assert parse_nanos("2024-04-12T10:00:02.5Z") == parse_nanos("2024-04-12T10:00:02.500000000Z")
    assert parse_nanos("2024-04-12T12:00:02+02:00") == parse_nanos("2024-04-12T10:00:02Z")
    assert nanos_to_datetime(ns) == datetime(2024, 4, 12, 10, 0, 2, 345678, tzinfo=UTC)
    assert to_nanos(datetime(2024, 4, 12, 10, 0, 2, 345678, tzinfo=UTC)) == ns - 901
    assert parse_nanos("2024-04-12") is None and parse_nanos(None) is None


def test_recorded_entries_map_payloads_severity_resource_and_trace() -> None:
    text, json_entry, audit = (entry_to_raw_event(e, NOW) for e in page("entries_list_page1.json")["entries"])
    assert text.dedupe_key == "projects/shop-prod|2024-04-12T10:00:02.345678901Z|1x2y3z4a5b6c7d"
    assert text.ts == datetime(2024, 4, 12, 10, 0, 2, 345678, tzinfo=UTC)
    assert text.received_at == datetime(2024, 4, 12, 10, 0, 3, 12345, tzinfo=UTC)
    assert text.source == "k8s_container/prod-eu/checkout/checkout-7d9f8c6b5-x2x9z/app"
    assert text.level_hint == "ERROR" and normalize(text, now=NOW).level == ERROR
    assert normalize(text, now=NOW).trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert (
        text.attributes["gcp"]["labels"] == {"k8s-pod/app": "checkout"}
        and text.attributes["gcp"]["log_name"] == "stdout"
    )
    assert text.attributes["gcp"]["span_id"] == "00f067aa0ba902b7"

    stored = normalize(json_entry, now=NOW)  # jsonPayload: its fields become attributes, its message is shown
    assert stored.message == "price table reloaded" and stored.attributes["rows"] == 18233 and stored.level == NOTICE
    assert json_entry.source == "cloud_run_revision/pricing/pricing-00042-kax"
    assert json_entry.attributes["gcp"]["log_name"] == "run.googleapis.com/stderr"
    assert json_entry.attributes["gcp"]["http_request"]["status"] == 200
    assert json_entry.dedupe_key.endswith("|2024-04-12T10:00:02.500000000Z|65f1c2a8000d1e2f3a4b5c6d")

    assert audit.message == "v1.compute.instances.stop projects/shop-prod/zones/europe-west1-b/instances/web-1"
    assert audit.attributes["gcp"]["proto_payload"]["authenticationInfo"]["principalEmail"] == "ops@example.com"
    assert audit.source == "gce_instance/europe-west1-b/5123456789012345678"


def test_same_insert_id_nanoseconds_apart_are_two_events_and_missing_fields_are_tolerated() -> None:
    first = entry_to_raw_event(page("entries_list_page1.json")["entries"][0], NOW)
    retry, plain = (entry_to_raw_event(e, NOW) for e in page("entries_list_page3.json")["entries"])
    assert retry.dedupe_key != first.dedupe_key and retry.ts == first.ts  # same µs, different ns
    assert normalize(plain, now=NOW).level == WARNING  # DEFAULT severity: the payload's "level" decides
    assert plain.source == "global" and plain.level_hint is None
    bare = entry_to_raw_event({"receiveTimestamp": "2024-04-12T10:00:00Z"}, NOW)
    assert bare.dedupe_key.startswith("sha256:") and bare.message == "" and bare.ts is None
    assert bare.dedupe_key == entry_to_raw_event({"receiveTimestamp": "2024-04-12T10:00:00Z"}, NOW).dedupe_key
    odd = entry_to_raw_event({"insertId": "x", "timestamp": "garbage", "resource": "nope", "severity": ["x"]}, NOW)
    assert odd.ts is None and odd.received_at == NOW and odd.level_hint is None and odd.dedupe_key == "|garbage|x"
    assert resource_source({"type": "custom", "labels": {"b": "2", "a": "1", "project_id": "p"}}) == "custom/1/2"


# ---- the filter and the window -------------------------------------------------------------------


def test_the_emitted_request_has_explicit_bounds_and_suppresses_the_hidden_24h_filter(gcp_peer, secret) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    drain(
        connector(gcp_peer, secret, filter="severity>=WARNING", max_late_s=172_800),
        cursor_at(now - timedelta(seconds=30)),
        now,
    )
    assert gcp_peer.fake.requests[-1] == {
        "resourceNames": [PART],
        "filter": '(severity>=WARNING) AND receiveTimestamp > "2026-01-02T03:01:35.678901000Z" '
        'AND receiveTimestamp <= "2026-01-02T03:04:05.678901000Z" '
        'AND timestamp >= "2025-12-31T03:01:35.678901000Z"',
        "orderBy": "timestamp asc",
        "pageSize": 1000,
    }


def test_entries_older_than_24h_but_received_recently_are_read(gcp_peer, secret) -> None:
    t = now_s()
    log(gcp_peer, "written 30 h ago, received now", t - timedelta(seconds=10), age_s=30 * 3600)
    log(gcp_peer, "written 3 days ago", t - timedelta(seconds=10), age_s=72 * 3600)
    batches = drain(connector(gcp_peer, secret, max_late_s=48 * 3600), cursor_at(t - timedelta(seconds=60)), t)
    assert messages(batches) == ["written 30 h ago, received now"]  # the client's default would have dropped it


def test_receive_bounds_are_exact_to_the_nanosecond(gcp_peer, secret) -> None:
    now = now_s() + timedelta(microseconds=250_000)
    hi = to_nanos(now)
    log(gcp_peer, "at the bound", hi)
    log(gcp_peer, "one ns later", hi + 1)
    conn = connector(gcp_peer, secret)
    poll1 = drain(conn, cursor_at(now - timedelta(seconds=60)), now)
    assert messages(poll1) == ["at the bound"] and final(poll1) == cursor_at(hi)
    poll2 = drain(conn, final(poll1), now + timedelta(seconds=1))
    assert messages(poll2) == ["at the bound", "one ns later"]


def test_user_filter_and_new_connection_near_live(gcp_peer, secret) -> None:
    t = now_s()
    log(gcp_peer, "history", t - timedelta(seconds=300), severity="ERROR")
    log(gcp_peer, "recent error", t - timedelta(seconds=60), severity="ERROR")
    log(gcp_peer, "recent info", t - timedelta(seconds=50), severity="INFO")
    batches = drain(connector(gcp_peer, secret, filter="severity>=WARNING"), {}, t)
    assert messages(batches) == ["recent error"] and final(batches) == cursor_at(t)
    assert drain(connector(gcp_peer, secret, overlap_s=0, settle_s=5), {}, t) == [
        Batch([], cursor_at(t - timedelta(seconds=5)))
    ]


def test_empty_pages_with_a_token_are_followed_to_the_end(gcp_peer, secret) -> None:
    t = now_s()
    for i in range(5):
        log(gcp_peer, f"e{i}", t - timedelta(seconds=50 - i))
    gcp_peer.fake.empty_pages(2)
    batches = drain(connector(gcp_peer, secret, page_size=2), cursor_at(t - timedelta(seconds=60)), t)
    assert messages(batches) == [f"e{i}" for i in range(5)]
    assert len(gcp_peer.fake.requests) == 5  # 2 empty pages, then pages of 2, 2, 1
    assert [len(b.events) for b in batches] == [2, 2, 1] and [b.cursors for b in batches[:-1]] == [{}, {}]


def test_a_long_gap_is_read_in_windows_of_max_window_s(gcp_peer, secret) -> None:
    t = now_s()
    for hours in (3, 2, 1):
        log(gcp_peer, f"{hours}h ago", t - timedelta(hours=hours, seconds=-1))
    batches = drain(connector(gcp_peer, secret, max_window_s=3600, overlap_s=0), cursor_at(t - timedelta(hours=3)), t)
    assert messages(batches) == ["1h ago", "2h ago", "3h ago"]
    assert [b.cursors for b in batches] == [cursor_at(t - timedelta(hours=h)) for h in (2, 1, 0)]


def test_recorded_pages_through_the_sdk(gcp_peer, secret) -> None:
    for name in ("entries_list_page1.json", "entries_list_page2_empty.json", "entries_list_page3.json"):
        gcp_peer.fake.canned.append(page(name))
    t = now_s()
    batches = drain(connector(gcp_peer, secret), cursor_at(t - timedelta(seconds=60)), t)
    assert [len(b.events) for b in batches] == [3, 2] and batches[-1].cursors == cursor_at(t)
    sent = gcp_peer.fake.requests
    assert "pageToken" not in sent[0] and sent[1]["pageToken"] == page("entries_list_page1.json")["nextPageToken"]
    assert sent[2]["pageToken"] == page("entries_list_page2_empty.json")["nextPageToken"]
    keys = [e.dedupe_key for b in batches for e in b.events]
    assert len(set(keys)) == 5 and keys[0].endswith("|2024-04-12T10:00:02.345678901Z|1x2y3z4a5b6c7d")


def test_malformed_cursor_is_bad_config(gcp_peer, secret) -> None:
    with pytest.raises(BadConfigError, match="malformed"):
        drain(connector(gcp_peer, secret), {PART: {"rt_hw": "yesterday"}}, now_s())


# ---- budget, throttling and errors ---------------------------------------------------------------


def test_list_calls_keep_to_the_projects_budget(gcp_peer, secret) -> None:
    t = now_s()
    for i in range(6):
        log(gcp_peer, f"e{i}", t - timedelta(seconds=30 - i))
    slow = connector(gcp_peer, secret, page_size=1, requests_per_s=4)  # 6 calls: 4 at once, then 4/s
    assert connector(gcp_peer, secret)._bucket is slow._bucket and slow._bucket.rate == 4
    started = time.monotonic()
    assert len(messages(drain(slow, cursor_at(t - timedelta(seconds=60)), t))) == 6
    assert time.monotonic() - started >= 0.4


def test_resource_exhausted_is_retried_by_our_backoff_then_reported(gcp_peer, secret) -> None:
    t = now_s()
    log(gcp_peer, "after two 429s", t - timedelta(seconds=10))
    gcp_peer.fake.throttle(2)
    assert messages(drain(connector(gcp_peer, secret), cursor_at(t - timedelta(seconds=60)), t)) == ["after two 429s"]
    assert len(gcp_peer.fake.requests) == 3
    gcp_peer.fake.throttle(10)
    with pytest.raises(ThrottledError, match="RESOURCE_EXHAUSTED|Quota exceeded") as info:
        drain(connector(gcp_peer, secret), cursor_at(t - timedelta(seconds=60)), t)
    assert "gave up after 3 attempt(s)" in str(info.value)


def test_api_errors_are_mapped(gcp_peer, secret) -> None:
    with pytest.raises(AuthError, match="roles/logging.viewer"):
        drain(connector(gcp_peer, secret, project_id="other-project"), {}, now_s())
    with pytest.raises(BadConfigError, match="check the filter.*Unparseable"):
        drain(connector(gcp_peer, secret, filter="jsonPayload.x =~ 'y'"), {}, now_s())
    gcp_peer.fake.fail_call(1, 500)
    with pytest.raises(UnavailableError, match="server error"):
        drain(connector(gcp_peer, secret), {}, now_s())
    gcp_peer.fake.reject_tokens = True
    with pytest.raises(AuthError, match="rejected the credentials"):
        drain(connector(gcp_peer, secret), {}, now_s())


def test_unreachable_endpoint_is_unavailable(gcp_peer, secret) -> None:
    conn = connector(gcp_peer, secret, api_endpoint="http://127.0.0.1:9")
    result = conn.test()
    assert not result.ok and result.details["error"] == "UnavailableError" and "127.0.0.1:9" in result.message


def test_application_default_credentials(gcp_peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(gcp_peer.fake.service_account()))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    t = now_s()
    log(gcp_peer, "via ADC", t - timedelta(seconds=10))
    assert messages(drain(connector(gcp_peer, None), cursor_at(t - timedelta(seconds=60)), t)) == ["via ADC"]
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    result = connector(gcp_peer, None).test()
    assert not result.ok and "no Google credentials found" in result.message


def test_test_reports_ok(gcp_peer, secret) -> None:
    result = connector(gcp_peer, secret).test()
    assert result.ok and result.details == {"resource_names": [PART]} and "none received" in result.message
    assert gcp_peer.fake.requests[-1]["pageSize"] == 1


def test_close_is_idempotent(gcp_peer, secret) -> None:
    conn = connector(gcp_peer, secret)
    drain(conn, {}, now_s())
    conn.close()
    conn.close()
    assert "client" not in conn.__dict__
