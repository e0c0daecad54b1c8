"""The intake engine: one inbound message in, stored and routed, one answer out.

The engine works inside the caller's transaction and never commits: a webhook delivery
is one transaction, committed by the caller once the answer is ready. It reads and
writes through a `Desk` (plain rows, Core statements): this is the system's hot path.
Deliveries are exactly-once: a receipt keyed by the channel's message id is inserted
first, under a unique constraint, and a repeat gets the first delivery's answer.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection

from bot import replies
from bot.channels import channel as channel_named
from bot.dialogue import Dialogue, Reply
from bot.inbound import Answer, Inbound
from bot.routing import Route, Router
from bot.settings import Settings
from models import utcnow
from models.desk import Desk, MessageRow

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

    def route_ahead(self, inbound: Inbound) -> Route | None:
        """Her words routed before the delivery's transaction begins, for `receive`.

        Routing reads nothing from the database, so it need not run while the delivery
        holds SQLite's one writer (or a PostgreSQL transaction) open.
        """
        text = inbound.text.strip()
        return self.router.route(text) if inbound.kind in ("text", "voice") and text else None

    def receive(
        self, connection: Connection, inbound: Inbound, now: datetime | None = None, route: Route | None = None,
        replayed: bool = False,
    ) -> Answer:
        """Handle one delivery exactly once: a repeat gets the first delivery's answer.

        `route`, from `route_ahead`, spares routing her text inside the transaction.
        `replayed`: the message comes from the spool, and was acknowledged long ago, so
        the answer goes out through the outbox even on a channel with passive replies.
        """
        now = now or utcnow()
        desk = Desk(connection)
        receipt_id = desk.claim_receipt(inbound.channel, inbound.message_id, now)
        if receipt_id is None:
            # Another delivery of this message committed first (on PostgreSQL the insert
            # waited for it), so its answer is there to read.
            first = desk.first_answer(inbound.channel, inbound.message_id)
            log.info("duplicate delivery on %s answered as before", inbound.channel)
            if first is None:  # only if the first delivery's row vanished since
                return Answer(None, duplicate=True)
            reply, reference = first
            return Answer(reply or None, reference, duplicate=True)

        text, ticket = self._dispatch(desk, inbound, now, route)
        if text:
            desk.add_message(
                MessageRow(
                    inbound.channel, inbound.user, "out", now, text=text, ticket_id=ticket.id if ticket else None,
                    # Channels without passive replies get the answer through the outbox worker.
                    queued=replayed or not channel_named(inbound.channel).passive_replies,
                )
            )
        desk.save()
        desk.answer_receipt(receipt_id, text or "", ticket.id if ticket else None)
        return Answer(text, ticket.reference if ticket else None)

    def _dispatch(self, desk: Desk, inbound: Inbound, now: datetime, route: Route | None) -> Reply:
        if inbound.kind == "event":
            return self._event(desk, inbound, now)
        if inbound.kind in ("text", "voice"):
            if not inbound.text.strip():
                self.dialogue.store(desk, inbound, desk.open_ticket_for(inbound.channel, inbound.user))
                return replies.VOICE_UNCLEAR if inbound.kind == "voice" else replies.NOISE, None
            return self.dialogue.text(desk, inbound, now, route)
        if inbound.kind == "image":
            return self._image(desk, inbound)
        if inbound.kind == "location":
            return self.dialogue.location(desk, inbound, now)
        return None, None

    def _event(self, desk: Desk, inbound: Inbound, now: datetime) -> Reply:
        if inbound.event in ("subscribe", "start"):
            conversation = desk.conversation(inbound.channel, inbound.user)
            if conversation.state not in ("follow_up_solved", "follow_up_satisfaction"):
                conversation.move("idle", now)
            return replies.WELCOME, None
        if inbound.event == "click":
            if inbound.event_key == STATUS_KEY:
                return self.dialogue.status(desk, inbound), None
            category = MENU_KEYS.get(inbound.event_key)
            if category:
                desk.conversation(inbound.channel, inbound.user).move("idle", now, hint=category)
                return replies.MENU_CHOSEN.format(category=replies.CATEGORY_NAMES[category]), None
            return replies.MENU, None
        return None, None

    def _image(self, desk: Desk, inbound: Inbound) -> Reply:
        ticket = desk.open_ticket_for(inbound.channel, inbound.user)
        self.dialogue.store(desk, inbound, ticket)
        if ticket is None:
            return replies.IMAGE_NO_TICKET, None
        ticket.record("image_added", actor_type="woman", notify_assignee=ticket.assignee_id)
        return replies.IMAGE_ADDED.format(reference=ticket.reference), ticket
