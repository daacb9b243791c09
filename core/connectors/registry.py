"""Provider name -> connector class. Modules are imported on first use (cloud SDKs are slow to import)."""

from __future__ import annotations

import importlib
from typing import Any

from core.connectors.base import Connector, ConnectorOptions, ConnectorSecret
from core.errors import UsageError

_PROVIDERS: dict[str, str] = {
    "demo": "core.connectors.demo:DemoConnector",
    "aws": "core.connectors.aws_cloudwatch:CloudWatchConnector",
    "azure": "core.connectors.azure_monitor:AzureMonitorConnector",
    "gcp": "core.connectors.gcp_logging:GcpLoggingConnector",
}


def providers() -> list[str]:
    return list(_PROVIDERS)


def connector_class(provider: str) -> type[Connector]:
    if provider not in _PROVIDERS:
        raise UsageError(f"unknown provider {provider!r}; use one of {', '.join(_PROVIDERS)}")
    module_name, _, class_name = _PROVIDERS[provider].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def validate_options(provider: str, raw: dict[str, Any]) -> ConnectorOptions:
    """Validate a provider's options; raises pydantic.ValidationError with field-level reasons."""
    return connector_class(provider).Options.model_validate(raw)


def validate_secret(provider: str, raw: dict[str, Any] | None) -> ConnectorSecret | None:
    if raw is None:
        return None
    return connector_class(provider).Secret.model_validate(raw)


def build(provider: str, options: dict[str, Any], secret: dict[str, Any] | None) -> Connector:
    cls = connector_class(provider)
    return cls(cls.Options.model_validate(options), validate_secret(provider, secret))
