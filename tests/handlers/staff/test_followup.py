"""The caseworker's follow-up (回访) of a call or a visit: she is called back, and what she
says settles the follow-up as her chat answer would (same transition, same numbers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import followup
from models import FollowUp, Ticket, TicketEvent, TicketNote, utcnow
from tests.handlers.api.test_views import Api
from tests.handlers.staff.factories import csrf_from, login, make_staff, make_ticket, token_for

WORDS = "想问问离婚以后孩子的抚养费怎么算"


@pytest.fixture
def api(client, db):
    for name, role, region in (("li", "caseworker", "T01"), ("wang", "caseworker", "T01"),
                               ("far", "caseworker", "T02"), ("boss", "supervisor", "T01")):
        make_staff(db, name, role, region)
    tokens = {name: token_for(db, name) for name in ("li", "wang", "far", "boss")}
    return lambda name: Api(client, tokens[name])


def resolved_call(api, channel: str = "phone") -> str:
    """A call li recorded, claimed and resolved: it waits for its follow-up (待回访)."""
    li = api("li")
    recorded = li.post("/tickets", json={"channel": channel, "text": WORDS, "region": "T01",
                                         "phone": "13912345678", "claim": True})
    assert recorded.status_code == 201, recorded.json
    reference = recorded.json["ticket"]["reference"]
    assert li.post(f"/tickets/{reference}/resolve", json={"outcome": "answered"}).status_code == 200
    return reference


def rounds(db, reference):
    with db.session() as session:
        ticket = Ticket.by_reference(session, reference)
        return [(f.solved, f.satisfaction, f.answered_at is not None)
                for f in session.scalars(select(FollowUp).where(FollowUp.ticket_id == ticket.id).order_by(FollowUp.id))]


def status_of(db, reference):
    with db.session() as session:
        return Ticket.by_reference(session, reference).status


def test_a_resolved_call_is_never_asked_in_a_chat_and_the_caseworker_settles_it(api, db):
    reference = resolved_call(api)
    # The chat follow-up passes a call by (there is no chat), and nothing closes it by itself.
    later = utcnow() + timedelta(days=30)
    with db.transaction() as session:
        assert followup.ask_resolved(session, later) == 0
    with db.engine.begin() as connection:
        assert followup.close_unanswered(connection, later, timedelta(days=7)) == 0
    assert status_of(db, reference) == "resolved"

    answered = api("li").post(f"/tickets/{reference}/followup",
                              json={"solved": True, "satisfaction": "satisfied", "note": "电话回访：她说已经拿到抚养费"})
    assert answered.status_code == 200, answered.json
    assert answered.json["ticket"]["status"] == "closed"
    assert rounds(db, reference) == [(True, "satisfied", True)]
    with db.session() as session:
        ticket = Ticket.by_reference(session, reference)
        events = [(e.action, e.actor_type, e.actor.username if e.actor else None, e.detail)
                  for e in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                           .order_by(TicketEvent.id))]
        notes = [n.text for n in session.scalars(select(TicketNote).where(TicketNote.ticket_id == ticket.id))]
    actions = [(a, t, who) for a, t, who, _ in events]
    # Her answer, as the chat records it, and who took it down on the phone.
    assert ("closed", "woman", None) in actions
    recorded = [d for a, _, who, d in events if a == "follow_up_recorded" and who == "li"]
    assert recorded == [{"via": "phone", "solved": True, "satisfaction": "satisfied", "note": recorded[0]["note"]}]
    assert notes == ["电话回访：她说已经拿到抚养费"]
    # Settled once: a second answer finds nothing waiting.
    again = api("li").post(f"/tickets/{reference}/followup", json={"solved": True, "satisfaction": "satisfied"})
    assert again.status_code == 409 and rounds(db, reference) == [(True, "satisfied", True)]


def test_not_solved_reopens_to_her_caseworker_and_the_next_round_closes(api, db):
    reference = resolved_call(api, channel="visit")
    li = api("li")
    reopened = li.post(f"/tickets/{reference}/followup", json={"solved": False, "note": "她说对方还是不给钱"})
    assert reopened.status_code == 200 and reopened.json["ticket"]["status"] == "claimed"
    assert rounds(db, reference) == [(False, None, True)]
    assert li.post(f"/tickets/{reference}/resolve", json={"outcome": "referred"}).status_code == 200
    closed = li.post(f"/tickets/{reference}/followup", json={"solved": True, "satisfaction": "basically_satisfied"})
    assert closed.status_code == 200 and closed.json["ticket"]["status"] == "closed"
    assert rounds(db, reference) == [(False, None, True), (True, "basically_satisfied", True)]


def test_the_stats_count_a_phone_answer_like_a_chat_answer(api, db):
    satisfied, unhappy = resolved_call(api), resolved_call(api)
    api("li").post(f"/tickets/{satisfied}/followup", json={"solved": True, "satisfaction": "satisfied"})
    api("li").post(f"/tickets/{unhappy}/followup", json={"solved": True, "satisfaction": "dissatisfied"})
    today = (utcnow() + timedelta(hours=8)).date().isoformat()
    body = api("boss").get("/stats", region="T01", **{"from": today, "to": today}).json
    assert body["satisfaction_rate"] == 0.5 and body["resolution_rate"] == 1.0


@pytest.mark.parametrize("body, field", [
    ({"satisfaction": "satisfied"}, "solved"),
    ({"solved": "yes", "satisfaction": "satisfied"}, "solved"),
    ({"solved": True}, "satisfaction"),
    ({"solved": True, "satisfaction": "very"}, "satisfaction"),
    ({"solved": True, "satisfaction": "satisfied", "note": "长" * 4001}, "note"),
])
def test_a_wrong_answer_is_422_naming_the_field_and_changes_nothing(api, db, body, field):
    reference = resolved_call(api)
    response = api("li").post(f"/tickets/{reference}/followup", json=body)
    assert response.status_code == 422 and response.json["field"] == field, response.json
    assert rounds(db, reference) == [] and status_of(db, reference) == "resolved"


def test_who_may_record_it_and_on_which_tickets(api, db):
    reference = resolved_call(api)
    answer = {"solved": True, "satisfaction": "satisfied"}
    assert api("far").post(f"/tickets/{reference}/followup", json=answer).status_code == 404
    assert api("wang").post(f"/tickets/{reference}/followup", json=answer).status_code == 403
    assert rounds(db, reference) == []
    # A chat ticket is followed up in her chat, not by a form.
    chat = make_ticket(db, category="consultation")
    li = api("li")
    li.post(f"/tickets/{chat}/claim")
    li.post(f"/tickets/{chat}/resolve", json={"outcome": "answered"})
    refused = li.post(f"/tickets/{chat}/followup", json=answer)
    assert refused.status_code == 409 and "对话" in refused.json["message"]
    # An open call has nothing to follow up yet.
    open_call = li.post("/tickets", json={"channel": "phone", "text": WORDS, "region": "T01", "anonymous": True,
                                          "claim": True}).json["ticket"]["reference"]
    assert li.post(f"/tickets/{open_call}/followup", json=answer).status_code == 409
    # A supervisor may take it down too.
    assert api("boss").post(f"/tickets/{reference}/followup", json=answer).status_code == 200


def test_the_ticket_page_offers_the_form_and_records_her_answer(app, api, db):
    reference = resolved_call(api)
    li = app.test_client()
    login(li, "li")
    page = li.get(f"/staff/tickets/{reference}").get_data(as_text=True)
    assert 'id="followup-form"' in page
    token = csrf_from(page)
    assert li.post(f"/staff/tickets/{reference}/followup", data={"solved": "1"}).status_code == 400  # no CSRF
    wrong = li.post(f"/staff/tickets/{reference}/followup", data={"csrf_token": token, "solved": "1", "note": "她很满意"})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "请选择她的满意度" in text and "她很满意" in text
    assert rounds(db, reference) == []
    done = li.post(f"/staff/tickets/{reference}/followup",
                   data={"csrf_token": token, "solved": "1", "satisfaction": "basically_satisfied"})
    assert done.status_code == 303
    page = li.get(done.headers["Location"]).get_data(as_text=True)
    assert "已登记回访" in page and "基本满意" in page and 'id="followup-form"' not in page
    assert status_of(db, reference) == "closed"


def test_the_api_document_describes_the_action(client):
    operation = client.get("/api/v1/openapi.json").json["paths"]["/tickets/{reference}/followup"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["solved"]
    assert schema["properties"]["satisfaction"]["enum"] == ["satisfied", "basically_satisfied", "dissatisfied"]
