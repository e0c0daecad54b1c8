"""Retention: a finished case's personal data is anonymised; the figures keep what they need."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import Conversation, Message, OutboxMessage, Region, StaffUser, Ticket, TicketEvent, TicketNote, utcnow
from models.retention import anonymise
from tests.factories import open_ticket

PHONE = "13812345678"
WORDS = "他打我，我住在幸福社区3号楼，电话13812345678"


def case(session, now, status: str, user: str, finished_days_ago: int) -> Ticket:
    """A ticket with her words, a phone, a staff note and a queued reply, finished long ago."""
    ticket = open_ticket(session, now - timedelta(days=finished_days_ago + 10), channel_user=user,
                         category="mediation", subcategory="spouse_conflict", urgent=True)
    ticket.contact_phone = PHONE
    ticket.outcome = "agreement" if status == "closed" else None
    ticket.resolution_note = f"已联系她（{PHONE}）"
    finished = now - timedelta(days=finished_days_ago)
    ticket.status = status
    if status == "closed":
        ticket.closed_at = finished
    elif status == "withdrawn":
        ticket.withdrawn_at = finished
    session.add(Message(ticket=ticket, channel="wechat", channel_user=user, direction="in", text=WORDS,
                        media_id="MEDIA-1", latitude=30.1, longitude=120.2, created_at=finished))
    staff = session.scalar(select(StaffUser)) or StaffUser(
        username="li", display_name="李姐", role="caseworker", region=Region.by_code(session, "T01"), password_hash="x"
    )
    session.add(TicketNote(ticket=ticket, author=staff, text=f"她说{WORDS}", created_at=finished))
    session.flush()
    reply = Message(ticket=ticket, channel="wechat", channel_user=user, direction="out", text="我们明天上午联系您",
                    created_at=finished)
    session.add(reply)
    session.flush()
    session.add(OutboxMessage(ticket=ticket, message_id=reply.id, channel="wechat", channel_user=user,
                              text="我们明天上午联系您", status="sent"))
    return ticket


def test_finished_cases_past_the_cutoff_are_anonymised_and_the_figures_kept(db):
    now = utcnow()
    with db.transaction() as session:
        old_closed = case(session, now, "closed", "o-old", finished_days_ago=400).id
        old_withdrawn = case(session, now, "withdrawn", "o-gone", finished_days_ago=400).id
        recent = case(session, now, "closed", "o-recent", finished_days_ago=10).id
        still_open = open_ticket(session, now - timedelta(days=500), channel_user="o-open")
        still_open.contact_phone = PHONE
        still_open_id = still_open.id
        session.add(Message(channel="wechat", channel_user="o-loose", direction="in", text=WORDS,
                            created_at=now - timedelta(days=400)))
        # Her case is still open: her lines outside it stay too.
        session.add(Message(channel="wechat", channel_user="o-open", direction="in", text="还在处理中吗",
                            created_at=now - timedelta(days=400)))
        session.add(Conversation(channel="wechat", channel_user="o-old", state="idle", data={"phone": PHONE},
                                 updated_at=now - timedelta(days=400)))

    with db.transaction() as session:
        dry = anonymise(session, now - timedelta(days=365), now, dry_run=True)
    assert (dry.tickets, dry.messages, dry.notes, dry.outbox, dry.loose_messages, dry.conversations) == (2, 4, 2, 2, 1, 1)
    with db.session() as session:
        assert session.get(Ticket, old_closed).contact_phone == PHONE  # the dry run changed nothing

    with db.transaction() as session:
        done = anonymise(session, now - timedelta(days=365), now)
    assert done.tickets == 2

    with db.session() as session:
        for ticket_id in (old_closed, old_withdrawn):
            ticket = session.get(Ticket, ticket_id)
            assert ticket.contact_phone is None and ticket.channel_user == "" and ticket.resolution_note == ""
            assert ticket.anonymised_at is not None
            # What the figures need stays.
            assert (ticket.category, ticket.subcategory, ticket.urgent) == ("mediation", "spouse_conflict", True)
            assert ticket.region_id is not None and ticket.created_at is not None
            assert ticket.closed_at or ticket.withdrawn_at
            lines = session.scalars(select(Message).where(Message.ticket_id == ticket_id)).all()
            assert lines and all(m.text == "" and m.media_id is None and m.latitude is None for m in lines)
            assert all(m.channel_user == "" for m in lines)
            assert all(n.text == "" for n in session.scalars(select(TicketNote).where(TicketNote.ticket_id == ticket_id)))
            assert all(o.text == "" and o.channel_user == "" for o in
                       session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id)))
            assert session.scalar(select(TicketEvent.action).where(
                TicketEvent.ticket_id == ticket_id, TicketEvent.action == "anonymised")) == "anonymised"
        assert session.get(Ticket, old_closed).outcome == "agreement"
        assert session.get(Ticket, recent).contact_phone == PHONE
        assert session.get(Ticket, still_open_id).contact_phone == PHONE
        assert session.scalar(select(Message.text).where(Message.ticket_id == recent, Message.direction == "in")) == WORDS
        everything = " ".join(m.text for m in session.scalars(select(Message)))
        assert everything.count(WORDS) == 1  # only the recent case's line
        assert session.scalar(select(Conversation).where(Conversation.channel_user == "o-old")) is None
        assert session.scalar(select(Message.text).where(Message.channel_user == "o-open")) == "还在处理中吗"

    with db.transaction() as session:
        assert anonymise(session, now - timedelta(days=365), now).tickets == 0  # done once


def test_her_words_kept_as_a_routing_example_go_with_the_rest_of_her_data(db):
    from models.learning import RouteExample

    now = utcnow()
    with db.transaction() as session:
        old = case(session, now, "closed", "o-taught", finished_days_ago=400)
        recent = case(session, now, "closed", "o-taught-recent", finished_days_ago=10)
        for ticket in (old, recent):
            RouteExample.keep(session, ticket.id, WORDS, "consultation", "anti_dv_law", True, None, now)
        old_id, recent_id = old.id, recent.id
    with db.transaction() as session:
        report = anonymise(session, now - timedelta(days=365), now)
    assert report.examples == 1
    with db.session() as session:
        kept = {e.ticket_id for e in session.scalars(select(RouteExample))}
    assert kept == {recent_id} and old_id not in kept
