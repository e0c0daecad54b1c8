"""The workspace pages, driven as a browser would: real logins, CSRF tokens, a real database."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import OutboxMessage, StaffUser, TicketEvent, utcnow
from tests.handlers.staff.factories import (
    PASSWORD, PHONE, WORDS, actions_of, csrf_from, login, make_staff, make_ticket, post_form, ticket_state,
)


@pytest.fixture
def staff(db):
    return {
        "li": make_staff(db, "li", "caseworker", "T01", "李姐"),
        "zhang": make_staff(db, "zhang", "caseworker", "T010101", "张姐"),
        "neighbour": make_staff(db, "neighbour", "caseworker", "T02", "邻县王姐"),
        "boss": make_staff(db, "boss", "supervisor", "T01", "县妇联督办"),
    }


@pytest.fixture
def li(app, staff):
    client = app.test_client()
    assert login(client, "li").status_code == 303
    return client


def page(client, reference):
    return f"/staff/tickets/{reference}"


def act(client, reference, action, **data):
    return post_form(client, f"/staff/tickets/{reference}/{action}", page(client, reference), **data)


def text(response) -> str:
    return response.get_data(as_text=True)


# -- logging in ----------------------------------------------------------------------


def test_pages_need_a_login(client, staff):
    response = client.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_login_sets_an_httponly_samesite_session_cookie_and_opens_the_queue(client, staff):
    response = login(client, "li")
    assert response.status_code == 303 and response.headers["Location"].endswith("/staff/")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    queue = client.get("/staff/")
    assert queue.status_code == 200 and "李姐" in text(queue) and "待认领" in text(queue)


def test_wrong_password_and_unknown_user_read_the_same(client, staff):
    wrong = login(client, "li", "not-the-password")
    unknown = login(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in text(wrong) and "用户名或密码错误" in text(unknown)


def test_login_form_without_csrf_token_is_refused(client, staff):
    response = client.post("/staff/login", data={"username": "li", "password": PASSWORD})
    assert response.status_code == 400 and "刷新" in text(response)


def test_login_never_redirects_to_another_site(client, staff):
    page = client.get("/staff/login?next=//evil.example/x")
    response = client.post("/staff/login", data={
        "username": "li", "password": PASSWORD, "next": "//evil.example/x", "csrf_token": csrf_from(text(page)),
    })
    assert response.headers["Location"].endswith("/staff/")


def test_logout_needs_the_form_token_and_ends_the_session(li):
    assert li.post("/staff/logout").status_code == 400
    response = post_form(li, "/staff/logout", "/staff/")
    assert response.status_code == 303
    assert li.get("/staff/").status_code == 302


# -- the queue -----------------------------------------------------------------------


def test_queue_shows_my_scope_urgent_first_with_counts(li, db, staff):
    now = utcnow()
    ordinary = make_ticket(db, user="o-1", now=now, claim_within=timedelta(hours=2))
    urgent = make_ticket(db, user="o-2", urgent=True, now=now, claim_within=timedelta(hours=10))
    elsewhere = make_ticket(db, user="o-3", region="T02")
    html = text(li.get("/staff/"))
    assert html.index(urgent) < html.index(ordinary)
    assert elsewhere not in html
    assert 'data-tab="unclaimed">2<' in html and 'data-tab="mine">0<' in html
    assert WORDS not in html  # no personal data in the queue


def test_queue_filters_and_a_bad_filter_is_shown_not_a_500(li, db, staff):
    consult = make_ticket(db, user="o-1", category="consultation")
    mediation = make_ticket(db, user="o-2", category="mediation")
    html = text(li.get("/staff/?category=consultation"))
    assert consult in html and mediation not in html
    bad = li.get("/staff/?region=T02&status=nope&page=zero")
    assert bad.status_code == 422
    assert "区域不存在或不在您的管辖范围内" in text(bad) and "没有这个状态" in text(bad)
    assert consult in text(bad)  # the page still lists what it can


def test_claim_from_the_queue_opens_the_ticket_as_mine(li, db, staff):
    reference = make_ticket(db)
    response = post_form(li, f"/staff/tickets/{reference}/claim", "/staff/")
    assert response.status_code == 303 and reference in response.headers["Location"]
    html = text(li.get(response.headers["Location"]))
    assert "已认领" in html and "李姐" in html
    assert ticket_state(db, reference).assignee_id == staff["li"]
    assert 'data-tab="mine">1<' in text(li.get("/staff/?tab=mine"))


def test_second_claimer_is_told_who_has_it_with_409(app, li, db, staff):
    reference = make_ticket(db)
    boss = app.test_client()
    login(boss, "boss")
    boss_page = boss.get(page(boss, reference))  # opened while still unclaimed
    assert act(li, reference, "claim").status_code == 303
    response = boss.post(f"/staff/tickets/{reference}/claim", data={"csrf_token": csrf_from(text(boss_page))})
    assert response.status_code == 409
    assert "已被 李姐 认领" in text(response)


# -- scope -----------------------------------------------------------------------------


def test_a_neighbouring_grids_ticket_is_404_not_403(app, db, staff):
    reference = make_ticket(db, region="T02")
    client = app.test_client()
    login(client, "zhang")
    assert client.get(page(client, reference)).status_code == 404
    # Acting on it is 404 too, even with a valid form token.
    token = csrf_from(text(client.get("/staff/")))
    assert client.post(f"/staff/tickets/{reference}/claim", data={"csrf_token": token}).status_code == 404
    assert client.get("/staff/tickets/NJ-19990101-0001").status_code == 404
    assert [a for a, _ in actions_of(db, reference)] == ["created"]


def test_a_community_worker_does_not_see_the_county_level_ticket(app, db, staff):
    county = make_ticket(db, region="T01")
    community = make_ticket(db, region="T010101", user="o-2")
    client = app.test_client()
    login(client, "zhang")
    html = text(client.get("/staff/?tab=all"))
    assert community in html and county not in html


# -- the ticket page -------------------------------------------------------------------


def test_opening_the_ticket_shows_her_words_and_is_recorded(li, db, staff):
    reference = make_ticket(db, phone=PHONE)
    html = text(li.get(page(li, reference)))
    # Her number is masked until revealed (tests/handlers/staff/test_desk.py).
    assert WORDS in html and "138****5678" in html and PHONE not in html and "婆婆" in html
    with db.session() as session:
        viewed = session.scalars(select(TicketEvent).where(TicketEvent.action == "viewed")).all()
    assert [(e.actor_id, e.detail) for e in viewed] == [(staff["li"], {"via": "web"})]


def test_ticket_pages_are_not_cached_and_refuse_framing(li, db, staff):
    response = li.get(page(li, make_ticket(db)))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_reply_goes_through_the_outbox_and_shows_its_delivery_state(li, db, staff):
    reference = make_ticket(db)
    act(li, reference, "claim")
    response = act(li, reference, "reply", text="您好，我是社区的李姐，方便通话吗？")
    assert response.status_code == 303
    html = text(li.get(response.headers["Location"]))
    assert "您好，我是社区的李姐，方便通话吗？" in html and "待发送" in html
    with db.session() as session:
        item = session.scalars(select(OutboxMessage)).one()
        assert (item.channel, item.channel_user, item.status) == ("wechat", "o-woman", "pending")


def test_a_failed_delivery_shows_why_the_48_hour_window_closed(li, db, staff):
    reference = make_ticket(db)
    act(li, reference, "claim")
    act(li, reference, "reply", text="您好")
    with db.transaction() as session:
        item = session.scalars(select(OutboxMessage)).one()
        item.status, item.attempts = "failed", 1
        item.last_error = "errcode 45015: response out of time limit or subscription is canceled"
    html = text(li.get(page(li, reference)))
    assert "发送失败" in html and "48 小时" in html and "45015" in html


def test_reply_to_an_unclaimed_ticket_is_refused_for_a_caseworker(app, li, db, staff):
    reference = make_ticket(db)
    response = act(li, reference, "reply", text="您好")
    assert response.status_code == 403
    assert "只有认领人或督办人" in text(response)


def test_empty_reply_is_a_form_error_keeping_the_page(li, db, staff):
    reference = make_ticket(db)
    act(li, reference, "claim")
    response = act(li, reference, "reply", text="   ")
    assert response.status_code == 422 and "请填写内容" in text(response) and WORDS in text(response)


def test_resolve_with_an_outcome_that_does_not_fit_is_422_then_resolves(li, db, staff):
    reference = make_ticket(db, category="mediation")
    act(li, reference, "claim")
    wrong = act(li, reference, "resolve", outcome="answered", note="")
    assert wrong.status_code == 422 and "达成调解协议" in text(wrong)
    done = act(li, reference, "resolve", outcome="agreement", note="双方签了协议")
    assert done.status_code == 303
    html = text(li.get(done.headers["Location"]))
    assert "达成调解协议" in html and "双方签了协议" in html and "重新打开" in html
    assert ticket_state(db, reference).status == "resolved"


def test_reopen_needs_a_reason(li, db, staff):
    reference = make_ticket(db, category="consultation")
    act(li, reference, "claim")
    act(li, reference, "resolve", outcome="answered")
    assert act(li, reference, "reopen", reason="").status_code == 422
    assert act(li, reference, "reopen", reason="她又来问了").status_code == 303
    assert ticket_state(db, reference).status == "claimed"


def test_notes_are_shown_to_staff_and_recorded(li, db, staff):
    reference = make_ticket(db)
    act(li, reference, "claim")
    response = act(li, reference, "notes", text="她白天不方便接电话，晚上八点后联系")
    assert "晚上八点后联系" in text(li.get(response.headers["Location"]))
    assert ("note_added", staff["li"]) in actions_of(db, reference)


def test_route_correction_is_one_click_and_recorded(li, db, staff):
    reference = make_ticket(db, category="mediation")
    act(li, reference, "claim")
    assert act(li, reference, "route", category="consultation").status_code == 303
    assert ticket_state(db, reference).category == "consultation"
    assert ("route_corrected", staff["li"]) in actions_of(db, reference)
    assert act(li, reference, "route", category="nonsense").status_code == 422


def test_caseworker_cannot_transfer_but_supervisor_can(app, li, db, staff):
    reference = make_ticket(db)
    act(li, reference, "claim")
    refused = act(li, reference, "transfer", region="T010101", reason="她住测试社区")
    assert refused.status_code == 403
    boss = app.test_client()
    login(boss, "boss")
    missing = act(boss, reference, "transfer", region="T010101", reason="")
    assert missing.status_code == 422 and "请填写原因" in text(missing)
    outside = act(boss, reference, "transfer", region="T02", reason="邻县")
    assert outside.status_code == 422 and "管辖范围" in text(outside)
    assert act(boss, reference, "transfer", region="T010101", reason="她住测试社区").status_code == 303
    ticket = ticket_state(db, reference)
    assert (ticket.region.code, ticket.status, ticket.assignee_id) == ("T010101", "new", None)
    zhang = app.test_client()
    login(zhang, "zhang")
    assert reference in text(zhang.get("/staff/"))


def test_supervisor_assigns_to_a_colleague_in_the_region(app, db, staff):
    reference = make_ticket(db, region="T010101")
    boss = app.test_client()
    login(boss, "boss")
    assert act(boss, reference, "assign", assignee="neighbour").status_code == 422
    assert act(boss, reference, "assign", assignee="zhang").status_code == 303
    assert ticket_state(db, reference).assignee_id == staff["zhang"]
    assert ("assigned", staff["boss"]) in actions_of(db, reference)


def test_release_puts_the_ticket_back(li, db, staff):
    reference = make_ticket(db)
    act(li, reference, "claim")
    assert act(li, reference, "release", reason="不在我的网格").status_code == 303
    assert ticket_state(db, reference).status == "new"


def test_unknown_action_is_404(li, db, staff):
    reference = make_ticket(db)
    assert act(li, reference, "delete").status_code == 404


def test_no_message_text_phone_or_reply_in_logs(li, db, staff, caplog):
    caplog.set_level(logging.INFO)
    reference = make_ticket(db, phone=PHONE)
    li.get(page(li, reference))
    act(li, reference, "claim")
    act(li, reference, "reply", text="请回电 13900001111")
    act(li, reference, "notes", text="她的身份证 110101199003071234")
    logged = caplog.text
    assert reference in logged  # the actions are logged ...
    for secret in (WORDS, PHONE, "13900001111", "110101199003071234", "请回电"):
        assert secret not in logged  # ... but never her words or numbers


def test_the_ticket_page_shows_each_clock_with_its_light_and_the_urgent_button(client, db):
    from tests.handlers.staff.factories import login, make_staff, make_ticket, post_form

    make_staff(db, "clocks-li", "caseworker", "T01")
    ref = make_ticket(db)
    login(client, "clocks-li")
    html = client.get(f"/staff/tickets/{ref}").get_data(as_text=True)
    for label in ("签收", "首次答复", "办结"):
        assert label in html
    assert 'data-clock="claim"' in html and "light-green" in html
    assert "标为紧急" in html and "暂停计时" not in html  # pausing is for the assignee
    post_form(client, f"/staff/tickets/{ref}/claim", f"/staff/tickets/{ref}")
    assert "暂停计时" in client.get(f"/staff/tickets/{ref}").get_data(as_text=True)


def test_the_queue_filters_by_light(client, db):
    from datetime import timedelta

    from models import utcnow
    from tests.handlers.staff.factories import login, make_staff, make_ticket

    make_staff(db, "lights-li", "caseworker", "T01")
    late = make_ticket(db, user="o-late", now=utcnow() - timedelta(days=3), claim_within=timedelta(hours=1))
    fresh = make_ticket(db, user="o-fresh")
    login(client, "lights-li")
    red = client.get("/staff/?tab=open&light=red").get_data(as_text=True)
    assert late in red and fresh not in red
    assert client.get("/staff/?light=blue").status_code == 422


def test_marking_urgent_from_the_page_is_audited_and_raises_an_alert(client, db):
    from sqlalchemy import select

    from models import StaffAlert
    from tests.handlers.staff.factories import actions_of, login, make_staff, make_ticket, post_form

    make_staff(db, "mark-li", "caseworker", "T01")
    ref = make_ticket(db)
    login(client, "mark-li")
    page = f"/staff/tickets/{ref}"
    # Claimed first: an urgent ticket's record is for its assignee (need to know).
    post_form(client, f"{page}/claim", page)
    refused = post_form(client, f"{page}/urgent", page, urgent="1", reason="")
    assert refused.status_code == 422
    done = post_form(client, f"{page}/urgent", page, urgent="1", reason="她在电话里说他回来了")
    assert done.status_code == 303
    assert "urgent_marked" in [a for a, _ in actions_of(db, ref)]
    with db.session() as session:
        assert [a.kind for a in session.scalars(select(StaffAlert))] == ["urgent"]
    assert "取消紧急" in client.get(page).get_data(as_text=True)


def test_alerts_poll_shows_only_alerts_in_scope_and_marks_the_user_on_duty(app, client, db, wechat):
    from models import StaffUser
    from tests.handlers.staff.factories import login, make_staff

    make_staff(db, "poll-far", "caseworker", "T02")
    make_staff(db, "poll-li", "caseworker", "T01")
    login(client, "poll-li")
    start = client.get("/staff/alerts").json
    assert start["alerts"] == []
    wechat.send_text("o-urgent-poll", "他又喝多了拿着刀在门口，我和孩子躲在卧室里")
    mine = client.get(f"/staff/alerts?after={start['last']}").json
    assert [a["kind"] for a in mine["alerts"]] == ["urgent"] and "NJ-" in mine["alerts"][0]["text"]
    assert client.get(f"/staff/alerts?after={mine['last']}").json["alerts"] == []
    with db.session() as session:
        assert StaffUser.by_username(session, "poll-li").seen_at is not None
    far = app.test_client()
    login(far, "poll-far")
    assert far.get(f"/staff/alerts?after={start['last']}").json["alerts"] == []


def test_unattended_lists_for_admins_the_open_tickets_nobody_is_there_to_work(app, db):
    from sqlalchemy import update

    from models import StaffUser, Ticket
    from tests.handlers.staff.factories import login, make_staff, make_ticket

    make_staff(db, "root-admin", "admin", "T")
    make_staff(db, "street", "caseworker", "T0101")
    gone = make_staff(db, "gone", "caseworker", "T02")
    with db.transaction() as session:
        session.execute(update(StaffUser).where(StaffUser.id == gone).values(active=False))
    watched = make_ticket(db, "T010101")
    nobody_urgent = make_ticket(db, "T02", urgent=True)
    nobody = make_ticket(db, "T01")
    closed = make_ticket(db, "T02")
    with db.transaction() as session:
        session.execute(update(Ticket).where(Ticket.reference == closed).values(status="closed"))

    caseworker = app.test_client()
    login(caseworker, "street")
    assert caseworker.get("/staff/unattended").status_code == 403
    assert "无人负责" not in caseworker.get("/staff/").get_data(as_text=True)

    fresh = app.test_client()
    login(fresh, "root-admin")
    page = fresh.get("/staff/unattended")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index(nobody_urgent) < html.index(nobody)  # urgent first
    assert watched not in html and closed not in html
    assert "无人负责" in fresh.get("/staff/").get_data(as_text=True)


def test_numbers_that_only_look_like_digits_are_refused_quietly(client, db):
    """'²' passes str.isdigit() but not int(): refused like any other bad number, not a 500."""
    from tests.handlers.staff.factories import login, make_staff

    make_staff(db, "digits-li", "caseworker", "T01")
    login(client, "digits-li")
    assert client.get("/staff/?page=²").status_code == client.get("/staff/?page=x").status_code == 422
    assert client.get("/staff/alerts?after=²").status_code == 200
