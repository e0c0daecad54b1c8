"""The desk in Debian's chromium at a phone's size (390x844) and a desktop's (1366x900): her
phone near the top of the ticket page, revealed on the record and tap-to-call; the page
taking in her new message by itself; the queue's 新消息, received time and preview; the
login form's labels over their boxes. NIANGJIA_SCREENSHOTS=DIR keeps screenshots to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.test_workspace import expect, log_in
from tests.handlers.staff.factories import PHONE, make_staff, make_ticket, actions_of
from tests.handlers.staff.test_desk import she_writes

PHONE_SIZE = {"width": 390, "height": 844}
DESKTOP_SIZE = {"width": 1366, "height": 900}


def shoot(page, name: str) -> None:
    folder = os.environ.get("NIANGJIA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
        page.screenshot(path=str(Path(folder) / f"{name}-first-screen.png"))


@pytest.mark.parametrize("size", [PHONE_SIZE, DESKTOP_SIZE], ids=["phone", "desktop"])
def test_her_phone_is_near_the_top_revealed_on_the_record_and_tap_to_call(live_server, browser, db, size):
    li_id = make_staff(db, "li", "caseworker", "T01", "李姐")
    reference = make_ticket(db, phone=PHONE, text="婆婆天天骂我，" * 30)  # a long first message
    page = browser.new_context(viewport=size, locale="zh-CN").new_page()
    log_in(page, live_server, "li")
    page.locator(f"tr[data-ref='{reference}']").get_by_role("button", name="认领").click()
    expect(page.get_by_text("已认领，请尽快联系她")).to_be_visible()

    masked = page.locator("#phone-masked")
    expect(masked).to_have_text("138****5678")
    assert masked.bounding_box()["y"] + masked.bounding_box()["height"] < size["height"]  # on the first screen
    assert PHONE not in page.content()

    page.locator("#reveal-phone").click()
    call = page.locator("a#call")
    expect(call).to_have_attribute("href", f"tel:{PHONE}")
    box = call.bounding_box()
    assert box["y"] + box["height"] < size["height"] and box["height"] >= 32  # a thumb finds it
    assert actions_of(db, reference).count(("phone_revealed", li_id)) == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(page, f"ticket-{size['width']}")


def test_the_ticket_page_takes_in_her_new_message_and_the_queue_marks_it(live_server, browser, db):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    open_one = make_ticket(db, user="o-open")
    elsewhere = make_ticket(db, user="o-elsewhere", text="想咨询一下产假和生育津贴")
    page = browser.new_context(viewport=PHONE_SIZE, locale="zh-CN").new_page()
    log_in(page, live_server, "li")
    for reference in (open_one, elsewhere):
        page.goto(f"{live_server}/staff/tickets/{reference}")
        page.locator("#claim").click()
        expect(page.get_by_text("已认领，请尽快联系她")).to_be_visible()
    page.goto(f"{live_server}/staff/tickets/{open_one}")
    page.evaluate("window.__sameDocument = true")

    she_writes(db, open_one, "他刚才又打电话来骂我")
    she_writes(db, elsewhere, "我补充一下，我是灵活就业")
    expect(page.get_by_text("他刚才又打电话来骂我")).to_be_visible(timeout=20000)
    assert page.evaluate("window.__sameDocument") is True

    desk = browser.new_context(viewport=DESKTOP_SIZE, locale="zh-CN").new_page()
    log_in(desk, live_server, "li")
    desk.goto(f"{live_server}/staff/?tab=mine")
    row = desk.locator(f"tr[data-ref='{elsewhere}']")
    expect(row.locator(".badge.unread")).to_have_text("新消息")
    expect(row.locator("td.preview")).to_have_text("想咨询一下产假和生育津贴")
    expect(row.locator("td.received")).to_have_text(__import__("re").compile(r"^\d\d-\d\d \d\d:\d\d$"))
    # The open page read her message: its marker is gone.
    expect(desk.locator(f"tr[data-ref='{open_one}'] .badge.unread")).to_have_count(0)
    shoot(desk, "queue-1366")
    phone_queue = browser.new_context(viewport=PHONE_SIZE, locale="zh-CN").new_page()
    log_in(phone_queue, live_server, "li")
    phone_queue.goto(f"{live_server}/staff/?tab=mine")
    assert phone_queue.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(phone_queue, "queue-390")


@pytest.mark.parametrize("size", [PHONE_SIZE, DESKTOP_SIZE], ids=["phone", "desktop"])
def test_the_login_forms_labels_sit_over_boxes_of_one_width(live_server, browser, size):
    page = browser.new_context(viewport=size, locale="zh-CN").new_page()
    page.goto(f"{live_server}/staff/login")
    user, password = page.get_by_label("用户名"), page.get_by_label("密码")
    button = page.get_by_role("button", name="登录")
    boxes = [user.bounding_box(), password.bounding_box(), button.bounding_box()]
    assert len({round(b["x"]) for b in boxes}) == 1 and len({round(b["width"]) for b in boxes}) == 1
    for label in ("用户名", "密码"):
        text = page.locator("label", has_text=label).evaluate(
            "l => { const r = document.createRange(); r.selectNodeContents(l.firstChild); return r.getBoundingClientRect().toJSON(); }")
        assert round(text["x"]) == round(boxes[0]["x"])
    shoot(page, f"login-{size['width']}")


@pytest.mark.parametrize("size", [PHONE_SIZE, DESKTOP_SIZE], ids=["phone", "desktop"])
def test_a_walk_in_visit_is_recorded_from_the_workspace(live_server, browser, db, size):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    page = browser.new_context(viewport=size, locale="zh-CN").new_page()
    log_in(page, live_server, "li")
    page.get_by_role("link", name="登记来电/来访").click()
    page.get_by_label("来访（妇女之家）").check()
    page.get_by_label("她讲述的情况").fill("丈夫常年在外打工不寄钱回家，想咨询能不能要求他给孩子抚养费")
    page.get_by_label("她所在区域").select_option("T0101")
    page.get_by_label("匿名，不留电话").check()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(page, f"record-{size['width']}")
    page.get_by_role("button", name="登记为工单").click()
    expect(page.get_by_text("已登记为工单")).to_be_visible()
    expect(page.locator(".head-badges")).to_contain_text("处理中")
    expect(page.get_by_text("电话或来访登记的工单无法在线回复")).to_be_visible()
    page.goto(f"{live_server}/staff/?tab=mine&channel=visit")
    expect(page.locator("table.queue tbody tr .badge.offline")).to_have_text("来访")


@pytest.mark.parametrize("size", [PHONE_SIZE, DESKTOP_SIZE], ids=["phone", "desktop"])
def test_an_admin_edits_a_canned_reply_in_the_workspace(live_server, browser, db, size):
    make_staff(db, "admin", "admin", "T01", "县管理员")
    page = browser.new_context(viewport=size, locale="zh-CN").new_page()
    log_in(page, live_server, "admin")
    page.get_by_role("link", name="常用回复").click()
    first = page.locator("ol.canned-list > li").first
    first.get_by_label("标题").fill("已收到，马上处理")
    first.get_by_role("button", name="保存").click()
    expect(page.get_by_text("常用回复已保存")).to_be_visible()
    expect(page.locator("ol.canned-list > li").first.get_by_label("标题")).to_have_value("已收到，马上处理")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(page, f"canned-{size['width']}")


def test_an_admin_removes_a_canned_reply_in_the_workspace(live_server, browser, db):
    # The form's "one click, one submission" script disables its buttons as it submits: the
    # button she pressed must still say which it was (删除, not 保存).
    make_staff(db, "admin", "admin", "T01", "县管理员")
    page = browser.new_context(viewport=DESKTOP_SIZE, locale="zh-CN").new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, live_server, "admin")
    page.get_by_role("link", name="常用回复").click()
    entries = page.locator("ol.canned-list > li")
    # count() does not wait: it would read the page the link was clicked on.
    expect(entries.first).to_be_visible()
    before = entries.count()
    title = entries.first.get_by_label("标题").input_value()
    entries.first.get_by_role("button", name="删除").click()
    expect(page.get_by_text("已删除该常用回复")).to_be_visible()
    expect(entries).to_have_count(before - 1)
    assert title not in [entries.nth(i).get_by_label("标题").input_value() for i in range(before - 1)]
