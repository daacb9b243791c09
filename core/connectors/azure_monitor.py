"""Azure Monitor Log Analytics connector: the user's KQL, windowed on ingestion_time() (cloud-apis.md section 2).

Partition = the workspace id; cursor = ``{"it_hw": "<ingestion_time high-water, 7 fraction digits>"}``.
Each poll reads records with ``ingestion_time()`` in ``(it_hw - overlap, now - settle]``, as windows
of at most ``max_window_s``; the last batch of each window moves the cursor to the window's end.
A connection with no cursor starts near live, at ``now - overlap``. The bounds are 100 ns literals
computed here, never read back from results (the SDK truncates parsed datetimes to microseconds).

A window whose result is PARTIAL (row or byte limit, timeout) or holds more than ``max_rows`` rows
is halved and retried; it never moves the cursor. No loss while a record becomes queryable within
``overlap + settle`` of its ingestion_time() and ``ingestion_time() - TimeGenerated < max_late``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.identity import (
    AzureAuthorityHosts,
    CertificateCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
)
from azure.monitor.query import LogsQueryClient, LogsQueryStatus
from pydantic import Field, SecretStr, field_validator, model_validator

from core.connectors.azure_mapping import (
    INGEST_COLUMN,
    ITEM_ID_COLUMN,
    TICKS_PER_S,
    ColumnMap,
    column_map,
    format_ticks,
    parse_ticks,
    query_table,
    row_to_raw_event,
    ticks_to_datetime,
    to_ticks,
)
from core.connectors.base import Batch, ConnectorOptions, ConnectorSecret, CursorValue, TestResult
from core.connectors.ratelimit import BackoffPolicy, bucket
from core.errors import AuthError, BadConfigError, ConnectorError, ThrottledError, UnavailableError
from core.events import RawEvent

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TENANT = re.compile(r"^[A-Za-z0-9.-]{1,100}$")
_KNOWN_AUTHORITIES = {value for name, value in vars(AzureAuthorityHosts).items() if name.isupper()}
BATCH_EVENTS = 5000  # events per yielded batch: one load transaction each
MIN_WINDOW_TICKS = TICKS_PER_S  # a window is not halved below one second


class AzureOptions(ConnectorOptions):
    """Non-secret settings of one Log Analytics connection."""

    workspace_id: str = Field(description="Workspace ID (a GUID) from the workspace's Overview page.")
    query: str = Field(
        min_length=1, max_length=10_000, description="KQL returning records, e.g. AppTraces | where SeverityLevel >= 2"
    )
    time_column: str | None = Field(None, description="Event time column (default: TimeGenerated).")
    level_column: str | None = Field(None, description="Severity column (default: by table, e.g. SeverityLevel).")
    message_column: str | None = Field(None, description="Message column (default: by table, e.g. Message).")
    source_columns: list[str] | None = Field(None, description="Columns joined with / as the event source.")
    endpoint: str = Field("https://api.loganalytics.io", description="Query endpoint (sovereign clouds, local peers).")
    authority_host: str | None = Field(None, description="Entra ID authority, e.g. https://login.microsoftonline.us")
    ca_bundle: str | None = Field(None, description="PEM file of CAs to trust instead of the system ones.")
    # The query API allows ~200 requests per 30 s per identity; a long interval also bounds overlap re-reads.
    poll_interval_s: float = Field(30.0, ge=1.0)
    overlap_s: float = Field(300.0, ge=0, description="Re-read this far behind the cursor (late-visible records).")
    settle_s: float = Field(60.0, ge=0, description="Leave records ingested in the newest seconds for the next poll.")
    max_late_s: float = Field(172_800.0, gt=0, description="Longest ingestion delay after TimeGenerated to read.")
    max_window_s: float = Field(3600.0, ge=1, description="Longest ingestion-time window per query.")
    max_rows: int = Field(10_000, ge=1, le=500_000, description="Rows per query; a fuller window is halved.")
    server_timeout_s: int = Field(180, ge=1, le=600, description="Server-side query timeout.")
    requests_per_s: float = Field(5.0, gt=0, le=1000, description="Query calls/s for this identity.")

    @field_validator("workspace_id")
    @classmethod
    def _check_workspace(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(
                "workspace_id must be the workspace GUID, e.g. 12345678-90ab-cdef-1234-567890abcdef"
            ) from None

    @field_validator("query")
    @classmethod
    def _check_query(cls, value: str) -> str:
        value = value.strip().rstrip(";").rstrip()
        if not value or value.endswith("|"):
            raise ValueError("query must be a complete KQL query that returns records")
        return value

    @field_validator("time_column", "level_column", "message_column")
    @classmethod
    def _check_column(cls, value: str | None) -> str | None:
        if value is not None and not _IDENT.match(value):
            raise ValueError(f"not a column name: {value!r}")
        return value

    @field_validator("source_columns")
    @classmethod
    def _check_columns(cls, value: list[str] | None) -> list[str] | None:
        for name in value or ():
            cls._check_column(name)
        return value

    @field_validator("endpoint", "authority_host")
    @classmethod
    def _check_https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must start with https:// (bearer tokens are only sent over TLS)")
        return value.rstrip("/") if value else value


class AzureSecret(ConnectorSecret):
    """A service principal (client secret or certificate), a managed identity, or nothing (the default chain)."""

    tenant_id: str | None = None
    client_id: str | None = Field(None, description="App (client) id; with managed_identity: a user-assigned identity.")
    client_secret: SecretStr | None = None
    certificate_pem: SecretStr | None = Field(None, description="PEM holding the private key and the certificate.")
    certificate_password: SecretStr | None = None
    managed_identity: bool = False

    @model_validator(mode="after")
    def _one_mode(self) -> AzureSecret:
        if self.client_secret is not None and self.certificate_pem is not None:
            raise ValueError("give either client_secret or certificate_pem, not both")
        if (self.client_secret or self.certificate_pem) and not (self.tenant_id and self.client_id):
            raise ValueError("a service principal needs tenant_id and client_id")
        if self.managed_identity and (self.client_secret or self.certificate_pem or self.tenant_id):
            raise ValueError("managed_identity takes only an optional client_id")
        if self.certificate_password is not None and self.certificate_pem is None:
            raise ValueError("certificate_password is only used with certificate_pem")
        if self.tenant_id is not None and not _TENANT.match(self.tenant_id):
            raise ValueError("tenant_id must be a tenant GUID or domain")
        return self

    @property
    def mode(self) -> str:
        if self.client_secret is not None:
            return "client-secret"
        if self.certificate_pem is not None:
            return "certificate"
        return "managed-identity" if self.managed_identity else "default-chain"


class _TokenPolicy(SansIOHTTPPolicy):
    """Every HTTP attempt, azure-core's retries included, takes a token from the shared bucket first."""

    def __init__(self, connector: AzureMonitorConnector) -> None:
        self._connector = connector

    def on_request(self, request: Any) -> None:
        self._connector._take_token()


class _MappedCredential:
    """Wraps the credential so its failures are mapped at their own edge: a refused secret is not the API's 401."""

    def __init__(self, inner: Any, connector: AzureMonitorConnector) -> None:
        self._inner = inner
        self._connector = connector

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        try:
            return self._inner.get_token(*scopes, **kwargs)
        except ClientAuthenticationError as exc:
            if isinstance(exc.__cause__, ServiceRequestError | ServiceResponseError):  # azure-identity wraps these
                authority = self._connector.options.authority_host or "the Entra ID authority"
                raise UnavailableError(f"could not reach {authority}: {type(exc.__cause__).__name__}") from exc
            text = self._connector._scrub(str(exc.message if hasattr(exc, "message") else exc))
            mode = self._connector.secret.mode
            raise AuthError(f"could not get an Entra ID token ({mode}): {' '.join(text.split())[:500]}") from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            authority = self._connector.options.authority_host or "the Entra ID authority"
            raise UnavailableError(f"could not reach {authority}: {type(exc).__name__}") from exc

    def close(self) -> None:
        if hasattr(self._inner, "close"):
            self._inner.close()


class AzureMonitorConnector:
    """Polls one workspace with the user's KQL; see the module docstring for the window."""

    provider: ClassVar[str] = "azure"
    Options: ClassVar[type[AzureOptions]] = AzureOptions
    Secret: ClassVar[type[AzureSecret]] = AzureSecret

    # azure-core retries 429/5xx honouring Retry-After; a few tries there, then ours with jitter.
    sdk_retries: int = 2
    backoff: BackoffPolicy = BackoffPolicy(retries=3, base_s=1.0, cap_s=120.0, max_wait_s=120.0)
    token_wait_s: float = 30.0

    def __init__(self, options: AzureOptions, secret: AzureSecret | None) -> None:
        self.options = options
        self.secret = secret or AzureSecret()
        self._bucket = bucket(self._quota_key(), options.requests_per_s)
        overrides = {
            "time": options.time_column,
            "level": options.level_column,
            "message": options.message_column,
            "source": options.source_columns,
        }
        self._overrides = {k: v for k, v in overrides.items() if v is not None}
        self._maps: dict[str, ColumnMap] = {}

    @cached_property
    def credential(self) -> Any:
        s, o = self.secret, self.options
        kw: dict[str, Any] = {}
        if o.authority_host:
            kw["authority"] = o.authority_host
            # instance discovery asks login.microsoftonline.com about the host: only for hosts it knows
            kw["disable_instance_discovery"] = o.authority_host.removeprefix("https://") not in _KNOWN_AUTHORITIES
        if o.ca_bundle:
            kw["connection_verify"] = o.ca_bundle
        kw["retry_total"] = self.sdk_retries  # a failed poll is retried by the next one anyway
        if s.client_secret is not None:
            inner = ClientSecretCredential(s.tenant_id, s.client_id, s.client_secret.get_secret_value(), **kw)
        elif s.certificate_pem is not None:
            password = s.certificate_password.get_secret_value().encode() if s.certificate_password else None
            pem = s.certificate_pem.get_secret_value().encode()
            inner = CertificateCredential(s.tenant_id, s.client_id, certificate_data=pem, password=password, **kw)
        elif s.managed_identity:
            inner = ManagedIdentityCredential(client_id=s.client_id)
        else:
            inner = DefaultAzureCredential(**kw)
        return _MappedCredential(inner, self)

    @cached_property
    def client(self) -> LogsQueryClient:
        """The LogsQueryClient, built on first use."""
        kw: dict[str, Any] = {"connection_verify": self.options.ca_bundle} if self.options.ca_bundle else {}
        try:
            credential = self.credential
        except ValueError as exc:  # a malformed certificate and the like
            raise BadConfigError(f"the Azure credentials are malformed: {self._scrub(str(exc))}") from exc
        return LogsQueryClient(
            credential,
            endpoint=self.options.endpoint,
            retry_total=self.sdk_retries,
            retry_backoff_factor=0.8,
            per_retry_policies=[_TokenPolicy(self)],
            connection_timeout=10,
            read_timeout=self.options.server_timeout_s + 30,
            **kw,
        )

    def test(self) -> TestResult:
        now = to_ticks(datetime.now(UTC))
        try:
            result = self._query(now - 3600 * TICKS_PER_S, now, take=1)
        except ConnectorError as err:
            return TestResult(False, str(err), {"status": err.status, "error": type(err).__name__})
        if result.status == LogsQueryStatus.PARTIAL:
            return TestResult(False, f"the query returned a partial result: {_partial_reason(result)}")
        table = result.tables[0] if result.tables else None
        columns = [c for c in (table.columns if table else []) if c not in (INGEST_COLUMN, ITEM_ID_COLUMN)]
        rows = len(table.rows) if table else 0
        return TestResult(
            True,
            f"the query runs on workspace {self.options.workspace_id}"
            + (" and returned records of the last hour" if rows else " (no records in the last hour)"),
            {"workspace_id": self.options.workspace_id, "columns": columns, "auth": self.secret.mode},
        )

    def fetch(self, cursors: Mapping[str, CursorValue], now: datetime) -> Iterator[Batch]:
        part = self.options.workspace_id
        hw = self._high_water(cursors.get(part))
        now_t = to_ticks(now)
        hi = now_t - round(self.options.settle_s * TICKS_PER_S)
        lo = (now_t if hw is None else hw) - round(self.options.overlap_s * TICKS_PER_S)
        if hi <= lo:
            if hw is None:  # overlap < settle: nothing to read yet, but start tracking
                yield Batch([], {part: {"it_hw": format_ticks(hi)}})
            return
        step = round(self.options.max_window_s * TICKS_PER_S)
        pending = [(a, min(a + step, hi)) for a in range(lo, hi, step)][::-1]  # a stack, earliest window on top
        while pending:
            start, end = pending.pop()
            events = self._window(start, end)
            if events is None:  # too big: halve, earlier half first
                mid = (start + end) // 2
                pending += [(mid, end), (start, mid)]
                continue
            cursor = {part: {"it_hw": format_ticks(end if hw is None else max(end, hw))}}
            for i in range(0, max(len(events), 1), BATCH_EVENTS):
                chunk = events[i : i + BATCH_EVENTS]
                yield Batch(chunk, cursor if i + BATCH_EVENTS >= len(events) else {})

    def close(self) -> None:
        if "client" in self.__dict__:
            self.__dict__.pop("client").close()
        if "credential" in self.__dict__:
            self.__dict__.pop("credential").close()

    def _window(self, start: int, end: int) -> list[RawEvent] | None:
        """The window's events, or None when it must be halved (a partial result, or more than max_rows)."""
        result = self._query(start, end, take=self.options.max_rows + 1)
        partial = result.status == LogsQueryStatus.PARTIAL  # its rows are never used: the window is read again
        table = result.tables[0] if not partial and result.tables else None
        if partial or (table is not None and len(table.rows) > self.options.max_rows):
            if end - start > MIN_WINDOW_TICKS:
                return None
            if partial:
                raise ConnectorError(f"Azure returned a partial result for a 1 s window: {_partial_reason(result)}")
            raise BadConfigError(
                f"more than max_rows={self.options.max_rows} records were ingested within "
                f"one second at {format_ticks(start)}; raise max_rows"
            )
        return self._events(table) if table is not None else []

    def _events(self, table: Any) -> list[RawEvent]:
        fetched_at = datetime.now(UTC)
        types = dict(zip(table.columns, table.columns_types, strict=False))
        default_table = query_table(self.options.query)
        events = []
        for row in table.rows:
            values = dict(zip(table.columns, row, strict=False))
            name = values.get("Type") or default_table or ""  # a union mixes tables: map each row by its own
            if name not in self._maps:
                self._maps[name] = column_map(name, self._overrides)
            ws = self.options.workspace_id
            events.append(
                row_to_raw_event(values, self._maps[name], workspace_id=ws, fetched_at=fetched_at, types=types)
            )
        return events

    def _query(self, start: int, end: int, *, take: int) -> Any:
        """Run the user's query restricted to ingestion_time() in (start, end]."""
        # Appended to the user's query, so it must return records (no summarize). ingestion_time() goes out
        # as text: the SDK would cut a parsed datetime to microseconds.
        bounds = (
            f"ingestion_time() > datetime({format_ticks(start)}) and ingestion_time() <= datetime({format_ticks(end)})"
        )
        helpers = (
            f'{INGEST_COLUMN} = tostring(ingestion_time()), {ITEM_ID_COLUMN} = column_ifexists("{ITEM_ID_COLUMN}", "")'
        )
        kql = f"{self.options.query}\n| where {bounds}\n| extend {helpers}\n| take {take}"
        # timespan filters TimeGenerated: max_late back from the window, and a day ahead for skewed clocks
        timespan = (
            ticks_to_datetime(start) - timedelta(seconds=self.options.max_late_s),
            ticks_to_datetime(end) + timedelta(days=1),
        )

        def once() -> Any:
            try:
                return self.client.query_workspace(
                    self.options.workspace_id, kql, timespan=timespan, server_timeout=self.options.server_timeout_s
                )
            except (HttpResponseError, ClientAuthenticationError, ServiceRequestError, ServiceResponseError) as exc:
                raise self._map_error(exc) from exc

        return self.backoff.call(once)

    def _take_token(self) -> None:
        if not self._bucket.acquire(timeout=self.token_wait_s):
            raise ThrottledError(
                f"local rate limit of {self._bucket.rate:g} query(s)/s for this Azure identity is saturated"
            )

    def _high_water(self, cursor: CursorValue | None) -> int | None:
        if not cursor:
            return None
        ticks = parse_ticks(cursor.get("it_hw"))
        if ticks is None:
            raise BadConfigError(f"stored cursor for workspace {self.options.workspace_id} is malformed: {cursor!r}")
        return ticks

    def _quota_key(self) -> str:
        # Log Analytics throttles per Entra identity (or client IP): connections of one principal share a bucket.
        s = self.secret
        return f"azure:{s.tenant_id or '-'}:{s.client_id or s.mode}"

    def _map_error(self, exc: Exception) -> ConnectorError:
        """Turn an azure-core/azure-identity error into our family; the only place they are interpreted."""
        ws = self.options.workspace_id
        if isinstance(exc, ServiceRequestError | ServiceResponseError):
            return UnavailableError(
                f"could not reach {self.options.endpoint}: {type(exc).__name__}: {self._scrub(str(exc))[:300]}"
            )
        status = getattr(exc, "status_code", None)
        code, message = _error_parts(exc)
        text = self._scrub(f"{code}: {message}" if code else message)[:500]
        if status == 401:
            return AuthError(f"Log Analytics rejected the token (401 {text})")
        if status == 403:
            return AuthError(
                f"the identity lacks read access to workspace {ws}: grant it the Log Analytics Reader role ({text})"
            )
        if status == 404:
            return BadConfigError(f"workspace {ws} was not found at {self.options.endpoint} ({text})")
        if status == 429:
            return ThrottledError(f"Azure throttled the query on workspace {ws} ({text})", _retry_after(exc))
        if status == 400:
            return BadConfigError(f"Log Analytics rejected the query; check it and the column options ({text})")
        if status is not None and status >= 500:
            return UnavailableError(f"Log Analytics answered with a server error ({status} {text})")
        return ConnectorError(f"query on workspace {ws} failed ({status} {text})")

    def _scrub(self, text: str) -> str:
        for value in (self.secret.client_secret, self.secret.certificate_password, self.secret.certificate_pem):
            if value is not None and value.get_secret_value():
                text = text.replace(value.get_secret_value(), "***")
        return text


def _error_parts(exc: Exception) -> tuple[str, str]:
    """``(code, message)`` from an error body ``{"error": {"code", "message", "innererror"?}}``, else the text."""
    response = getattr(exc, "response", None)
    try:
        body = json.loads(response.text()) if response is not None else None
    except (ValueError, TypeError, AttributeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        inner = error.get("innererror") or {}
        detail = inner.get("message") if isinstance(inner, dict) else None
        message = str(error.get("message") or "") + (f": {detail}" if detail else "")
        return str(error.get("code") or ""), message
    text = str(getattr(exc, "message", None) or exc).strip()
    return "", text.splitlines()[0] if text else type(exc).__name__


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 1000), ("x-ms-retry-after-ms", 1000), ("Retry-After", 1)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) / scale
            except ValueError:
                return None
    return None


def _partial_reason(result: Any) -> str:
    error = getattr(result, "partial_error", None)
    if error is None:
        return "no reason given"
    details = [d for d in getattr(error, "details", None) or [] if hasattr(d, "get")]  # dicts or SDK models
    inner = "; ".join(str((d.get("innererror") or {}).get("message") or d.get("message")) for d in details)
    return f"{error.code}: {error.message}" + (f" ({inner})" if inner else "")
