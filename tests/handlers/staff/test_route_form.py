"""The ticket page's route correction: subcategory and urgency from one form, and the
route explained in Chinese."""

from __future__ import annotations

from sqlalchemy import select

from models import RouteExample
from tests.handlers.staff.factories import login, make_staff, make_ticket, post_form, ticket_state

TEXT = "他昨天又把我推倒了，我手机13912345678，想请你们帮忙劝劝他"


def test_the_form_corrects_category_subcategory_and_urgency(client, db):
    make_staff(db, "li", "caseworker", "T01")
    reference = make_ticket(db, category="mediation", text=TEXT)
    login(client, "li")
    page = f"/staff/tickets/{reference}"
    post_form(client, f"{page}/claim", page)
    html = client.get(page).get_data(as_text=True)
    assert 'value="consultation/anti_dv_law"' in html and "反家暴与保护令" in html
    response = post_form(client, f"{page}/route", page, route="consultation/anti_dv_law", urgent="true")
    assert response.status_code in (200, 302, 303)
    ticket = ticket_state(db, reference)
    assert (ticket.category, ticket.subcategory, ticket.urgent) == ("consultation", "anti_dv_law", True)
    with db.session() as session:
        example = session.scalars(select(RouteExample)).one()
        assert "13912345678" not in example.text and "推倒" in example.text


def test_a_subcategory_of_another_category_is_refused_on_the_page(client, db):
    make_staff(db, "li", "caseworker", "T01")
    reference = make_ticket(db, category="mediation", text=TEXT)
    login(client, "li")
    page = f"/staff/tickets/{reference}"
    post_form(client, f"{page}/claim", page)
    response = post_form(client, f"{page}/route", page, category="consultation", subcategory="in_law_conflict")
    assert response.status_code == 422
    assert "这个分类下没有这个子类" in response.get_data(as_text=True)
    assert ticket_state(db, reference).category == "mediation"
