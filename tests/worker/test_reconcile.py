"""The worker's reconcile loop, leases and per-connection status, in-process on the embedded database."""

from __future__ import annotations

import json
import threading
import time

import boto3
import psycopg
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from botocore.config import Config

from core.connectors.aws_cloudwatch import CloudWatchConnector
from core.connectors.ratelimit import BackoffPolicy
from core.db import session_scope
from core.store import connections
from core.store.leases import LeaseLost
from tests.peers.cloudwatch import logs, put  # noqa: F401 - logs is a fixture
from tests.pipeline.helpers import ACTOR, aws_config, aws_secret, make_connection, make_project, scalar, wait_for
from tests.pipeline.test_ingest_aws import throttle_hook
from worker.reconcile import Reconciler

DEMO = {"rate_per_s": 20, "seed": 1, "poll_interval_s": 1}


def _status(db_url, connection_id):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT status, last_error FROM connections WHERE id = %s", (connection_id,)).fetchone()


def _reconciler(engine, vault, worker_id="w1", scheduler=None, lease_s=15.0):
    return Reconciler(engine=engine, vault=vault, scheduler=scheduler, worker_id=worker_id, lease_s=lease_s,
                      stop=threading.Event())


def _set_state(engine, connection_id, state):
    with session_scope(engine) as session:
        connections.set_desired_state(session, actor=ACTOR, connection_id=connection_id, state=state)


def test_desired_state_changes_apply_within_two_seconds(engine, vault, db_url):
    scheduler = BackgroundScheduler()
    reconciler = _reconciler(engine, vault, scheduler=scheduler)
    scheduler.add_job(reconciler.reconcile, "interval", seconds=1, id="reconcile")
    scheduler.start()
    try:
        row = make_connection(engine, vault, project_id=make_project(engine), provider="demo", config=DEMO)
        job = f"poll:{row.id}"
        wait_for(lambda: scheduler.get_job(job), timeout=2.5, message="poll job added")
        wait_for(lambda: _status(db_url, row.id)[0] == "running", timeout=5, message="first poll")
        assert scalar(db_url, "SELECT count(*) FROM log_events") > 0

        _set_state(engine, row.id, "paused")
        wait_for(lambda: scheduler.get_job(job) is None and _status(db_url, row.id)[0] == "paused", timeout=2.5,
                 message="paused")
        _set_state(engine, row.id, "running")
        wait_for(lambda: scheduler.get_job(job), timeout=2.5, message="resumed")
        first_runner = reconciler.runners[row.id]
        with session_scope(engine) as session:  # an edit replaces the connector, no restart needed
            connections.update_connection(session, actor=ACTOR, vault=vault, connection_id=row.id,
                                          config={**DEMO, "rate_per_s": 40})
        wait_for(lambda: reconciler.runners.get(row.id) not in (None, first_runner), timeout=2.5, message="edit")
        assert reconciler.runners[row.id].connector.options.rate_per_s == 40
        _set_state(engine, row.id, "stopped")
        wait_for(lambda: scheduler.get_job(job) is None and _status(db_url, row.id)[0] == "stopped", timeout=2.5,
                 message="stopped")
        assert scalar(db_url, "SELECT lease_owner FROM connections WHERE id = %s", (row.id,)) is None
    finally:
        scheduler.shutdown(wait=True)
        reconciler.shutdown()


def test_throttling_shows_as_status_and_other_connections_go_on(engine, vault, db_url, moto, logs):
    project = make_project(engine)
    put(logs, "/app/t", "s", [(int(time.time() * 1000) - 1000, "hello")])
    aws = make_connection(engine, vault, project_id=project, provider="aws", config=aws_config(moto, ["/app/t"]),
                          secret=aws_secret())
    demo = make_connection(engine, vault, project_id=project, provider="demo", config=DEMO)
    reconciler = _reconciler(engine, vault)
    reconciler.reconcile()
    runner = reconciler.runners[aws.id]
    # no SDK retries and a fast policy of ours, so the throttle escapes quickly
    runner.connector = CloudWatchConnector(runner.connector.options, runner.connector.secret,
                                           config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    runner.connector.backoff = BackoffPolicy(retries=1, base_s=0.01, cap_s=0.02, max_wait_s=1.0)
    hook, calls = throttle_hook(limit=100)
    runner.connector.client.meta.events.register("before-send.cloudwatch-logs.FilterLogEvents", hook)
    started = time.monotonic()
    reconciler.poll_all_once()
    status, error = _status(db_url, aws.id)
    assert status == "throttled" and "throttl" in error.lower()
    assert _status(db_url, demo.id) == ("running", None)
    assert runner.failures == 1 and runner.backoff_until >= started  # backs off (full jitter) before retrying
    calls["n"] = 1000  # the provider calms down
    runner.backoff_until = 0
    reconciler.poll_all_once()
    assert _status(db_url, aws.id) == ("running", None)
    assert scalar(db_url, "SELECT count(*) FROM log_events WHERE connection_id = %s", (aws.id,)) == 1
    reconciler.shutdown()


def test_bad_credentials_and_missing_group_are_reported_and_others_unaffected(
        engine, vault, db_url, moto, logs, enforce_iam):
    iam = boto3.client("iam", endpoint_url=moto, region_name="us-east-1", aws_access_key_id="t",
                       aws_secret_access_key="t")
    iam.create_user(UserName="reader")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="reader", PolicyName="logs-read", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    good_secret = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    put(logs, "/app/ok", "s", [(int(time.time() * 1000) - 1000, "fine")])
    enforce_iam()
    project = make_project(engine)
    bad_creds = make_connection(engine, vault, project_id=project, provider="aws",
                                config=aws_config(moto, ["/app/ok"]), secret=aws_secret())
    missing = make_connection(engine, vault, project_id=project, provider="aws",
                              config=aws_config(moto, ["/app/nope"]), secret=good_secret)
    good = make_connection(engine, vault, project_id=project, provider="aws",
                           config=aws_config(moto, ["/app/ok"]), secret=good_secret)
    reconciler = _reconciler(engine, vault)
    reconciler.reconcile()
    reconciler.poll_all_once()
    status, error = _status(db_url, bad_creds.id)
    assert status == "error" and "credential" in error.lower()
    assert "testing" not in error  # the secret key is never echoed
    status, error = _status(db_url, missing.id)
    assert status == "error" and "/app/nope" in error
    assert _status(db_url, good.id) == ("running", None)
    assert scalar(db_url, "SELECT count(*) FROM log_events WHERE connection_id = %s", (good.id,)) == 1
    reconciler.shutdown()


def test_two_workers_never_hold_the_same_connection_and_a_dead_ones_lease_moves(engine, vault, db_url):
    project = make_project(engine)
    rows = [make_connection(engine, vault, project_id=project, provider="demo", config={**DEMO, "seed": i})
            for i in range(3)]
    first, second = _reconciler(engine, vault, "w1", lease_s=2), _reconciler(engine, vault, "w2", lease_s=2)
    first.reconcile()
    second.reconcile()
    assert set(first.runners) == {r.id for r in rows} and second.runners == {}
    # w1 dies (stops renewing); once its lease expires w2 takes every connection over
    time.sleep(2.2)
    second.reconcile()
    assert set(second.runners) == {r.id for r in rows}
    second.poll_all_once()
    # the stale worker cannot commit over the new owner: its load transaction is fenced
    runner = first.runners[rows[0].id]
    before = scalar(db_url, "SELECT count(*) FROM log_events")
    from core.pipeline.ingest import poll_once

    with pytest.raises(LeaseLost):
        poll_once(engine, connector=runner.connector, project_id=project, connection_id=rows[0].id,
                  worker_id="w1", lease_s=2)
    assert scalar(db_url, "SELECT count(*) FROM log_events") == before
    second.shutdown()
