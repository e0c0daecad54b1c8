"""What her side of the conversation leaves for the caseworker: her safe time, her media."""

from __future__ import annotations

from sqlalchemy import select

from models import Ticket
from tests.handlers.staff.factories import login, make_staff, token_for


def test_her_safe_time_is_the_first_thing_on_the_ticket_page(app, db, wechat):
    make_staff(db, "boss", "supervisor", "T01", "县妇联督办")
    wechat.send_text("o-silent", "我不敢打电话，他会听见")
    wechat.send_text("o-silent", "晚上8点以后")
    with db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.channel_user == "o-silent"))
        reference = ticket.reference
        assert ticket.pause_reason == "safe_time"
    client = app.test_client()
    assert login(client, "boss").status_code == 303
    html = client.get(f"/staff/tickets/{reference}").get_data(as_text=True)
    safe = html.index('id="safe-time"')
    assert "晚上8点以后" in html[safe:safe + 300]
    assert safe < html.index('id="transcript"')
    api = app.test_client().get(
        f"/api/v1/tickets/{reference}", headers={"Authorization": f"Bearer {token_for(db, 'boss')}"}
    )
    assert api.status_code == 200 and api.get_json()["safe_contact_time"] == "晚上8点以后"
