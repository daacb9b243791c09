"""Argument helpers shared by the command groups: JSON options, secrets, per-id subcommands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from core.errors import UsageError


def parse_json_arg(value: str, what: str) -> dict[str, Any]:
    """A JSON object given inline or as @file; a user mistake becomes one readable line."""
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as exc:
            raise UsageError(f"{what}: cannot read {value[1:]}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{what}: expected a JSON object")
    return data


def add_secret_args(parser) -> None:
    """--secret-file / --secret-stdin: secrets never go on the command line (shell history, ps)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--secret-file", type=Path, help="secret as a JSON file")
    group.add_argument("--secret-stdin", action="store_true", help="read the secret JSON from stdin")


def read_secret(args) -> dict[str, Any] | None:
    if args.secret_file:
        return parse_json_arg(f"@{args.secret_file}", "--secret-file")
    if args.secret_stdin:
        return parse_json_arg(sys.stdin.read(), "--secret-stdin")
    return None


def add_id_commands(cmds, specs: Iterable[tuple[str, Callable, str]]) -> None:
    """Subcommands that take one numeric id (show, delete, start, ...), each with --json."""
    for name, handler, help_text in specs:
        cmd = cmds.add_parser(name, help=help_text)
        cmd.add_argument("id", type=int)
        cmd.add_argument("--json", action="store_true")
        cmd.set_defaults(handler=handler)
