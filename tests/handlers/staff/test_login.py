"""Logging in and out as a bank would: sessions that end everywhere, idle expiry, delays
per account and per address that never lock her out, bounded password hashing, two steps."""

from __future__ import annotations

import pyotp
import pytest

from bot import accounts
from handlers.staff.login import HashingSlots, RecentDelays
from models import AuditEvent, StaffUser, utcnow
from tests.handlers.staff.factories import PASSWORD, Clock, csrf_from, login, make_staff, post_form

HER_ADDRESS = "10.1.1.5"
STRANGER = "203.0.113.66"


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock.install(monkeypatch)


@pytest.fixture
def li(db):
    return make_staff(db, "li", "caseworker", "T01", "李姐")


def text(response) -> str:
    return response.get_data(as_text=True)


def attempt(client, username: str, password: str, address: str = HER_ADDRESS):
    page = client.get("/staff/login", environ_base={"REMOTE_ADDR": address})
    return client.post(
        "/staff/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(text(page))},
        environ_base={"REMOTE_ADDR": address},
    )


def session_cookie(client) -> str:
    return client.get_cookie("session").value


# -- sessions end everywhere -----------------------------------------------------------


def test_a_cookie_saved_before_logout_does_not_open_the_workspace_after_it(app, li):
    browser = app.test_client()
    assert login(browser, "li").status_code == 303
    saved = session_cookie(browser)
    assert post_form(browser, "/staff/logout", "/staff/").status_code == 303

    thief = app.test_client()
    thief.set_cookie("session", saved)
    response = thief.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_logging_out_on_one_device_ends_the_session_on_the_other(app, li):
    phone, office = app.test_client(), app.test_client()
    assert login(phone, "li").status_code == 303 and login(office, "li").status_code == 303
    post_form(phone, "/staff/logout", "/staff/")
    assert office.get("/staff/").status_code == 302


def test_a_password_change_ends_her_other_sessions_and_keeps_this_one(app, db, li):
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "li")
    login(elsewhere, "li")
    new = "风筝飞过小河边-2026"
    response = post_form(here, "/staff/account/password", "/staff/account", current=PASSWORD, new=new, repeat=new)
    assert response.status_code == 303
    assert here.get("/staff/").status_code == 200
    assert elsewhere.get("/staff/").status_code == 302
    assert login(app.test_client(), "li", new).status_code == 303


def test_disabling_an_account_ends_its_sessions_at_once(app, db, li):
    browser = app.test_client()
    login(browser, "li")
    assert browser.get("/staff/").status_code == 200
    with db.transaction() as session:
        accounts.disable(session, utcnow(), None, StaffUser.by_username(session, "li"))
    assert browser.get("/staff/").status_code == 302
    assert attempt(app.test_client(), "li", PASSWORD).status_code == 401


def test_an_idle_session_ends_and_an_active_one_does_not(app, li, clock):
    browser = app.test_client()
    login(browser, "li")
    idle = app.extensions["niangjia"].settings.login.idle_minutes
    clock.advance(minutes=idle - 1)
    assert browser.get("/staff/").status_code == 200  # used: the idle time starts again
    clock.advance(minutes=idle - 1)
    assert browser.get("/staff/").status_code == 200
    clock.advance(minutes=idle + 1)
    response = browser.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    assert "长时间未操作" in text(browser.get("/staff/login"))


# -- throttling: growing delays, never a lock-out -------------------------------------------


def test_a_strangers_wrong_passwords_never_lock_her_out_of_her_own_browser(app, li, clock):
    hers = app.test_client()
    assert attempt(hers, "li", PASSWORD).status_code == 303  # her usual browser
    post_form(hers, "/staff/logout", "/staff/")
    stranger = app.test_client()
    answers = [attempt(stranger, "li", f"guess-{i}", STRANGER).status_code for i in range(30)]
    assert 429 in answers  # the stranger is slowed down ...
    assert attempt(hers, "li", PASSWORD).status_code == 303  # ... she is not


def test_her_usual_browser_gets_in_even_behind_the_strangers_address(app, li, clock):
    # One office network, one mobile carrier's NAT or one reverse proxy: the same address.
    hers = app.test_client()
    assert attempt(hers, "li", PASSWORD, STRANGER).status_code == 303
    post_form(hers, "/staff/logout", "/staff/")
    stranger = app.test_client()
    for i in range(30):
        attempt(stranger, f"user{i % 3}" if i % 2 else "li", f"guess-{i}", STRANGER)
    assert attempt(stranger, "li", PASSWORD, STRANGER).status_code == 429
    assert attempt(hers, "li", PASSWORD, STRANGER).status_code == 303


def test_a_stolen_browser_cookie_is_slowed_like_an_address(app, li, clock):
    hers = app.test_client()
    assert attempt(hers, "li", PASSWORD).status_code == 303
    post_form(hers, "/staff/logout", "/staff/")
    thief = app.test_client()
    thief.set_cookie("nj_known", hers.get_cookie("nj_known", path="/staff/").value, path="/staff/")
    answers = [attempt(thief, "li", f"guess-{i}", f"198.51.100.{i}").status_code for i in range(6)]
    assert answers[:4] == [401, 401, 401, 401] and 429 in answers[4:]


def test_the_accounts_delay_is_short_for_anyone_else(app, db, li, clock):
    stranger, new_phone = app.test_client(), app.test_client()
    for i in range(30):
        attempt(stranger, "li", f"guess-{i}", STRANGER)
        clock.advance(seconds=1)
    # A browser she never used, from another address: the wait is bounded, then it works.
    refused = attempt(new_phone, "li", PASSWORD, "10.9.9.9")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) <= app.extensions["niangjia"].settings.login.account_max_delay_seconds
    clock.advance(seconds=int(refused.headers["Retry-After"]))
    assert attempt(new_phone, "li", PASSWORD, "10.9.9.9").status_code == 303


def test_delays_per_address_grow_and_failures_expire(app, li, clock):
    settings = app.extensions["niangjia"].settings.login
    client = app.test_client()
    # Guessing at many accounts from one address: the address is slowed down.
    for i in range(settings.free_failures):
        assert attempt(client, f"user{i}", "wrong-password", STRANGER).status_code == 401
    waits = []
    for i in range(4):
        assert attempt(client, f"other{i}", "wrong-password", STRANGER).status_code == 401
        refused = attempt(client, f"other{i}", "wrong-password", STRANGER)
        assert refused.status_code == 429 and "后再试" in text(refused)
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(seconds=waits[-1])
    assert waits == [2, 4, 8, 16]
    # Another address is not slowed by this one.
    assert attempt(client, "li", PASSWORD, HER_ADDRESS).status_code == 303
    # Failures older than failure_expiry_minutes are forgotten.
    clock.advance(minutes=settings.failure_expiry_minutes + 1)
    fresh = app.test_client()
    for _ in range(settings.free_failures):
        assert attempt(fresh, "nobody", "wrong-password", STRANGER).status_code == 401


def test_an_admin_unlock_ends_the_accounts_delay(app, db, li, clock):
    stranger = app.test_client()
    for i in range(10):
        attempt(stranger, "li", f"guess-{i}", STRANGER)
    assert attempt(app.test_client(), "li", PASSWORD, "10.9.9.9").status_code == 429
    with db.transaction() as session:  # the command line: another process
        assert accounts.unlock(session, utcnow(), None, StaffUser.by_username(session, "li"))
    # This process trusts what it saw for a few seconds, then asks the database again.
    clock.advance(seconds=RecentDelays.TRUST.total_seconds() + 1)
    assert attempt(app.test_client(), "li", PASSWORD, "10.9.9.9").status_code == 303


def test_every_login_outcome_is_audited_without_the_password(app, db, li):
    attempt(app.test_client(), "li", "wrong-password-typed")
    attempt(app.test_client(), "li", PASSWORD)
    with db.session() as session:
        events = [(e.action, e.target.username if e.target else None, e.address) for e in AuditEvent.recent(session)]
        details = str([e.detail for e in AuditEvent.recent(session)])
    assert events[:2] == [("login.ok", "li", HER_ADDRESS), ("login.failed", "li", HER_ADDRESS)]
    assert "wrong-password-typed" not in details and PASSWORD not in details


# -- password hashing cannot take the webhook's cores -----------------------------------


def test_a_login_finding_every_hashing_slot_busy_gets_429_and_counts_no_failure(app, li):
    slots = app.extensions["niangjia_hash_slots"] = HashingSlots(1, queue=0, wait_ms=0, name=str(app.instance_path))
    other_process = HashingSlots(1, queue=0, wait_ms=0, name=str(app.instance_path))
    with other_process.slot() as got:  # another worker is hashing
        assert got
        busy = attempt(app.test_client(), "li", PASSWORD)
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1" and "稍候" in text(busy)
    with slots.slot() as got:
        assert got  # freed when the other let go
    assert attempt(app.test_client(), "li", PASSWORD).status_code == 303


# -- two-step login ------------------------------------------------------------------------


def enrol(client, clock) -> str:
    page = post_form(client, "/staff/account/totp", "/staff/account", step="start")
    secret = text(page).split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    confirmed = post_form(client, "/staff/account/totp", "/staff/account", step="confirm", secret=secret,
                          code=pyotp.TOTP(secret).at(clock.now))
    assert confirmed.status_code == 303
    return secret


def test_an_admin_with_two_step_login_needs_the_code_and_each_code_works_once(app, db, clock):
    make_staff(db, "wang", "admin", "T01")
    browser = app.test_client()
    login(browser, "wang")
    secret = enrol(browser, clock)
    post_form(browser, "/staff/logout", "/staff/")
    clock.advance(seconds=60)  # the enrolment's code is spent; the next one is new

    second = app.test_client()
    asked = attempt(second, "wang", PASSWORD)
    assert asked.status_code == 200 and "动态验证码" in text(asked)
    assert second.get("/staff/").status_code == 302  # the password alone opens nothing
    code = pyotp.TOTP(secret).at(clock.now)
    wrong = second.post("/staff/login", data={"code": "000000" if code != "000000" else "111111", "csrf_token": csrf_from(text(asked))})
    assert wrong.status_code == 401
    ok = second.post("/staff/login", data={"code": code, "csrf_token": csrf_from(text(asked))})
    assert ok.status_code == 303 and second.get("/staff/").status_code == 200

    replay = app.test_client()
    asked = attempt(replay, "wang", PASSWORD)
    again = replay.post("/staff/login", data={"code": code, "csrf_token": csrf_from(text(asked))})
    assert again.status_code == 401  # a code seen over her shoulder is spent


def test_enrolling_needs_a_code_from_the_app(app, db):
    make_staff(db, "wang", "admin", "T01")
    browser = app.test_client()
    login(browser, "wang")
    page = post_form(browser, "/staff/account/totp", "/staff/account", step="start")
    secret = text(page).split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    refused = post_form(browser, "/staff/account/totp", "/staff/account", step="confirm", secret=secret, code="123")
    assert refused.status_code == 422
    with db.session() as session:
        assert not StaffUser.by_username(session, "wang").uses_totp


def test_guessing_her_password_on_the_change_page_counts_and_waits(app, li, clock):
    browser = app.test_client()
    login(browser, "li")
    answers = [
        post_form(browser, "/staff/account/password", "/staff/account", current=f"guess-{i}", new="x", repeat="x").status_code
        for i in range(6)
    ]
    assert answers[:3] == [422, 422, 422] and 429 in answers[3:]
