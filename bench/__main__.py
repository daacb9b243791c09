"""``make bench``: every benchmark, then a summary. ``python -m bench [--quick] [BENCH ...]``.

BENCH is ingest, freshness, rss, queries or quality (default: all). Each benchmark starts its
own throwaway embedded PostgreSQL (see bench/common.py). Ratios are measured in the same run;
nothing is asserted, targets are reported. ``queries`` is bench/live_queries.py (page and chart
queries at 1M/10M rows); ``quality`` is bench/normalizer_quality.py, run as a subprocess (it
needs ../shared/data/loghub and says so when that is missing). Exit status: 0 when every
benchmark ran, 1 when one failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench.common import REPO_ROOT, bench_database, machine_line, print_table, verdict

BENCHES = ("ingest", "freshness", "rss", "queries", "quality")
FULL = {"events": 1_000_000, "rounds": 2, "naive_sample": 5000, "freshness_s": 60, "backfill_s": 500}
QUICK = {"events": 150_000, "rounds": 1, "naive_sample": 1000, "freshness_s": 20, "backfill_s": 75}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Loglytics Live benchmarks (make bench).")
    parser.add_argument("benches", nargs="*", metavar="BENCH",
                        help=f"run only these ({', '.join(BENCHES)}); default: all")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 4 minutes instead of ~20)")
    args = parser.parse_args(argv)
    if unknown := [b for b in args.benches if b not in BENCHES]:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHES)}")
    chosen = args.benches or list(BENCHES)
    sizes = QUICK if args.quick else FULL
    print(f"Loglytics Live benchmarks ({'quick' if args.quick else 'full'} run)")
    print(f"Machine: {machine_line()}")

    results: dict[str, dict[str, Any] | None] = {}
    failed: list[str] = []
    runners: dict[str, Callable[[], dict[str, Any] | None]] = {
        "ingest": lambda: _with_db("ingest", lambda db: _ingest(db, sizes)),
        "freshness": lambda: _with_db("freshness", lambda db: _freshness(db, sizes)),
        "rss": lambda: _with_db("rss", lambda db: _rss(db, sizes)),
        "queries": lambda: _queries(args.quick),
        "quality": _quality,
    }
    for name in chosen:
        started = time.monotonic()
        try:
            results[name] = runners[name]()
        except Exception:  # noqa: BLE001 - report it, run the other benchmarks
            traceback.print_exc()
            failed.append(name)
        print(f"  ({name}: {time.monotonic() - started:.0f} s)", flush=True)
    _summary(results, failed)
    return 1 if failed else 0


def _with_db(name: str, body: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    with bench_database(f"bench_{name}") as db:
        print(f"\n[{name}] {db.settings_line()}")
        return body(db)


def _ingest(db, sizes: dict[str, int]) -> dict[str, Any]:
    from bench import ingest

    return ingest.run(db, events=sizes["events"], rounds=sizes["rounds"], naive_sample=sizes["naive_sample"])


def _freshness(db, sizes: dict[str, int]) -> dict[str, Any]:
    from bench import freshness

    return freshness.run(db, duration_s=sizes["freshness_s"])


def _rss(db, sizes: dict[str, int]) -> dict[str, Any]:
    from bench import worker_rss

    return worker_rss.run(db, backfill_s=sizes["backfill_s"])


def _queries(quick: bool) -> dict[str, Any]:
    print("\n== (d) live page and chart queries (bench/live_queries.py)", flush=True)
    from bench import live_queries

    return {"figures": live_queries.run(quick=quick)}


def _quality() -> dict[str, Any]:
    print("\n== normalizer quality (bench/normalizer_quality.py)", flush=True)
    code = subprocess.call([sys.executable, "bench/normalizer_quality.py"], cwd=REPO_ROOT)
    if code != 0:
        raise RuntimeError(f"bench/normalizer_quality.py exited with {code}")
    return {"exit": code}


def _summary(results: dict[str, dict[str, Any] | None], failed: list[str]) -> None:
    rows: list[list[str]] = []
    if ingest := results.get("ingest"):
        rows += [
            ["ingest: bare staging load", f"{ingest['bare_staging']:,.0f} ev/s", "reference", ""],
            ["ingest: pipeline", f"{ingest['pipeline']:,.0f} ev/s", "", ""],
            ["ingest: pipeline / bare staging", f"{ingest['ratio_staging']:.2f}", ">= 0.8 (floor 0.5)",
             verdict(ingest["ratio_staging"], 0.8, 0.5)],
            ["  same, without stream rules", f"{ingest['ratio_staging_no_rules']:.2f}", "", ""],
            [f"ingest: {ingest['rules']} mixed rules / none", f"{ingest['ratio_rules']:.2f}", "", ""],
            ["  same, demo fetch included", f"{ingest['ratio_staging_with_fetch']:.2f}", "", ""],
            ["ingest: pipeline / naive ORM", f"{ingest['ratio_naive']:.0f}x", ">= 50x",
             verdict(ingest["ratio_naive"], 50)],
        ]
    if fresh := results.get("freshness"):
        rows += [
            ["freshness p50", f"{fresh['p50']:.2f} s", "", ""],
            ["freshness p95", f"{fresh['p95']:.2f} s", f"<= {fresh['target']:g} s",
             verdict(fresh["p95"], fresh["target"], lower_is_better=True)
             + (f", {fresh['missing']} LOST" if fresh["missing"] else "")],
        ]
    if rss := results.get("rss"):
        rows.append([f"worker peak RSS ({rss['events']:,} backlog)", f"{rss['peak_mb']:.0f} MB",
                     f"< {rss['target_mb']} MB", verdict(rss["peak_mb"], rss["target_mb"], lower_is_better=True)])
    if queries := results.get("queries"):
        rows += _query_rows(queries["figures"])
    if "quality" in results:
        rows.append(["normalizer quality", "ran", "see its output", ""])
    rows += [[f"{name}", "FAILED", "", "see the traceback above"] for name in failed]
    print("\n== summary")
    print_table(["measure", "value", "target", "verdict"], rows)


def _query_rows(figures: Any) -> list[list[str]]:
    """Summary lines for the largest size live_queries measured (its own table has them all)."""
    from bench import live_queries

    try:
        size = list(figures)[-1]
        return [[f"query: {name} ({size} rows)", f"{figures[size][name]:.1f} ms", f"< {target} ms",
                 verdict(figures[size][name], target, lower_is_better=True)]
                for name, target in live_queries.TARGETS_MS.items()]
    except (AttributeError, KeyError, IndexError, TypeError):
        return [["live queries", "ran", "see its table", ""]]


if __name__ == "__main__":
    raise SystemExit(main())
