"""The worker wiring: `loglytics worker --once` runs stream rules in ingest, window rules, and dispatch."""

from __future__ import annotations

import json

from core.actor import Actor
from core.alerts.defaults import BURST_RULE, ensure_demo_alerting
from core.db import session_scope
from core.store import projects
from tests.alerts.helpers import alerts, notifications, rows
from tests.cli.conftest import cli  # noqa: F401 - the fixture


def test_worker_once_raises_and_delivers_demo_alerts(cli, engine, db_url, app_env):
    from core.vault import Vault

    vault = Vault([app_env["CREDENTIAL_ENCRYPTION_KEYS"]])
    with session_scope(engine) as session:
        project = projects.ensure_project(session, actor=Actor.system("cli"), name="demo").id
        ensure_demo_alerting(session, actor=Actor.system("cli"), vault=vault, project_id=project)
        ensure_demo_alerting(session, actor=Actor.system("cli"), vault=vault, project_id=project)  # idempotent
    added = cli("connections", "add", "--project", "demo", "--provider", "demo", "--name", "demo", "--json",
                "--config", json.dumps({"seed": 5, "max_backfill_s": 900, "error_burst_every_s": 120}))
    assert added.code == 0
    cli("rules", "add", "--project", "demo", "--name", "any error", "--type", "level", "--channel", "inbox",
        "--options", json.dumps({"group_by": "source"}))
    with engine.begin() as conn:  # windows are judged from a connection's creation on: pretend it is older
        conn.exec_driver_sql("UPDATE connections SET created_at = now() - interval '1 hour'")
    assert cli("worker", "--once").code == 0
    [burst_rule] = rows(db_url, "SELECT id FROM alert_rules WHERE name = %s", (BURST_RULE,))
    assert alerts(db_url, burst_rule[0]), "an error burst of the demo raised an alert"
    [level_rule] = rows(db_url, "SELECT id FROM alert_rules WHERE name = 'any error'")
    assert len(alerts(db_url, level_rule[0])) == 5  # one per demo service
    sent = notifications(db_url)
    assert sent and {n["status"] for n in sent} == {"sent"}
    assert len(rows(db_url, "SELECT 1 FROM channels")) == 1
