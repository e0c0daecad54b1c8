"""Factories shared by tests of several layers."""

from __future__ import annotations

from datetime import timedelta

from models import Region, Ticket
from models.desk import Desk


def open_ticket(session, now, **overrides):
    """A ticket opened as the desk opens one, returned as the ORM object staff code works with."""
    fields = dict(
        reference_prefix="NJ", channel="wechat", channel_user="o-1", category="consultation", subcategory=None,
        urgent=False, confidence=0.9, keywords=["离婚"], explanation="consultation: 离婚 1.0",
        region_id=Region.by_code(session, "T01").id, now=now,
        claim_within=timedelta(hours=24), resolve_within=timedelta(days=15),
    )
    fields.update(overrides)
    # The deadlines as plain spans from `now`, unless a test gives them.
    claim, resolve = fields.pop("claim_within"), fields.pop("resolve_within")
    fields.setdefault("deadlines", {"claim": now + claim, "first_reply": now + timedelta(days=2), "resolve": now + resolve})
    session.flush()
    desk = Desk(session.connection())
    row = desk.open_ticket(**fields)
    desk.save()
    return session.get(Ticket, row.id)
