"""(c) Worker peak RSS while draining a large backlog.

A demo connection at 2,000 events/s with ``max_backfill_s`` 500 asks for ~1M events on its
first poll. The real worker (``python -m worker``) drains it; its resident set size is sampled
with psutil every 100 ms until the connection's cursor is committed (the cursor rides on the
last batch of the poll, so the backlog is then fully loaded).
"""

from __future__ import annotations

import time

import psutil

from bench.common import BenchDB, make_connection, progress, verdict, worker_failed, worker_process
from core.db import make_engine

RATE = 2000
SAMPLE_EVERY_S = 0.1
TARGET_MB = 300


def run(db: BenchDB, *, backfill_s: int, timeout_s: float = 900) -> dict[str, float]:
    expected = RATE * backfill_s
    print(f"\n== (c) worker RSS: demo connection, rate_per_s {RATE}, max_backfill_s {backfill_s} "
          f"(~{expected:,} events on the first poll), sampled every {SAMPLE_EVERY_S * 1000:.0f} ms")
    engine = make_engine(db.url)
    _, connection_id, _ = make_connection(engine, db, provider="demo", config={
        "rate_per_s": RATE, "max_backfill_s": backfill_s, "seed": 99, "poll_interval_s": 2})
    engine.dispose()
    log_path = db.root / "worker-rss.log"
    peak = baseline = 0
    with worker_process(db, log_path) as proc, db.connect(autocommit=True) as conn:
        process = psutil.Process(proc.pid)
        started = time.monotonic()
        first_row_at = None
        next_report = started + 5
        while True:
            try:
                rss = process.memory_info().rss
            except psutil.NoSuchProcess:
                rss = 0
            peak = max(peak, rss)
            if (failure := worker_failed(proc, log_path)) is not None:
                raise RuntimeError(failure)
            rows = conn.execute("SELECT count(*) FROM log_events WHERE connection_id = %s",
                                (connection_id,)).fetchone()[0] if time.monotonic() >= next_report else None
            if first_row_at is None:
                if _has_rows(conn, connection_id):
                    first_row_at = time.monotonic()
                else:
                    baseline = rss  # the last sample before the first batch: imports, pools, scheduler
            if rows is not None:
                progress(f"{rows:,} rows loaded, RSS now {rss / 2**20:.0f} MB, peak {peak / 2**20:.0f} MB")
                next_report += 5
            if conn.execute("SELECT count(*) FROM cursors WHERE connection_id = %s", (connection_id,)).fetchone()[0]:
                break
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"backlog not drained within {timeout_s:g} s; see {log_path}")
            time.sleep(SAMPLE_EVERY_S)
        done_at = time.monotonic()
        loaded = conn.execute("SELECT count(*) FROM log_events WHERE connection_id = %s",
                              (connection_id,)).fetchone()[0]
    drain_s = done_at - (first_row_at or started)
    figures = {"events": loaded, "peak_mb": peak / 2**20, "baseline_mb": baseline / 2**20, "drain_s": drain_s,
               "drain_eps": loaded / drain_s if drain_s > 0 else 0.0, "target_mb": TARGET_MB}
    print(f"\n  {loaded:,} events drained in {drain_s:.1f} s ({figures['drain_eps']:,.0f} events/s by the worker)")
    print(f"  worker RSS: {figures['baseline_mb']:.0f} MB before the first batch, peak {figures['peak_mb']:.0f} MB "
          f"(target < {TARGET_MB} MB: {verdict(figures['peak_mb'], TARGET_MB, lower_is_better=True)})")
    return figures


def _has_rows(conn, connection_id: int) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM log_events WHERE connection_id = %s)",
                        (connection_id,)).fetchone()[0]
