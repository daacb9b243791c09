from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from core.cli.main import main
from tests.conftest import repo_root


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(app_env, capsys, monkeypatch):
    """Run `loglytics …` in-process against this test's database."""

    def run(*argv: str, stdin: str | None = None) -> Result:
        if stdin is not None:
            import io

            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def cli_process(app_env):
    """Run `python -m core.cli …` as a real process (exit codes, stderr, no traceback)."""

    def run(*argv: str, env: dict | None = None, stdin: str | None = None) -> Result:
        import os

        full_env = {**os.environ, **app_env, **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", "core.cli", *argv], input=stdin, capture_output=True, text=True,
            env=full_env, cwd=repo_root(), timeout=60,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run
