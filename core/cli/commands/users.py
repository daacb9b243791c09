"""loglytics users add|list|passwd|disable"""

from __future__ import annotations

import getpass
import sys

from core.cli.output import emit, print_json
from core.errors import UsageError
from core.store import users


def register(sub) -> None:
    parser = sub.add_parser("users", help="user accounts")
    cmds = parser.add_subparsers(dest="users_command", required=True)
    add = cmds.add_parser("add", help="create a user (password from --password-stdin or a prompt)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=users.ROLES)
    add.add_argument("--project", action="append", default=[], help="grant membership (repeatable)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=add_cmd)
    lst = cmds.add_parser("list", help="list users")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_cmd)
    passwd = cmds.add_parser("passwd", help="set a user's password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(handler=passwd_cmd)
    disable = cmds.add_parser("disable", help="disable a user")
    disable.add_argument("username")
    disable.set_defaults(handler=disable_cmd)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise UsageError("no terminal to prompt for a password; use --password-stdin")
    first, second = getpass.getpass("Password: "), getpass.getpass("Again: ")
    if first != second:
        raise UsageError("the passwords differ")
    return first


def add_cmd(ctx, args) -> int:
    password = read_password(args.password_stdin)
    with ctx.session() as session:
        user = users.create_user(
            session, actor=ctx.actor, username=args.username, password=password, role=args.role,
            projects=args.project,
        )
        print_json({"id": user.id}) if args.json else print(f"created user {user.username} ({user.role})")
    return 0


def list_cmd(ctx, args) -> int:
    with ctx.session() as session:
        rows = [
            {"id": u.id, "username": u.username, "role": u.role, "disabled": u.disabled, "projects": p,
             "last_login_at": u.last_login_at}
            for u, p in users.list_users(session, actor=ctx.actor)
        ]
    emit(rows, ["id", "username", "role", "disabled", "projects", "last_login_at"], args.json)
    return 0


def passwd_cmd(ctx, args) -> int:
    password = read_password(args.password_stdin)
    with ctx.session() as session:
        users.set_password(session, actor=ctx.actor, username=args.username, password=password)
    print(f"password of {args.username} changed")
    return 0


def disable_cmd(ctx, args) -> int:
    with ctx.session() as session:
        users.set_disabled(session, actor=ctx.actor, username=args.username)
    print(f"user {args.username} disabled")
    return 0
