"""loglytics alerts list|show|ack|resolve|silence|read"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from core.cli.output import emit, print_json
from core.errors import UsageError
from core.store import alerts
from core.store.projects import get_project, project_names

COLUMNS = ["id", "project", "rule", "state", "severity", "count", "last_seen", "read", "title"]
_DURATION = re.compile(r"^(\d+)([smhd])$")


def register(sub) -> None:
    parser = sub.add_parser("alerts", help="the alert inbox")
    cmds = parser.add_subparsers(dest="alerts_command", required=True)
    lst = cmds.add_parser("list", help="list alerts (open ones by default)")
    lst.add_argument("--project")
    lst.add_argument("--state", default="open", choices=alerts.STATE_FILTERS)
    lst.add_argument("--unread", action="store_true", help="only unread ones")
    lst.add_argument("--rule", type=int, help="only this rule's alerts")
    lst.add_argument("--limit", type=int, default=200)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_cmd)
    show = cmds.add_parser("show", help="one alert with its deliveries")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_cmd)
    ack = cmds.add_parser("ack", help="acknowledge: stops re-notification until it resolves")
    ack.add_argument("id", type=int)
    ack.add_argument("--comment", help="what is being done about it")
    ack.set_defaults(handler=ack_cmd)
    res = cmds.add_parser("resolve", help="resolve by hand (the resolution is notified)")
    res.add_argument("id", type=int)
    res.set_defaults(handler=resolve_cmd)
    sil = cmds.add_parser("silence", help="no notifications until the silence ends")
    sil.add_argument("id", type=int)
    when = sil.add_mutually_exclusive_group(required=True)
    when.add_argument("--for", dest="duration", help="e.g. 30m, 2h, 1d")
    when.add_argument("--until", help="ISO timestamp")
    sil.set_defaults(handler=silence_cmd)
    read = cmds.add_parser("read", help="mark read (or --unread)")
    read.add_argument("id", type=int)
    read.add_argument("--unread", action="store_true")
    read.set_defaults(handler=read_cmd)


def _row(alert, rule_name: str, names: dict[int, str]) -> dict[str, Any]:
    row = alert.model_dump()
    row["project"] = names.get(alert.project_id, alert.project_id)
    row["rule"] = rule_name
    return row


def list_cmd(ctx, args) -> int:
    with ctx.session() as session:
        project_id = get_project(session, actor=ctx.actor, name=args.project).id if args.project else None
        names = project_names(session, actor=ctx.actor)
        rows = [_row(a, rule, names) for a, rule in alerts.list_alerts(
            session, actor=ctx.actor, project_id=project_id, state=args.state, unread=args.unread,
            rule_id=args.rule, limit=args.limit)]
    emit(rows, COLUMNS, args.json)
    return 0


def show_cmd(ctx, args) -> int:
    with ctx.session() as session:
        alert = alerts.get_alert(session, actor=ctx.actor, alert_id=args.id)
        row = alert.model_dump()
        row["deliveries"] = alerts.notifications(session, actor=ctx.actor, alert_id=args.id)
    if args.json:
        print_json(row)
        return 0
    for key, value in row.items():
        if key not in ("deliveries", "samples"):
            print(f"{key:>16}: {value if value is not None else '-'}")
    for s in row["samples"]:
        print(f"{'sample':>16}: {s.get('ts', '')} {s.get('source', '')}: {s.get('message', '')!r}")
    for d in row["deliveries"]:
        print(f"{'delivery':>16}: {d['event']} -> {d['channel']} ({d['type']}): {d['status']}, "
              f"{d['attempts']} attempt(s){'; ' + d['last_error'] if d['last_error'] else ''}")
    return 0


def ack_cmd(ctx, args) -> int:
    with ctx.session() as session:
        alerts.acknowledge(session, actor=ctx.actor, alert_id=args.id, comment=args.comment)
    print(f"alert {args.id} acknowledged")
    return 0


def resolve_cmd(ctx, args) -> int:
    with ctx.session() as session:
        alerts.resolve(session, actor=ctx.actor, alert_id=args.id)
    print(f"alert {args.id} resolved")
    return 0


def _until(args) -> datetime:
    if args.duration:
        match = _DURATION.match(args.duration.strip())
        if not match:
            raise UsageError(f"--for: {args.duration!r} is not a duration such as 30m, 2h or 1d")
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return datetime.now(UTC) + timedelta(**{unit: int(match.group(1))})
    try:
        until = datetime.fromisoformat(args.until)
    except ValueError:
        raise UsageError(f"--until: {args.until!r} is not an ISO timestamp") from None
    return until if until.tzinfo else until.replace(tzinfo=UTC)


def silence_cmd(ctx, args) -> int:
    until = _until(args)
    with ctx.session() as session:
        alerts.silence(session, actor=ctx.actor, alert_id=args.id, until=until)
    print(f"alert {args.id} silenced until {until:%Y-%m-%d %H:%M:%S} UTC")
    return 0


def read_cmd(ctx, args) -> int:
    with ctx.session() as session:
        alerts.mark_read(session, actor=ctx.actor, alert_id=args.id, read=not args.unread)
    print(f"alert {args.id} marked {'unread' if args.unread else 'read'}")
    return 0
