"""Done-when of the security issue, through the CLI: a viewer of A who logs in sees only A."""

from __future__ import annotations

import json

from core import auth
from core.db import session_scope
from core.store import connections, logs
from tests.cli.conftest import cli  # noqa: F401 - fixture
from tests.security.conftest import PASSWORD


def test_cli_viewer_logs_in_through_the_core_service_and_sees_only_a(cli, app_engine, db_url):
    for name in ("A", "B"):
        assert cli("projects", "add", name).code == 0
        assert cli("connections", "add", "--project", name, "--provider", "demo", "--name", f"demo-{name}",
                   "--config", json.dumps({"seed": 1})).code == 0
    added = cli("users", "add", "vera", "--role", "viewer", "--project", "A", "--password-stdin",
                stdin=PASSWORD + "\n")
    assert added.code == 0, added.err
    login = auth.login(app_engine, username="vera", password=PASSWORD, source="cli")
    viewer = login.actor
    with session_scope(app_engine, actor=viewer) as session:
        visible = connections.list_connections(session, actor=viewer)
    assert [c.name for c in visible] == ["demo-A"]
    assert logs.latest(app_engine, actor=viewer, flt=logs.LogFilter(project_id=visible[0].project_id)) == []


def test_audit_list_shows_changes_with_actor_and_source(cli):
    cli("projects", "add", "A")
    cli("users", "add", "vera", "--role", "viewer", "--project", "A", "--password-stdin", stdin=PASSWORD + "\n")
    entries = cli("audit", "list", "--json").json()
    actions = [(e["action"], e["actor"], e["source"]) for e in entries]
    assert ("user.create", "system:cli", "cli") in actions and ("project.create", "system:cli", "cli") in actions
    assert all(PASSWORD not in json.dumps(e) for e in entries)
    scoped = cli("audit", "list", "--project", "A", "--since", "1h", "--json").json()
    assert [e["action"] for e in scoped] == ["project.create"]
