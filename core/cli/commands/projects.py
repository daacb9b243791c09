"""loglytics projects add|list"""

from __future__ import annotations

from core.cli.output import emit, print_json
from core.store import projects


def register(sub) -> None:
    parser = sub.add_parser("projects", help="projects")
    cmds = parser.add_subparsers(dest="projects_command", required=True)
    add = cmds.add_parser("add", help="create a project")
    add.add_argument("name")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=add_cmd)
    lst = cmds.add_parser("list", help="list projects")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_cmd)


def add_cmd(ctx, args) -> int:
    with ctx.session() as session:
        project = projects.create_project(session, actor=ctx.actor, name=args.name)
        print_json({"id": project.id}) if args.json else print(f"created project {project.name} (id {project.id})")
    return 0


def list_cmd(ctx, args) -> int:
    with ctx.session() as session:
        rows = [p.model_dump() for p in projects.list_projects(session, actor=ctx.actor)]
    emit(rows, ["id", "name", "created_at"], args.json)
    return 0
