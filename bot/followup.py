"""The follow-up job (回访): ask her about resolved tickets, close the unanswered ones."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Connection, exists, select
from sqlalchemy.orm import Session

from bot import replies
from bot.dialogue import INTAKE_STATES
from models import Conversation, FollowUp, OutboxMessage, Ticket
from models.desk import Desk
from models.ticket import OFFLINE_CHANNELS

log = logging.getLogger(__name__)


def ask_resolved(session: Session, now: datetime, limit: int = 100) -> int:
    """Start a follow-up for each resolved ticket not yet asked about since it was resolved."""
    asked_since_resolved = exists().where(FollowUp.ticket_id == Ticket.id, FollowUp.asked_at >= Ticket.resolved_at)
    # Every service process runs this job: on PostgreSQL a ticket another one is asking
    # about is skipped, not asked twice (SQLite's writers take turns anyway).
    tickets = session.scalars(
        select(Ticket)
        # A call or a visit has no chat to ask in: staff call her back (bot/offline.py).
        .where(Ticket.status == "resolved", ~asked_since_resolved, Ticket.channel.not_in(OFFLINE_CHANNELS))
        .order_by(Ticket.resolved_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    started = 0
    for ticket in tickets:
        conversation = Conversation.for_user(session, ticket.channel, ticket.channel_user)
        if conversation.state in INTAKE_STATES or conversation.state.startswith("follow_up"):
            continue  # she is in the middle of something: ask on a later round
        follow_up = FollowUp.start(session, ticket, now)
        session.flush()
        conversation.move("follow_up_solved", now, ticket_id=ticket.id, follow_up_id=follow_up.id)
        OutboxMessage.enqueue(
            session,
            channel=ticket.channel,
            channel_user=ticket.channel_user,
            text=replies.FOLLOW_UP.format(reference=ticket.reference),
            now=now,
            ticket=ticket,
        )
        started += 1
    return started


def close_unanswered(connection: Connection, now: datetime, timeout: timedelta) -> int:
    """Close tickets whose follow-up went unanswered for `timeout`, recording that."""
    stale = connection.scalars(
        select(FollowUp.id)
        .join(Ticket, FollowUp.ticket_id == Ticket.id)
        .where(
            FollowUp.answered_at.is_(None),
            FollowUp.expired.is_(False),
            FollowUp.asked_at < now - timeout,
            Ticket.status == "resolved",
        )
    ).all()
    desk = Desk(connection)
    for follow_up_id in stale:
        follow_up = desk.follow_up(follow_up_id)
        follow_up.expire(now)
        conversation = desk.conversation(follow_up.ticket.channel, follow_up.ticket.channel_user)
        if conversation.data.get("follow_up_id") == follow_up.id:
            conversation.move("idle", now)
        log.info("ticket %s closed: follow-up unanswered", follow_up.ticket.reference)
    desk.save()
    return len(stale)
