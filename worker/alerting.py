"""Alerting job bodies for the worker: window rules, notification dispatch, and the ingest hook.

Orchestration only; the semantics live in core/alerts (see docs/alerts.md).
"""

from __future__ import annotations

import logging
from functools import cache

from sqlalchemy import Engine

from core.alerts import dispatcher, stream
from core.alerts.cache import RuleCache
from core.alerts.window import WindowEvaluator
from core.pipeline.ingest import NewEventsHook
from core.vault import Vault

log = logging.getLogger("loglytics.worker")
WINDOW_RULES_S = 10
DISPATCH_S = 2


@cache
def ingest_hook() -> NewEventsHook:
    """The process's stream-rule hook for poll_once (one compiled-rule cache shared by the poll threads)."""
    return stream.make_hook(RuleCache())


_evaluator = WindowEvaluator()


def evaluate_window_rules(engine: Engine) -> None:
    """Judge the windows completed since the last pass; resolve quiet stream alerts; wake ended silences."""
    try:
        stats = _evaluator.run(engine)
    except Exception:  # noqa: BLE001 - the database going away must not kill the scheduler
        log.exception("window rule evaluation failed")
        return
    if stats.fired or stats.resolved or stats.errors:
        log.info("window rules: %s windows, %s firing, %s resolved, %s errors", stats.windows, stats.fired,
                 stats.resolved, stats.errors)


def dispatch_notifications(engine: Engine, *, vault: Vault, dashboard_url: str | None = None) -> None:
    """Send the notifications that are due."""
    try:
        stats = dispatcher.dispatch_due(engine, vault=vault, dashboard_url=dashboard_url)
    except Exception:  # noqa: BLE001
        log.exception("notification dispatch failed")
        return
    if stats.handled:
        log.info("notifications: %s sent, %s to retry, %s dead", stats.sent, stats.retried, stats.dead)
