"""The worker's job for a question she left unanswered: "a new matter, or more of ticket
NJ-…?" (the dialogue's `new_or_add` step). Past the session timeout her words become
their own ticket (Dialogue.settle_unanswered) and she is told its reference, even if she
never writes again: otherwise they stayed in neither ticket, seen by no one."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection, literal_column, select

from bot.dialogue import Dialogue
from models.conversation import Conversation
from models.desk import Desk, MessageRow

log = logging.getLogger(__name__)


def settle_unanswered_questions(connection: Connection, dialogue: Dialogue, now: datetime, limit: int = 100) -> int:
    """Settle each new-or-add question older than the session timeout; how many were."""
    stale = connection.execute(
        select(Conversation.channel, Conversation.channel_user)
        # The state as a literal, not a parameter: the partial index's condition, which a
        # prepared statement's generic plan could not match otherwise.
        .where(Conversation.state == literal_column("'new_or_add'"),
               Conversation.updated_at < now - dialogue.session_timeout)
        .order_by(Conversation.updated_at)
        .limit(limit)
        # Every service process runs this job: a conversation another one holds is skipped.
        .with_for_update(skip_locked=True)
    ).all()
    settled = 0
    for channel, channel_user in stale:
        desk = Desk(connection)
        conversation = desk.conversation(channel, channel_user)
        answer = dialogue.settle_unanswered(desk, conversation, now)
        if answer is None:
            continue
        text, ticket = answer
        # No reply to ride on: the outbox delivers it (WeChat's customer-service messages).
        desk.add_message(MessageRow(channel, channel_user, "out", now, text=text, ticket_id=ticket.id, queued=True))
        desk.save()
        settled += 1
    return settled
