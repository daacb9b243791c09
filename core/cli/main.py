"""Entry point: parse, dispatch, and turn errors into one line on stderr with an exit code.

Exit codes: 0 ok, 1 failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError, ProgrammingError

from core import __version__
from core.cli.commands import alerts, audit, channels, connections, db, keys, logs, projects, rules, run, status, users
from core.cli.context import CliContext
from core.errors import ConfigError, LoglyticsError, PermissionDenied, UsageError
from core.redact import install_log_redaction, scrub

GROUPS = (run, status, db, projects, users, connections, logs, keys, audit, channels, rules, alerts)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="loglytics", description="Loglytics Live: live multi-cloud log console.")
    parser.add_argument("--version", action="version", version=f"loglytics {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    args = build_parser().parse_args(argv)
    ctx = CliContext()
    try:
        return args.handler(ctx, args) or 0
    except UsageError as exc:
        return _fail(str(exc), 2)
    except ValidationError as exc:
        return _fail(f"invalid input: {exc.errors()[0]['msg']}", 2)
    except (ConfigError, PermissionDenied) as exc:
        return _fail(str(exc), 1)
    except LoglyticsError as exc:
        return _fail(str(exc), 1)
    except OperationalError as exc:
        return _fail(f"database unavailable: {str(exc.orig).splitlines()[0]}", 1)
    except ProgrammingError as exc:
        first = str(exc.orig).splitlines()[0]
        if "does not exist" in first:  # roles or tables missing: an unmigrated database
            return _fail(f"{first}; is the database migrated? run: loglytics db migrate", 1)
        raise
    except KeyboardInterrupt:
        return _fail("interrupted", 1)
    finally:
        ctx.close()


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"loglytics: error: {scrub(message)}\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
