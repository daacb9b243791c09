"""CloudWatch -> PostgreSQL through the real boto3, moto's server and the embedded database."""

from __future__ import annotations

import random
import time

import psycopg
from botocore.awsrequest import AWSResponse

from core.connectors import registry
from core.pipeline.ingest import poll_once
from tests.peers.cloudwatch import logs, put  # noqa: F401 - logs is a fixture
from tests.pipeline.helpers import (
    assert_exactly_once,
    aws_config,
    aws_secret,
    make_connection,
    make_project,
    scalar,
)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _poll(engine, row, vault):
    from core.store.connections import decrypt_secret

    connector = registry.build(row.provider, row.config, decrypt_secret(row, vault))
    try:
        return poll_once(engine, connector=connector, project_id=row.project_id, connection_id=row.id)
    finally:
        connector.close()


def test_groups_streams_out_of_order_and_small_pages_load_each_event_once(engine, vault, db_url, moto, logs):
    base = _now_ms() - 120_000
    rng = random.Random(7)
    expected = 0
    for group in ("/app/a", "/app/b", "/app/c"):
        for stream in ("s1", "s2"):
            stamps = rng.sample(range(0, 100_000, 7), 12)
            # three PutLogEvents batches per stream, written out of time order across batches
            for chunk in (stamps[8:], stamps[:4], stamps[4:8]):
                put(logs, group, stream, [(base + s, f"{group} {stream} event {s}") for s in chunk])
            expected += 12
    row = make_connection(engine, vault, project_id=make_project(engine), provider="aws",
                          config=aws_config(moto, ["/app/a", "/app/b", "/app/c"], page_limit=3), secret=aws_secret())
    first = _poll(engine, row, vault)
    assert first.inserted == expected and first.batches >= expected // 3
    again = _poll(engine, row, vault)  # the overlap re-reads everything: nothing new, nothing doubled
    assert again.inserted == 0 and again.seen == expected
    assert_exactly_once(db_url, row.id, expected)
    assert scalar(db_url, "SELECT count(*) FROM cursors WHERE connection_id = %s", (row.id,)) == 3


def test_late_event_inside_the_overlap_arrives_on_the_next_poll(engine, vault, db_url, moto, logs):
    now = _now_ms()
    put(logs, "/app/late", "s", [(now - 5_000, "on time")])
    row = make_connection(engine, vault, project_id=make_project(engine), provider="aws",
                          config=aws_config(moto, ["/app/late"]), secret=aws_secret())
    assert _poll(engine, row, vault).inserted == 1
    # written after the poll, stamped before it (inside the overlap): a late arrival
    put(logs, "/app/late", "s2", [(now - 30_000, "late but not lost")])
    assert _poll(engine, row, vault).inserted == 1
    assert_exactly_once(db_url, row.id, 2)


def test_bad_inputs_are_kept_and_flagged(engine, vault, db_url, moto, logs):
    now = _now_ms()
    huge = "x" * 200_000
    put(logs, "/app/bad", "s", [
        (now - 4000, "nul\x00byte ERROR here"),
        (now - 3000, huge),
        (now - 2000, '{"level": "error", "msg": "json payload", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}'),
    ])
    row = make_connection(engine, vault, project_id=make_project(engine), provider="aws",
                          config=aws_config(moto, ["/app/bad"]), secret=aws_secret())
    assert _poll(engine, row, vault).inserted == 3
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT message, level, attributes, trace_id FROM log_events ORDER BY ts").fetchall()
    assert "\x00" not in rows[0][0] and rows[0][0].startswith("nul") and rows[0][1] == 5
    assert len(rows[1][0].encode()) <= 32768 and rows[1][2]["_loglytics"]["truncated"] is True
    assert rows[1][2]["_loglytics"]["original_length"] == 200_000
    assert rows[2][0] == "json payload" and rows[2][1] == 5 and rows[2][3] == "4bf92f3577b34da6a3ce929d0e0e4736"


def throttle_hook(limit: int):
    calls = {"n": 0}

    def hook(request, **kwargs):
        calls["n"] += 1
        if calls["n"] <= limit:
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"},
                               _Raw(b'{"__type":"ThrottlingException","message":"Rate exceeded"}'))
        return None

    return hook, calls


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **kwargs):
        yield self._body
