"""A real dashboard (`streamlit run`) and worker on free ports, driven by Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from core.actor import Actor
from core.alerts.defaults import ensure_demo_alerting
from core.db import session_scope
from core.store import connections, projects, rules, users
from tests.browser_setup import find_chromium
from tests.conftest import repo_root

PASSWORD = "browser test password"
ADMIN = Actor.system("cli")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("Debian's chromium is not installed and could not be installed (see `make test` output)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright (python) is not installed")
    return path


@pytest.fixture
def screenshot_dir(request) -> Path:
    """test-output/screenshots, or LOGLYTICS_SCREENSHOTS (e.g. docs/screenshots) when set."""
    target = Path(os.environ.get("LOGLYTICS_SCREENSHOTS", repo_root() / "test-output" / "screenshots"))
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def live_system(app_env, engine, vault, db_url):
    """Admin + a demo project streaming through a real worker, and the dashboard on a free port."""
    with session_scope(engine) as session:
        project = projects.create_project(session, actor=ADMIN, name="demo")
        users.create_user(session, actor=ADMIN, username="admin", password=PASSWORD, role="admin")
        connections.create_connection(session, actor=ADMIN, vault=vault, project_id=project.id, name="demo",
                                      provider="demo", config={"seed": 7, "rate_per_s": 20, "poll_interval_s": 1,
                                                               "error_burst_every_s": 0, "max_backfill_s": 120})
        ensure_demo_alerting(session, actor=ADMIN, vault=vault, project_id=project.id)
        # a rule the demo never matches: the inbox holds exactly the alert planted below
        rule = rules.create_rule(session, actor=ADMIN, project_id=project.id, name="payment errors",
                                 type="pattern", options={"pattern": "never-matches-[0-9]{40}"}, severity="critical")
        project_id, rule_id = project.id, rule.id
    with psycopg.connect(db_url) as conn:  # one firing alert to acknowledge, whatever the demo does meanwhile
        conn.execute("INSERT INTO alerts (project_id, rule_id, fingerprint, title, severity, samples) VALUES "
                     "(%s, %s, 'browser', 'payments: charge failed (browser test)', 'critical', "
                     "'[{\"message\": \"charge failed: processor returned 402\"}]')", (project_id, rule_id))
    env = {**os.environ, **app_env, "PYTHONUNBUFFERED": "1"}
    port = free_port()
    worker = subprocess.Popen([sys.executable, "-m", "worker"], cwd=repo_root(), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(repo_root() / "dashboard" / "app.py"), "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false"],
        cwd=repo_root(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, dashboard)
        yield url
    finally:
        for proc in (dashboard, worker):
            proc.send_signal(signal.SIGTERM)
        for proc in (dashboard, worker):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the dashboard exited"
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as resp:  # noqa: S310 - our http URL
                if resp.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the dashboard never became healthy")


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
