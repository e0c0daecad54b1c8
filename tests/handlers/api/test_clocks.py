"""The API's clocks and the SLA actions: urgency, pause, contact, extension, return, redo, closure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import FollowUp, StaffAlert, Ticket, utcnow
from tests.handlers.api.test_views import Api
from tests.handlers.staff.factories import actions_of, make_staff, make_ticket, ticket_state, token_for


@pytest.fixture
def api(client, db):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    make_staff(db, "zhang", "caseworker", "T010101", "张姐")
    make_staff(db, "boss", "supervisor", "T01", "县妇联督办")
    make_staff(db, "city", "supervisor", "T", "市妇联督办")
    tokens = {name: token_for(db, name) for name in ("li", "zhang", "boss", "city")}
    return lambda name: Api(client, tokens[name])


def test_a_ticket_shows_its_three_clocks_and_escalation_level(api, db):
    ref = make_ticket(db, now=utcnow() - timedelta(hours=1))
    body = api("li").get(f"/tickets/{ref}").json
    assert [c["name"] for c in body["clocks"]] == ["claim", "first_reply", "resolve"]
    assert {c["state"] for c in body["clocks"]} == {"running"}
    assert all(c["light"] in ("green", "yellow", "red") and c["due_at"] for c in body["clocks"])
    assert body["escalation_level"] == 0
    listed = api("li").get("/tickets", tab="open").json["items"][0]
    assert listed["clocks"][0]["name"] == "claim" and listed["escalation_level"] == 0


def test_the_queue_filters_by_light_and_puts_urgent_then_nearest_due_first(api, db):
    now = utcnow()
    late = make_ticket(db, user="o-late", now=now - timedelta(days=2), claim_within=timedelta(hours=1))
    soon = make_ticket(db, user="o-soon", now=now, claim_within=timedelta(hours=2))
    later = make_ticket(db, user="o-later", now=now, claim_within=timedelta(hours=20))
    urgent = make_ticket(db, user="o-urgent", urgent=True, now=now, claim_within=timedelta(hours=10))
    order = [t["reference"] for t in api("li").get("/tickets", tab="unclaimed").json["items"]]
    assert order == [urgent, late, soon, later]
    red = [t["reference"] for t in api("li").get("/tickets", tab="open", light="red").json["items"]]
    assert red == [late]
    green = {t["reference"] for t in api("li").get("/tickets", tab="open", light="green").json["items"]}
    assert green == {soon, later, urgent}
    bad = api("li").get("/tickets", light="purple")
    assert bad.status_code == 422 and bad.json["field"] == "light"


def test_staff_mark_a_ticket_urgent_which_starts_urgent_clocks_and_alerts(api, db):
    ref = make_ticket(db)
    response = api("li").post(f"/tickets/{ref}/urgent", json={"urgent": True, "reason": "电话里听到打砸声"})
    assert response.status_code == 200 and response.json["ticket"]["urgent"] is True
    ticket = ticket_state(db, ref)
    assert ticket.claim_due_at - utcnow() <= timedelta(minutes=30)
    with db.session() as session:
        assert [a.kind for a in session.scalars(select(StaffAlert))] == ["urgent"]
    assert [a for a, _ in actions_of(db, ref)].count("urgent_marked") == 1
    # Unmarking needs a reason too, and is audited.
    missing = api("li").post(f"/tickets/{ref}/urgent", json={"urgent": False})
    assert missing.status_code == 422 and missing.json["field"] == "reason"
    assert api("li").post(f"/tickets/{ref}/urgent", json={"urgent": False, "reason": "核实后无危险"}).status_code == 200
    assert "urgent_unmarked" in [a for a, _ in actions_of(db, ref)]
    wrong = api("li").post(f"/tickets/{ref}/urgent", json={"urgent": "yes", "reason": "x"})
    assert wrong.status_code == 422 and wrong.json["field"] == "urgent"


def test_pause_for_her_safe_time_and_resume(api, db):
    ref = make_ticket(db)
    assert api("li").post(f"/tickets/{ref}/claim").status_code == 200
    no_time = api("li").post(f"/tickets/{ref}/pause", json={"reason": "safe_time"})
    assert no_time.status_code == 422 and no_time.json["field"] == "until"
    until = (utcnow() + timedelta(hours=5)).isoformat()
    paused = api("li").post(f"/tickets/{ref}/pause", json={"reason": "safe_time", "until": until})
    assert paused.status_code == 200 and paused.json["ticket"]["paused"] is True
    body = api("li").get(f"/tickets/{ref}").json
    assert body["pause"]["reason_label"] == "她要求在安全时间联系"
    assert {c["state"] for c in body["clocks"] if c["name"] != "claim"} == {"paused"}
    assert api("li").post(f"/tickets/{ref}/pause", json={"reason": "awaiting_her"}).status_code == 409
    assert api("li").post(f"/tickets/{ref}/resume").status_code == 200
    assert [a for a, _ in actions_of(db, ref) if a in ("paused", "resumed")] == ["paused", "resumed"]


def test_a_recorded_phone_call_stops_the_first_reply_clock(api, db):
    ref = make_ticket(db)
    api("li").post(f"/tickets/{ref}/claim")
    assert api("li").post(f"/tickets/{ref}/contact", json={"note": "已电话联系，约好明天面谈"}).status_code == 200
    clocks = {c["name"]: c for c in api("li").get(f"/tickets/{ref}").json["clocks"]}
    assert clocks["first_reply"]["state"] == "met"


def test_extension_asked_by_the_assignee_and_approved_by_a_supervisor_moves_the_deadline(api, db):
    ref = make_ticket(db, region="T010101")
    api("zhang").post(f"/tickets/{ref}/claim")
    before = ticket_state(db, ref).resolve_due_at
    until = (before + timedelta(days=10)).isoformat()
    assert api("li").post(f"/tickets/{ref}/extend", json={"until": until, "reason": "需要等法院排期"}).status_code == 403
    early = api("zhang").post(f"/tickets/{ref}/extend", json={"until": utcnow().isoformat(), "reason": "x"})
    assert early.status_code == 422 and early.json["field"] == "until"
    assert api("zhang").post(f"/tickets/{ref}/extend", json={"until": until, "reason": "需要等法院排期"}).status_code == 200
    assert api("zhang").post(f"/tickets/{ref}/extension", json={"approve": True}).status_code == 403
    assert api("boss").post(f"/tickets/{ref}/extension", json={"approve": True}).status_code == 200
    ticket = ticket_state(db, ref)
    assert ticket.resolve_due_at == before + timedelta(days=10) and ticket.extensions == 1
    body = api("boss").get(f"/tickets/{ref}").json
    assert body["extensions"] == 1 and body["extension"] is None
    assert api("boss").post(f"/tickets/{ref}/extension", json={"approve": False}).status_code == 409


def test_a_refused_extension_leaves_the_deadline(api, db):
    ref = make_ticket(db, region="T010101")
    api("zhang").post(f"/tickets/{ref}/claim")
    before = ticket_state(db, ref).resolve_due_at
    api("zhang").post(f"/tickets/{ref}/extend", json={"until": (before + timedelta(days=3)).isoformat(), "reason": "r"})
    assert api("boss").post(f"/tickets/{ref}/extension", json={"approve": False}).status_code == 200
    assert ticket_state(db, ref).resolve_due_at == before and ticket_state(db, ref).extensions == 0


def test_a_return_sends_the_ticket_to_the_region_above_and_is_counted(api, db):
    ref = make_ticket(db, region="T010101")
    api("zhang").post(f"/tickets/{ref}/claim")
    assert api("zhang").post(f"/tickets/{ref}/return", json={}).json["field"] == "reason"
    assert api("zhang").post(f"/tickets/{ref}/return", json={"reason": "不属于本社区"}).status_code == 200
    ticket = ticket_state(db, ref)
    assert (ticket.region.code, ticket.status, ticket.assignee_id, ticket.returns) == ("T0101", "new", None, 1)
    assert api("zhang").get(f"/tickets/{ref}").status_code == 404  # now above her grid
    assert api("boss").get(f"/tickets/{ref}").json["returns"] == 1


def test_closure_shows_solved_and_satisfaction_apart_and_a_redo_links_to_it(api, db, settings):
    old = make_ticket(db, user="o-her", now=utcnow() - timedelta(days=10))
    with db.transaction() as session:
        ticket = Ticket.by_reference(session, old)
        ticket.status, ticket.closed_at = "closed", utcnow() - timedelta(days=5)
        session.add(FollowUp(ticket=ticket, asked_at=utcnow() - timedelta(days=6), answered_at=utcnow() - timedelta(days=5),
                             solved=True, satisfaction="basically_satisfied"))
    body = api("li").get(f"/tickets/{old}").json
    assert (body["outcome_solved"], body["satisfaction"]) == (True, "basically_satisfied")
    new = make_ticket(db, user="o-her")
    other = make_ticket(db, user="o-someone-else")
    api("li").post(f"/tickets/{new}/claim")
    api("li").post(f"/tickets/{other}/claim")
    assert api("li").post(f"/tickets/{other}/redo", json={"original": old}).json["field"] == "original"
    assert api("li").post(f"/tickets/{new}/redo", json={"original": old}).status_code == 200
    assert api("li").get(f"/tickets/{new}").json["redo_of"] == old
    assert "redone" in [a for a, _ in actions_of(db, old)]
    settings.dialogue.redo_days = 3
    again = make_ticket(db, user="o-her")
    api("li").post(f"/tickets/{again}/claim")
    assert api("li").post(f"/tickets/{again}/redo", json={"original": old}).status_code == 422


def test_the_openapi_document_lists_the_sla_actions_and_clocks(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json
    validate(document)
    for action in ("urgent", "pause", "resume", "contact", "extend", "extension", "return", "redo"):
        assert f"/tickets/{{reference}}/{action}" in document["paths"], action
    schemas = document["components"]["schemas"]
    assert schemas["Clock"]["properties"]["name"]["enum"] == ["claim", "first_reply", "resolve"]
    assert "escalation_level" in schemas["TicketSummary"]["properties"]
    assert {"outcome_solved", "satisfaction"} <= set(schemas["TicketDetail"]["allOf"][1]["properties"])
