"""Security: application roles, row-level security on every project table, append-only audit.

Two NOLOGIN roles; the application connects as the owner (or superuser) and ``SET ROLE``s:
- ``loglytics_app`` (dashboard, CLI): row-level security scopes every project table to the
  projects in the transaction-local setting ``loglytics.project_ids`` ('*' for admins, else a
  comma-separated list; unset or empty sees nothing: fail closed).
- ``loglytics_worker``: the worker's system identity; policies let it see every project.
Neither role may UPDATE or DELETE ``audit_log``, nor touch a ``log_events`` partition directly.
Later migrations that add tables must GRANT to both roles and add policies themselves.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROLES = ("loglytics_app", "loglytics_worker")
PROJECT_TABLES = {
    "projects": "id",
    "memberships": "project_id",
    "connections": "project_id",
    "cursors": "project_id",
    "log_events": "project_id",
    "log_counts": "project_id",
    "alert_rules": "project_id",
    "alerts": "project_id",
    "channels": "project_id",
    "notifications": "project_id",
    "audit_log": "project_id",
}
# CASE, not OR: PostgreSQL may evaluate OR's arms in any order, and '*' is no integer
ALLOWED = (
    "(CASE WHEN current_setting('loglytics.project_ids', true) = '*' THEN true ELSE {column} = ANY "
    "(string_to_array(nullif(current_setting('loglytics.project_ids', true), ''), ',')::integer[]) END)"
)


def upgrade() -> None:
    for role in ROLES:
        op.execute(f"""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE {role} NOLOGIN;
                END IF;
                IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
                    EXECUTE format('GRANT {role} TO %I', current_user);
                END IF;
            END $$
        """)
        op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
        # partitions carry no policies of their own: reach them only through log_events
        op.execute(f"""
            DO $$ DECLARE part record; BEGIN
                FOR part IN SELECT inhrelid::regclass AS name FROM pg_inherits
                            WHERE inhparent = 'log_events'::regclass LOOP
                    EXECUTE format('REVOKE ALL ON %s FROM {role}', part.name);
                END LOOP;
            END $$
        """)
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {role}")
        op.execute(f"REVOKE ALL ON alembic_version FROM {role}")
    # partition upkeep needs the owner's rights (CREATE, ATTACH, DROP); the worker calls it
    op.execute("ALTER FUNCTION loglytics_maintain_partitions(integer, integer) SECURITY DEFINER "
               "SET search_path = public, pg_temp")
    for table, column in PROJECT_TABLES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        allowed = ALLOWED.format(column=column)
        op.execute(f"CREATE POLICY app_projects ON {table} TO loglytics_app USING ({allowed}) WITH CHECK ({allowed})")
        op.execute(f"CREATE POLICY worker_all ON {table} TO loglytics_worker USING (true) WITH CHECK (true)")


def downgrade() -> None:
    for table in PROJECT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS app_projects ON {table}")
        op.execute(f"DROP POLICY IF EXISTS worker_all ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("ALTER FUNCTION loglytics_maintain_partitions(integer, integer) SECURITY INVOKER")
    for role in ROLES:
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
        op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
