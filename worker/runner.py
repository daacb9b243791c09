"""Polls one connection: owns its connector, its backoff, and the status it reports."""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime

from sqlalchemy import Engine

from core.connectors import registry
from core.errors import ConnectorError, ThrottledError
from core.models import Connection
from core.pipeline.ingest import PollOutcome, poll_once
from core.redact import scrub
from core.store import status as status_store
from core.store.connections import decrypt_secret
from core.store.leases import LeaseLost
from core.vault import Vault
from worker.alerting import ingest_hook

log = logging.getLogger("loglytics.worker")
MAX_BACKOFF_S = 300.0


class ConnectionRunner:
    def __init__(self, *, engine: Engine, vault: Vault, row: Connection, worker_id: str, lease_s: float,
                 stop: threading.Event):
        self.engine, self.worker_id, self.lease_s, self.stop = engine, worker_id, lease_s, stop
        self.connection_id, self.project_id = row.id, row.project_id
        self.version = row.updated_at
        self.failures = 0
        self.backoff_until = 0.0
        self.connector = None
        self.build_error: str | None = None
        try:
            self.connector = registry.build(row.provider, row.config, decrypt_secret(row, vault))
            self.poll_interval_s = self.connector.options.poll_interval_s
        except Exception as exc:  # noqa: BLE001 - shown as the connection's status, never kills the worker
            self.build_error = scrub(f"cannot start connector: {exc}")
            self.poll_interval_s = 30.0

    def poll(self, now: datetime | None = None) -> PollOutcome | None:
        """The job body. Never raises: every failure becomes the connection's status."""
        if self.build_error:
            status_store.record_poll(self.engine, connection_id=self.connection_id, status="error",
                                     error=self.build_error)
            return None
        if time.monotonic() < self.backoff_until:
            return None
        backfilling = {"shown": False}

        def on_batch(outcome: PollOutcome) -> None:
            if outcome.batches == 2 and not backfilling["shown"]:  # more than one page: a backlog
                backfilling["shown"] = True
                status_store.set_status(self.engine, connection_id=self.connection_id, status="backfilling")

        try:
            outcome = poll_once(
                self.engine, connector=self.connector, project_id=self.project_id,
                connection_id=self.connection_id, worker_id=self.worker_id, lease_s=self.lease_s, now=now,
                stop=self.stop, on_batch=on_batch, on_new_events=ingest_hook(),
            )
        except LeaseLost as exc:
            log.warning("%s", exc)
            return None
        except ThrottledError as exc:
            self._back_off(exc.retry_after_s)
            self._record("throttled", str(exc))
            return None
        except ConnectorError as exc:
            self._back_off(None)
            self._record("error", str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - a bug or the database going away must not kill the scheduler
            log.exception("poll of connection %s failed", self.connection_id)
            self._back_off(None)
            self._record("error", f"internal error ({type(exc).__name__}); see the worker log")
            return None
        self.failures = 0
        self.backoff_until = 0.0
        status_store.record_poll(self.engine, connection_id=self.connection_id, status="running", error=None,
                                 last_event_at=outcome.last_event_at, lag_s=outcome.lag_s)
        return outcome

    def _back_off(self, hint_s: float | None) -> None:
        """Full jitter exponential backoff; the provider's Retry-After hint is a floor."""
        self.failures += 1
        ceiling = min(MAX_BACKOFF_S, self.poll_interval_s * 2 ** min(self.failures, 10))
        delay = max(hint_s or 0.0, random.uniform(0, ceiling))
        self.backoff_until = time.monotonic() + delay

    def _record(self, status: str, error: str) -> None:
        try:
            status_store.record_poll(self.engine, connection_id=self.connection_id, status=status, error=scrub(error))
        except Exception:  # noqa: BLE001 - database down: the next poll will report
            log.exception("could not record status of connection %s", self.connection_id)

    def close(self) -> None:
        if self.connector is not None:
            try:
                self.connector.close()
            except Exception:  # noqa: BLE001
                log.exception("closing connector %s", self.connection_id)
