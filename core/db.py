"""Database URL resolution, engines and project-scoped sessions.

Application engines ``SET ROLE`` to a role that does not own the tables, so PostgreSQL's
row-level security applies (migration 0002): ``loglytics_app`` for the dashboard and the CLI,
scoped per transaction to the acting user's projects; ``loglytics_worker`` for the worker.
Migrations run on an owner engine (no role).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, event, text
from sqlmodel import Session, create_engine

from core.actor import Actor
from core.config import Settings

APP_ROLE = "loglytics_app"
WORKER_ROLE = "loglytics_worker"
_SCOPE_SQL = text("SELECT set_config('loglytics.project_ids', :scope, true)")


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


def make_engine(url: str, *, role: str | None = None, **kwargs) -> Engine:
    """An engine; with ``role`` every pooled connection runs ``SET ROLE role`` once when opened."""
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(sqlalchemy_url(url), **kwargs)
    if role is not None:
        @event.listens_for(engine, "connect")
        def _set_role(dbapi_connection, connection_record) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET ROLE {role}")
            dbapi_connection.commit()

    return engine


def project_scope(actor: Actor) -> str:
    """The value row-level security reads: '*' for every project, else '1,2,3' ('' sees nothing)."""
    if actor.project_ids is None:
        return "*"
    return ",".join(str(p) for p in sorted(actor.project_ids))


@contextmanager
def session_scope(engine: Engine, *, actor: Actor | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    With ``actor``, every transaction it begins is scoped to the actor's projects first.
    """
    with Session(engine, expire_on_commit=False) as session:
        if actor is not None:
            scope = project_scope(actor)

            @event.listens_for(session, "after_begin")
            def _scope(session, transaction, connection) -> None:
                connection.execute(_SCOPE_SQL, {"scope": scope})

        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def scoped_connection(engine: Engine, *, actor: Actor) -> Iterator[Connection]:
    """One transaction on a plain connection, scoped to the actor's projects."""
    with engine.begin() as conn:
        conn.execute(_SCOPE_SQL, {"scope": project_scope(actor)})
        yield conn
