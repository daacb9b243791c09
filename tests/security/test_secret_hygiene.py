"""Planted secrets appear nowhere: process logs, audit trail, last_error, CLI output, a pg_dump."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import psycopg
import pytest

from core.db import libpq_url
from core.embedded_pg import bin_dir
from core.redact import RedactingFilter, register_secret_values, scrub
from tests.cli.conftest import cli  # noqa: F401 - fixture
from tests.conftest import repo_root
from tests.peers.cloudwatch import logs, put  # noqa: F401 - logs is a fixture
from tests.pipeline.helpers import wait_for

AWS_SECRET = "Zq9PLANTEDawsSecretKey/0123456789abcdefXy"
AWS_KEY_ID = "AKIAPLANTED000000001"
SLACK_TOKEN = "PLANTEDslackWebhookToken42"
SLACK_URL = f"http://127.0.0.1:1/services/T0PLANT/B0PLANT/{SLACK_TOKEN}"  # nothing listens: delivery fails


@pytest.mark.parametrize("text, secret", [
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ('{"client_secret": "abc8Q~defghijklmnopqrstuvwxyz0123456789"}', "abc8Q~defghijklmnopqrstuvwxyz0123456789"),
    ("posting to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX failed",
     "hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX"),
    ("token xoxb-123456789012-abcdefghijkl rejected", "xoxb-123456789012-abcdefghijkl"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlMTIz", "eyJhbGciOiJIUzI1NiJ9"),
    ("key id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
])
def test_known_secret_formats_are_scrubbed(text, secret):
    assert secret not in scrub(text)
    assert "[REDACTED]" in scrub(text)


def test_registered_values_are_scrubbed_from_log_records():
    register_secret_values([{"password": "s3cr3t-value-for-test"}])
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "login with %s failed", ("s3cr3t-value-for-test",),
                               None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "login with [REDACTED] failed"


def test_plain_text_is_left_alone():
    text = "GET /api/orders 200 0.012s user=alice"
    assert scrub(text) == text


def test_planted_secrets_appear_nowhere(cli, app_env, engine, vault, db_url, moto, logs, enforce_iam, tmp_path):
    from tests.alerts.helpers import raise_alert

    raise_alert(engine, db_url, vault, "slack", {}, {"webhook_url": SLACK_URL})  # an alert whose Slack delivery fails
    put(logs, "/app/secret", "s", [(int(time.time() * 1000) - 1000, "x")])
    enforce_iam()  # moto now rejects unknown credentials
    assert cli("projects", "add", "A").code == 0
    secret_file = tmp_path / "s.json"
    secret_file.write_text(json.dumps({"access_key_id": AWS_KEY_ID, "secret_access_key": AWS_SECRET}))
    config = {"region": "us-east-1", "endpoint_url": moto, "log_groups": ["/app/secret"], "poll_interval_s": 1}
    added = cli("connections", "add", "--project", "A", "--provider", "aws", "--name", "leaky",
                "--config", json.dumps(config), "--secret-file", str(secret_file), "--json")
    assert added.code == 0, added.err
    conn_id = added.json()["id"]
    tested = cli("connections", "test", str(conn_id))
    assert tested.code == 1 and "credential" in tested.out
    env = {**os.environ, **app_env, "LOGLYTICS_LOG_LEVEL": "DEBUG"}  # botocore at DEBUG logs whole requests
    worker = subprocess.Popen([sys.executable, "-m", "worker"], cwd=repo_root(), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: _last_error(db_url, conn_id), timeout=30, message="the connection's error")
        wait_for(lambda: _notification_error(db_url), timeout=30, message="the failed Slack delivery")
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert "credential" in _last_error(db_url, conn_id).lower()
    assert "FilterLogEvents" in output or "filter_log_events" in output.lower()  # the logs really are verbose
    dump = subprocess.run([str(bin_dir(repo_root()) / "pg_dump"), libpq_url(db_url)], capture_output=True,
                          text=True, timeout=60)
    assert dump.returncode == 0
    shown = cli("connections", "show", str(conn_id), "--json").out
    audit = cli("audit", "list", "--json").out
    channels = cli("channels", "list", "--project", "shop", "--json").out
    places = {"worker log": output, "pg_dump": dump.stdout, "connections show": shown, "audit": audit,
              "last_error": _last_error(db_url, conn_id), "test output": tested.out + tested.err,
              "notification error": _notification_error(db_url), "channels list": channels}
    for where, text in places.items():
        assert AWS_SECRET not in text, where
        assert SLACK_TOKEN not in text, where


def _last_error(db_url, conn_id):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT last_error FROM connections WHERE id = %s", (conn_id,)).fetchone()[0]


def _notification_error(db_url):
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT last_error FROM notifications WHERE last_error IS NOT NULL").fetchone()
    return row[0] if row else None
