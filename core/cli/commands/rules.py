"""loglytics rules add|list|show|enable|disable|delete|backtest"""

from __future__ import annotations

from typing import Any

from core.alerts.rules import RULE_TYPES, SEVERITIES
from core.cli.args import add_id_commands, parse_json_arg
from core.cli.commands.logs import parse_since
from core.cli.output import emit, print_json, print_record, print_table
from core.errors import UsageError
from core.store import channels, rules
from core.store.projects import get_project, project_names

COLUMNS = ["id", "project", "name", "type", "severity", "enabled", "channels", "summary"]


def register(sub) -> None:
    parser = sub.add_parser("rules", help="alert rules")
    cmds = parser.add_subparsers(dest="rules_command", required=True)
    add = cmds.add_parser("add", help="add a rule", description="Rule types: " + "; ".join(
        f"{name}: {kind.summary}" for name, kind in RULE_TYPES.items()))
    add.add_argument("--project", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--type", required=True, choices=list(RULE_TYPES))
    add.add_argument("--options", default="{}", help="options as JSON, or @file (see docs/alerts.md)")
    add.add_argument("--severity", default="warning", choices=SEVERITIES)
    add.add_argument("--channel", action="append", default=[], help="channel name or id to notify (repeatable)")
    add.add_argument("--disabled", action="store_true", help="create it disabled")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=add_cmd)
    lst = cmds.add_parser("list", help="list rules")
    lst.add_argument("--project")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_cmd)
    add_id_commands(cmds, (
        ("show", show_cmd, "show one rule"),
        ("enable", enabled_cmd(True), "enable a rule"),
        ("disable", enabled_cmd(False), "disable a rule (its open alerts stay)"),
        ("delete", delete_cmd, "delete a rule with its alerts"),
    ))
    bt = cmds.add_parser("backtest", help="replay a rule over stored logs: when it would have fired")
    bt.add_argument("id", type=int)
    bt.add_argument("--since", default="24h", help="e.g. 30m, 24h, 7d, or an ISO timestamp (default 24h)")
    bt.add_argument("--until", help="end of the range (default now)")
    bt.add_argument("--json", action="store_true")
    bt.set_defaults(handler=backtest_cmd)


def _summary(rule) -> str:
    o = rule.options
    parts = {
        "pattern": lambda: f"/{o.get('pattern')}/ on {o.get('field', 'message')}",
        "level": lambda: f"level >= {o.get('level')}",
        "threshold": lambda: f">= {o.get('threshold')} in {o.get('window_s')}s",
        "error_rate": lambda: f">= {o.get('percent')}% errors in {o.get('window_s')}s",
        "spike": lambda: f">= {o.get('factor')}x baseline in {o.get('window_s')}s",
        "absence": lambda: f"nothing in {o.get('window_s')}s",
    }.get(rule.type, lambda: "")()
    return parts + (f" by {o['group_by']}" if o.get("group_by") else "")


def _row(rule, names: dict[int, str]) -> dict[str, Any]:
    row = rule.model_dump()
    row["project"] = names.get(rule.project_id, rule.project_id)
    row["channels"] = rule.options.get("channels", [])
    row["summary"] = _summary(rule)
    return row


def add_cmd(ctx, args) -> int:
    options = parse_json_arg(args.options, "--options")
    with ctx.session() as session:
        project = get_project(session, actor=ctx.actor, name=args.project)
        if args.channel:
            ids = [channels.find_channel(session, actor=ctx.actor, project_id=project.id, ref=ref).id
                   for ref in args.channel]
            options["channels"] = sorted(set(options.get("channels", [])) | set(ids))
        rule = rules.create_rule(session, actor=ctx.actor, project_id=project.id, name=args.name, type=args.type,
                                 options=options, severity=args.severity, enabled=not args.disabled)
        new_id = rule.id
    print_json({"id": new_id}) if args.json else print(new_id)
    return 0


def list_cmd(ctx, args) -> int:
    with ctx.session() as session:
        project_id = get_project(session, actor=ctx.actor, name=args.project).id if args.project else None
        names = project_names(session, actor=ctx.actor)
        rows = [_row(r, names) for r in rules.list_rules(session, actor=ctx.actor, project_id=project_id)]
    emit(rows, COLUMNS, args.json)
    return 0


def show_cmd(ctx, args) -> int:
    with ctx.session() as session:
        rule = rules.get_rule(session, actor=ctx.actor, rule_id=args.id)
        row = _row(rule, project_names(session, actor=ctx.actor))
    print_record(row, args.json)
    return 0


def enabled_cmd(enabled: bool):
    def handler(ctx, args) -> int:
        with ctx.session() as session:
            rules.set_enabled(session, actor=ctx.actor, rule_id=args.id, enabled=enabled)
        print(f"rule {args.id} {'enabled' if enabled else 'disabled'}")
        return 0

    return handler


def delete_cmd(ctx, args) -> int:
    with ctx.session() as session:
        rules.delete_rule(session, actor=ctx.actor, rule_id=args.id)
    print(f"deleted rule {args.id}")
    return 0


def backtest_cmd(ctx, args) -> int:
    since = parse_since(args.since)
    until = parse_since(args.until) if args.until else None
    if until is not None and until <= since:
        raise UsageError("--until must be after --since")
    with ctx.session() as session:
        result = rules.backtest(session, actor=ctx.actor, rule_id=args.id, since=since, until=until)
    if args.json:
        print_json(result.as_dict())
        return 0
    print(f"rule {result.rule_id} {result.rule_name!r} ({result.rule_type}) from {result.since:%Y-%m-%d %H:%M} "
          f"to {result.until:%Y-%m-%d %H:%M} UTC")
    print(f"alerts: {result.alerts}   notifications: {result.notifications} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(result.by_event.items())) or 'none'})   "
          f"deliveries: {result.deliveries}   still open at the end: {result.open_at_end}")
    print_table([{"at": c["at"], "event": c["event"], "group": c["group_key"], "count": c["count"],
                  "title": c["title"][:80]} for c in result.changes], ["at", "event", "group", "count", "title"])
    return 0
