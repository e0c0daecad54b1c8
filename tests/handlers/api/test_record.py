"""POST /api/v1/tickets: a phone call or a walk-in visit recorded as a ticket (线上线下双轨)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from openapi_spec_validator import validate
from sqlalchemy import select

from models import Message, StaffAlert, Ticket, TicketEvent, utcnow
from tests.handlers.staff.factories import make_staff, token_for


@pytest.fixture
def api(client, db):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    make_staff(db, "far", "caseworker", "T02", "邻县")
    tokens = {name: token_for(db, name) for name in ("li", "far")}
    return lambda name, body: client.post("/api/v1/tickets", headers={"Authorization": f"Bearer {tokens[name]}"},
                                          json=body)


def test_a_phone_call_becomes_a_routed_clocked_ticket_with_her_words_as_told(api, db):
    words = "婆婆天天骂我，嫌我生的是女儿，想请妇联来调解"
    response = api("li", {"channel": "phone", "text": words, "region": "T0101", "phone": "139-1234-5678", "claim": True})
    assert response.status_code == 201, response.json
    summary = response.json["ticket"]
    assert (summary["channel"], summary["category"], summary["status"]) == ("phone", "mediation", "claimed")
    with db.session() as session:
        ticket = Ticket.by_reference(session, summary["reference"])
        assert ticket.contact_phone == "13912345678" and ticket.region.code == "T0101"
        assert ticket.claim_due_at > ticket.created_at and ticket.resolve_due_at - ticket.created_at >= timedelta(days=15)
        # The call itself is her first contact; the claim and resolve clocks run on.
        assert ticket.first_response_at is not None and ticket.next_due_at == ticket.resolve_due_at
        assert [m.text for m in session.scalars(select(Message).where(Message.ticket_id == ticket.id))] == [words]
        actions = [(e.action, e.actor_type) for e in ticket.events]
    assert ("recorded_offline", "staff") in actions and ("claimed", "staff") in actions


def test_an_urgent_visit_alerts_like_a_chat_ticket_and_may_be_anonymous(api, db):
    response = api("li", {"channel": "visit", "text": "他昨晚拿刀威胁要杀了我，我不敢回家", "region": "T01", "anonymous": True})
    assert response.status_code == 201
    summary = response.json["ticket"]
    assert summary["urgent"] and summary["status"] == "new" and summary["channel"] == "visit"
    with db.session() as session:
        ticket = Ticket.by_reference(session, summary["reference"])
        assert ticket.contact_phone is None and ticket.channel_user.startswith("visit:anon-")
        assert ticket.claim_due_at - ticket.created_at <= timedelta(hours=1)
        assert session.scalar(select(StaffAlert).where(StaffAlert.ticket_id == ticket.id)).kind == "urgent"


@pytest.mark.parametrize("body, field", [
    ({"channel": "wechat", "text": "想咨询离婚", "region": "T01", "anonymous": True}, "channel"),
    ({"channel": "phone", "text": "  ", "region": "T01", "anonymous": True}, "text"),
    ({"channel": "phone", "text": "想咨询离婚", "region": "T02", "anonymous": True}, "region"),
    ({"channel": "phone", "text": "想咨询离婚", "region": "T01"}, "phone"),
    ({"channel": "phone", "text": "想咨询离婚", "region": "T01", "phone": "12345"}, "phone"),
    ({"channel": "phone", "text": "想咨询离婚", "region": "T01", "anonymous": "maybe"}, "anonymous"),
    ({"channel": "phone", "text": "想咨询离婚", "region": "T01", "anonymous": True, "category": "x"}, "category"),
])
def test_a_wrong_account_is_422_naming_the_field_and_writes_nothing(api, db, body, field):
    response = api("li", body)
    assert response.status_code == 422 and response.json["field"] == field
    with db.session() as session:
        assert session.scalars(select(Ticket)).all() == []
        assert session.scalars(select(TicketEvent)).all() == []


def test_the_queue_tells_the_tracks_apart(api, client, db):
    phone = api("li", {"channel": "phone", "text": "想咨询离婚的手续", "region": "T01", "anonymous": True}).json["ticket"]
    token = token_for(db, "li")
    listed = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}, query_string={"channel": "phone"})
    assert [t["reference"] for t in listed.json["items"]] == [phone["reference"]]
    assert client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"},
                      query_string={"channel": "wechat"}).json["items"] == []


def test_a_recorded_ticket_cannot_be_answered_in_a_chat_it_does_not_have(api, client, db):
    reference = api("li", {"channel": "phone", "text": "想咨询离婚的手续", "region": "T01", "anonymous": True,
                           "claim": True}).json["ticket"]["reference"]
    token = token_for(db, "li")
    reply = client.post(f"/api/v1/tickets/{reference}/reply", headers={"Authorization": f"Bearer {token}"},
                        json={"text": "您好"})
    assert reply.status_code == 409 and "电话" in reply.json["message"]


def test_the_openapi_document_describes_recording_a_call_or_visit(client):
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    post = document["paths"]["/tickets"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["channel"]["enum"] == ["phone", "visit"]
    assert set(schema["required"]) == {"channel", "text", "region"} and "201" in post["responses"]


def test_a_caseworkers_choice_over_the_routers_is_explained_in_chinese(api, db):
    response = api("li", {"channel": "phone", "text": "婆婆天天骂我，想请妇联来调解", "region": "T0101",
                          "anonymous": True, "category": "consultation"})
    assert response.status_code == 201, response.json
    with db.session() as session:
        explanation = Ticket.by_reference(session, response.json["ticket"]["reference"]).route_explanation
    assert explanation.startswith("工作人员选择“咨询”；系统建议：转到“调解"), explanation
    assert not any("a" <= c.lower() <= "z" for c in explanation), explanation
