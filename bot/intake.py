"""The intake engine: one inbound message in, stored and routed, one answer out.

The engine works inside the caller's session and never commits: a webhook delivery is
one transaction, committed by the caller once the answer is ready. Deliveries are
exactly-once: a receipt keyed by the channel's message id is inserted first, under a
unique constraint, and a repeat gets the first delivery's answer.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from bot import replies
from bot.channels import channel as channel_named
from bot.dialogue import Dialogue, Reply
from bot.inbound import Answer, Inbound
from bot.routing import Router
from bot.settings import Settings
from models import Conversation, InboundReceipt, Message, OutboxMessage, Ticket, utcnow
from models.ticket import CATEGORY_LABELS

log = logging.getLogger(__name__)

# Menu buttons configured on the official account (CLICK events).
MENU_KEYS = {"CONSULT": "consultation", "MEDIATE": "mediation", "SERVICE": "service"}
STATUS_KEY = "STATUS"


class Intake:
    """Turns inbound messages into transcript lines, tickets and replies."""

    def __init__(self, router: Router, settings: Settings) -> None:
        self.dialogue = Dialogue(router, settings)

    @property
    def router(self) -> Router:
        return self.dialogue.router

    def receive(self, session: Session, inbound: Inbound, now: datetime | None = None) -> Answer:
        """Handle one delivery exactly once: a repeat gets the first delivery's answer."""
        now = now or utcnow()
        receipt_id = InboundReceipt.claim(session, inbound.channel, inbound.message_id, now)
        if receipt_id is None:
            # Another delivery of this message committed first (on PostgreSQL the insert
            # waited for it), so its answer is there to read.
            first = InboundReceipt.find(session, inbound.channel, inbound.message_id)
            log.info("duplicate delivery on %s answered as before", inbound.channel)
            if first is None:  # only if the first delivery's row vanished since
                return Answer(None, duplicate=True)
            reference = first.ticket.reference if first.ticket else None
            return Answer(first.reply or None, reference, duplicate=True)

        # One flush at commit instead of one before every query: the steps never need
        # their own pending rows in a query, and explicitly flush where they need an id.
        with session.no_autoflush:
            text, ticket = self._dispatch(session, inbound, now)
        if text:
            self._answer(session, inbound, text, ticket, now)
        session.flush()  # the ticket's id, for the receipt
        InboundReceipt.answer(session, receipt_id, text or "", ticket.id if ticket else None)
        return Answer(text, ticket.reference if ticket else None)

    def _answer(self, session: Session, inbound: Inbound, text: str, ticket: Ticket | None, now: datetime) -> None:
        """Record the answer in the transcript; on channels without passive replies, queue it."""
        if channel_named(inbound.channel).passive_replies:
            session.add(
                Message(
                    ticket=ticket, channel=inbound.channel, channel_user=inbound.user,
                    direction="out", text=text, created_at=now,
                )
            )
        else:
            OutboxMessage.enqueue(
                session, channel=inbound.channel, channel_user=inbound.user, text=text, now=now, ticket=ticket
            )

    def _dispatch(self, session: Session, inbound: Inbound, now: datetime) -> Reply:
        if inbound.kind == "event":
            return self._event(session, inbound, now)
        if inbound.kind in ("text", "voice"):
            if not inbound.text.strip():
                self.dialogue.store(session, inbound, Ticket.open_for(session, inbound.channel, inbound.user))
                return replies.VOICE_UNCLEAR if inbound.kind == "voice" else replies.MENU, None
            return self.dialogue.text(session, inbound, now)
        if inbound.kind == "image":
            return self._image(session, inbound)
        if inbound.kind == "location":
            return self.dialogue.location(session, inbound, now)
        return None, None

    def _event(self, session: Session, inbound: Inbound, now: datetime) -> Reply:
        if inbound.event in ("subscribe", "start"):
            conversation = Conversation.for_user(session, inbound.channel, inbound.user)
            if conversation.state not in ("follow_up_solved", "follow_up_satisfaction"):
                conversation.move("idle", now)
            return replies.WELCOME, None
        if inbound.event == "click":
            if inbound.event_key == STATUS_KEY:
                return self.dialogue.status(session, inbound), None
            category = MENU_KEYS.get(inbound.event_key)
            if category:
                Conversation.for_user(session, inbound.channel, inbound.user).move("idle", now, hint=category)
                label = CATEGORY_LABELS[category]
                return f"好的，“{label}”。请直接说说您遇到的事，我们会转给合适的工作人员。", None
            return replies.MENU, None
        return None, None

    def _image(self, session: Session, inbound: Inbound) -> Reply:
        ticket = Ticket.open_for(session, inbound.channel, inbound.user)
        self.dialogue.store(session, inbound, ticket)
        if ticket is None:
            return replies.IMAGE_NO_TICKET, None
        ticket.record("image_added", actor_type="woman", notify_assignee=ticket.assignee_id)
        return replies.IMAGE_ADDED.format(reference=ticket.reference), ticket
