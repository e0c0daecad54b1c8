"""The workspace's 登记来电/来访 form: a call or a visit as a ticket, then the queue's channel filter."""

from __future__ import annotations

from sqlalchemy import select

from models import Ticket
from tests.handlers.staff.factories import csrf_from, login, make_staff, make_ticket


def test_a_caseworker_records_a_call_and_lands_on_its_ticket(app, db):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    li = app.test_client()
    login(li, "li")
    form = li.get("/staff/record")
    assert form.status_code == 200 and "登记来电" in form.get_data(as_text=True)
    posted = li.post("/staff/record", data={
        "csrf_token": csrf_from(form.get_data(as_text=True)), "channel": "phone", "region": "T0101",
        "text": "想问问离婚以后孩子的抚养费怎么算", "phone": "13912345678", "claim": "1",
    })
    assert posted.status_code == 303
    page = li.get(posted.headers["Location"]).get_data(as_text=True)
    with db.session() as session:
        ticket = session.scalar(select(Ticket))
        assert (ticket.channel, ticket.category, ticket.assignee.username) == ("phone", "consultation", "li")
    assert ticket.reference in page and "无法在线回复" in page and 'id="reply-form"' not in page

    queue = li.get("/staff/?tab=all&channel=phone").get_data(as_text=True)
    assert ticket.reference in queue and "电话" in queue
    chat = make_ticket(db)
    assert chat not in queue and chat in li.get("/staff/?tab=all&channel=wechat").get_data(as_text=True)


def test_a_form_error_keeps_what_was_typed_and_writes_nothing(app, db):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    li = app.test_client()
    login(li, "li")
    form = li.get("/staff/record").get_data(as_text=True)
    posted = li.post("/staff/record", data={
        "csrf_token": csrf_from(form), "channel": "visit", "region": "T01", "text": "她说丈夫不给生活费", "phone": "123",
    })
    page = posted.get_data(as_text=True)
    assert posted.status_code == 422 and "电话号码不对" in page and "她说丈夫不给生活费" in page
    with db.session() as session:
        assert session.scalars(select(Ticket)).all() == []
    assert li.post("/staff/record", data={"channel": "phone"}).status_code == 400  # no CSRF token
