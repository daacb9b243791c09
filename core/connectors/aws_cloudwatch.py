"""AWS CloudWatch Logs connector: FilterLogEvents over each log group (cloud-apis.md section 1).

Partition = log group name; cursor = ``{"hw_ms": <exclusive high-water, event timestamp ms>}``.
Each poll reads ``[hw_ms - overlap, now - settle)`` per group and the final batch of the group
moves the cursor to ``now - settle``. A group with no cursor (a new connection, or a group that
newly matches the prefix) starts near live, at ``now - overlap``: history is not back-filled.
No loss as long as ``ingestionTime - timestamp < overlap + settle``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
)
from pydantic import Field, SecretStr, field_validator, model_validator

from core.connectors.base import Batch, ConnectorOptions, ConnectorSecret, CursorValue, TestResult
from core.connectors.ratelimit import DEFAULT_RATE, BackoffPolicy, bucket
from core.errors import AuthError, BadConfigError, ConnectorError, ThrottledError, UnavailableError
from core.events import RawEvent

_GROUP_NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")  # AWS's logGroupName pattern
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/.+$")

_THROTTLE_CODES = {
    "ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded",
    "TooManyRequestsException", "RequestThrottled", "RequestThrottledException", "SlowDown", "LimitExceededException",
}  # fmt: skip
_BAD_CREDENTIAL_CODES = {
    "UnrecognizedClientException", "InvalidSignatureException", "InvalidClientTokenId", "SignatureDoesNotMatch",
    "IncompleteSignature", "MissingAuthenticationToken", "InvalidAccessKeyId", "AuthFailure",
}  # fmt: skip
_EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
_INVALID_CODES = {
    "InvalidParameterException", "ValidationException", "InvalidParameterValue", "MalformedQueryException",
}  # fmt: skip
_UNAVAILABLE_CODES = {"ServiceUnavailableException", "ServiceUnavailable", "InternalFailure", "InternalError"}
_NON_JSON_ERROR = re.compile(r"<Code>([^<]+)</Code>.*?<Message>([^<]*)</Message>", re.S)
_PERMISSIONS = {"FilterLogEvents": "logs:FilterLogEvents", "DescribeLogGroups": "logs:DescribeLogGroups"}


class CloudWatchOptions(ConnectorOptions):
    """Non-secret settings of one CloudWatch Logs connection."""

    region: str = Field(min_length=1, description="AWS region, e.g. eu-west-1.")
    log_groups: list[str] | None = Field(None, description="Log group names to read.")
    log_group_prefix: str | None = Field(None, description="Read every log group whose name starts with this.")
    log_stream_prefix: str | None = Field(None, min_length=1, description="Only streams whose name starts with this.")
    filter_pattern: str | None = Field(None, min_length=1, description="CloudWatch Logs filter pattern.")
    endpoint_url: str | None = Field(None, description="Custom endpoint (VPC endpoint, local peer).")
    page_limit: int = Field(10_000, ge=1, le=10_000, description="Events per FilterLogEvents page.")
    # FilterLogEvents allows 5 TPS per account and region; the bucket is shared by every connection on that quota.
    requests_per_s: float = Field(DEFAULT_RATE, gt=0, le=1000, description="API calls/s for this account and region.")

    @field_validator("log_groups")
    @classmethod
    def _check_groups(cls, groups: list[str] | None) -> list[str] | None:
        if groups is None:
            return None
        bad = [g for g in groups if not _GROUP_NAME.match(g)]
        if bad:
            raise ValueError(f"not a valid log group name: {bad[0]!r} (letters, digits and . - _ / # only)")
        return list(dict.fromkeys(groups))

    @field_validator("log_group_prefix")
    @classmethod
    def _check_prefix(cls, prefix: str | None) -> str | None:
        if prefix is not None and not _GROUP_NAME.match(prefix):
            raise ValueError(f"not a valid log group name prefix: {prefix!r}")
        return prefix

    @field_validator("endpoint_url")
    @classmethod
    def _check_endpoint(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("endpoint_url must start with http:// or https://")
        return url

    @model_validator(mode="after")
    def _one_source(self) -> CloudWatchOptions:
        if bool(self.log_groups) == bool(self.log_group_prefix):
            raise ValueError("set exactly one of log_groups (a non-empty list of names) or log_group_prefix")
        return self


class CloudWatchSecret(ConnectorSecret):
    """Credentials: static keys, a role to assume, a profile, or nothing (the default chain).

    ``role_arn`` is assumed with the static keys or profile given next to it, else with the
    default chain.
    """

    access_key_id: str | None = Field(None, min_length=16)
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    role_arn: str | None = None
    external_id: SecretStr | None = None
    profile: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _combination(self) -> CloudWatchSecret:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key must be given together")
        if self.session_token is not None and self.access_key_id is None:
            raise ValueError("session_token needs access_key_id and secret_access_key")
        if self.profile is not None and self.access_key_id is not None:
            raise ValueError("give either a profile or access keys, not both")
        if self.external_id is not None and self.role_arn is None:
            raise ValueError("external_id is only used with role_arn")
        if self.role_arn is not None and not _ROLE_ARN.match(self.role_arn):
            raise ValueError("role_arn must look like arn:aws:iam::123456789012:role/NAME")
        return self


def to_raw_event(group: str, event: Mapping[str, Any], fetched_at: datetime) -> RawEvent:
    """Map one FilterLogEvents event to a RawEvent; ``fetched_at`` stands in for a missing ingestionTime."""
    stream = str(event.get("logStreamName") or "")
    event_id = event.get("eventId")
    ts = _from_ms(event.get("timestamp"))
    if not event_id:  # never seen from AWS; a content key keeps the row idempotent anyway
        parts = (group, stream, event.get("timestamp"), event.get("ingestionTime"), event.get("message"))
        event_id = "sha256:" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return RawEvent(
        dedupe_key=str(event_id),
        ts=ts,
        message=event.get("message") or "",
        source=f"{group}/{stream}",
        received_at=_from_ms(event.get("ingestionTime")) or fetched_at,
        attributes={"aws": {"log_group": group, "log_stream": stream, "event_id": str(event_id)}},
    )


def _from_ms(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:  # naive means UTC here, never local time
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


class _FixedProvider(CredentialProvider):
    METHOD = "loglytics-assume-role"

    def __init__(self, credentials: DeferredRefreshableCredentials) -> None:
        self._credentials = credentials

    def load(self) -> DeferredRefreshableCredentials:
        return self._credentials


class CloudWatchConnector:
    """Polls CloudWatch Logs with FilterLogEvents; see the module docstring for the window."""

    provider: ClassVar[str] = "aws"
    Options: ClassVar[type[CloudWatchOptions]] = CloudWatchOptions
    Secret: ClassVar[type[CloudWatchSecret]] = CloudWatchSecret

    # Our retries once botocore's (standard mode, max_attempts=4 retries: up to 5 tries) give up on a throttle.
    backoff: BackoffPolicy = BackoffPolicy(retries=3, base_s=1.0, cap_s=20.0, max_wait_s=60.0)
    token_wait_s: float = 30.0  # longest wait for a local rate-limit token before reporting throttled

    def __init__(
        self, options: CloudWatchOptions, secret: CloudWatchSecret | None, *, config: Config | None = None
    ) -> None:
        self.options = options
        self.secret = secret or CloudWatchSecret()
        self._config = Config(
            retries={"mode": "standard", "max_attempts": 4},
            connect_timeout=5,
            read_timeout=30,
            user_agent_extra="loglytics-live",
        )
        if config is not None:
            self._config = self._config.merge(config)
        self._bucket = bucket(self._quota_key(), options.requests_per_s)

    @cached_property
    def client(self) -> Any:
        """The boto3 ``logs`` client, built on first use (credential errors surface as ConnectorErrors)."""
        try:
            client = self._session().client("logs", endpoint_url=self.options.endpoint_url, config=self._config)
        except (BotoCoreError, ClientError) as exc:
            raise self._map_error(exc, "CreateClient") from exc
        # Every HTTP attempt, botocore retries included, takes a token from the shared bucket first.
        client.meta.events.register("before-send.cloudwatch-logs", self._take_token)
        return client

    def test(self) -> TestResult:
        region = self.options.region
        try:
            if self.options.log_groups:
                groups = list(self.options.log_groups)
                for group in groups:
                    if group not in self._describe_groups(group):
                        return TestResult(False, f"log group {group!r} does not exist in region {region}")
            else:
                groups = self._describe_groups(self.options.log_group_prefix or "")
                if not groups:
                    return TestResult(False, f"no log group starts with {self.options.log_group_prefix!r} in {region}")
            now_ms = _epoch_ms(datetime.now(UTC))
            window = {"startTime": now_ms - 60_000, "endTime": now_ms, "limit": 1}
            for group in groups if self.options.log_groups else groups[:1]:
                self._call("FilterLogEvents", group, logGroupName=group, **window)
        except ConnectorError as err:
            return TestResult(False, str(err), {"status": err.status, "error": type(err).__name__})
        return TestResult(
            True,
            f"read access to {len(groups)} log group(s) in {region}",
            {"log_groups": groups[:50], "log_group_count": len(groups)},
        )

    def fetch(self, cursors: Mapping[str, CursorValue], now: datetime) -> Iterator[Batch]:
        now_ms = _epoch_ms(now)
        end = now_ms - round(self.options.settle_s * 1000)
        for group in self._resolve_groups():
            yield from self._fetch_group(group, cursors.get(group), now_ms, end)

    def close(self) -> None:
        if "client" in self.__dict__:
            self.__dict__.pop("client").close()

    def _fetch_group(self, group: str, cursor: CursorValue | None, now_ms: int, end: int) -> Iterator[Batch]:
        hw = self._high_water(group, cursor)
        start = (now_ms if hw is None else hw) - round(self.options.overlap_s * 1000)
        if end <= start:
            if hw is None:  # overlap < settle: nothing to read yet, but start tracking the group
                yield Batch([], {group: {"hw_ms": end}})
            return
        params: dict[str, Any] = {
            "logGroupName": group,
            "startTime": start,
            "endTime": end - 1,  # both bounds are inclusive on the wire; our window is half-open
            "limit": self.options.page_limit,
            "interleaved": True,  # ignored by AWS (always on); moto needs it to sort across streams
        }
        if self.options.log_stream_prefix:
            params["logStreamNamePrefix"] = self.options.log_stream_prefix
        if self.options.filter_pattern:
            params["filterPattern"] = self.options.filter_pattern
        fetched_at = datetime.now(UTC)
        while True:
            page = self._call("FilterLogEvents", group, **params)
            events = [to_raw_event(group, e, fetched_at) for e in page.get("events", ())]
            token = page.get("nextToken")
            if not token:  # an empty page with a token is not the end; only a missing token is
                yield Batch(events, {group: {"hw_ms": end if hw is None else max(end, hw)}})
                return
            if events:
                yield Batch(events)
            params["nextToken"] = token

    def _resolve_groups(self) -> list[str]:
        if self.options.log_groups:
            return list(self.options.log_groups)
        return self._describe_groups(self.options.log_group_prefix or "")

    def _describe_groups(self, prefix: str) -> list[str]:
        groups: list[str] = []
        params: dict[str, Any] = {"logGroupNamePrefix": prefix, "limit": 50}
        while True:
            page = self._call("DescribeLogGroups", None, **params)
            groups.extend(g["logGroupName"] for g in page.get("logGroups", ()))
            if not page.get("nextToken"):
                return groups
            params["nextToken"] = page["nextToken"]

    def _call(self, operation: str, group: str | None, **params: Any) -> dict[str, Any]:
        method: Callable[..., dict[str, Any]] = getattr(self.client, _snake(operation))

        def once() -> dict[str, Any]:
            try:
                return method(**params)
            except (BotoCoreError, ClientError) as exc:
                raise self._map_error(exc, operation, group) from exc

        return self.backoff.call(once)

    def _take_token(self, **_: Any) -> None:
        if not self._bucket.acquire(timeout=self.token_wait_s):
            raise ThrottledError(
                f"local rate limit of {self._bucket.rate:g} request(s)/s for this AWS account and region is saturated"
            )

    def _high_water(self, group: str, cursor: CursorValue | None) -> int | None:
        if not cursor:
            return None
        value = cursor.get("hw_ms")
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadConfigError(f"stored cursor for log group {group!r} is malformed: {cursor!r}")
        return value

    def _session(self) -> boto3.Session:
        s = self.secret
        base = boto3.Session(
            aws_access_key_id=s.access_key_id,
            aws_secret_access_key=s.secret_access_key.get_secret_value() if s.secret_access_key else None,
            aws_session_token=s.session_token.get_secret_value() if s.session_token else None,
            profile_name=s.profile,
            region_name=self.options.region,
        )
        if s.role_arn is None:
            return base
        source = base.get_credentials()
        if source is None:
            raise NoCredentialsError()
        extra: dict[str, Any] = {"RoleSessionName": "loglytics-live"}
        if s.external_id is not None:
            extra["ExternalId"] = s.external_id.get_secret_value()
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=base.client, source_credentials=source, role_arn=s.role_arn, extra_args=extra
        )
        # Assumed on first use and refreshed by botocore before the temporary credentials expire.
        credentials = DeferredRefreshableCredentials(refresh_using=fetcher.fetch_credentials, method="assume-role")
        core = botocore.session.Session(profile=s.profile)
        core.register_component("credential_provider", CredentialResolver([_FixedProvider(credentials)]))
        return boto3.Session(botocore_session=core, region_name=self.options.region)

    def _quota_key(self) -> str:
        s = self.secret
        if s.role_arn and (match := _ROLE_ARN.match(s.role_arn)):
            who = match.group(1)
        elif s.access_key_id:
            who = s.access_key_id
        elif s.profile:
            who = f"profile:{s.profile}"
        else:
            who = "default-chain"
        return f"aws:{who}:{self.options.region}"

    def _map_error(self, exc: Exception, operation: str, group: str | None = None) -> ConnectorError:
        """Turn a botocore error into our family; the only place SDK errors are interpreted."""
        region = self.options.region
        if isinstance(exc, ClientError):
            code, message, status = _client_error_parts(exc)
            op = exc.operation_name or operation
            text = self._scrub(f"{code}: {message}" if message else code)
            if code in _THROTTLE_CODES:
                return ThrottledError(f"AWS throttled {op} in {region} ({code})", _retry_after(exc))
            if op == "AssumeRole":
                return AuthError(f"could not assume role {self.secret.role_arn} ({text})")
            if code in _BAD_CREDENTIAL_CODES:
                return AuthError(f"AWS rejected the credentials: bad access key, secret or session token ({text})")
            if code in _EXPIRED_CODES:
                return AuthError(f"the AWS credentials have expired; renew the session token or role ({text})")
            if code in _DENIED_CODES or status == 403:
                perm = _PERMISSIONS.get(op, f"logs:{op}")
                return AuthError(f"the credentials are valid but lack permission {perm} ({text})")
            if code == "ResourceNotFoundException":
                return BadConfigError(f"log group {group!r} does not exist in region {region}")
            if code in _INVALID_CODES:
                return BadConfigError(f"AWS rejected the {op} request; check the options ({text})")
            if code in _UNAVAILABLE_CODES or status >= 500:
                return UnavailableError(f"CloudWatch Logs in {region} answered with a server error ({text})")
            return ConnectorError(f"{op} failed ({text})")
        if isinstance(exc, (botocore.exceptions.ConnectionError, HTTPClientError)):
            where = self.options.endpoint_url or f"the CloudWatch Logs endpoint of {region}"
            return UnavailableError(f"could not reach {where}: {type(exc).__name__}")
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return AuthError("no AWS credentials found: give access keys, a profile or a role, or configure the host")
        if isinstance(exc, CredentialRetrievalError):
            return AuthError(f"could not obtain AWS credentials ({self._scrub(str(exc))})")
        if isinstance(exc, ProfileNotFound):
            return BadConfigError(f"AWS profile {self.secret.profile!r} is not configured on this host")
        if isinstance(exc, (ParamValidationError, NoRegionError)):
            return BadConfigError(f"invalid {operation} request: {self._scrub(str(exc))}")
        return ConnectorError(f"{operation} failed: {type(exc).__name__}: {self._scrub(str(exc))}")

    def _scrub(self, text: str) -> str:
        for value in (self.secret.secret_access_key, self.secret.session_token, self.secret.external_id):
            if value is not None and value.get_secret_value():
                text = text.replace(value.get_secret_value(), "***")
        return text


def _client_error_parts(exc: ClientError) -> tuple[str, str, int]:
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code.isdigit() and (found := _NON_JSON_ERROR.search(message)):
        # A non-JSON (XML) error body, as some proxies and moto's IAM checks send: botocore leaves it unparsed.
        code, message = found.group(1), found.group(2)
    return code, message[:300], status


def _retry_after(exc: ClientError) -> float | None:
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    try:
        if "x-amz-retry-after" in headers:
            return int(headers["x-amz-retry-after"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:
        pass
    return None


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
