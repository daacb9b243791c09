"""loglytics db url|migrate|status"""

from __future__ import annotations

from core import migrate
from core.cli.output import print_json
from core.db import libpq_url


def register(sub) -> None:
    parser = sub.add_parser("db", help="database URL, migrations")
    cmds = parser.add_subparsers(dest="db_command", required=True)
    cmds.add_parser("url", help="print the database URL in use").set_defaults(handler=url)
    cmds.add_parser("migrate", help="apply pending migrations").set_defaults(handler=run_migrations)
    status = cmds.add_parser("status", help="current and head revision")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=status_cmd)


def url(ctx, args) -> int:
    print(libpq_url(ctx.url))
    return 0


def run_migrations(ctx, args) -> int:
    before = migrate.current_revision(ctx.owner_engine)
    migrate.upgrade(ctx.owner_engine, verbose=True)
    after = migrate.current_revision(ctx.owner_engine)
    print(f"database at revision {after}" + ("" if before != after else " (already up to date)"))
    return 0


def status_cmd(ctx, args) -> int:
    current, head = migrate.current_revision(ctx.owner_engine), migrate.head_revision()
    if args.json:
        print_json({"current": current, "head": head, "up_to_date": current == head})
    else:
        hint = "" if current == head else "  -> run: loglytics db migrate"
        print(f"current {current or '(empty)'}, head {head}{hint}")
    return 0
