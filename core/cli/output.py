"""Printing results: aligned tables for people, JSON for scripts; progress on a terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return "<binary>"
    return str(value)


def print_json(data: Any) -> None:
    print(json.dumps(data, default=_default, indent=2, ensure_ascii=False))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value).replace("\n", " ")


def print_record(row: dict[str, Any], as_json: bool) -> None:
    """One object: JSON for scripts, aligned ``key: value`` lines for people."""
    if as_json:
        print_json(row)
        return
    width = max(len(key) for key in row)
    for key, value in row.items():
        shown = json.dumps(value, default=_default) if isinstance(value, dict) else value
        print(f"{key:>{width}}: {shown}")


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], as_json: bool) -> None:
    print_json(list(rows)) if as_json else print_table(rows, columns)


def progress(label: str):
    """A callback(done, total) drawing a progress line on stderr when it is a terminal."""
    tty = sys.stderr.isatty()

    def report(done: int, total: int) -> None:
        if tty:
            end = "\n" if done >= total else ""
            sys.stderr.write(f"\r{label}: {done}/{total}{end}")
            sys.stderr.flush()

    return report
