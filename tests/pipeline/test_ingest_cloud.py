"""Azure Monitor and Cloud Logging -> PostgreSQL through the real SDKs, the local fakes and the embedded database.

Connections are stored (options as jsonb, secrets through the vault) and polled with ``poll_once``,
as the worker does: every event lands once across polls, late events inside the overlap included.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from core.connectors import registry
from core.connectors.ratelimit import BackoffPolicy
from core.pipeline.ingest import poll_once
from core.store.connections import decrypt_secret
from tests.peers import azure_monitor as az
from tests.peers import gcp_logging as gc
from tests.pipeline.helpers import assert_exactly_once, make_connection, make_project, scalar


def _poll(engine, row, vault):
    connector = registry.build(row.provider, row.config, decrypt_secret(row, vault))
    connector.backoff = BackoffPolicy(retries=2, base_s=0.01, cap_s=0.02, max_wait_s=1.0)
    try:
        return poll_once(engine, connector=connector, project_id=row.project_id, connection_id=row.id)
    finally:
        connector.close()


class Azure:
    provider = "azure"

    def __init__(self, server: az.AzureServer) -> None:
        self.server = server

    def config(self) -> dict[str, Any]:
        return az.azure_options(self.server, overlap_s=120)

    def secret(self) -> dict[str, Any]:
        return az.azure_secret()

    def seed(self, message: str, arrived: datetime, **row: Any) -> None:
        self.server.fake.add(
            "AppTraces",
            [{"TimeGenerated": arrived - timedelta(seconds=3), "Message": message, "SeverityLevel": 1, **row}],
            arrived,
        )

    def seed_bad(self, arrived: datetime) -> None:
        self.seed("nul\x00byte", arrived, SeverityLevel=3, Properties={"k": "v\x00"})
        self.seed("x" * 200_000, arrived)
        self.seed('{"level": "error", "msg": "json payload"}', arrived, SeverityLevel=None)


class Gcp:
    provider = "gcp"

    def __init__(self, server: gc.GcpServer) -> None:
        self.server = server

    def config(self) -> dict[str, Any]:
        return gc.gcp_options(self.server)

    def secret(self) -> dict[str, Any]:
        return gc.gcp_secret(self.server)

    def seed(self, message: str, arrived: datetime, **entry: Any) -> None:
        stamp = gc.rfc3339(gc.nanos(arrived) - 3_000_000_000)
        self.server.fake.add([{"timestamp": stamp, "textPayload": message, **entry}], arrived)

    def seed_bad(self, arrived: datetime) -> None:
        self.seed("nul\x00byte", arrived, severity="ERROR", labels={"k": "v\x00"})
        self.seed("x" * 200_000, arrived)
        stamp = gc.rfc3339(gc.nanos(arrived) - 3_000_000_000)
        self.server.fake.add([{"timestamp": stamp, "jsonPayload": {"level": "error", "msg": "json payload"}}], arrived)


@pytest.fixture(params=["azure", "gcp"])
def cloud(request: pytest.FixtureRequest) -> Azure | Gcp:
    if request.param == "azure":
        return Azure(request.getfixturevalue("azure_peer"))
    return Gcp(request.getfixturevalue("gcp_peer"))


def _now() -> datetime:
    return datetime.now(UTC)


def test_each_event_lands_once_across_polls(engine, vault, db_url, cloud) -> None:
    t = _now()
    for i in range(30):
        cloud.seed(f"event {i}", t - timedelta(seconds=100 - 3 * i))
    row = make_connection(
        engine,
        vault,
        project_id=make_project(engine),
        provider=cloud.provider,
        config=cloud.config(),
        secret=cloud.secret(),
    )
    first = _poll(engine, row, vault)
    assert first.inserted == 30
    again = _poll(engine, row, vault)  # the overlap re-reads everything: nothing new, nothing doubled
    assert again.inserted == 0 and again.seen == 30
    assert_exactly_once(db_url, row.id, 30)
    assert scalar(db_url, "SELECT count(*) FROM cursors WHERE connection_id = %s", (row.id,)) == 1


def test_late_event_inside_the_overlap_arrives_on_the_next_poll(engine, vault, db_url, cloud) -> None:
    t = _now()
    cloud.seed("on time", t - timedelta(seconds=5))
    row = make_connection(
        engine,
        vault,
        project_id=make_project(engine),
        provider=cloud.provider,
        config=cloud.config(),
        secret=cloud.secret(),
    )
    assert _poll(engine, row, vault).inserted == 1
    cloud.seed("late but not lost", t - timedelta(seconds=30))  # arrived behind the cursor, inside the overlap
    assert _poll(engine, row, vault).inserted == 1
    assert _poll(engine, row, vault).inserted == 0
    assert_exactly_once(db_url, row.id, 2)


def test_bad_inputs_are_kept_and_flagged(engine, vault, db_url, cloud) -> None:
    cloud.seed_bad(_now() - timedelta(seconds=5))
    row = make_connection(
        engine,
        vault,
        project_id=make_project(engine),
        provider=cloud.provider,
        config=cloud.config(),
        secret=cloud.secret(),
    )
    assert _poll(engine, row, vault).inserted == 3
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT message, level, attributes FROM log_events WHERE connection_id = %s", (row.id,)
        ).fetchall()
    by_start = {r[0][:3]: r for r in rows}
    nul = by_start["nul"]
    assert "\x00" not in nul[0] and nul[1] == 5 and "\x00" not in str(nul[2])
    huge = by_start["xxx"]
    assert len(huge[0].encode()) <= 32768 and huge[2]["_loglytics"]["truncated"] is True
    assert by_start["jso"][0] == "json payload" and by_start["jso"][1] == 5
    assert_exactly_once(db_url, row.id, 3)


def test_cursor_is_stored_at_full_precision(engine, vault, db_url, cloud) -> None:
    cloud.seed("x", _now() - timedelta(seconds=5))
    row = make_connection(
        engine,
        vault,
        project_id=make_project(engine),
        provider=cloud.provider,
        config=cloud.config(),
        secret=cloud.secret(),
    )
    _poll(engine, row, vault)
    value = scalar(db_url, "SELECT value FROM cursors WHERE connection_id = %s", (row.id,))
    stamp = value["it_hw"] if cloud.provider == "azure" else value["rt_hw"]
    assert len(stamp.split(".")[1]) == (8 if cloud.provider == "azure" else 10)  # 7 or 9 digits, then Z
