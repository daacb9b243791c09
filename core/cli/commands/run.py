"""loglytics up | worker | dashboard: run the system (what `make run` calls)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core import migrate
from core.bootstrap import bootstrap

ROOT = Path(__file__).resolve().parents[3]


def register(sub) -> None:
    up = sub.add_parser("up", help="migrate, bootstrap, and run worker + dashboard until Ctrl-C")
    up.add_argument("--no-worker", action="store_true")
    up.add_argument("--no-dashboard", action="store_true")
    up.add_argument("--no-demo", action="store_true", help="on first start, create no demo project")
    up.set_defaults(handler=up_cmd)
    worker = sub.add_parser("worker", help="run the ingest/alerting worker")
    worker.add_argument("--once", action="store_true", help="poll every running connection once and exit")
    worker.set_defaults(handler=worker_cmd)
    dash = sub.add_parser("dashboard", help="run the dashboard")
    dash.add_argument("--port", type=int)
    dash.set_defaults(handler=dashboard_cmd)


def dashboard_argv(port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
        "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]


def up_cmd(ctx, args) -> int:
    settings = ctx.settings
    print(f"database: {'embedded, data in ' + str(settings.pgdata) if settings.embedded else 'DATABASE_URL'}")
    migrate.upgrade(ctx.owner_engine, verbose=True)
    with ctx.session() as session:
        result = bootstrap(
            session, vault=ctx.vault, admin_password=settings.admin_password, with_demo=not args.no_demo
        )
    if result.generated_password:
        print(f"created user 'admin' with password: {result.generated_password}")
        print("  (shown once; change it with: loglytics users passwd admin)")
    children: list[subprocess.Popen] = []
    if not args.no_worker:
        children.append(subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT))
    if not args.no_dashboard:
        children.append(subprocess.Popen(dashboard_argv(settings.dashboard_port), cwd=ROOT))
        print(f"dashboard: http://localhost:{settings.dashboard_port}  (Ctrl-C stops everything)")
    return _supervise(children)


def _supervise(children: list[subprocess.Popen]) -> int:
    """Wait until Ctrl-C/SIGTERM or a child dies, then stop every child; the caller stops the database."""
    stop = {"requested": False}

    def request_stop(signum, frame) -> None:
        stop["requested"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    while not stop["requested"] and children:
        dead = [c for c in children if c.poll() is not None]
        if dead:
            print(f"a process exited (code {dead[0].returncode}); stopping", file=sys.stderr)
            exit_code = 1
            break
        time.sleep(0.3)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    print("stopped")
    return exit_code


def worker_cmd(ctx, args) -> int:
    from worker.main import run_worker

    return run_worker(ctx, once=args.once)


def dashboard_cmd(ctx, args) -> int:
    port = args.port or ctx.settings.dashboard_port
    return subprocess.call(dashboard_argv(port), cwd=ROOT, env=os.environ.copy())
