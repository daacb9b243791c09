"""loglytics logs tail|export"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
from datetime import UTC, datetime, timedelta

from core.errors import UsageError
from core.levels import level_name, parse_level_name
from core.store import logs
from core.store.projects import get_project

EXPORT_FIELDS = ["ts", "level", "source", "message", "attributes", "connection_id", "dedupe_key"]
_DURATION = re.compile(r"^(\d+)([smhd])$")


def register(sub) -> None:
    parser = sub.add_parser("logs", help="read stored logs")
    cmds = parser.add_subparsers(dest="logs_command", required=True)
    tail = cmds.add_parser("tail", help="newest events (and --follow for new ones)")
    _filters(tail)
    tail.add_argument("-n", "--lines", type=int, default=50)
    tail.add_argument("--follow", "-f", action="store_true")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.set_defaults(handler=tail_cmd)
    export = cmds.add_parser("export", help="every matching event, oldest first")
    _filters(export)
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--output", "-o", help="file (default: stdout)")
    export.set_defaults(handler=export_cmd)


def _filters(parser) -> None:
    parser.add_argument("--project", required=True)
    parser.add_argument("--level", help="minimum level, e.g. warning")
    parser.add_argument("--grep", help="case-insensitive substring")
    parser.add_argument("--connection", type=int, action="append", default=[])
    parser.add_argument("--since", help="e.g. 15m, 24h, 7d, or an ISO timestamp")


def parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    match = _DURATION.match(value.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since: {value!r} is neither a duration (15m, 24h, 7d) nor an ISO timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _filter(ctx, args) -> logs.LogFilter:
    try:
        min_level = parse_level_name(args.level) if args.level else None
    except ValueError as exc:
        raise UsageError(f"--level: {exc}") from None
    with ctx.session() as session:
        project = get_project(session, actor=ctx.actor, name=args.project)
    return logs.LogFilter(project_id=project.id, min_level=min_level, grep=args.grep,
                          connection_ids=tuple(args.connection), since=parse_since(args.since))


def _export_row(row: dict) -> dict:
    return {"ts": row["ts"].isoformat(), "level": level_name(row["level"]), "source": row["source"],
            "message": row["message"], "attributes": row["attributes"], "connection_id": row["connection_id"],
            "dedupe_key": row["dedupe_key"]}


def _print_line(row: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_export_row(row), ensure_ascii=False))
    else:
        print(f"{row['ts']:%Y-%m-%d %H:%M:%S.%f} {level_name(row['level']):<8} {row['source']}  {row['message']}")


def tail_cmd(ctx, args) -> int:
    flt = _filter(ctx, args)
    rows = logs.latest(ctx.engine, actor=ctx.actor, flt=flt, limit=args.lines)
    for row in reversed(rows):
        _print_line(row, args.json)
    seen = {(r["connection_id"], r["dedupe_key"], r["ts"]) for r in rows}
    while args.follow:
        sys.stdout.flush()
        time.sleep(1)
        newest = max((r["ts"] for r in rows), default=flt.since or datetime.now(UTC) - timedelta(minutes=5))
        # re-read a little behind the newest row: late events land behind it
        window = logs.LogFilter(**{**flt.__dict__, "since": newest - timedelta(minutes=2)})
        rows = [r for r in reversed(logs.latest(ctx.engine, actor=ctx.actor, flt=window, limit=1000))
                if (r["connection_id"], r["dedupe_key"], r["ts"]) not in seen]
        for row in rows:
            seen.add((row["connection_id"], row["dedupe_key"], row["ts"]))
            _print_line(row, args.json)
        if len(seen) > 200_000:
            seen = {k for k in seen if k[2] >= newest - timedelta(minutes=5)}
    return 0


def export_cmd(ctx, args) -> int:
    flt = _filter(ctx, args)
    total = logs.count(ctx.engine, actor=ctx.actor, flt=flt)
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    show_progress = bool(args.output) and sys.stderr.isatty()
    try:
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS) if args.format == "csv" else None
        if writer:
            writer.writeheader()
        for index, row in enumerate(logs.stream(ctx.engine, actor=ctx.actor, flt=flt), start=1):
            data = _export_row(row)
            if writer:
                writer.writerow({**data, "attributes": json.dumps(data["attributes"], ensure_ascii=False)})
            else:
                out.write(json.dumps(data, ensure_ascii=False) + "\n")
            if show_progress and (index % 10_000 == 0 or index == total):
                sys.stderr.write(f"\rexported {index}/{total}")
    finally:
        if args.output:
            out.close()
    if args.output:
        if show_progress:
            sys.stderr.write("\n")
        print(f"exported {total} event(s) to {args.output}")
    return 0
