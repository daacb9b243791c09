"""loglytics channels add|list|show|test|enable|disable|delete"""

from __future__ import annotations

from typing import Any

from core.cli.args import add_id_commands, add_secret_args, parse_json_arg, read_secret
from core.cli.output import emit, print_json, print_record
from core.notifiers import registry
from core.store import channels
from core.store.projects import get_project, project_names

COLUMNS = ["id", "project", "name", "type", "enabled", "has_secret"]


def register(sub) -> None:
    parser = sub.add_parser("channels", help="notification channels (inbox, email, Slack, Jira)")
    cmds = parser.add_subparsers(dest="channels_command", required=True)
    add = cmds.add_parser("add", help="add a channel")
    add.add_argument("--project", required=True)
    add.add_argument("--type", required=True, choices=registry.types())
    add.add_argument("--name", required=True)
    add.add_argument("--config", default="{}", help="options as JSON, or @file")
    add_secret_args(add)
    add.add_argument("--disabled", action="store_true", help="create it disabled")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=add_cmd)
    lst = cmds.add_parser("list", help="list channels")
    lst.add_argument("--project")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_cmd)
    add_id_commands(cmds, (
        ("show", show_cmd, "show one channel (secret masked)"),
        ("test", test_cmd, "send a test notification now"),
        ("enable", enabled_cmd(True), "enable a channel"),
        ("disable", enabled_cmd(False), "disable a channel (queued deliveries to it fail)"),
        ("delete", delete_cmd, "delete a channel and its deliveries"),
    ))


def _row(channel, names: dict[int, str]) -> dict[str, Any]:
    row = channel.model_dump(exclude={"secret"})
    row["project"] = names.get(channel.project_id, channel.project_id)
    row["has_secret"] = channel.secret is not None
    return row


def add_cmd(ctx, args) -> int:
    config = parse_json_arg(args.config, "--config")
    secret = read_secret(args)
    with ctx.session() as session:
        project = get_project(session, actor=ctx.actor, name=args.project)
        channel = channels.create_channel(session, actor=ctx.actor, vault=ctx.vault, project_id=project.id,
                                          name=args.name, type=args.type, config=config, secret=secret,
                                          enabled=not args.disabled)
        new_id = channel.id
    print_json({"id": new_id}) if args.json else print(new_id)
    return 0


def list_cmd(ctx, args) -> int:
    with ctx.session() as session:
        project_id = get_project(session, actor=ctx.actor, name=args.project).id if args.project else None
        names = project_names(session, actor=ctx.actor)
        rows = [_row(c, names) for c in channels.list_channels(session, actor=ctx.actor, project_id=project_id)]
    emit(rows, COLUMNS, args.json)
    return 0


def show_cmd(ctx, args) -> int:
    with ctx.session() as session:
        channel = channels.get_channel(session, actor=ctx.actor, channel_id=args.id)
        row = _row(channel, project_names(session, actor=ctx.actor))
        row["secret"] = channels.masked_secret(channel, ctx.vault)
    print_record(row, args.json)
    return 0


def test_cmd(ctx, args) -> int:
    with ctx.session() as session:
        ok, message = channels.send_test(session, actor=ctx.actor, vault=ctx.vault, channel_id=args.id,
                                         dashboard_url=ctx.settings.dashboard_url)
    if args.json:
        print_json({"ok": ok, "message": message})
    else:
        print(("ok: " if ok else "failed: ") + message)
    return 0 if ok else 1


def enabled_cmd(enabled: bool):
    def handler(ctx, args) -> int:
        with ctx.session() as session:
            channels.update_channel(session, actor=ctx.actor, vault=ctx.vault, channel_id=args.id, enabled=enabled)
        print(f"channel {args.id} {'enabled' if enabled else 'disabled'}")
        return 0

    return handler


def delete_cmd(ctx, args) -> int:
    with ctx.session() as session:
        channels.delete_channel(session, actor=ctx.actor, channel_id=args.id)
    print(f"deleted channel {args.id}")
    return 0
