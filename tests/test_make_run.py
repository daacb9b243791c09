"""`loglytics up` (what `make run` calls) on the embedded database.

It serves the dashboard, Ctrl-C stops everything it started, and a second start reuses the data.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from tests.conftest import repo_root

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "`up` exited early"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as resp:
                if resp.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("dashboard never became healthy")


def _start(home, port):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CREDENTIAL_ENCRYPTION_KEYS")}
    env.update(LOGLYTICS_HOME=str(home), LOGLYTICS_DASHBOARD_PORT=str(port), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "core.cli", "up"], cwd=repo_root(), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _postgres_processes(home) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "postgres" in (proc.info["name"] or "") and str(home) in cmdline:
            found.append(proc)
    return found


def _stop(proc) -> str:
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    out, _ = proc.communicate(timeout=60)
    return out


def test_up_serves_then_ctrl_c_stops_everything_and_restarts_on_the_same_data(tmp_path):
    home = tmp_path / "home"
    port = _free_port()
    first = _start(home, port)
    try:
        _wait_healthy(port, first)
        children = psutil.Process(first.pid).children(recursive=True)
        assert _postgres_processes(home), "the embedded database is not running"
    finally:
        out = _stop(first)
    assert "created user 'admin' with password: " in out
    assert first.returncode == 0, out
    time.sleep(0.5)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not _postgres_processes(home), "Ctrl-C left the database running"

    port = _free_port()
    second = _start(home, port)
    try:
        _wait_healthy(port, second)
    finally:
        out = _stop(second)
    assert "created user" not in out  # same data: the admin exists already
    assert not _postgres_processes(home)
