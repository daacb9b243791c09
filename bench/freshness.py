"""(b) Freshness: from PutLogEvents on a local CloudWatch peer to the row being visible in log_events.

A moto server stands in for CloudWatch Logs; one CloudWatch connection polls it every second
(settle 0) through the real worker process (``python -m worker``). Events are written one at
a time at random moments; a watcher queries the database every 50 ms and notes when each one
appears. Latency runs from just before the put call to the first query that sees the row, so
it includes the put itself and up to 50 ms of watching resolution.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from bench.common import BenchDB, make_connection, percentile, progress, verdict, worker_failed, worker_process
from core.db import make_engine

GROUP, STREAM = "/bench/freshness", "api"
POLL_INTERVAL_S = 1.0
WATCH_EVERY_S = 0.05
REGION = "us-east-1"
PEER_KEY = "testing"  # noqa: S105 - moto accepts any key; nothing here can reach AWS


def run(db: BenchDB, *, duration_s: float, seed: int = 11) -> dict[str, float]:
    print(f"\n== (b) freshness: CloudWatch peer (moto) -> worker -> log_events, poll_interval_s="
          f"{POLL_INTERVAL_S:g}, settle_s=0, one event at a time for {duration_s:.0f} s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        return _measure(db, f"http://{host}:{port}", duration_s=duration_s, rng=random.Random(seed))
    finally:
        moto.stop()


def _measure(db: BenchDB, endpoint: str, *, duration_s: float, rng: random.Random) -> dict[str, float]:
    logs = boto3.client("logs", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=PEER_KEY,
                        aws_secret_access_key=PEER_KEY)
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    engine = make_engine(db.url)
    config = {"region": REGION, "endpoint_url": endpoint, "log_groups": [GROUP], "poll_interval_s": POLL_INTERVAL_S,
              "settle_s": 0, "overlap_s": 60}
    secret = {"access_key_id": "AKIABENCHFRESHNESS01", "secret_access_key": PEER_KEY}
    _, connection_id, _ = make_connection(engine, db, provider="aws", config=config, secret=secret)
    engine.dispose()

    log_path = db.root / "worker-freshness.log"
    env_extra = _offline_aws_env(db.root)
    with worker_process(db, log_path, extra_env=env_extra) as proc:
        progress("worker started; waiting for its first poll of the connection ...")
        _wait_first_poll(db, connection_id, proc, log_path)
        put_at: dict[str, float] = {}
        seen_at: dict[str, float] = {}
        done = threading.Event()
        watcher = threading.Thread(target=_watch, args=(db, connection_id, put_at, seen_at, done), daemon=True)
        watcher.start()
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < duration_s:
            time.sleep(rng.uniform(0.1, 1.4))  # random moments relative to the poll schedule
            marker = f"fresh-{n:05d}"
            put_at[marker] = time.monotonic()
            event = {"timestamp": int(time.time() * 1000), "message": f"{marker} GET /health 200"}
            logs.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=[event])
            n += 1
            if n % 10 == 0:
                progress(f"{n} events put, {len(seen_at)} seen")
            if (failure := worker_failed(proc, log_path)) is not None:
                raise RuntimeError(failure)
        deadline = time.monotonic() + 10 * POLL_INTERVAL_S
        while len(seen_at) < len(put_at) and time.monotonic() < deadline:
            time.sleep(0.1)
        done.set()
        watcher.join()
    latencies = [seen_at[m] - put_at[m] for m in put_at if m in seen_at]
    missing = len(put_at) - len(latencies)
    target = POLL_INTERVAL_S + 1.0
    figures = {"events": len(put_at), "missing": missing, "p50": percentile(latencies, 50),
               "p95": percentile(latencies, 95), "max": max(latencies), "target": target}
    print(f"\n  {len(put_at)} events, {missing} not seen within {10 * POLL_INTERVAL_S:g} s of the last put")
    print(f"  put -> visible: p50 {figures['p50']:.2f} s, p95 {figures['p95']:.2f} s, max {figures['max']:.2f} s "
          f"(target p95 <= interval + 1 s = {target:g} s: {verdict(figures['p95'], target, lower_is_better=True)})")
    return figures


def _watch(db: BenchDB, connection_id: int, put_at: dict[str, float], seen_at: dict[str, float],
           done: threading.Event) -> None:
    with db.connect(autocommit=True) as conn:
        while not done.is_set():
            rows = conn.execute("SELECT split_part(message, ' ', 1) FROM log_events WHERE connection_id = %s",
                                (connection_id,)).fetchall()
            now = time.monotonic()
            for (marker,) in rows:
                if marker in put_at and marker not in seen_at:
                    seen_at[marker] = now
            time.sleep(WATCH_EVERY_S)


def _wait_first_poll(db: BenchDB, connection_id: int, proc: Any, log_path: Path, timeout_s: float = 60) -> None:
    """Until the worker has polled the connection once without an error."""
    deadline = time.monotonic() + timeout_s
    error = None
    while time.monotonic() < deadline:
        with db.connect() as conn:
            polled, error = conn.execute("SELECT last_poll_at IS NOT NULL, last_error FROM connections WHERE id = %s",
                                         (connection_id,)).fetchone()
        if polled and error is None:
            return
        if (failure := worker_failed(proc, log_path)) is not None:
            raise RuntimeError(failure)
        time.sleep(0.1)
    raise RuntimeError(f"the worker did not poll the connection within {timeout_s:g} s (last error: {error}); "
                       f"see {log_path}")


def _offline_aws_env(root: Path) -> dict[str, str]:
    """No real AWS: no profiles, no instance metadata, only the connection's keys and endpoint."""
    return {"AWS_CONFIG_FILE": str(root / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(root / "aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true"}
