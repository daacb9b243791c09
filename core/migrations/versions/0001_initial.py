"""Initial schema: every table of design.md section 3, log_events time-partitioned.

Revision ID: 0001
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE projects (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE users (
    id serial PRIMARY KEY,
    username text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    disabled boolean NOT NULL DEFAULT false,
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    last_login_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE memberships (
    user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id integer NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, project_id)
);
CREATE TABLE connections (
    id serial PRIMARY KEY,
    project_id integer NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name text NOT NULL,
    provider text NOT NULL,
    config jsonb NOT NULL DEFAULT '{}'::jsonb,
    secret bytea,
    desired_state text NOT NULL DEFAULT 'running' CHECK (desired_state IN ('running', 'stopped', 'paused')),
    status text NOT NULL DEFAULT 'pending',
    last_error text,
    last_poll_at timestamptz,
    last_event_at timestamptz,
    lag_s double precision,
    events_per_min double precision,
    lease_owner text,
    lease_expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
CREATE INDEX ix_connections_project_id ON connections (project_id);
CREATE TABLE cursors (
    connection_id integer NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    partition text NOT NULL,
    project_id integer NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    value jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, partition)
);
CREATE TABLE log_counts (
    project_id integer NOT NULL,
    connection_id integer NOT NULL,
    minute timestamptz NOT NULL,
    level smallint NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (project_id, connection_id, minute, level)
);
CREATE TABLE alert_rules (
    id serial PRIMARY KEY,
    project_id integer NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name text NOT NULL,
    type text NOT NULL,
    options jsonb NOT NULL DEFAULT '{}'::jsonb,
    severity text NOT NULL DEFAULT 'warning',
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
CREATE INDEX ix_alert_rules_project_id ON alert_rules (project_id);
CREATE TABLE alerts (
    id serial PRIMARY KEY,
    project_id integer NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    rule_id integer NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    group_key text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'firing' CHECK (state IN ('firing', 'acknowledged', 'resolved', 'silenced')),
    severity text NOT NULL DEFAULT 'warning',
    title text NOT NULL DEFAULT '',
    count integer NOT NULL DEFAULT 1,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now(),
    last_notified_at timestamptz,
    acked_by integer REFERENCES users(id) ON DELETE SET NULL,
    acked_at timestamptz,
    ack_comment text,
    resolved_by integer REFERENCES users(id) ON DELETE SET NULL,
    resolved_at timestamptz,
    silenced_until timestamptz,
    read boolean NOT NULL DEFAULT false,
    samples jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX ix_alerts_project_id ON alerts (project_id);
CREATE UNIQUE INDEX alerts_open_fingerprint ON alerts (rule_id, fingerprint) WHERE state <> 'resolved';
CREATE INDEX alerts_project_state ON alerts (project_id, state, last_seen);
CREATE TABLE channels (
    id serial PRIMARY KEY,
    project_id integer NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name text NOT NULL,
    type text NOT NULL,
    config jsonb NOT NULL DEFAULT '{}'::jsonb,
    secret bytea,
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
CREATE INDEX ix_channels_project_id ON channels (project_id);
CREATE TABLE notifications (
    id serial PRIMARY KEY,
    project_id integer NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    alert_id integer NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    channel_id integer NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    event text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX ix_notifications_project_id ON notifications (project_id);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    ts timestamptz NOT NULL DEFAULT now(),
    project_id integer,
    actor text NOT NULL,
    action text NOT NULL,
    target text NOT NULL DEFAULT '',
    outcome text NOT NULL DEFAULT 'ok',
    source text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX ix_audit_log_project_id ON audit_log (project_id);
CREATE TABLE workers (
    id text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    version text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_beat timestamptz NOT NULL DEFAULT now()
);
"""

LOG_EVENTS_COLUMNS = """
    project_id integer NOT NULL,
    connection_id integer NOT NULL,
    ts timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    level smallint NOT NULL,
    source text NOT NULL,
    message text NOT NULL,
    attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
    dedupe_key text NOT NULL,
    trace_id text
"""

LOG_EVENTS_INDEXES = """
CREATE UNIQUE INDEX log_events_dedupe ON log_events (connection_id, dedupe_key, ts);
CREATE INDEX log_events_project_ts ON log_events (project_id, ts DESC);
"""

# Native partitioning. The full-text GIN index is built per partition once its day has
# closed (maintenance below): on the partition being written it would cut ingest several
# times over, and recent rows are found fast enough by walking (project_id, ts DESC).
NATIVE_MAINTENANCE = """
CREATE FUNCTION loglytics_maintain_partitions(retention_days integer, ahead_days integer DEFAULT 3)
RETURNS TABLE (action text, partition_name text)
LANGUAGE plpgsql AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    day date;
    part record;
    part_day date;
    lower_ts timestamptz;
    upper_ts timestamptz;
BEGIN
    FOR day IN SELECT generate_series(today - retention_days, today + ahead_days, interval '1 day')::date LOOP
        partition_name := 'log_events_' || to_char(day, 'YYYYMMDD');
        IF to_regclass(partition_name) IS NULL THEN
            lower_ts := day::timestamp AT TIME ZONE 'UTC';
            upper_ts := (day + 1)::timestamp AT TIME ZONE 'UTC';
            -- rows of that day may sit in the default partition: move them, then attach
            EXECUTE format('CREATE TABLE %I (LIKE log_events INCLUDING DEFAULTS)', partition_name);
            EXECUTE format('WITH moved AS (DELETE FROM log_events_default WHERE ts >= %L AND ts < %L RETURNING *)
                            INSERT INTO %I SELECT * FROM moved', lower_ts, upper_ts, partition_name);
            EXECUTE format('ALTER TABLE log_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           partition_name, lower_ts, upper_ts);
            action := 'created'; RETURN NEXT;
        END IF;
    END LOOP;
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'log_events'::regclass AND c.relname ~ '^log_events_[0-9]{8}$'
    LOOP
        part_day := to_date(substr(part.relname, 12), 'YYYYMMDD');
        partition_name := part.relname;
        IF part_day < today - retention_days THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            action := 'dropped'; RETURN NEXT;
        ELSIF part_day < today AND to_regclass(part.relname || '_fts') IS NULL THEN
            EXECUTE format('CREATE INDEX %I ON %I USING gin (to_tsvector(''simple'', message))',
                           part.relname || '_fts', part.relname);
            action := 'indexed'; RETURN NEXT;
        END IF;
    END LOOP;
    DELETE FROM log_events_default WHERE ts < (today - retention_days)::timestamp AT TIME ZONE 'UTC';
END $$;
"""

TIMESCALE_MAINTENANCE = """
CREATE FUNCTION loglytics_maintain_partitions(retention_days integer, ahead_days integer DEFAULT 3)
RETURNS TABLE (action text, partition_name text)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT 'dropped'::text, c::text
        FROM drop_chunks('log_events', older_than => now() - make_interval(days => retention_days)) AS c;
END $$;
"""


def _has_timescale() -> bool:
    bind = op.get_bind()
    return bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").first() is not None


def upgrade() -> None:
    op.execute(TABLES)
    if _has_timescale():
        op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        op.execute(f"CREATE TABLE log_events ({LOG_EVENTS_COLUMNS})")
        op.execute("SELECT create_hypertable('log_events', 'ts', chunk_time_interval => interval '1 day')")
        op.execute(LOG_EVENTS_INDEXES)
        op.execute("CREATE INDEX log_events_fts ON log_events USING gin (to_tsvector('simple', message))")
        op.execute(TIMESCALE_MAINTENANCE)
    else:
        op.execute(f"CREATE TABLE log_events ({LOG_EVENTS_COLUMNS}) PARTITION BY RANGE (ts)")
        op.execute(LOG_EVENTS_INDEXES)
        # catches rows outside every daily partition (very old or far future): kept, never lost
        op.execute("CREATE TABLE log_events_default PARTITION OF log_events DEFAULT")
        op.execute(NATIVE_MAINTENANCE)
        op.execute("SELECT * FROM loglytics_maintain_partitions(14)")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS loglytics_maintain_partitions(integer, integer)")
    for table in (
        "log_events", "workers", "audit_log", "notifications", "channels", "alerts", "alert_rules",
        "log_counts", "cursors", "connections", "memberships", "users", "projects",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
