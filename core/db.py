"""Database URL resolution, engine and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlmodel import Session, create_engine

from core.config import Settings


def resolve_url(settings: Settings) -> str:
    """The libpq URL to use: DATABASE_URL, or the embedded server (started if needed)."""
    if settings.database_url:
        return settings.database_url
    from core.embedded_pg import server_url

    return server_url(settings.pgdata)


def sqlalchemy_url(libpq_url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if libpq_url.startswith(prefix):
            return "postgresql+psycopg://" + libpq_url[len(prefix):]
    raise ValueError("not a PostgreSQL URL")


def libpq_url(url: str) -> str:
    """Strip SQLAlchemy's driver suffix so psycopg and pg_dump accept the URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def make_engine(url: str, **kwargs) -> Engine:
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(sqlalchemy_url(url), **kwargs)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
