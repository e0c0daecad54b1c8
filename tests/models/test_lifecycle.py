"""A ticket's transitions are one definition (models/lifecycle.py): her chat (the desk's
plain rows) and the staff side (the ORM ticket) leave the same row and the same trail."""

from __future__ import annotations

from datetime import timedelta

from models import StaffUser, Ticket, TicketEvent, utcnow
from models.desk import Desk
from tests.handlers.staff.factories import make_staff, make_ticket

# What a transition sets, besides who did it. (Not updated_at: on the staff side the ORM's
# onupdate stamps the flush's own time over the transition's `now`.)
STATE = (
    "status", "assignee_id", "resolved_at", "closed_at", "outcome", "paused_at", "pause_until",
    "pause_reason", "next_due_at", "sweep_at", "yellow_at", "claim_due_at", "first_reply_due_at", "resolve_due_at",
    "urgent",
)


def resolved_pair(db, now):
    """Two tickets alike in every clock: claimed and resolved by the same caseworker."""
    make_staff(db, "li", "caseworker", "T01", "李姐")
    refs = [make_ticket(db, user=f"o-{n}", now=now) for n in (1, 2)]
    with db.transaction() as session:
        li = StaffUser.by_username(session, "li")
        for ref in refs:
            ticket = Ticket.by_reference(session, ref)
            ticket.claim(session, li, now)
            ticket.resolve(session, li, "agreement", "", now)
    return refs


def state_and_last_event(db, reference):
    with db.session() as session:
        ticket = Ticket.by_reference(session, reference)
        event = TicketEvent.trail(session, ticket)[-1]
        return {name: getattr(ticket, name) for name in STATE}, (event.action, sorted(event.detail))


def test_her_reopening_leaves_the_ticket_as_a_staff_reopening_does(db):
    now = utcnow() - timedelta(hours=1)
    staff_side, her_side = resolved_pair(db, now)
    later = now + timedelta(minutes=30)
    with db.transaction() as session:
        Ticket.by_reference(session, staff_side).reopen(session, StaffUser.by_username(session, "li"), "她说没解决", later)
    with db.transaction() as session:
        desk = Desk(session.connection())
        desk.ticket(Ticket.by_reference(session, her_side).id).reopen_for_her(later, reason="follow-up: not solved")
        desk.save()
    staff_state, staff_event = state_and_last_event(db, staff_side)
    her_state, her_event = state_and_last_event(db, her_side)
    assert staff_state["status"] == "claimed" and staff_state["outcome"] is None
    assert her_state == staff_state
    assert her_event == staff_event == ("reopened", ["previous_outcome", "reason"])


def test_her_safe_time_pauses_the_clocks_as_a_staff_pause_for_her_safe_time_does(db):
    now = utcnow() - timedelta(hours=1)
    make_staff(db, "li", "caseworker", "T01", "李姐")
    staff_side, her_side = (make_ticket(db, user=f"o-{n}", now=now) for n in (1, 2))
    later, until = now + timedelta(minutes=10), now + timedelta(hours=20)
    with db.transaction() as session:
        li = StaffUser.by_username(session, "li")
        Ticket.by_reference(session, staff_side).pause(session, li, "safe_time", until, later)
    with db.transaction() as session:
        desk = Desk(session.connection())
        desk.ticket(Ticket.by_reference(session, her_side).id).pause_for_her(later, "safe_time", until)
        desk.save()
    staff_state, staff_event = state_and_last_event(db, staff_side)
    her_state, her_event = state_and_last_event(db, her_side)
    assert staff_state["paused_at"] is not None and staff_state["next_due_at"] is None
    assert her_state == staff_state
    assert her_event == staff_event == ("paused", ["reason", "until"])
