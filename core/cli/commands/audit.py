"""loglytics audit list"""

from __future__ import annotations

from core.cli.commands.logs import parse_since
from core.cli.output import emit
from core.store import audit
from core.store.projects import get_project


def register(sub) -> None:
    parser = sub.add_parser("audit", help="the audit trail")
    cmds = parser.add_subparsers(dest="audit_command", required=True)
    lst = cmds.add_parser("list", help="newest entries first")
    lst.add_argument("--project")
    lst.add_argument("--since", help="e.g. 1h, 7d, or an ISO timestamp")
    lst.add_argument("--limit", type=int, default=200)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_cmd)


def list_cmd(ctx, args) -> int:
    with ctx.session() as session:
        project_id = get_project(session, actor=ctx.actor, name=args.project).id if args.project else None
        rows = [e.model_dump() for e in audit.list_entries(
            session, actor=ctx.actor, project_id=project_id, since=parse_since(args.since), limit=args.limit)]
    emit(rows, ["ts", "actor", "source", "action", "target", "outcome", "project_id", "details"], args.json)
    return 0
