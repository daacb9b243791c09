"""Google Cloud Logging connector: options and secret models.

Ingest for Google lands with its own issue (#7); until then a connection can be configured and
validated, and the worker reports it as not yet supported instead of polling.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import ClassVar

from pydantic import Field, SecretStr

from core.connectors.base import Batch, ConnectorOptions, ConnectorSecret, CursorValue, TestResult
from core.errors import BadConfigError


class GcpOptions(ConnectorOptions):
    project_id: str = Field(min_length=1)
    resource_names: list[str] = Field(default_factory=list)
    filter: str = ""
    api_endpoint: str | None = None
    overlap_s: float = Field(120.0, ge=0)
    settle_s: float = Field(60.0, ge=0)


class GcpSecret(ConnectorSecret):
    service_account_json: SecretStr | None = None


class GcpLoggingConnector:
    provider: ClassVar[str] = "gcp"
    Options: ClassVar[type[GcpOptions]] = GcpOptions
    Secret: ClassVar[type[GcpSecret]] = GcpSecret

    def __init__(self, options: GcpOptions, secret: GcpSecret | None) -> None:
        self.options = options

    def test(self) -> TestResult:
        return TestResult(ok=False, message="Google Cloud Logging ingest is not available in this version yet")

    def fetch(self, cursors: Mapping[str, CursorValue], now: datetime) -> Iterator[Batch]:
        raise BadConfigError("Google Cloud Logging ingest is not available in this version yet")

    def close(self) -> None:
        pass
