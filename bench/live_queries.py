"""Live page and chart queries at 1M and 10M stored rows (issue #6 item 8, design.md section 8).

Rows are generated inside PostgreSQL (generate_series) over the retention window, two
projects, daily partitions; closed days get their full-text index from the maintenance
function exactly as the worker builds it; ``log_counts`` is rolled up from the rows. Every
query is the one the dashboard runs (core.store.logs / core.store.metrics through the
row-level-security app role); figures are the median of repeated runs (client time over the
unix socket, so server time plus well under a millisecond).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.common import BenchDB, bench_database, print_table, progress, verdict

RARE_WORD = "zebrafish"  # one row in 100,000 carries it
TARGETS_MS = {"latest 200": 10, "latest 200, level >= ERROR": 20, "rare word search": 50, "24 h per-minute chart": 30}

GENERATE_SQL = """
INSERT INTO log_events (project_id, connection_id, ts, received_at, level, source, message, attributes, dedupe_key)
SELECT p, p, t, t,
       CASE WHEN mod(i, 50) = 0 THEN 5 WHEN mod(i, 20) = 0 THEN 4 ELSE 2 END,
       'svc-' || (mod(i, 12)),
       format('%%s /api/items/%%s %%s %%sms user=u%%s trace=%%s%%s', (ARRAY['GET','POST','PUT'])[1 + mod(i, 3)],
              mod(i, 1000),
              CASE WHEN mod(i, 50) = 0 THEN 503 ELSE 200 END, mod(i, 700), mod(i, 997), md5(i::text),
              CASE WHEN mod(i, 100000) = 8 THEN ' """ + RARE_WORD + """ spotted' ELSE '' END),
       '{}'::jsonb, i::text
FROM (SELECT i, 1 + (mod(i, 2)) AS p, now() - make_interval(secs => (%(n)s - i) * %(span)s / %(n)s) AS t
      FROM generate_series(%(start)s, %(stop)s) AS i) s
"""


def load(db: BenchDB, rows: int, days: int) -> None:
    with db.connect(autocommit=True) as conn:
        conn.execute("TRUNCATE log_events, log_counts")
        conn.execute("INSERT INTO projects (id, name) VALUES (1, 'p1'), (2, 'p2') ON CONFLICT DO NOTHING")
        for pid in (1, 2):
            conn.execute("INSERT INTO connections (id, project_id, name, provider) VALUES (%s, %s, %s, 'demo') "
                         "ON CONFLICT DO NOTHING", (pid, pid, f"c{pid}"))
        chunk = 1_000_000
        for start in range(0, rows, chunk):
            stop = min(rows, start + chunk) - 1
            conn.execute(GENERATE_SQL, {"n": rows, "span": days * 86400.0, "start": start, "stop": stop})
            progress(f"generated {stop + 1:,} / {rows:,} rows")
        conn.execute("""INSERT INTO log_counts SELECT project_id, connection_id, date_trunc('minute', ts), level,
                        count(*) FROM log_events GROUP BY 1, 2, 3, 4""")
        progress("rolled up log_counts; building full-text indexes of closed days (the worker's maintenance)")
        conn.execute("SELECT * FROM loglytics_maintain_partitions(%s)", (days + 1,))
    progress("building the open day's partial search index (the worker's search-index job)")
    from core.db import make_engine
    from core.store.maintenance import refresh_open_day_search_index

    owner = make_engine(db.url)
    refresh_open_day_search_index(owner, min_age=timedelta(0))
    owner.dispose()
    with db.connect(autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE log_events")
        conn.execute("VACUUM ANALYZE log_counts")


def timed(func, repeat: int = 15) -> float:
    func()  # warm the cache and the plan
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def server_ms(engine, func, repeat: int = 15) -> tuple[float, float]:
    """(median client ms, median server ms) of ``func``; server time is planning + execution of
    every statement it sent (EXPLAIN ANALYZE re-runs them with the same parameters and scope)."""
    from sqlalchemy import event

    statements: list[tuple[str, dict]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    client = timed(func, repeat)
    event.listen(engine, "before_cursor_execute", capture)
    func()
    event.remove(engine, "before_cursor_execute", capture)
    samples = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for _ in range(repeat):
            total = 0.0
            for statement, parameters in statements:
                if "set_config" in statement:
                    cur.execute(statement, parameters)  # the same scope, then the measured statement
                    continue
                cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
                plan = cur.fetchone()[0][0]
                total += plan["Planning Time"] + plan["Execution Time"]
            samples.append(total)
        raw.rollback()
    finally:
        raw.close()
    return client, statistics.median(samples)


def measure(db: BenchDB) -> dict[str, float]:
    from core.actor import Actor
    from core.db import APP_ROLE, make_engine
    from core.levels import ERROR
    from core.store import logs, metrics

    engine = make_engine(db.url, role=APP_ROLE)
    admin = Actor.system("bench")
    day_ago = datetime.now(UTC) - timedelta(hours=24)
    week_ago = datetime.now(UTC) - timedelta(days=7)
    calls = {
        "latest 200": lambda: logs.latest(engine, actor=admin, flt=logs.LogFilter(project_id=1), limit=200),
        "latest 200, level >= ERROR": lambda: logs.latest(
            engine, actor=admin, flt=logs.LogFilter(project_id=1, min_level=ERROR), limit=200),
        "rare word search": lambda: logs.latest(
            engine, actor=admin, flt=logs.LogFilter(project_id=1, search=RARE_WORD, since=week_ago), limit=200),
        "24 h per-minute chart": lambda: metrics.events_by_level(engine, actor=admin, project_id=1, since=day_ago),
    }
    results = {}
    for name, call in calls.items():
        client, server = server_ms(engine, call)
        results[name] = server
        results[name + " (client)"] = client
    found = logs.latest(engine, actor=admin, flt=logs.LogFilter(project_id=1, search=RARE_WORD, since=week_ago))
    progress(f"rare-word search found {len(found)} rows")
    engine.dispose()
    return results


def run(quick: bool = False) -> dict[str, dict[str, float]]:
    sizes = [1_000_000] if quick else [1_000_000, 10_000_000]
    figures: dict[str, dict[str, float]] = {}
    with bench_database("live") as db:
        print(f"  {db.settings_line()}")
        for size in sizes:
            progress(f"loading {size:,} rows over 14 days")
            load(db, size, days=14)
            figures[f"{size:,}"] = measure(db)
    rows = []
    for name, target in TARGETS_MS.items():
        cells = [f"{figures[size][name]:.1f} / {figures[size][name + ' (client)']:.1f} ms" for size in figures]
        last = figures[list(figures)[-1]][name]
        rows.append([name, *cells, f"< {target} ms", verdict(last, target, lower_is_better=True)])
    print("  server / client time, median of 15 runs (server = planning + execution, from EXPLAIN ANALYZE)")
    print_table(["query", *(f"{s} rows" for s in figures), "target", "verdict (largest)"], rows)
    return figures


if __name__ == "__main__":
    run(quick=False)
