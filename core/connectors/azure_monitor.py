"""Azure Monitor Log Analytics connector: options and secret models.

Ingest for Azure lands with its own issue (#7); until then a connection can be configured and
validated, and the worker reports it as not yet supported instead of polling.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator

from core.connectors.base import Batch, ConnectorOptions, ConnectorSecret, CursorValue, TestResult
from core.errors import BadConfigError


class AzureOptions(ConnectorOptions):
    workspace_id: str = Field(min_length=1)
    query: str = Field(min_length=1, description="KQL, e.g. AppTraces | where SeverityLevel >= 2")
    time_column: str = "TimeGenerated"
    level_column: str | None = None
    message_column: str | None = None
    endpoint: str = "https://api.loganalytics.io"
    overlap_s: float = Field(300.0, ge=0)
    settle_s: float = Field(60.0, ge=0)


class AzureSecret(ConnectorSecret):
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    certificate_pem: SecretStr | None = None
    managed_identity: bool = False

    @model_validator(mode="after")
    def _one_mode(self) -> AzureSecret:
        if (self.client_secret or self.certificate_pem) and not (self.tenant_id and self.client_id):
            raise ValueError("a service principal needs tenant_id and client_id")
        return self


class AzureMonitorConnector:
    provider: ClassVar[str] = "azure"
    Options: ClassVar[type[AzureOptions]] = AzureOptions
    Secret: ClassVar[type[AzureSecret]] = AzureSecret

    def __init__(self, options: AzureOptions, secret: AzureSecret | None) -> None:
        self.options = options

    def test(self) -> TestResult:
        return TestResult(ok=False, message="Azure Monitor ingest is not available in this version yet")

    def fetch(self, cursors: Mapping[str, CursorValue], now: datetime) -> Iterator[Batch]:
        raise BadConfigError("Azure Monitor ingest is not available in this version yet")

    def close(self) -> None:
        pass
