"""Keeps the scheduler's poll jobs equal to the connections this worker holds a lease on."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.models import Connection
from core.store import leases
from core.store import status as status_store
from core.vault import Vault
from worker.runner import ConnectionRunner

log = logging.getLogger("loglytics.worker")


class Reconciler:
    def __init__(self, *, engine: Engine, vault: Vault, scheduler: BaseScheduler | None, worker_id: str,
                 lease_s: float, stop: threading.Event):
        self.engine, self.vault, self.scheduler = engine, vault, scheduler
        self.worker_id, self.lease_s, self.stop = worker_id, lease_s, stop
        self.runners: dict[int, ConnectionRunner] = {}
        self._lock = threading.Lock()

    def reconcile(self) -> None:
        """Claim/renew leases, then add, replace or remove poll jobs to match."""
        if self.stop.is_set():  # shutting down: shutdown() releases everything
            return
        with self._lock:
            held = leases.claim(self.engine, worker_id=self.worker_id, lease_s=self.lease_s)
            rows = self._rows(held)
            for connection_id in list(self.runners):
                row = rows.get(connection_id)
                if row is None or row.updated_at != self.runners[connection_id].version:
                    self._remove(connection_id)
            for connection_id, row in rows.items():
                if connection_id not in self.runners:
                    self._add(row)
            leases.release(self.engine, worker_id=self.worker_id, ids=[])  # stopped/paused ones
            status_store.settle_stopped(self.engine, worker_id=self.worker_id)

    def _rows(self, ids: set[int]) -> dict[int, Connection]:
        if not ids:
            return {}
        with Session(self.engine) as session:
            return {c.id: c for c in session.exec(select(Connection).where(col(Connection.id).in_(ids)))}

    def _add(self, row: Connection) -> None:
        runner = ConnectionRunner(engine=self.engine, vault=self.vault, row=row, worker_id=self.worker_id,
                                  lease_s=self.lease_s, stop=self.stop)
        self.runners[row.id] = runner
        if self.scheduler is not None:
            self.scheduler.add_job(
                runner.poll, "interval", seconds=runner.poll_interval_s, id=f"poll:{row.id}",
                jitter=min(1.0, runner.poll_interval_s / 5), next_run_time=datetime.now(UTC),
                replace_existing=True,
            )
        log.info("polling connection %s (%s) every %ss", row.id, row.provider, runner.poll_interval_s)

    def _remove(self, connection_id: int) -> None:
        runner = self.runners.pop(connection_id)
        if self.scheduler is not None and self.scheduler.get_job(f"poll:{connection_id}"):
            self.scheduler.remove_job(f"poll:{connection_id}")
        runner.close()
        log.info("stopped polling connection %s", connection_id)

    def poll_all_once(self) -> None:
        for runner in list(self.runners.values()):
            runner.poll()

    def shutdown(self) -> None:
        with self._lock:
            for connection_id in list(self.runners):
                self._remove(connection_id)
            leases.release(self.engine, worker_id=self.worker_id)

