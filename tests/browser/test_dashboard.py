"""The dashboard in a real browser, on a phone and a desk: the charts draw (ECharts served by
the app, allowed by the page's CSP), nothing overflows, a rate's definition opens with a tap."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from models import utcnow
from tests.browser.test_workspace import expect, log_in
from tests.handlers.staff.factories import make_staff, make_ticket


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 1366, "height": 900}])
def test_the_dashboard_draws_its_charts_and_fits_the_screen(live_server, browser, db, viewport, tmp_path):
    make_staff(db, "city", "supervisor", "T", "市妇联")
    now = utcnow()
    for i, (region, category) in enumerate([("T01", "mediation"), ("T010101", "consultation"), ("T02", "service"),
                                            ("T02", "mediation"), ("T01", "consultation")]):
        make_ticket(db, region=region, category=category, user=f"o-{i}", now=now - timedelta(days=i * 3))
    page = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
    problems = []
    # A missing resource is told by its response below (the favicon aside).
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    log_in(page, live_server, "city")
    page.get_by_role("link", name="统计").click()
    expect(page.get_by_role("heading", name="测试市 · 统计")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-charts", "3")
    for chart in ("#chart-trend", "#chart-routes", "#chart-regions"):
        expect(page.locator(f"{chart} canvas").first).to_be_visible()
    assert not problems, problems
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
    definition = page.locator("#rate-response_rate details p")
    expect(definition).to_be_hidden()
    page.locator("#rate-response_rate summary").click()
    expect(definition).to_be_visible()
    shots = os.environ.get("NIANGJIA_SCREENSHOTS")
    if shots:
        page.screenshot(path=f"{shots}/dashboard-{viewport['width']}.png", full_page=True)
