"""Accounts in a real browser: an admin disables and re-admits a caseworker, who is out at
once on her phone; a new password shown once; two-step login from enrolment to use."""

from __future__ import annotations

import re

import pyotp
import pytest

from tests.handlers.staff.factories import PASSWORD, Clock, make_staff

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def log_in(page, base, username, password=PASSWORD):
    page.goto(f"{base}/staff/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock.install(monkeypatch)


def test_an_admin_disables_and_readmits_a_caseworker_who_is_out_at_once(live_server, browser, db):
    make_staff(db, "admin1", "admin", "T01", "县管理员")
    make_staff(db, "li", "caseworker", "T0101", "李姐")
    admin = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    li = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
    log_in(li, live_server, "li")
    expect(li.get_by_role("link", name="工单队列")).to_be_visible()
    expect(li.get_by_role("link", name="账号管理")).to_have_count(0)  # not an admin

    log_in(admin, live_server, "admin1")
    admin.get_by_role("link", name="账号管理").click()
    row = admin.locator("tr[data-username='li']")
    expect(row).to_contain_text("在用")
    admin.once("dialog", lambda dialog: dialog.accept())  # "确定要对 li 停用吗？"
    row.get_by_role("button", name="停用").click()
    expect(admin.get_by_role("status").first).to_contain_text("账号已停用")
    expect(admin.locator("tr[data-username='li']")).to_contain_text("已停用")

    li.reload()
    expect(li.get_by_role("heading", name="工作人员登录")).to_be_visible()

    # A dismissed confirmation changes nothing.
    admin.once("dialog", lambda dialog: dialog.dismiss())
    admin.locator("tr[data-username='li']").get_by_role("button", name="重置密码").click()
    expect(admin.locator("#shown-password")).to_have_count(0)

    admin.once("dialog", lambda dialog: dialog.accept())
    admin.locator("tr[data-username='li']").get_by_role("button", name="启用").click()
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.locator("tr[data-username='li']").get_by_role("button", name="重置密码").click()
    new_password = admin.locator("#shown-password").inner_text().strip()
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", new_password)
    expect(admin.locator("#audit")).to_contain_text("重置密码")

    log_in(li, live_server, "li")  # the old password
    expect(li.get_by_role("alert")).to_have_text("用户名或密码错误")
    log_in(li, live_server, "li", new_password)
    expect(li.get_by_role("link", name="工单队列")).to_be_visible()


def test_two_step_login_from_enrolment_to_use(live_server, browser, db, clock):
    make_staff(db, "admin1", "admin", "T01", "县管理员")
    page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
    log_in(page, live_server, "admin1")
    page.get_by_role("link", name="我的账号").click()
    page.get_by_role("button", name="开启两步验证").click()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "").strip()
    page.get_by_label("验证码").fill(pyotp.TOTP(secret).at(clock.now))
    page.get_by_role("button", name="确认开启").click()
    expect(page.get_by_role("status")).to_contain_text("两步验证已开启")
    page.get_by_role("button", name="退出").click()

    clock.advance(seconds=60)
    log_in(page, live_server, "admin1")
    expect(page.get_by_text("已开启两步验证")).to_be_visible()
    page.get_by_label("动态验证码").fill(pyotp.TOTP(secret).at(clock.now))
    page.get_by_role("button", name="验证并登录").click()
    expect(page.get_by_role("link", name="工单队列")).to_be_visible()
