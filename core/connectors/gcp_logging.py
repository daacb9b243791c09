"""Google Cloud Logging connector: entries.list over REST, windowed on receiveTimestamp (cloud-apis.md section 3).

Partition = the resource names, comma-joined; cursor = ``{"rt_hw": "<receiveTimestamp high-water, ns>"}``.
Each poll lists entries with ``receiveTimestamp`` in ``(rt_hw - overlap, now - settle]`` as windows of
at most ``max_window_s``. Results come ordered by ``timestamp``, not by receive time, so a window's
cursor moves only with its last page (an empty page with a token is not the last). A connection
with no cursor starts near live, at ``now - overlap``.

The filter always carries an explicit ``timestamp >=`` bound (``max_late`` before the window): it
keeps the scan small and stops the client library's hidden ``timestamp >= now - 24h`` default.
No loss while entries are listable within ``overlap + settle`` of their receiveTimestamp and
``receiveTimestamp - timestamp < max_late``.

Pages are fetched with the SDK's own authorized REST connection (``Client.logging_api.api_request``)
rather than ``Client.list_entries``: that generator hides page tokens and cuts timestamps to µs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar

import google.auth
import requests
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.cloud import logging as gcl
from google.oauth2 import service_account
from pydantic import Field, SecretStr, field_validator, model_validator

from core.connectors.base import Batch, ConnectorOptions, ConnectorSecret, CursorValue, TestResult
from core.connectors.gcp_mapping import NS_PER_S, entry_to_raw_event, format_nanos, parse_nanos, to_nanos
from core.connectors.ratelimit import BackoffPolicy, bucket
from core.errors import AuthError, BadConfigError, ConnectorError, ThrottledError, UnavailableError

READ_SCOPE = "https://www.googleapis.com/auth/logging.read"
_RESOURCE = re.compile(
    r"^(projects|organizations|folders|billingAccounts)/[^/\s]+"
    r"(/locations/[^/\s]+/buckets/[^/\s]+(/views/[^/\s]+)?)?$"
)
_PROJECT = re.compile(r"^[a-z][a-z0-9.:-]{1,62}[a-z0-9]$")
_ORDER = "timestamp asc"


class GcpOptions(ConnectorOptions):
    """Non-secret settings of one Cloud Logging connection."""

    project_id: str | None = Field(None, description="Project to read; shorthand for resource_names=[projects/ID].")
    resource_names: list[str] = Field(
        default_factory=list, max_length=100, description="projects/P, folders/F, organizations/O or a log view."
    )
    filter: str = Field("", max_length=19_000, description="Logging query, e.g. severity>=WARNING")
    api_endpoint: str | None = Field(None, description="Custom endpoint (Private Service Connect, local peers).")
    # entries.list allows 60 calls/min per project; a longer interval also bounds the overlap re-reads.
    poll_interval_s: float = Field(15.0, ge=1.0)
    overlap_s: float = Field(120.0, ge=0, description="Re-read this far behind the cursor (late-listed entries).")
    settle_s: float = Field(60.0, ge=0, description="Leave entries received in the newest seconds for the next poll.")
    max_late_s: float = Field(86_400.0, gt=0, description="Longest delay from timestamp to receiveTimestamp to read.")
    max_window_s: float = Field(3600.0, ge=1, description="Longest receiveTimestamp window per page chain.")
    page_size: int = Field(1000, ge=1, le=1000, description="Entries per page (the API maximum is 1000).")
    requests_per_s: float = Field(1.0, gt=0, le=1000, description="List calls/s for this project (quota: 60/min).")

    @field_validator("project_id")
    @classmethod
    def _check_project(cls, value: str | None) -> str | None:
        if value is not None and not _PROJECT.match(value):
            raise ValueError(f"not a project id: {value!r}")
        return value

    @field_validator("resource_names")
    @classmethod
    def _check_names(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not _RESOURCE.match(n)]
        if bad:
            raise ValueError(f"not a resource name: {bad[0]!r} (use projects/ID, folders/ID, organizations/ID ...)")
        return list(dict.fromkeys(names))

    @field_validator("api_endpoint")
    @classmethod
    def _check_endpoint(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("api_endpoint must start with http:// or https://")
        return url.rstrip("/") if url else url

    @model_validator(mode="after")
    def _some_resource(self) -> GcpOptions:
        if not self.resource_names and not self.project_id:
            raise ValueError("set project_id or resource_names")
        return self

    @property
    def names(self) -> list[str]:
        return self.resource_names or [f"projects/{self.project_id}"]


class GcpSecret(ConnectorSecret):
    """A service-account key (the JSON file's text), or nothing: application default credentials."""

    service_account_json: SecretStr | None = None

    @field_validator("service_account_json")
    @classmethod
    def _check_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            info = json.loads(value.get_secret_value())
        except ValueError:
            raise ValueError("service_account_json is not JSON: paste the key file's content") from None
        missing = [
            k for k in ("client_email", "private_key", "token_uri") if not (isinstance(info, dict) and info.get(k))
        ]
        if not isinstance(info, dict) or info.get("type") != "service_account" or missing:
            raise ValueError(
                "service_account_json must be a service-account key file (type service_account with "
                "client_email, private_key and token_uri)"
            )
        return value

    @property
    def info(self) -> dict[str, Any] | None:
        return json.loads(self.service_account_json.get_secret_value()) if self.service_account_json else None


class GcpLoggingConnector:
    """Lists Cloud Logging entries page by page; see the module docstring for the window."""

    provider: ClassVar[str] = "gcp"
    Options: ClassVar[type[GcpOptions]] = GcpOptions
    Secret: ClassVar[type[GcpSecret]] = GcpSecret

    # The SDK does not retry 429 on entries.list: all throttle retries are ours (no Retry-After is sent).
    backoff: BackoffPolicy = BackoffPolicy(retries=4, base_s=1.0, cap_s=30.0, max_wait_s=60.0)
    token_wait_s: float = 30.0
    timeout: tuple[float, float] = (10.0, 60.0)  # connect, read

    def __init__(self, options: GcpOptions, secret: GcpSecret | None) -> None:
        self.options = options
        self.secret = secret or GcpSecret()
        self._bucket = bucket(self._quota_key(), options.requests_per_s)

    @cached_property
    def client(self) -> gcl.Client:
        """The Cloud Logging client (REST transport), built on first use."""
        info = self.secret.info
        try:
            if info is not None:
                credentials = service_account.Credentials.from_service_account_info(info, scopes=[READ_SCOPE])
            else:
                credentials, _ = google.auth.default(scopes=[READ_SCOPE])
        except auth_exc.DefaultCredentialsError as exc:
            raise AuthError(
                "no Google credentials found: give a service-account key or configure application "
                "default credentials on this host"
            ) from exc
        except (ValueError, KeyError) as exc:
            raise BadConfigError(f"the service-account key is malformed ({type(exc).__name__})") from exc
        client_options = {"api_endpoint": self.options.api_endpoint} if self.options.api_endpoint else None
        return gcl.Client(
            project=self._project(), credentials=credentials, _use_grpc=False, client_options=client_options
        )

    def test(self) -> TestResult:
        now = to_nanos(datetime.now(UTC))
        body = self._body(self._filter(now - 3600 * NS_PER_S, now), page_size=1)
        try:
            page = self._list(body)
        except ConnectorError as err:
            return TestResult(False, str(err), {"status": err.status, "error": type(err).__name__})
        found = bool(page.get("entries"))
        names = ", ".join(self.options.names)
        return TestResult(
            True,
            f"can list entries of {names}" + ("" if found else " (none received in the last hour)"),
            {"resource_names": self.options.names},
        )

    def fetch(self, cursors: Mapping[str, CursorValue], now: datetime) -> Iterator[Batch]:
        part = ",".join(self.options.names)
        hw = self._high_water(part, cursors.get(part))
        now_ns = to_nanos(now)
        hi = now_ns - round(self.options.settle_s * NS_PER_S)
        lo = (now_ns if hw is None else hw) - round(self.options.overlap_s * NS_PER_S)
        if hi <= lo:
            if hw is None:  # overlap < settle: nothing to read yet, but start tracking
                yield Batch([], {part: {"rt_hw": format_nanos(hi)}})
            return
        step = round(self.options.max_window_s * NS_PER_S)
        for start in range(lo, hi, step):
            end = min(start + step, hi)
            cursor = {part: {"rt_hw": format_nanos(end if hw is None else max(end, hw))}}
            body = self._body(self._filter(start, end), page_size=self.options.page_size)
            while True:
                page = self._list(body)
                fetched_at = datetime.now(UTC)
                events = [entry_to_raw_event(e, fetched_at) for e in page.get("entries", ()) if isinstance(e, dict)]
                token = page.get("nextPageToken")
                if not token:  # only a missing token ends the chain
                    yield Batch(events, cursor)
                    break
                if events:
                    yield Batch(events)
                body["pageToken"] = token

    def close(self) -> None:
        if "client" in self.__dict__:
            self.__dict__.pop("client").close()

    def _filter(self, start: int, end: int) -> str:
        bounds = (
            f'receiveTimestamp > "{format_nanos(start)}" AND receiveTimestamp <= "{format_nanos(end)}" '
            f'AND timestamp >= "{format_nanos(start - round(self.options.max_late_s * NS_PER_S))}"'
        )
        user = self.options.filter.strip()
        return f"({user}) AND {bounds}" if user else bounds

    def _body(self, filter_: str, *, page_size: int) -> dict[str, Any]:
        return {"resourceNames": self.options.names, "filter": filter_, "orderBy": _ORDER, "pageSize": page_size}

    def _list(self, body: dict[str, Any]) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            self._take_token()
            api = self.client.logging_api
            try:
                return api.api_request(method="POST", path="/entries:list", data=dict(body), timeout=self.timeout)
            except (gexc.GoogleAPICallError, auth_exc.GoogleAuthError, requests.RequestException) as exc:
                raise self._map_error(exc) from exc

        return self.backoff.call(once)

    def _take_token(self) -> None:
        if not self._bucket.acquire(timeout=self.token_wait_s):
            raise ThrottledError(
                f"local rate limit of {self._bucket.rate:g} list call(s)/s for this project is saturated"
            )

    def _high_water(self, part: str, cursor: CursorValue | None) -> int | None:
        if not cursor:
            return None
        ns = parse_nanos(cursor.get("rt_hw"))
        if ns is None:
            raise BadConfigError(f"stored cursor for {part} is malformed: {cursor!r}")
        return ns

    def _project(self) -> str:
        if self.options.project_id:
            return self.options.project_id
        for name in self.options.names:
            if name.startswith("projects/"):
                return name.split("/")[1]
        info = self.secret.info or {}
        return str(info.get("project_id") or "unused")  # the client wants one; we always pass resource names

    def _quota_key(self) -> str:
        # entries.list quota is per project: connections reading one project share a bucket.
        return f"gcp:{self.options.names[0]}"

    def _map_error(self, exc: Exception) -> ConnectorError:
        """Turn a google-api-core/google-auth/requests error into our family; the only place they are interpreted."""
        names = ", ".join(self.options.names)
        raw = getattr(exc, "message", None) or (exc.args[0] if exc.args and isinstance(exc.args[0], str) else exc)
        text = self._scrub(" ".join(str(raw).split()))[:500]
        if isinstance(exc, gexc.TooManyRequests):  # ResourceExhausted is a subclass
            return ThrottledError(f"Cloud Logging throttled entries.list on {names} ({text})")
        if isinstance(exc, gexc.Unauthorized):
            return AuthError(f"Cloud Logging rejected the credentials (401 {text})")
        if isinstance(exc, gexc.Forbidden):
            return AuthError(
                f"the credentials lack permission logging.logEntries.list on {names}: grant "
                f"roles/logging.viewer ({text})"
            )
        if isinstance(exc, gexc.NotFound):
            return BadConfigError(f"{names} was not found ({text})")
        if isinstance(exc, gexc.BadRequest):
            return BadConfigError(f"Cloud Logging rejected the request; check the filter and resource names ({text})")
        if isinstance(exc, gexc.ServerError):
            return UnavailableError(f"Cloud Logging answered with a server error ({text})")
        if isinstance(exc, auth_exc.RefreshError):
            return AuthError(f"could not obtain a Google access token: the service-account key was refused ({text})")
        if isinstance(exc, auth_exc.TransportError | requests.RequestException):
            where = self.options.api_endpoint or "logging.googleapis.com"
            return UnavailableError(f"could not reach {where}: {type(exc).__name__}")
        if isinstance(exc, auth_exc.GoogleAuthError):
            return AuthError(f"Google authentication failed ({text})")
        return ConnectorError(f"entries.list on {names} failed ({text})")

    def _scrub(self, text: str) -> str:
        info = self.secret.info or {}
        key = str(info.get("private_key") or "")
        return text.replace(key, "***") if key else text
