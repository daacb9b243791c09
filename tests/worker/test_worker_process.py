"""The real worker process (`python -m worker`): SIGKILL mid-batch, two at once, SIGTERM, --once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import repo_root
from tests.peers.cloudwatch import logs, put  # noqa: F401 - logs is a fixture
from tests.pipeline.helpers import (
    assert_exactly_once,
    aws_config,
    aws_secret,
    make_connection,
    make_project,
    scalar,
    wait_for,
)

pytestmark = pytest.mark.slow
BACKLOG_STREAMS, PER_STREAM = 6, 4000


def start_worker(app_env, *args: str, lease_s: float = 2.0) -> subprocess.Popen:
    env = {**os.environ, **app_env, "LOGLYTICS_WORKER_LEASE_S": str(lease_s), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "worker", *args], cwd=repo_root(), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> str:
    """SIGTERM and wait; a worker still running after 40 s is made to print its threads' stacks."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1)
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"the worker did not stop after SIGTERM:\n{out[-6000:]}") from None
    return out


def seed_backlog(logs, group: str) -> int:
    base = int(time.time() * 1000) - 300_000
    for s in range(BACKLOG_STREAMS):
        put(logs, group, f"stream-{s}", [(base + i * 7 + s, f"svc-{s} request {i} ok") for i in range(PER_STREAM)])
    return BACKLOG_STREAMS * PER_STREAM


def backlog_connection(engine, vault, moto, group):
    return make_connection(engine, vault, project_id=make_project(engine), provider="aws",
                           config=aws_config(moto, [group], page_limit=500), secret=aws_secret())


def count(db_url) -> int:
    return scalar(db_url, "SELECT count(*) FROM log_events")


def test_worker_killed_mid_batch_then_restarted_loads_every_event_exactly_once(
        engine, vault, db_url, app_env, moto, logs):
    total = seed_backlog(logs, "/big")
    row = backlog_connection(engine, vault, moto, "/big")
    first = start_worker(app_env)
    try:
        wait_for(lambda: count(db_url) > 0, timeout=30, interval=0.02, message="first committed batch")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    stopped_at = count(db_url)
    assert 0 < stopped_at < total, "the kill should land mid-backlog"
    assert scalar(db_url, "SELECT count(*) FROM cursors WHERE connection_id = %s", (row.id,)) == 0
    second = start_worker(app_env)  # its lease claim waits for the dead worker's lease (2 s) to expire
    try:
        wait_for(lambda: count(db_url) == total, timeout=60, message="the whole backlog")
        wait_for(lambda: scalar(db_url, "SELECT count(*) FROM cursors WHERE connection_id = %s", (row.id,)),
                 timeout=10, message="the cursor")
    finally:
        out = stop(second)
    assert second.returncode == 0, out
    assert_exactly_once(db_url, row.id, total)


def test_two_worker_processes_share_the_work_without_duplicates(engine, vault, db_url, app_env, moto, logs):
    totals = {}
    rows = []
    for group in ("/one", "/two", "/three"):
        totals[group] = seed_backlog(logs, group) if group == "/one" else 0
        if group != "/one":
            put(logs, group, "s", [(int(time.time() * 1000) - 1000 - i, f"{group} {i}") for i in range(50)])
            totals[group] = 50
        rows.append(backlog_connection(engine, vault, moto, group))
    workers = [start_worker(app_env), start_worker(app_env)]
    try:
        wait_for(lambda: count(db_url) == sum(totals.values()), timeout=60, message="every event")
        owners = scalar(db_url, "SELECT count(DISTINCT lease_owner) FROM connections WHERE lease_owner IS NOT NULL")
        assert owners >= 1
    finally:
        outputs = [stop(w) for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    for row, group in zip(rows, totals, strict=True):
        assert_exactly_once(db_url, row.id, totals[group])


def test_sigterm_finishes_and_exits_cleanly_and_once_mode_polls_and_exits(engine, vault, db_url, app_env):
    row = make_connection(engine, vault, project_id=make_project(engine), provider="demo",
                          config={"rate_per_s": 50, "seed": 3, "poll_interval_s": 1, "max_backfill_s": 60})
    worker = start_worker(app_env)
    try:
        wait_for(lambda: scalar(db_url, "SELECT count(*) FROM workers"), timeout=20, message="heartbeat")
        wait_for(lambda: count(db_url) > 0, timeout=20, message="demo events")
        first = count(db_url)
        wait_for(lambda: count(db_url) > first, timeout=10, message="more demo events (continuous)")
    finally:
        out = stop(worker)
    assert worker.returncode == 0, out
    assert scalar(db_url, "SELECT count(*) FROM workers") == 0  # heartbeat row removed on exit
    assert scalar(db_url, "SELECT lease_owner FROM connections WHERE id = %s", (row.id,)) is None
    once = subprocess.run([sys.executable, "-m", "worker", "--once"], cwd=repo_root(),
                          env={**os.environ, **app_env}, capture_output=True, text=True, timeout=60)
    assert once.returncode == 0, once.stderr
    assert scalar(db_url, "SELECT status FROM connections WHERE id = %s", (row.id,)) == "running"


def test_sigterm_at_any_moment_stops_cleanly(engine, vault, db_url, app_env):
    """A stop signal landing while a reconcile job adds or removes poll jobs once deadlocked the scheduler."""
    for seed in range(4):
        make_connection(engine, vault, project_id=make_project(engine), provider="demo",
                        config={"rate_per_s": 20, "seed": seed, "poll_interval_s": 1, "max_backfill_s": 30})
    rng = random.Random(11)
    for _ in range(5):
        worker = start_worker(app_env)
        time.sleep(rng.uniform(1.0, 3.0))  # the reconcile job runs every second
        out = stop(worker)
        assert worker.returncode == 0, out
