"""An urgent message arrives while a caseworker has the queue open: a banner, no reload."""

from __future__ import annotations

from tests.browser.test_workspace import expect, log_in
from tests.handlers.staff.factories import make_staff
from tests.wechat import FakeWeChat

URGENT = "他又喝多了拿着刀在门口，我和孩子躲在卧室里"


def test_the_urgent_banner_arrives_on_an_open_queue_page_without_a_reload(live_server, browser, db, app, settings):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    make_staff(db, "far", "caseworker", "T02", "邻县")
    li = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900}).new_page()
    far = browser.new_context(locale="zh-CN").new_page()
    log_in(li, live_server, "li")
    log_in(far, live_server, "far")
    li.evaluate("window.__sameDocument = true")  # gone if the page reloads

    wechat = FakeWeChat(app.test_client(), settings.wechat.token, settings.wechat.encoding_aes_key, settings.wechat.appid)
    reply = wechat.send_text("o-in-danger", URGENT)
    assert reply.status == 200

    banner = li.locator(".ws-alert.kind-urgent")
    expect(banner).to_be_visible(timeout=15000)
    expect(banner).to_contain_text("紧急求助")
    assert "刀" not in banner.inner_text()
    expect(banner).to_have_attribute("data-sound", "played")
    # The queue refreshed itself: the urgent ticket is on the page, first.
    expect(li.locator("table.queue tbody tr").first.locator(".badge.urgent")).to_be_visible(timeout=15000)
    assert li.evaluate("window.__sameDocument") is True
    # A caseworker of another county, whose scope does not hold the ticket, sees nothing.
    far.wait_for_timeout(1000)
    assert far.locator(".ws-alert").count() == 0
