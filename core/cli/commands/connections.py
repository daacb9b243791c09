"""loglytics connections add|list|show|delete|test|start|stop|pause"""

from __future__ import annotations

from typing import Any

from core.cli.args import add_id_commands, add_secret_args, parse_json_arg, read_secret
from core.cli.output import emit, print_json, print_record
from core.connectors import registry
from core.store import connections
from core.store.projects import get_project, project_names

COLUMNS = ["id", "project", "name", "provider", "desired_state", "status", "last_poll_at", "lag_s", "last_error"]


def register(sub) -> None:
    parser = sub.add_parser("connections", help="log source connections")
    cmds = parser.add_subparsers(dest="connections_command", required=True)
    add = cmds.add_parser("add", help="add a connection")
    add.add_argument("--project", required=True)
    add.add_argument("--provider", required=True, choices=registry.providers())
    add.add_argument("--name", required=True)
    add.add_argument("--config", default="{}", help="options as JSON, or @file")
    add_secret_args(add)
    add.add_argument("--stopped", action="store_true", help="create it stopped")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=add_cmd)
    lst = cmds.add_parser("list", help="list connections")
    lst.add_argument("--project")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_cmd)
    add_id_commands(cmds, (
        ("show", show_cmd, "show one connection (secrets masked)"),
        ("delete", delete_cmd, "delete a connection"),
        ("test", test_cmd, "check credentials, permissions and sources (calls the provider)"),
        ("start", state_cmd("running"), "start polling"),
        ("stop", state_cmd("stopped"), "stop polling"),
        ("pause", state_cmd("paused"), "pause polling (keeps status)"),
    ))


def _row(connection, project_names: dict[int, str]) -> dict[str, Any]:
    row = connection.model_dump(exclude={"secret"})
    row["project"] = project_names.get(connection.project_id, connection.project_id)
    row["has_secret"] = connection.secret is not None
    return row


def add_cmd(ctx, args) -> int:
    config = parse_json_arg(args.config, "--config")
    secret = read_secret(args)
    with ctx.session() as session:
        project = get_project(session, actor=ctx.actor, name=args.project)
        connection = connections.create_connection(
            session, actor=ctx.actor, vault=ctx.vault, project_id=project.id, name=args.name,
            provider=args.provider, config=config, secret=secret,
            desired_state="stopped" if args.stopped else "running",
        )
        new_id = connection.id
    print_json({"id": new_id}) if args.json else print(new_id)
    return 0


def list_cmd(ctx, args) -> int:
    with ctx.session() as session:
        project_id = get_project(session, actor=ctx.actor, name=args.project).id if args.project else None
        names = project_names(session, actor=ctx.actor)
        rows = [_row(c, names) for c in connections.list_connections(session, actor=ctx.actor, project_id=project_id)]
    emit(rows, COLUMNS, args.json)
    return 0


def show_cmd(ctx, args) -> int:
    with ctx.session() as session:
        connection = connections.get_connection(session, actor=ctx.actor, connection_id=args.id)
        row = _row(connection, project_names(session, actor=ctx.actor))
        row["secret"] = connections.masked_secret(connection, ctx.vault)
    print_record(row, args.json)
    return 0


def delete_cmd(ctx, args) -> int:
    with ctx.session() as session:
        connections.delete_connection(session, actor=ctx.actor, connection_id=args.id)
    print(f"deleted connection {args.id}")
    return 0


def state_cmd(state: str):
    def handler(ctx, args) -> int:
        with ctx.session() as session:
            connections.set_desired_state(session, actor=ctx.actor, connection_id=args.id, state=state)
        print(f"connection {args.id} -> {state}")
        return 0

    return handler


def test_cmd(ctx, args) -> int:
    from core.connectors.testing import test_connection

    with ctx.session() as session:
        connection = connections.get_connection(session, actor=ctx.actor, connection_id=args.id)
        secret = connections.decrypt_secret(connection, ctx.vault)
        result = test_connection(connection.provider, connection.config, secret)
    if args.json:
        print_json({"ok": result.ok, "message": result.message, "details": result.details})
    else:
        print(("ok: " if result.ok else "failed: ") + result.message)
    return 0 if result.ok else 1
