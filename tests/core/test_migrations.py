from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import inspect
from sqlmodel import SQLModel

import core.models  # noqa: F401 - registers the tables
from core import migrate
from core.db import make_engine
from core.store.maintenance import maintain_partitions

TABLES = {
    "projects", "users", "memberships", "connections", "cursors", "log_events", "log_counts", "alert_rules",
    "alerts", "notifications", "channels", "audit_log", "workers",
}


def test_migrating_an_empty_database_then_again_is_a_no_op(empty_db_url):
    engine = make_engine(empty_db_url)
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    tables = set(inspect(engine).get_table_names())
    assert tables >= TABLES
    migrate.upgrade(engine)  # second run: nothing to do, nothing breaks
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_models_match_the_migrated_schema(engine):
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        db_columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert {c.name for c in table.columns} == db_columns, table.name


def test_log_events_is_partitioned_with_the_required_indexes(db_url):
    with psycopg.connect(db_url) as conn:
        kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'log_events'").fetchone()[0]
        assert kind == "p"
        indexes = dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'log_events'"))
        dedupe = indexes["log_events_dedupe"]
        assert "UNIQUE" in dedupe and "(connection_id, dedupe_key, ts)" in dedupe
        assert "(project_id, ts DESC)" in indexes["log_events_project_ts"]
        today = datetime.now(UTC).strftime("%Y%m%d")
        parts = {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'log_events'::regclass")}
        assert f"log_events_{today}" in parts and "log_events_default" in parts
        yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y%m%d")
        fts = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (f"log_events_{yesterday}_fts",))
        assert "to_tsvector('simple'::regconfig, message)" in fts.fetchone()[0]


def _insert(conn, ts):
    conn.execute(
        "INSERT INTO log_events (project_id, connection_id, ts, received_at, level, source, message, dedupe_key) "
        "VALUES (1, 1, %s, %s, 2, 's', 'm', %s)", (ts, ts, ts.isoformat()))


def test_maintenance_drops_expired_days_and_moves_rows_out_of_the_default_partition(engine, db_url):
    now = datetime.now(UTC)
    far_future = now + timedelta(days=6)
    with psycopg.connect(db_url, autocommit=True) as conn:
        _insert(conn, now - timedelta(days=3))
        _insert(conn, far_future)  # no partition yet: lands in the default one, not lost
        assert conn.execute("SELECT count(*) FROM log_events_default").fetchone()[0] == 1
    actions = maintain_partitions(engine, retention_days=2, ahead_days=7)
    dropped = {name for action, name in actions if action == "dropped"}
    created = {name for action, name in actions if action == "created"}
    assert f"log_events_{(now - timedelta(days=3)):%Y%m%d}" in dropped
    assert f"log_events_{far_future:%Y%m%d}" in created
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM log_events_default").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM log_events").fetchone()[0] == 1  # the future row, moved
