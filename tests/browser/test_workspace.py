"""The caseworker's day in a real browser: log in → queue → claim → reply → resolve, while
a colleague in a second browser tries to claim the same ticket and is told who has it."""

from __future__ import annotations

from tests.handlers.staff.factories import PASSWORD, WORDS, make_staff, make_ticket, ticket_state

PHONE_VIEWPORT = {"width": 375, "height": 740}


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def log_in(page, base, username):
    page.goto(f"{base}/staff/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("link", name="工单队列")).to_be_visible()


def test_claim_reply_resolve_while_a_colleague_is_told_who_has_it(live_server, browser, db):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    make_staff(db, "wang", "caseworker", "T01", "王姐")
    reference = make_ticket(db, category="mediation")

    li = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN").new_page()
    wang = browser.new_context(locale="zh-CN").new_page()
    log_in(li, live_server, "li")
    log_in(wang, live_server, "wang")

    # Wang opens the ticket while it is still waiting to be claimed.
    wang.goto(f"{live_server}/staff/tickets/{reference}")
    expect(wang.locator("#claim")).to_be_visible()

    # Li, on her phone, claims it from the queue.
    row = li.locator(f"tr[data-ref='{reference}']")
    expect(row).to_be_visible()
    row.get_by_role("button", name="认领").click()
    expect(li.get_by_text("已认领，请尽快联系她")).to_be_visible()
    expect(li.get_by_text(WORDS)).to_be_visible()

    # Wang presses claim a moment later and learns who has it.
    wang.locator("#claim").click()
    expect(wang.locator("#error")).to_have_text("已被 李姐 认领")
    expect(wang.locator("#assignee")).to_have_text("李姐")

    # Li starts from a canned reply, edits it, and sends it.
    li.locator("select.canned").select_option(label="预约见面")
    box = li.locator("#reply-text")
    expect(box).to_have_value("您好，我们想约您当面聊一聊，地点可以在就近的妇女之家或社区（村）妇联，时间由您定。请告诉我们您方便的时间和地点。")
    box.fill("您好，我是李姐。明天上午十点在妇女之家见面方便吗？")
    li.get_by_role("button", name="发送回复").click()
    expect(li.get_by_text("回复已提交发送")).to_be_visible()
    expect(li.get_by_text("明天上午十点在妇女之家见面方便吗")).to_be_visible()
    expect(li.locator(".delivery.d-pending")).to_contain_text("待发送")

    # And resolves it with an outcome that fits a mediation.
    li.get_by_label("达成调解协议").check()
    li.locator("#resolve-form textarea[name=note]").fill("婆媳双方当面谈开，约定分开居住")
    li.locator("#resolve-form").get_by_role("button", name="办结").click()
    expect(li.get_by_text("已办结，等待回访")).to_be_visible()

    ticket = ticket_state(db, reference)
    assert (ticket.status, ticket.outcome, ticket.assignee.username) == ("resolved", "agreement", "li")

    # The phone-sized queue does not scroll sideways.
    li.goto(f"{live_server}/staff/?tab=all")
    assert li.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
