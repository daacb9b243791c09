"""loglytics keys generate|rotate"""

from __future__ import annotations

from core.cli.output import print_json, progress
from core.store.keys import rotate_secrets
from core.vault import generate_key


def register(sub) -> None:
    parser = sub.add_parser("keys", help="credential encryption keys")
    cmds = parser.add_subparsers(dest="keys_command", required=True)
    cmds.add_parser("generate", help="print a new Fernet key").set_defaults(handler=generate_cmd)
    rotate = cmds.add_parser(
        "rotate", help="re-encrypt every stored secret with the newest key (first in CREDENTIAL_ENCRYPTION_KEYS)"
    )
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(handler=rotate_cmd)


def generate_cmd(ctx, args) -> int:
    print(generate_key())
    return 0


def rotate_cmd(ctx, args) -> int:
    with ctx.session() as session:
        count = rotate_secrets(session, actor=ctx.actor, vault=ctx.vault, progress=progress("re-encrypting"))
    print_json({"rotated": count}) if args.json else print(f"re-encrypted {count} secret(s) with the newest key")
    return 0
