"""Caseworkers correct a route through the API: category, subcategory and urgency, and her
routed words are kept (numbers masked) as an example the router learns from."""

from __future__ import annotations

from sqlalchemy import select

from models import RouteExample, TicketEvent
from tests.handlers.staff.factories import make_staff, make_ticket, ticket_state, token_for

TEXT = "我老公昨晚又动手了，我电话13812345678，身份证110101199003071234，想问问怎么办"


def _claimed(client, db, text=TEXT):
    """A mediation ticket claimed by caseworker li, and li's token."""
    make_staff(db, "li", "caseworker", "T01")
    token = token_for(db, "li")
    reference = make_ticket(db, category="mediation", text=text)
    client.post(f"/api/v1/tickets/{reference}/claim", headers={"Authorization": f"Bearer {token}"})
    return reference, token


def _post(client, token, reference, body):
    return client.post(f"/api/v1/tickets/{reference}/route", headers={"Authorization": f"Bearer {token}"}, json=body)


def test_a_correction_sets_subcategory_and_urgency_and_keeps_her_words_masked(client, db):
    reference, token = _claimed(client, db)
    response = _post(client, token, reference, {"category": "consultation", "subcategory": "anti_dv_law", "urgent": True})
    assert response.status_code == 200, response.json
    ticket = ticket_state(db, reference)
    assert (ticket.category, ticket.subcategory, ticket.urgent) == ("consultation", "anti_dv_law", True)
    with db.session() as session:
        example = session.scalars(select(RouteExample)).one()
        assert (example.category, example.subcategory, example.urgent) == ("consultation", "anti_dv_law", True)
        assert "13812345678" not in example.text and "110101199003071234" not in example.text
        assert "［手机号］" in example.text and "［身份证号］" in example.text and "动手" in example.text
        event = session.scalars(select(TicketEvent).where(TicketEvent.action == "route_corrected")).one()
        assert (event.detail["to_subcategory"], event.detail["from_urgent"], event.detail["to_urgent"]) == (
            "anti_dv_law", False, True)


def test_a_second_correction_of_the_same_ticket_replaces_its_example(client, db):
    reference, token = _claimed(client, db)
    assert _post(client, token, reference, {"category": "consultation", "subcategory": "anti_dv_law"}).status_code == 200
    assert _post(client, token, reference, {"category": "service", "subcategory": "legal_aid"}).status_code == 200
    with db.session() as session:
        rows = session.scalars(select(RouteExample)).all()
        assert [(r.category, r.subcategory, r.urgent) for r in rows] == [("service", "legal_aid", False)]


def test_a_wrong_subcategory_or_urgent_value_is_422_and_changes_nothing(client, db):
    reference, token = _claimed(client, db)
    for body, field in (
        ({"category": "consultation", "subcategory": "in_law_conflict"}, "subcategory"),  # a mediation subcategory
        ({"category": "consultation", "subcategory": "nonsense"}, "subcategory"),
        ({"category": "consultation", "urgent": "maybe"}, "urgent"),
        ({"category": "consultation", "urgent": 1}, "urgent"),
    ):
        response = _post(client, token, reference, body)
        assert response.status_code == 422 and response.json["field"] == field, body
    ticket = ticket_state(db, reference)
    assert (ticket.category, ticket.subcategory, ticket.urgent) == ("mediation", None, False)
    with db.session() as session:
        assert session.scalars(select(RouteExample)).all() == []
