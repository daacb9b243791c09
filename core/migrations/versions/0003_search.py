"""Full-text search of log events through a checked SECURITY DEFINER function.

Row-level security keeps non-leakproof conditions such as ``to_tsvector(...) @@ query`` and
``ILIKE`` from being used as index conditions (they must run after the policy), so under the
app role the per-partition full-text GIN indexes would never be used and a rare word would scan
every row. This function runs as the table owner, so the indexes work, and enforces the same
project scope as the policies itself: it refuses a project outside ``loglytics.project_ids``.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SEARCH_FUNCTION = """
CREATE FUNCTION loglytics_search_events(
    p_project integer, p_query text, p_words text[], p_since timestamptz, p_until timestamptz,
    p_min_level integer, p_connections integer[], p_sources text[], p_limit integer)
RETURNS TABLE (ts timestamptz, level smallint, source text, message text, attributes jsonb, connection_id integer,
               dedupe_key text, trace_id text, received_at timestamptz, ingested_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    scope text := current_setting('loglytics.project_ids', true);
    conditions text := 'project_id = $1 AND to_tsvector(''simple'', message) @@ websearch_to_tsquery(''simple'', $2)';
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
    RETURN QUERY EXECUTE format(
        'SELECT ts, level, source, message, attributes, connection_id, dedupe_key, trace_id, received_at, ingested_at '
        'FROM log_events WHERE %s ORDER BY ts DESC LIMIT %s', conditions, p_limit)
        USING p_project, p_query, p_connections, p_sources;
END $$;
"""


def upgrade() -> None:
    op.execute(SEARCH_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION loglytics_search_events(integer, text, text[], timestamptz, timestamptz, "
               "integer, integer[], text[], integer) FROM PUBLIC")
    for role in ("loglytics_app", "loglytics_worker"):
        op.execute(f"GRANT EXECUTE ON FUNCTION loglytics_search_events(integer, text, text[], timestamptz, "
                   f"timestamptz, integer, integer[], text[], integer) TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS loglytics_search_events(integer, text, text[], timestamptz, timestamptz, "
               "integer, integer[], text[], integer)")
