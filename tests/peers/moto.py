"""Local cloud peers for the connector tests: a moto server in-process, reset before each test."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
import requests
from moto.server import ThreadedMotoServer

from core.connectors.ratelimit import clear_buckets

_AWS_ENV = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LOGS", "AWS_ENDPOINT_URL_STS", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "AWS_DEFAULT_REGION", "AWS_REGION",
)  # fmt: skip


def _post(url: str, body: bytes = b"") -> None:
    requests.post(url, data=body, timeout=5).raise_for_status()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Base URL of a moto server on a free loopback port (port 0: the OS picks, no race)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:
    """A fresh moto (state wiped, IAM checks off) and an AWS environment that cannot reach real AWS or ~/.aws."""
    _post(f"{moto_server}/moto-api/reset-auth", b"inf")
    _post(f"{moto_server}/moto-api/reset")
    for name in _AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    clear_buckets()
    return moto_server


@pytest.fixture
def enforce_iam(moto: str) -> Iterator[Callable[[], None]]:
    """Call it (after seeding users and keys) to make moto check signatures and IAM policies; undone after the test."""
    yield lambda: _post(f"{moto}/moto-api/reset-auth", b"0")
    _post(f"{moto}/moto-api/reset-auth", b"inf")
