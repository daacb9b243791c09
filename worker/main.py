"""Builds the scheduler and runs it until SIGTERM/SIGINT (or one round with ``--once``)."""

from __future__ import annotations

import logging
import signal
import threading

from apscheduler.schedulers.blocking import BlockingScheduler

from core.db import session_scope
from core.store import maintenance

log = logging.getLogger("loglytics.worker")
HEARTBEAT_S = 5
MAINTENANCE_S = 3600


def run_worker(ctx, *, once: bool = False) -> int:
    logging.basicConfig(
        level=ctx.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    engine = ctx.engine
    worker_id = maintenance.new_worker_id()
    retention = ctx.settings.log_retention_days

    def heartbeat() -> None:
        with session_scope(engine) as session:
            maintenance.beat(session, worker_id=worker_id)

    def maintain() -> None:
        for action, name in maintenance.maintain_partitions(engine, retention_days=retention):
            log.info("partition %s: %s", name, action)

    heartbeat()
    maintain()
    if once:
        _remove(engine, worker_id)
        return 0

    scheduler = BlockingScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    scheduler.add_job(heartbeat, "interval", seconds=HEARTBEAT_S, id="heartbeat")
    scheduler.add_job(maintain, "interval", seconds=MAINTENANCE_S, id="maintenance", jitter=60)

    def shutdown(signum, frame) -> None:
        log.info("signal %s: finishing current jobs", signum)
        # shutdown(wait=True) waits for running jobs; do it off the signal handler's frame
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    log.info("worker %s started", worker_id)
    scheduler.start()
    _remove(engine, worker_id)
    log.info("worker %s stopped", worker_id)
    return 0


def _remove(engine, worker_id: str) -> None:
    with session_scope(engine) as session:
        maintenance.remove_worker(session, worker_id=worker_id)
