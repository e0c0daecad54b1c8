"""The desk that keeps up (issue 16, item 6): unread markers, the queue's received time and
preview, her phone near the top (masked, revealed on the record), search by phone and by her
words, the assign list, violence outcomes, her other tickets, canned replies in the database."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from models import AuditEvent, CannedReply, Message, StaffUser, Ticket, TicketEvent, utcnow
from models.desk import Desk, MessageRow
from tests.handlers.staff.factories import (
    PHONE, WORDS, actions_of, login, make_staff, make_ticket, post_form, ticket_state,
)


@pytest.fixture
def staff(db):
    return {
        "li": make_staff(db, "li", "caseworker", "T01", "李姐"),
        "wang": make_staff(db, "wang", "caseworker", "T01", "王姐"),
        "zhang": make_staff(db, "zhang", "caseworker", "T010101", "张姐"),
        "neighbour": make_staff(db, "neighbour", "caseworker", "T02", "邻县王姐"),
        "boss": make_staff(db, "boss", "supervisor", "T01", "县妇联督办"),
        "city": make_staff(db, "city", "supervisor", "T", "市妇联督办"),
        "admin": make_staff(db, "admin", "admin", "T01", "县管理员"),
    }


def client_of(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 303
    return client


def html(response) -> str:
    return response.get_data(as_text=True)


def act(client, reference, action, **data):
    page = f"/staff/tickets/{reference}"
    return post_form(client, f"{page}/{action}", page, **data)


def she_writes(db, reference, text, now=None):
    """Her next message lands on the ticket as the intake engine writes it (models/desk.py)."""
    with db.transaction() as session:
        ticket = Ticket.by_reference(session, reference)
        desk = Desk(session.connection())
        desk.ticket(ticket.id)
        desk.add_message(MessageRow(ticket.channel, ticket.channel_user, "in", now or utcnow(), text=text,
                                    ticket_id=ticket.id))
        desk.save()


def queue_row(page: str, reference: str) -> str:
    match = re.search(rf'<tr[^>]*data-ref="{reference}".*?</tr>', page, re.S)
    assert match, f"{reference} is not in the queue"
    return match.group(0)


# -- unread and refresh ----------------------------------------------------------------


def test_her_message_on_a_claimed_ticket_marks_it_unread_until_the_assignee_opens_it(app, db, staff):
    li = client_of(app, "li")
    reference = make_ticket(db)
    act(li, reference, "claim")
    assert "新消息" not in queue_row(html(li.get("/staff/?tab=mine")), reference)

    she_writes(db, reference, "我又想起一件事")
    assert "新消息" in queue_row(html(li.get("/staff/?tab=mine")), reference)
    # A supervisor opening it does not clear the assignee's marker.
    client_of(app, "boss").get(f"/staff/tickets/{reference}")
    assert ticket_state(db, reference).unread_at is not None

    li.get(f"/staff/tickets/{reference}")
    assert ticket_state(db, reference).unread_at is None
    assert "新消息" not in queue_row(html(li.get("/staff/?tab=mine")), reference)


def test_her_message_on_an_unclaimed_ticket_sets_no_marker(db, staff):
    reference = make_ticket(db)
    she_writes(db, reference, "还有一件事")
    assert ticket_state(db, reference).unread_at is None


def test_the_ticket_pages_stamp_changes_when_she_writes(app, db, staff):
    li = client_of(app, "li")
    reference = make_ticket(db)
    act(li, reference, "claim")
    page = html(li.get(f"/staff/tickets/{reference}"))
    stamp = re.search(r'data-stamp="([^"]+)"', page).group(1)
    assert li.get(f"/staff/tickets/{reference}/stamp").json["stamp"] == stamp
    she_writes(db, reference, "他今天又来闹了")
    changed = li.get(f"/staff/tickets/{reference}/stamp").json
    assert changed["stamp"] != stamp and changed["unread"] is True
    # Out of scope reads as nonexistent.
    assert client_of(app, "neighbour").get(f"/staff/tickets/{reference}/stamp").status_code == 404


# -- the queue's lines ------------------------------------------------------------------


def test_the_queue_shows_received_time_in_china_time_and_the_first_words(app, db, staff):
    received = datetime(2026, 12, 6, 20, 30, tzinfo=timezone.utc)  # 04:30 the next morning in China
    reference = make_ticket(db, now=received)
    row = queue_row(html(client_of(app, "li").get("/staff/?tab=all")), reference)
    assert "12-07 04:30" in row
    assert WORDS[:20] in row and WORDS not in row


def test_no_preview_of_urgent_or_violence_tickets_and_no_keyword_chips(app, db, staff):
    urgent = make_ticket(db, urgent=True, text="他拿着刀在门口")
    violence = make_ticket(db, category="consultation", subcategory="anti_dv_law", text="他经常打我，我想申请保护令")
    with db.transaction() as session:
        Ticket.by_reference(session, violence).route_keywords = ["一下", "打"]
    page = html(client_of(app, "boss").get("/staff/?tab=all"))
    assert "他拿着刀" not in queue_row(page, urgent)
    assert "他经常打我" not in queue_row(page, violence)
    assert 'class="chip"' not in page and "一下" not in queue_row(page, violence)
    assert "咨询" in queue_row(page, violence)


# -- her phone ------------------------------------------------------------------------


def test_her_phone_is_masked_near_the_top_and_each_reveal_is_recorded_with_a_tel_link(app, db, staff):
    li = client_of(app, "li")
    reference = make_ticket(db, phone=PHONE)
    act(li, reference, "claim")
    page = html(li.get(f"/staff/tickets/{reference}"))
    head = page[page.index('<header class="ticket-head">'):page.index("</header>", page.index('<header class="ticket-head">'))]
    assert "138****5678" in head and PHONE not in page
    assert ("phone_revealed", staff["li"]) not in actions_of(db, reference)

    revealed = post_form(li, f"/staff/tickets/{reference}/phone", f"/staff/tickets/{reference}")
    assert revealed.status_code == 303
    page = html(li.get(f"/staff/tickets/{reference}"))
    assert f'href="tel:{PHONE}"' in page
    assert actions_of(db, reference).count(("phone_revealed", staff["li"])) == 1


def test_a_need_to_know_ticket_does_not_reveal_her_phone_to_another_caseworker(app, db, staff):
    reference = make_ticket(db, urgent=True, phone=PHONE)
    wang = client_of(app, "wang")
    assert post_form(wang, f"/staff/tickets/{reference}/phone", "/staff/").status_code == 403
    assert ("phone_revealed", staff["wang"]) not in actions_of(db, reference)


# -- search ---------------------------------------------------------------------------


def test_search_by_her_whole_phone_number_finds_her_ticket_and_is_audited(app, db, staff):
    reference = make_ticket(db, phone=PHONE)
    other = make_ticket(db, user="o-other", phone="13900001111")
    li = client_of(app, "li")
    page = html(li.get("/staff/?tab=all&q=138 1234 5678"))
    assert reference in page and other not in page
    # A part of a number finds nothing: numbers cannot be browsed.
    assert reference not in html(li.get("/staff/?tab=all&q=1381234"))
    with db.session() as session:
        audits = session.scalars(select(AuditEvent).where(AuditEvent.action == "ticket.phone_search")).all()
        assert [(a.actor_label, a.detail["phone"], a.detail["found"]) for a in audits] == [
            ("li", "138****5678", [reference])
        ]
    assert ("phone_searched", staff["li"]) in actions_of(db, reference)
    # The queue refreshing itself does not write the look-up again.
    li.get("/staff/?tab=all&q=138 1234 5678")
    with db.session() as session:
        assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "ticket.phone_search")).all()) == 1


def test_her_words_are_searched_for_the_assignee_and_supervisors_only(app, db, staff):
    reference = make_ticket(db, text="丈夫赌博欠了很多钱，想问问债务要不要我来还")
    li, wang, boss = client_of(app, "li"), client_of(app, "wang"), client_of(app, "boss")
    assert reference not in html(li.get("/staff/?tab=all&q=赌博"))
    act(li, reference, "claim")
    assert reference in html(li.get("/staff/?tab=all&q=赌博"))
    assert reference not in html(wang.get("/staff/?tab=all&q=赌博"))
    assert reference in html(boss.get("/staff/?tab=all&q=赌博"))


# -- assigning, outcomes, her other tickets -------------------------------------------


def test_the_assign_list_offers_only_who_may_take_the_ticket(app, db, staff):
    make_staff(db, "gone", "caseworker", "T01", "已停用")
    with db.transaction() as session:
        StaffUser.by_username(session, "gone").disable()
    reference = make_ticket(db, region="T01")
    page = html(client_of(app, "boss").get(f"/staff/tickets/{reference}"))
    picker = re.search(r'<select name="assignee" aria-label="指派给".*?</select>', page, re.S).group(0)
    offered = set(re.findall(r'<option value="([^"]+)"', picker))
    assert offered == {"li", "wang", "boss", "city"}
    # Nor does the action take an admin.
    assert act(client_of(app, "boss"), reference, "assign", assignee="admin").status_code == 422


def test_a_violence_ticket_resolves_with_outcomes_that_fit_it(app, db, staff):
    reference = make_ticket(db, category="consultation", subcategory="anti_dv_law")
    boss = client_of(app, "boss")
    act(boss, reference, "claim")
    page = html(boss.get(f"/staff/tickets/{reference}"))
    for label in ("已申请人身安全保护令", "已获人身安全保护令", "公安已出具告诫书", "已转介公安", "已转介庇护场所", "已转介法律援助"):
        assert label in page
    assert act(boss, reference, "resolve", outcome="protection_order_granted").status_code == 303
    assert ticket_state(db, reference).outcome == "protection_order_granted"

    mediation = make_ticket(db, category="mediation")
    act(boss, mediation, "claim")
    assert act(boss, mediation, "resolve", outcome="protection_order_granted").status_code == 422


def test_her_other_tickets_are_linked_on_the_ticket_page(app, db, staff):
    first = make_ticket(db, user="o-her")
    second = make_ticket(db, user="o-her", category="service")
    by_phone = make_ticket(db, user="o-by-phone", phone=PHONE)
    with_phone = make_ticket(db, user="o-her-later", phone=PHONE)
    stranger = make_ticket(db, user="o-stranger")
    outside = make_ticket(db, user="o-her", region="T02")
    page = html(client_of(app, "li").get(f"/staff/tickets/{second}"))
    others = page[page.index('id="others"'):]
    assert first in others and stranger not in others and outside not in others
    page = html(client_of(app, "li").get(f"/staff/tickets/{with_phone}"))
    assert by_phone in page[page.index('id="others"'):]


# -- canned replies --------------------------------------------------------------------


def test_canned_replies_start_from_the_file_and_admins_edit_them_on_the_record(app, db, staff):
    reference = make_ticket(db, category="mediation")
    li = client_of(app, "li")
    act(li, reference, "claim")
    assert "预约见面" in html(li.get(f"/staff/tickets/{reference}"))
    assert li.get("/staff/canned").status_code == 404

    admin = client_of(app, "admin")
    with db.session() as session:
        meeting = session.scalar(select(CannedReply).where(CannedReply.title == "预约见面"))
    changed = post_form(admin, f"/staff/canned/{meeting.id}", "/staff/canned", title="约在妇女之家见面",
                        text="您好，我们想约您在就近的妇女之家见面，时间由您定。", routes=["mediation"])
    assert changed.status_code == 303
    too_long = post_form(admin, "/staff/canned/new", "/staff/canned", title="太长", text="字" * 601)
    assert too_long.status_code == 422 and "600" in html(too_long)
    added = post_form(admin, "/staff/canned/new", "/staff/canned", title="服务预约", text="您好，已为您预约。",
                      routes=["service"])
    assert added.status_code == 303

    page = html(li.get(f"/staff/tickets/{reference}"))
    assert "约在妇女之家见面" in page and "预约见面" not in page and "服务预约" not in page
    with db.session() as session:
        trail = [(a.action, a.actor_label) for a in session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("canned.%")).order_by(AuditEvent.id))]
    assert trail == [("canned.changed", "admin"), ("canned.added", "admin")]
