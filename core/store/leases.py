"""Connection leases: several workers share connections, never polling one at the same time.

A worker claims running connections whose lease is free, its own, or expired
(``FOR UPDATE SKIP LOCKED`` so claimers never wait on each other), renews them every reconcile,
and proves it still holds the lease inside every load transaction (``fence``), so a worker
that stalled past its lease cannot commit over the one that took over.
"""

from __future__ import annotations

import psycopg
from sqlalchemy import Engine, text

CLAIM_SQL = text("""
UPDATE connections SET lease_owner = :worker, lease_expires_at = now() + make_interval(secs => :lease_s)
WHERE id IN (
    SELECT id FROM connections
    WHERE desired_state = 'running'
      AND (lease_owner IS NULL OR lease_owner = :worker OR lease_expires_at < now())
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
RETURNING id
""")

RELEASE_SQL = text("""
UPDATE connections SET lease_owner = NULL, lease_expires_at = NULL
WHERE lease_owner = :worker AND (desired_state <> 'running' OR :all_ OR id = ANY(:ids))
""")

FENCE_SQL = """
UPDATE connections SET lease_expires_at = now() + make_interval(secs => %s)
WHERE id = %s AND lease_owner = %s
"""


class LeaseLost(Exception):
    """Another worker owns this connection now; the batch is rolled back and polling stops here."""


def claim(engine: Engine, *, worker_id: str, lease_s: float, limit: int = 1000) -> set[int]:
    """Claim or renew leases; returns every connection id this worker holds now."""
    with engine.begin() as conn:
        rows = conn.execute(CLAIM_SQL, {"worker": worker_id, "lease_s": lease_s, "limit": limit}).all()
    return {row[0] for row in rows}


def release(engine: Engine, *, worker_id: str, ids: list[int] | None = None) -> None:
    """Release the leases of ``ids`` (and of every connection no longer running); all when ids is None."""
    with engine.begin() as conn:
        conn.execute(RELEASE_SQL, {"worker": worker_id, "all_": ids is None, "ids": ids or []})


def fence(conn: psycopg.Connection, *, connection_id: int, worker_id: str, lease_s: float) -> None:
    """Inside a load transaction: extend our lease or raise LeaseLost (the row lock also serializes writers)."""
    cur = conn.execute(FENCE_SQL, (lease_s, connection_id, worker_id))
    if cur.rowcount != 1:
        raise LeaseLost(f"connection {connection_id} is leased by another worker")
