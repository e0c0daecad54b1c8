"""Retention: a finished case's personal data is anonymised after a while.

What goes: her words and every other line of the transcript, media and places, her
phone number, her channel identity (openid / chat id) wherever it is kept, staff notes,
the resolution note, the texts queued to her, and her words sampled for review (labelled
or not) once they are as old as the cutoff. What stays is what the figures need:
route (category, subcategory, urgency), region, every timestamp, status, outcome,
follow-up answers, and the audit trail, which gains an `anonymised` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, delete, exists, false, func, or_, select, update
from sqlalchemy.orm import Session

from models.conversation import Conversation
from models.learning import RouteExample
from models.message import Message
from models.note import TicketNote
from models.outbox import OutboxMessage
from models.review import ReviewSample
from models.ticket import Ticket

FINISHED = ("closed", "withdrawn")
BATCH = 500


@dataclass
class RetentionReport:
    tickets: int = 0
    messages: int = 0
    notes: int = 0
    outbox: int = 0
    # Her words kept as labelled routing examples (a caseworker's correction): removed.
    examples: int = 0
    loose_messages: int = 0
    # Her loose lines sampled for a supervisor's review (models/review.py): removed.
    review_samples: int = 0
    conversations: int = 0
    # Names of her kept media files (bot/media.py) the caller deletes from the media dir.
    media_files: list[str] = field(default_factory=list)


def _finished_before(cutoff: datetime):
    finished_at = func.coalesce(Ticket.closed_at, Ticket.withdrawn_at, Ticket.updated_at)
    return and_(Ticket.status.in_(FINISHED), Ticket.anonymised_at.is_(None), finished_at < cutoff)


def due_for_anonymising(session: Session, cutoff: datetime) -> list[Ticket]:
    """Closed and withdrawn tickets finished before `cutoff` and not anonymised yet."""
    return list(session.scalars(select(Ticket).where(_finished_before(cutoff)).order_by(Ticket.id)))


def anonymise(session: Session, cutoff: datetime, now: datetime, dry_run: bool = False) -> RetentionReport:
    """Anonymise every finished ticket older than `cutoff`, and the loose lines and idle
    conversations of the same age; what was (or with `dry_run`, would be) changed."""
    report = RetentionReport()
    tickets = due_for_anonymising(session, cutoff)
    ids = [t.id for t in tickets]
    report.tickets = len(ids)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        report.messages += _count(session, Message, Message.ticket_id.in_(chunk))
        report.notes += _count(session, TicketNote, TicketNote.ticket_id.in_(chunk))
        report.outbox += _count(session, OutboxMessage, OutboxMessage.ticket_id.in_(chunk))
        report.examples += _count(session, RouteExample, RouteExample.ticket_id.in_(chunk))
    # Lines that never joined a case, and conversations gone quiet, of people with no
    # case in progress (open, or resolved and awaiting her answer): nothing of one is touched.
    someone_open = exists().where(
        Ticket.channel == Message.channel, Ticket.channel_user == Message.channel_user,
        Ticket.status.not_in(FINISHED),
    )
    loose = and_(Message.ticket_id.is_(None), Message.created_at < cutoff, Message.channel_user != "", ~someone_open)
    report.loose_messages = _count(session, Message, loose)
    quiet = and_(
        Conversation.updated_at < cutoff,
        ~exists().where(
            Ticket.channel == Conversation.channel, Ticket.channel_user == Conversation.channel_user,
            Ticket.status.not_in(FINISHED),
        ),
    )
    report.conversations = _count(session, Conversation, quiet)
    # Samples carry no channel identity, so age alone decides: nothing sampled outlives the
    # cutoff. A sampled line that joined her ticket after all is not a sample: it goes now.
    sampled = or_(ReviewSample.created_at < cutoff, ReviewSample.joined_a_case())
    report.review_samples = _count(session, ReviewSample, sampled)
    # Kept files of those lines, and of lines she erased herself (their media id is gone).
    kept = and_(
        Message.media_path.is_not(None),
        or_(Message.ticket_id.in_(ids) if ids else false(), loose, Message.media_id.is_(None)),
    )
    report.media_files = list(session.scalars(select(Message.media_path).where(kept)))
    if dry_run:
        return report
    session.execute(
        update(Message).where(kept).values(media_path=None, media_state="removed", media_type=None)
        .execution_options(synchronize_session=False)
    )

    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        session.execute(
            update(Message).where(Message.ticket_id.in_(chunk))
            .values(text="", media_id=None, latitude=None, longitude=None, channel_user="")
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(TicketNote).where(TicketNote.ticket_id.in_(chunk)).values(text="")
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(OutboxMessage).where(OutboxMessage.ticket_id.in_(chunk)).values(text="", channel_user="")
            .execution_options(synchronize_session=False)
        )
        session.execute(
            delete(RouteExample).where(RouteExample.ticket_id.in_(chunk)).execution_options(synchronize_session=False)
        )
    for ticket in tickets:
        ticket.contact_phone = None
        ticket.channel_user = ""
        ticket.resolution_note = ""
        ticket.anonymised_at = now
        ticket.record("anonymised", actor_type="system", cutoff=cutoff.isoformat(timespec="seconds"))
    session.execute(
        update(Message).where(loose).values(text="", media_id=None, latitude=None, longitude=None, channel_user="")
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Conversation).where(quiet).execution_options(synchronize_session=False))
    session.execute(delete(ReviewSample).where(sampled).execution_options(synchronize_session=False))
    return report


def _count(session: Session, model, condition) -> int:
    return session.scalar(select(func.count()).select_from(model).where(condition)) or 0


__all__ = ["RetentionReport", "anonymise", "due_for_anonymising"]
