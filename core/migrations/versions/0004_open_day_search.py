"""Search the open day's partition through a partial full-text index, refreshed by the worker.

Closed days get a full GIN index once they end (0001); the open day cannot carry one (it would
cut ingest several times over). Instead the worker builds, every half hour or so and
CONCURRENTLY, a partial GIN index on the open partition covering ``ts < upto`` (rows almost
never arrive that late, so inserts rarely touch it), records ``upto`` here, and drops the
previous one. The search function splits a query at ``upto``: indexed rows before it, a short
scan of the newest rows after it.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SIGNATURE = "integer, text, text[], timestamptz, timestamptz, integer, integer[], text[], integer"

SEARCH_FUNCTION = """
CREATE OR REPLACE FUNCTION loglytics_search_events(
    p_project integer, p_query text, p_words text[], p_since timestamptz, p_until timestamptz,
    p_min_level integer, p_connections integer[], p_sources text[], p_limit integer)
RETURNS TABLE (ts timestamptz, level smallint, source text, message text, attributes jsonb, connection_id integer,
               dedupe_key text, trace_id text, received_at timestamptz, ingested_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    scope text := current_setting('loglytics.project_ids', true);
    conditions text := 'project_id = $1 AND to_tsvector(''simple'', message) @@ websearch_to_tsquery(''simple'', $2)';
    columns text := 'ts, level, source, message, attributes, connection_id, dedupe_key, trace_id, received_at, '
                    'ingested_at';
    boundary timestamptz;
    word text;
BEGIN
    -- coalesce: an unset or empty scope makes the test NULL, and NULL must mean "refuse"
    IF NOT coalesce(scope = '*' OR p_project = ANY (string_to_array(nullif(scope, ''), ',')::integer[]), false) THEN
        RAISE EXCEPTION 'project % is not visible to this session', p_project USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- constants, not parameters, for the time bounds: the planner prunes partitions with them
    IF p_since IS NOT NULL THEN conditions := conditions || format(' AND ts >= %L', p_since); END IF;
    IF p_until IS NOT NULL THEN conditions := conditions || format(' AND ts < %L', p_until); END IF;
    IF p_min_level IS NOT NULL THEN conditions := conditions || format(' AND level >= %s', p_min_level); END IF;
    IF p_connections IS NOT NULL THEN conditions := conditions || ' AND connection_id = ANY ($3)'; END IF;
    IF p_sources IS NOT NULL THEN conditions := conditions || ' AND source = ANY ($4)'; END IF;
    FOREACH word IN ARRAY coalesce(p_words, '{}') LOOP
        conditions := conditions || format(' AND message ILIKE %L', '%' || word || '%');
    END LOOP;
    SELECT f.upto INTO boundary FROM loglytics_fts_partial f
    WHERE f.partition_name = 'log_events_' || to_char((now() AT TIME ZONE 'UTC')::date, 'YYYYMMDD');
    IF boundary IS NULL THEN
        RETURN QUERY EXECUTE format('SELECT %s FROM log_events WHERE %s ORDER BY ts DESC LIMIT %s',
                                    columns, conditions, p_limit)
            USING p_project, p_query, p_connections, p_sources;
    ELSE
        -- the literal "ts < boundary" lets the planner prove the partial index applies
        RETURN QUERY EXECUTE format(
            '(SELECT %1$s FROM log_events WHERE %2$s AND ts < %3$L ORDER BY ts DESC LIMIT %4$s) UNION ALL '
            '(SELECT %1$s FROM log_events WHERE %2$s AND ts >= %3$L ORDER BY ts DESC LIMIT %4$s) '
            'ORDER BY ts DESC LIMIT %4$s', columns, conditions, boundary, p_limit)
            USING p_project, p_query, p_connections, p_sources;
    END IF;
END $$;
"""


def upgrade() -> None:
    op.execute("""
        CREATE TABLE loglytics_fts_partial (
            partition_name text PRIMARY KEY,
            upto timestamptz NOT NULL,
            index_name text NOT NULL,
            built_at timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute(SEARCH_FUNCTION)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS loglytics_fts_partial")
    # the 0003 version of the function no longer compiles without the table's lookup removed
    from importlib import import_module

    previous = import_module("core.migrations.versions.0003_search")
    op.execute(f"DROP FUNCTION IF EXISTS loglytics_search_events({SIGNATURE})")
    op.execute(previous.SEARCH_FUNCTION)
