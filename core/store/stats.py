"""Row counts for the status page and `loglytics status`."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

COUNTED_TABLES = ("projects", "users", "connections", "log_events", "alert_rules", "alerts", "notifications",
                  "audit_log")


def table_counts(session: Session) -> dict[str, int]:
    """Exact counts for small tables; the planner's estimate for log_events (it can hold millions)."""
    counts = {}
    for table in COUNTED_TABLES:
        if table == "log_events":
            estimate = session.exec(
                text("SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_inherits i "
                     "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'log_events'::regclass")
            ).one()[0]
            exact = session.exec(text("SELECT count(*) FROM (SELECT 1 FROM log_events LIMIT 100000) s")).one()[0]
            counts[table] = exact if exact < 100000 else int(estimate)
        else:
            counts[table] = session.exec(text(f"SELECT count(*) FROM {table}")).one()[0]  # noqa: S608 (fixed names)
    return counts


def unread_alerts(session: Session, *, project_id: int) -> int:
    """Open alerts nobody has read yet (the sidebar badge)."""
    return session.exec(
        text("SELECT count(*) FROM alerts WHERE project_id = :p AND NOT read AND state <> 'resolved'"),
        params={"p": project_id},
    ).one()[0]
