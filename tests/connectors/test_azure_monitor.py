"""Azure Monitor specifics through the real azure-monitor-query/azure-identity against the HTTPS fake.

The shared semantics (late events, pages, restarts, throttling, credentials, partial results, bad
payloads) are in test_contract.py; this file covers what only Azure has: column mapping, Kusto's
100 ns times, window halving, Retry-After, the query the connector emits.
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
from core.connectors.azure_mapping import (
    TABLE_DEFAULTS,
    column_map,
    format_ticks,
    parse_ticks,
    query_table,
    row_to_raw_event,
    ticks_to_datetime,
    to_ticks,
)
from core.connectors.azure_monitor import AzureMonitorConnector, AzureOptions, AzureSecret
from core.connectors.base import Batch
from core.connectors.ratelimit import BackoffPolicy
from core.errors import AuthError, BadConfigError, ConnectorError, ThrottledError, UnavailableError
from core.levels import CRITICAL, DEBUG, ERROR, INFO, NOTICE, WARNING
from core.normalize import normalize
from tests.peers.azure_monitor import (
    CLIENT_ID,
    TENANT,
    WORKSPACE,
    AzureServer,
    azure_options,
    azure_secret,
    make_certificate,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "azure"
FAST_BACKOFF = BackoffPolicy(retries=2, base_s=0.01, cap_s=0.02, max_wait_s=1.0)
NOW = datetime(2024, 4, 12, 10, 5, tzinfo=UTC)


def connector(server: AzureServer, secret: dict[str, Any] | None = None, **opts: Any) -> AzureMonitorConnector:
    conn = AzureMonitorConnector(
        AzureOptions(**azure_options(server, **opts)), AzureSecret(**(secret or azure_secret()))
    )
    conn.backoff, conn.sdk_retries = FAST_BACKOFF, 0
    return conn


def now_s() -> datetime:
    return datetime.fromtimestamp(int(time.time()), UTC)


def cursor_at(at: datetime) -> dict[str, Any]:
    return {WORKSPACE: {"it_hw": format_ticks(to_ticks(at))}}


def drain(conn: AzureMonitorConnector, cursors: dict[str, Any], now: datetime) -> list[Batch]:
    return list(conn.fetch(cursors, now))


def messages(batches: list[Batch]) -> list[str]:
    return sorted(str(e.message) for b in batches for e in b.events)


def final(batches: list[Batch]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for b in batches:
        merged.update(b.cursors)
    return merged


def trace(server: AzureServer, message: str, ingested: datetime | int, **row: Any) -> None:
    at = ticks_to_datetime(ingested) if isinstance(ingested, int) else ingested
    server.fake.add("AppTraces", [{"TimeGenerated": at - timedelta(seconds=5), "Message": message, **row}], ingested)


def fixture_rows(name: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The rows of a recorded response as the wire has them (datetimes still text)."""
    table = json.loads((FIXTURES / name).read_text())["tables"][0]
    names = [c["name"] for c in table["columns"]]
    return [dict(zip(names, r, strict=True)) for r in table["rows"]], {c["name"]: c["type"] for c in table["columns"]}


# ---- options and secret --------------------------------------------------------------------------


def test_options_defaults_and_validation() -> None:
    ok = registry.validate_options("azure", {"workspace_id": WORKSPACE.upper(), "query": " AppTraces | take 5 ;\n"})
    assert ok.workspace_id == WORKSPACE and ok.query == "AppTraces | take 5"
    assert (ok.poll_interval_s, ok.overlap_s, ok.settle_s, ok.max_rows, ok.endpoint) == (
        30,
        300,
        60,
        10_000,
        "https://api.loganalytics.io",
    )
    for bad in (
        {"workspace_id": "ws-1"},
        {"query": "AppTraces |"},
        {"query": ""},
        {"endpoint": "http://x"},
        {"level_column": "Severity Level"},
        {"source_columns": ["ok", "not ok"]},
        {"max_rows": 500_001},
        {"authority_host": "login.microsoftonline.com"},
        {"unknown": 1},
    ):
        with pytest.raises(ValidationError):
            AzureOptions(**{"workspace_id": WORKSPACE, "query": "AppTraces", **bad})


def test_secret_modes_and_no_leak() -> None:
    assert AzureSecret().mode == "default-chain"
    assert AzureSecret(managed_identity=True, client_id=CLIENT_ID).mode == "managed-identity"
    assert AzureSecret(**azure_secret()).mode == "client-secret"
    assert AzureSecret(tenant_id=TENANT, client_id=CLIENT_ID, certificate_pem="pem").mode == "certificate"
    for bad in (
        {"client_secret": "s"},
        {"tenant_id": TENANT, "client_secret": "s"},
        {**azure_secret(), "certificate_pem": "pem"},
        {"managed_identity": True, "tenant_id": TENANT},
        {"certificate_password": "p"},
        {"tenant_id": "bad tenant!", "client_id": "c", "client_secret": "s"},
    ):
        with pytest.raises(ValidationError):
            AzureSecret(**bad)
    secret = AzureSecret(**azure_secret(client_secret="top-secret-1"))
    assert "top-secret-1" not in repr(secret) and "top-secret-1" not in str(secret)


def test_provider_is_registered_and_default_credentials_build_offline() -> None:
    assert registry.connector_class("azure") is AzureMonitorConnector
    opts = AzureOptions(workspace_id=WORKSPACE, query="AppTraces")
    assert type(AzureMonitorConnector(opts, None).credential._inner).__name__ == "DefaultAzureCredential"
    managed = AzureMonitorConnector(opts, AzureSecret(managed_identity=True))
    assert type(managed.credential._inner).__name__ == "ManagedIdentityCredential"


# ---- mapping (pure, recorded payloads) ----------------------------------------------------------


def test_kusto_times_keep_100ns_ticks() -> None:
    t = parse_ticks("2024-04-12T10:00:41.9876543Z")
    assert format_ticks(t) == "2024-04-12T10:00:41.9876543Z"
    assert format_ticks(t + 1) == "2024-04-12T10:00:41.9876544Z"
    assert parse_ticks("2024-04-12T10:00:41Z") == parse_ticks("2024-04-12T10:00:41.0000000Z")
    assert parse_ticks("2024-04-12T10:00:41.987654321Z") == t  # beyond 100 ns is below Kusto's resolution
    assert ticks_to_datetime(t) == datetime(2024, 4, 12, 10, 0, 41, 987654, tzinfo=UTC)
    assert to_ticks(datetime(2024, 4, 12, 10, 0, 41, 987654, tzinfo=UTC)) == t - 3
    assert parse_ticks("yesterday") is None and parse_ticks(None) is None


def test_apptraces_columns_map_to_message_level_source_trace_and_attributes() -> None:
    rows, types = fixture_rows("query_apptraces.json")
    columns = column_map(query_table("AppTraces | where SeverityLevel >= 0"), {})
    events = [row_to_raw_event(r, columns, workspace_id=WORKSPACE, fetched_at=NOW, types=types) for r in rows]
    first = events[0]
    assert first.dedupe_key == "b1d2e3f4-0000-4000-8000-000000000001"
    assert first.ts == datetime(2024, 4, 12, 10, 0, 5, 123456, tzinfo=UTC)
    assert first.received_at == datetime(2024, 4, 12, 10, 0, 41, 987654, tzinfo=UTC)
    assert first.source == "orders-api/orders-api-7d9f-x2" and first.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert first.message == "Request starting HTTP/1.1 GET http://orders/api/orders/42"
    assert first.attributes["Properties"] == {
        "CategoryName": "Microsoft.AspNetCore.Hosting.Diagnostics",
        "RequestPath": "/api/orders/42",
    }  # dynamic JSON text is parsed
    assert first.attributes["azure"] == {
        "workspace_id": WORKSPACE,
        "table": "AppTraces",
        "item_id": "b1d2e3f4-0000-4000-8000-000000000001",
        "ingestion_time": "2024-04-12T10:00:41.9876543Z",
    }  # all 7 digits kept
    assert (
        "Message" not in first.attributes and "SeverityLevel" not in first.attributes and "_it" not in first.attributes
    )
    levels = [normalize(e, now=NOW).level for e in events]
    assert levels == [INFO, DEBUG, WARNING, ERROR, CRITICAL]  # SeverityLevel 0..4 (Verbose..Critical)
    assert events[2].trace_id is None and events[2].source == "orders-api"


def test_containerlogv2_and_syslog_defaults() -> None:
    rows, types = fixture_rows("query_containerlogv2.json")
    events = [
        row_to_raw_event(r, column_map("ContainerLogV2", {}), workspace_id=WORKSPACE, fetched_at=NOW, types=types)
        for r in rows
    ]
    assert events[0].source == "checkout/checkout-7d9f8c6b5-x2x9z/app"
    assert [e.level_hint for e in events] == ["error", "info", "warning"]
    assert events[0].message == "GET /api/cart failed: upstream connect error"
    stored = normalize(events[1], now=NOW)  # a JSON log line: the normalizer shows its msg
    assert stored.message == "cart 8812 priced" and stored.attributes["items"] == 3
    assert events[0].attributes["LogSource"] == "stderr" and events[0].attributes["Computer"].startswith("aks-")

    rows, types = fixture_rows("query_syslog.json")
    events = [
        row_to_raw_event(r, column_map("Syslog", {}), workspace_id=WORKSPACE, fetched_at=NOW, types=types) for r in rows
    ]
    assert [normalize(e, now=NOW).level for e in events] == [CRITICAL, ERROR, NOTICE, INFO]
    assert events[1].source == "vm-web-01/systemd" and events[0].message.startswith("Out of memory")
    assert "ProcessID" not in events[0].attributes and events[1].attributes["ProcessID"] == 1


def test_table_without_message_column_and_without_item_id() -> None:
    rows, types = fixture_rows("query_custom_table.json")
    assert query_table("Heartbeat_CL | where Status_s != 'ok'") == "Heartbeat_CL"
    assert query_table("let x = 1; T") is None and column_map(None, {}) == column_map("Unknown_CL", {})
    columns = column_map("Heartbeat_CL", {})
    events = [row_to_raw_event(r, columns, workspace_id=WORKSPACE, fetched_at=NOW, types=types) for r in rows]
    assert all(e.dedupe_key.startswith("sha256:") for e in events)
    assert events[0].dedupe_key == events[1].dedupe_key  # the same record read twice: _it is not part of the hash
    assert events[2].dedupe_key != events[0].dedupe_key
    assert json.loads(events[0].message) == {"Computer": "probe-eu-1", "Status_s": "degraded", "Latency_d": 812.5}
    assert events[0].source == "probe-eu-1" and events[0].attributes["Latency_d"] == 812.5


def test_column_options_override_table_defaults() -> None:
    rows, types = fixture_rows("query_custom_table.json")
    columns = column_map("Heartbeat_CL", {"message": "Status_s", "level": None, "source": ["Type", "Computer"]})
    event = row_to_raw_event(rows[0], columns, workspace_id=WORKSPACE, fetched_at=NOW, types=types)
    assert event.message == "degraded" and event.source == "Heartbeat_CL/probe-eu-1"
    assert TABLE_DEFAULTS["AppTraces"].level == "SeverityLevel"


def test_odd_values_are_made_storable() -> None:
    row = {
        "TimeGenerated": "not a time",
        "Message": 42,
        "SeverityLevel": 2.0,
        "Properties": '{"a":"nul\\u0000"}',
        "Blob": "y" * 40_000,
        "Nan": float("nan"),
        "_it": None,
        "_ItemId": None,
        "Type": "AppTraces",
    }
    event = row_to_raw_event(
        row, column_map("AppTraces", {}), workspace_id=WORKSPACE, fetched_at=NOW, types={"Properties": "dynamic"}
    )
    assert event.ts is None and event.received_at == NOW and event.message == "42" and event.level_hint == 2
    assert event.attributes["Properties"] == {"a": "nul\ufffd"} and event.attributes["Nan"] == "nan"
    assert len(event.attributes["Blob"]) == 32_768 and event.attributes["_loglytics"] == {
        "truncated_attributes": ["Blob"]
    }
    assert event.dedupe_key.startswith("sha256:")


# ---- the query and the window --------------------------------------------------------------------


def test_the_emitted_query_bounds_ingestion_time_at_100ns_and_timespan_covers_late_and_skewed(azure_peer) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    drain(
        connector(azure_peer, query="AppTraces | where SeverityLevel >= 2", max_rows=7, max_late_s=3600),
        cursor_at(now - timedelta(seconds=30)),
        now,
    )
    sent = azure_peer.fake.queries[-1]
    assert sent["query"] == (
        "AppTraces | where SeverityLevel >= 2\n"
        "| where ingestion_time() > datetime(2026-01-02T02:58:35.6789010Z) "
        "and ingestion_time() <= datetime(2026-01-02T03:04:05.6789010Z)\n"
        '| extend _it = tostring(ingestion_time()), _ItemId = column_ifexists("_ItemId", "")\n'
        "| take 8"
    )
    assert sent["timespan"] == "2026-01-02T01:58:35.678901Z/2026-01-03T03:04:05.678901Z"


def test_ingestion_bounds_are_exact_to_the_tick(azure_peer) -> None:
    now = now_s() + timedelta(microseconds=250_000)
    hi = to_ticks(now)
    trace(azure_peer, "at the bound", hi)
    trace(azure_peer, "one tick later", hi + 1)
    conn = connector(azure_peer)
    poll1 = drain(conn, cursor_at(now - timedelta(seconds=60)), now)
    assert messages(poll1) == ["at the bound"]
    assert final(poll1) == {WORKSPACE: {"it_hw": format_ticks(hi)}}
    ingested = poll1[0].events[0].attributes["azure"]["ingestion_time"]
    assert ingested == format_ticks(hi) and len(ingested.split(".")[1]) == 8  # 7 digits and the Z
    poll2 = drain(conn, final(poll1), now + timedelta(seconds=1))
    assert messages(poll2) == ["at the bound", "one tick later"]


def test_new_connection_starts_near_live_and_filters_by_the_users_query(azure_peer) -> None:
    t = now_s()
    trace(azure_peer, "history", t - timedelta(seconds=400), SeverityLevel=3)
    trace(azure_peer, "recent error", t - timedelta(seconds=100), SeverityLevel=3)
    trace(azure_peer, "recent info", t - timedelta(seconds=90), SeverityLevel=1)
    batches = drain(connector(azure_peer, query="AppTraces | where SeverityLevel >= 2"), {}, t)
    assert messages(batches) == ["recent error"] and final(batches) == cursor_at(t)
    tiny = drain(connector(azure_peer, overlap_s=0, settle_s=5), {}, t)
    assert tiny == [Batch([], cursor_at(t - timedelta(seconds=5)))]


def test_a_long_gap_is_read_in_windows_of_max_window_s(azure_peer) -> None:
    t = now_s()
    for hours in (3, 2, 1):
        trace(azure_peer, f"{hours}h ago", t - timedelta(hours=hours, seconds=-1))
    batches = drain(connector(azure_peer, max_window_s=3600, overlap_s=0), cursor_at(t - timedelta(hours=3)), t)
    assert messages(batches) == ["1h ago", "2h ago", "3h ago"]
    assert [b.cursors for b in batches] == [cursor_at(t - timedelta(hours=h)) for h in (2, 1, 0)]
    assert len(azure_peer.fake.queries) == 3


def test_service_row_limit_partial_result_halves_the_window(azure_peer) -> None:
    t = now_s()
    for i in range(10):
        trace(azure_peer, f"r{i}", t - timedelta(seconds=100 - 8 * i))
    azure_peer.fake.row_limit = 4  # the service truncates and says PartialError, as at 500,000 records
    batches = drain(connector(azure_peer), cursor_at(t - timedelta(seconds=120)), t)
    assert messages(batches) == sorted(f"r{i}" for i in range(10))
    assert len({e.dedupe_key for b in batches for e in b.events}) == 10
    assert len(azure_peer.fake.queries) > 3 and final(batches) == cursor_at(t)


def test_service_byte_limit_partial_result_halves_the_window(azure_peer) -> None:
    t = now_s()
    for i in range(6):
        trace(azure_peer, f"b{i} " + "z" * 2000, t - timedelta(seconds=60 - 9 * i))
    azure_peer.fake.byte_limit = 5000
    batches = drain(connector(azure_peer), cursor_at(t - timedelta(seconds=120)), t)
    assert len(messages(batches)) == 6 and final(batches) == cursor_at(t)


def test_a_second_too_full_to_halve_is_a_config_error_and_the_cursor_stays(azure_peer) -> None:
    t = now_s()
    for i in range(5):
        trace(azure_peer, f"burst {i}", t - timedelta(seconds=30))
    got: list[Batch] = []
    with pytest.raises(BadConfigError, match="raise max_rows"):
        for batch in connector(azure_peer, max_rows=2).fetch(cursor_at(t - timedelta(seconds=60)), t):
            got.append(batch)
    committed = parse_ticks(final(got)[WORKSPACE]["it_hw"])  # windows before the burst commit, the burst does not
    assert to_ticks(t - timedelta(seconds=31)) <= committed < to_ticks(t - timedelta(seconds=30))


def test_a_recorded_partial_error_is_retried_smaller_and_its_rows_are_not_kept(azure_peer) -> None:
    t = now_s()
    trace(azure_peer, "real row", t - timedelta(seconds=10))
    azure_peer.fake.canned.append(json.loads((FIXTURES / "query_partial_error.json").read_text()))
    batches = drain(connector(azure_peer), cursor_at(t - timedelta(seconds=60)), t)
    assert messages(batches) == ["real row"]  # "kept row" came with the PartialError and was dropped
    assert final(batches) == cursor_at(t)


def test_recorded_payloads_through_the_sdk(azure_peer) -> None:
    for name in ("query_apptraces.json", "query_containerlogv2.json", "query_syslog.json"):
        azure_peer.fake.canned.append(json.loads((FIXTURES / name).read_text()))
    conn = connector(azure_peer, max_window_s=3600, overlap_s=0)
    t = now_s()
    batches = drain(conn, cursor_at(t - timedelta(hours=3)), t)
    events = [e for b in batches for e in b.events]
    assert len(events) == 5 + 3 + 4
    by_key = {e.dedupe_key: e for e in events}
    first = by_key["b1d2e3f4-0000-4000-8000-000000000001"]
    assert first.ts == datetime(2024, 4, 12, 10, 0, 5, 123456, tzinfo=UTC)  # parsed by the SDK, to the µs
    assert first.attributes["azure"]["ingestion_time"] == "2024-04-12T10:00:41.9876543Z"  # text: all 7 digits
    assert by_key["c0000000-0000-4000-8000-000000000001"].source == "checkout/checkout-7d9f8c6b5-x2x9z/app"
    assert by_key["d0000000-0000-4000-8000-000000000001"].level_hint == "crit"


def test_malformed_cursor_is_bad_config(azure_peer) -> None:
    with pytest.raises(BadConfigError, match="malformed"):
        drain(connector(azure_peer), {WORKSPACE: {"it_hw": 12}}, now_s())


# ---- throttling and errors at the edge ------------------------------------------------------------


def test_429_retry_after_is_honoured_by_azure_core(azure_peer) -> None:
    t = now_s()
    trace(azure_peer, "after the wait", t - timedelta(seconds=10))
    conn = connector(azure_peer)
    conn.sdk_retries = 2
    azure_peer.fake.throttle(1, retry_after="1")
    started = time.monotonic()
    assert messages(drain(conn, cursor_at(t - timedelta(seconds=60)), t)) == ["after the wait"]
    assert time.monotonic() - started >= 0.95 and len(azure_peer.fake.queries) == 2


def test_429_that_escapes_is_throttled_with_the_hint(azure_peer) -> None:
    conn = connector(azure_peer)
    conn.backoff = BackoffPolicy(retries=3, base_s=0.01, cap_s=0.02, max_wait_s=5.0)
    azure_peer.fake.throttle(10, retry_after="30")  # longer than we block a worker: re-raised at once
    with pytest.raises(ThrottledError, match="throttled the query") as info:
        drain(conn, {}, now_s())
    assert info.value.retry_after_s == 30 and len(azure_peer.fake.queries) == 1


def test_every_http_attempt_takes_a_token_from_the_identitys_bucket(azure_peer) -> None:
    slow = connector(azure_peer, requests_per_s=4)
    other = connector(azure_peer, requests_per_s=50)
    assert other._bucket is slow._bucket and slow._bucket.rate == 4
    t = now_s()
    started = time.monotonic()
    for _ in range(6):  # 4 in the burst, then 4/s
        drain(slow, cursor_at(t - timedelta(seconds=60)), t)
    assert time.monotonic() - started >= 0.4


def test_api_errors_are_mapped(azure_peer) -> None:
    unknown = connector(azure_peer, workspace_id="00000000-0000-4000-8000-000000000001")
    with pytest.raises(BadConfigError, match="not found"):
        drain(unknown, {}, now_s())
    assert "not found" in unknown.test().message
    azure_peer.fake.add_principal("11111111-2222-4333-8444-555555555555", secret="other", workspaces=())
    other = azure_secret(client_id="11111111-2222-4333-8444-555555555555", client_secret="other")
    with pytest.raises(AuthError, match="Log Analytics Reader"):
        drain(connector(azure_peer, other), {}, now_s())
    with pytest.raises(BadConfigError, match="rejected the query.*NoSuchTable"):
        drain(connector(azure_peer, query="NoSuchTable"), {}, now_s())
    conn = connector(azure_peer)
    drain(conn, {}, now_s())
    azure_peer.fake.tokens.clear()  # the cached token is no longer valid
    with pytest.raises(AuthError, match="rejected the token"):
        drain(conn, {}, now_s())


def test_unreachable_endpoint_and_untrusted_certificate_are_unavailable(azure_peer, tmp_path: Path) -> None:
    conn = connector(azure_peer, endpoint="https://127.0.0.1:9", authority_host="https://127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="could not reach https://127.0.0.1:9"):
        drain(conn, {}, now_s())
    assert time.monotonic() - started < 5
    other_ca = tmp_path / "other.pem"
    other_ca.write_bytes(make_certificate("someone-else", ("localhost",))[0])
    result = connector(azure_peer, ca_bundle=str(other_ca)).test()
    assert not result.ok and result.details["error"] == "UnavailableError"


def test_certificate_credential(azure_peer) -> None:
    cert, key = make_certificate("loglytics-reader")
    app = "99999999-8888-4777-8666-555555555555"
    azure_peer.fake.add_principal(app, certificate_pem=cert)
    t = now_s()
    trace(azure_peer, "via certificate", t - timedelta(seconds=10))
    secret = {"tenant_id": TENANT, "client_id": app, "certificate_pem": (key + cert).decode()}
    assert messages(drain(connector(azure_peer, secret), cursor_at(t - timedelta(seconds=60)), t)) == [
        "via certificate"
    ]
    bad = {**secret, "certificate_pem": "-----BEGIN NOTHING-----"}
    with pytest.raises(BadConfigError, match="malformed"):
        drain(connector(azure_peer, bad), {}, t)


def test_test_reports_columns_and_partial_results(azure_peer) -> None:
    trace(azure_peer, "recent", now_s() - timedelta(seconds=60))
    result = connector(azure_peer).test()
    assert result.ok and "Message" in result.details["columns"] and "_it" not in result.details["columns"]
    assert result.details["auth"] == "client-secret"
    azure_peer.fake.partial(1)
    partial = connector(azure_peer).test()
    assert not partial.ok and "E_RUNAWAY_QUERY" in partial.message


def test_partial_error_on_a_one_second_window_is_a_connector_error(azure_peer) -> None:
    azure_peer.fake.partial(100)
    t = now_s()
    with pytest.raises(ConnectorError, match="partial result for a 1 s window.*E_RUNAWAY_QUERY"):
        drain(connector(azure_peer, overlap_s=1), cursor_at(t - timedelta(seconds=1)), t)


def test_close_is_idempotent(azure_peer) -> None:
    conn = connector(azure_peer)
    drain(conn, {}, now_s())
    conn.close()
    conn.close()
    assert "client" not in conn.__dict__ and "credential" not in conn.__dict__
