"""The key pages in a real headless Chromium: login, live demo rows, charts, connections; screenshots."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.browser.conftest import PASSWORD
from tests.pipeline.helpers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _alert_state(db_url):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT state FROM alerts WHERE fingerprint = 'browser'").fetchone()[0]


def test_login_live_logs_stream_and_pages_render(live_system, browser, screenshot_dir, db_url):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(live_system, wait_until="domcontentloaded")
    page.get_by_role("textbox", name="Username").fill("admin")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.screenshot(path=str(screenshot_dir / "login.png"))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Live logs").wait_for(timeout=30_000)
    # demo rows arrive through the worker within a few seconds, and the fragment shows them
    caption = page.get_by_text(re.compile(r"newest [1-9]\d* events"))
    caption.wait_for(timeout=20_000)
    first = caption.inner_text()
    page.wait_for_function(
        "(first) => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
        ".some(e => /Updated/.test(e.innerText) && e.innerText !== first)", arg=first, timeout=10_000)
    page.screenshot(path=str(screenshot_dir / "live-logs.png"))

    # navigate inside the session (a fresh URL would be a new, signed-out session)
    for name, link, heading in (("metrics", "Metrics", "Metrics"), ("connections", "Connections", "Connections"),
                                ("users", "Users", "Users"), ("audit", "Audit", "Audit trail")):
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link).click()
        page.get_by_role("heading", name=heading).wait_for(timeout=30_000)
        if name == "metrics":
            page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
        page.wait_for_timeout(800)  # let the last deltas paint
        page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
    # the alert inbox: select the firing alert, acknowledge it, see it under "Acknowledged"
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Alerts").click()
    page.get_by_role("heading", name="Alerts").wait_for(timeout=30_000)
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for(timeout=30_000)
    page.screenshot(path=str(screenshot_dir / "alerts.png"), full_page=True)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)  # the selection checkbox of the first row
    page.get_by_role("button", name="Acknowledge").wait_for(timeout=15_000)
    page.get_by_role("textbox", name="Comment (optional)").first.fill("looking into it")
    page.get_by_role("button", name="Acknowledge").first.click()
    wait_for(lambda: _alert_state(db_url) == "acknowledged", timeout=15, message="the acknowledgement")
    page.get_by_role("tab", name="Acknowledged").click()
    page.locator('[role="tabpanel"]:visible [data-testid="stDataFrame"]').wait_for(timeout=15_000)
    assert not page.locator('[role="tabpanel"]:visible').get_by_text("No acknowledged alerts.").count()
    page.screenshot(path=str(screenshot_dir / "alerts-acknowledged.png"), full_page=True)
    for name, link, heading in (("rules", "Rules", "Rules"), ("channels", "Channels", "Channels")):
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link).click()
        page.get_by_role("heading", name=heading).wait_for(timeout=30_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
    assert not page.get_by_text("Traceback").count()
