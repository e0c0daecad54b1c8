"""A caseworker corrects a route in a real browser: the route explained in Chinese, then a
subcategory and urgency chosen from the ticket page."""

from __future__ import annotations

import os

from models import Ticket
from tests.browser.test_workspace import expect, log_in
from tests.handlers.staff.factories import make_staff, make_ticket, ticket_state

TEXT = "婆婆天天骂我，昨天老公还推了我一把，能不能帮忙调解一下"
SHOTS = os.environ.get("NIANGJIA_SCREENSHOTS")  # a folder: pages saved for a person to look at


def test_the_page_explains_the_route_and_takes_a_subcategory(live_server, browser, db, router):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    reference = make_ticket(db, category="mediation", text=TEXT)
    with db.transaction() as session:
        Ticket.by_reference(session, reference).route_explanation = router.route(TEXT).explanation
    for viewport in ({"width": 390, "height": 844}, {"width": 1366, "height": 900}):
        page = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
        log_in(page, live_server, "li")
        page.goto(f"{live_server}/staff/tickets/{reference}")
        expect(page.locator("#route-explanation")).to_contain_text("转到“")
        expect(page.locator("#route-explanation")).to_contain_text("模型把握")
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/ticket-{viewport['width']}.png", full_page=True)
    page.locator("#claim").click()
    expect(page.get_by_text("已认领，请尽快联系她")).to_be_visible()
    page.locator("#route-choice").select_option(value="consultation/anti_dv_law")
    page.locator("#route-urgent").select_option(value="true")
    page.locator("#route-form").get_by_role("button", name="更正").click()
    expect(page.get_by_text("分类已更正")).to_be_visible()
    ticket = ticket_state(db, reference)
    assert (ticket.category, ticket.subcategory, ticket.urgent) == ("consultation", "anti_dv_law", True)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/ticket-corrected-1366.png", full_page=True)
