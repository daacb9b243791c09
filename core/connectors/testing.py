"""'Test connection': build a connector from (unsaved or stored) settings and run its test()."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core.connectors import registry
from core.connectors.base import TestResult
from core.errors import ConnectorError
from core.redact import scrub


def test_connection(provider: str, config: dict[str, Any], secret: dict[str, Any] | None) -> TestResult:
    """Never raises for a provider problem: the reason is in the result."""
    try:
        connector = registry.build(provider, config, secret)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return TestResult(ok=False, message=f"invalid settings: {where + ': ' if where else ''}{first['msg']}")
    try:
        result = connector.test()
    except ConnectorError as exc:
        result = TestResult(ok=False, message=str(exc))
    finally:
        connector.close()
    result.message = scrub(result.message)
    return result
