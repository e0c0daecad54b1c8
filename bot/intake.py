"""The intake engine: one inbound message in, stored and routed, one answer out.

The engine works inside the caller's session and never commits: a webhook delivery is
one transaction, committed by the handler once the answer is ready.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import replies
from bot.inbound import Answer, Inbound
from bot.routing import Route, Router
from bot.settings import Settings
from models import Conversation, InboundReceipt, Message, Region, Ticket, utcnow
from models.ticket import CATEGORY_LABELS, STATUS_LABELS

log = logging.getLogger(__name__)

# What a step says back, and the ticket it concerns.
Reply = tuple[str | None, Ticket | None]

# What she may answer when asked to choose a route.
CHOICES = {
    "1": "consultation", "咨询": "consultation",
    "2": "mediation", "调解": "mediation",
    "3": "service", "服务": "service",
}
STATUS_COMMANDS = {"查询", "进度", "查进度", "查询进度", "工单"}
# Menu buttons configured on the official account (CLICK events).
MENU_KEYS = {"CONSULT": "consultation", "MEDIATE": "mediation", "SERVICE": "service"}
STATUS_KEY = "STATUS"
URGENT_FALLBACK_CATEGORY = "consultation"


@dataclass(frozen=True)
class Deadlines:
    claim: timedelta
    urgent_claim: timedelta
    resolve: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Deadlines:
        return cls(
            claim=timedelta(hours=settings.sla.claim_hours),
            urgent_claim=timedelta(minutes=settings.sla.urgent_claim_minutes),
            resolve=timedelta(days=settings.sla.resolve_days),
        )


class Intake:
    """Turns inbound messages into transcript lines, tickets and replies."""

    def __init__(self, router: Router, settings: Settings) -> None:
        self.router = router
        self.reference_prefix = settings.intake.reference_prefix
        self.default_region = settings.intake.default_region
        self.deadlines = Deadlines.from_settings(settings)
        self.claim_hours = settings.sla.claim_hours
        self.urgent_claim_minutes = settings.sla.urgent_claim_minutes

    def receive(self, session: Session, inbound: Inbound, now: datetime | None = None) -> Answer:
        """Handle one delivery exactly once: a repeat gets the first delivery's answer."""
        now = now or utcnow()
        receipt = InboundReceipt(channel=inbound.channel, dedup_key=inbound.message_id, created_at=now)
        try:
            with session.begin_nested():
                session.add(receipt)
        except IntegrityError:
            # Another delivery of this message committed first (on PostgreSQL the insert
            # waited for it), so its answer is there to read.
            first = InboundReceipt.find(session, inbound.channel, inbound.message_id)
            log.info("duplicate delivery on %s answered as before", inbound.channel)
            if first is None:  # only if the first delivery's row vanished since
                return Answer(None, duplicate=True)
            reference = first.ticket.reference if first.ticket else None
            return Answer(first.reply or None, reference, duplicate=True)

        text, ticket = self._dispatch(session, inbound, now)
        receipt.reply = text or ""
        receipt.ticket = ticket
        if text:
            session.add(
                Message(
                    ticket=ticket,
                    channel=inbound.channel,
                    channel_user=inbound.user,
                    direction="out",
                    text=text,
                    created_at=now,
                )
            )
        return Answer(text, ticket.reference if ticket else None)

    def _dispatch(self, session: Session, inbound: Inbound, now: datetime) -> Reply:
        if inbound.kind == "event":
            return self._event(session, inbound, now)
        if inbound.kind in ("text", "voice"):
            if not inbound.text.strip():
                self._store(session, inbound, None)
                return replies.VOICE_UNCLEAR if inbound.kind == "voice" else replies.MENU, None
            return self._text(session, inbound, now)
        if inbound.kind == "image":
            return self._attachment(session, inbound, replies.IMAGE_ADDED, replies.IMAGE_NO_TICKET)
        if inbound.kind == "location":
            return self._attachment(session, inbound, replies.LOCATION_ADDED, replies.LOCATION_NO_TICKET)
        return None, None

    # -- events ---------------------------------------------------------------

    def _event(self, session: Session, inbound: Inbound, now: datetime) -> Reply:
        if inbound.event in ("subscribe", "start"):
            Conversation.for_user(session, inbound.channel, inbound.user).move("idle", now)
            return replies.WELCOME, None
        if inbound.event == "click":
            if inbound.event_key == STATUS_KEY:
                return self._status(session, inbound), None
            category = MENU_KEYS.get(inbound.event_key)
            if category:
                Conversation.for_user(session, inbound.channel, inbound.user).move("idle", now, hint=category)
                return (
                    f"好的，“{CATEGORY_LABELS[category]}”。请直接说说您遇到的事，我们会转给合适的工作人员。",
                    None,
                )
            return replies.MENU, None
        return None, None

    # -- text -----------------------------------------------------------------

    def _text(self, session: Session, inbound: Inbound, now: datetime) -> Reply:
        text = inbound.text.strip()
        if text in STATUS_COMMANDS:
            self._store(session, inbound, None)
            return self._status(session, inbound), None

        conversation = Conversation.for_user(session, inbound.channel, inbound.user)
        open_ticket = Ticket.open_for(session, inbound.channel, inbound.user)
        if conversation.state == "awaiting_category" and text in CHOICES and open_ticket is None:
            return self._chosen(session, inbound, conversation, CHOICES[text], now)

        route = self.router.route(text)
        message = self._store(session, inbound, open_ticket)

        if open_ticket is not None:
            return self._add_to(open_ticket, route, now)

        if route.urgent:
            category = route.category if route.category != "other" else URGENT_FALLBACK_CATEGORY
            ticket = self._open_ticket(session, inbound, route, category, route.subcategory, now)
            self._attach_pending(session, conversation, ticket, message)
            conversation.move("idle", now)
            return replies.URGENT_CREATED.format(reference=ticket.reference), ticket

        hint = conversation.data.get("hint")
        if route.needs_choice and hint:
            return self._chosen(session, inbound, conversation, hint, now, message=message, route=route)
        if route.needs_choice:
            session.flush()  # the message needs its id to be remembered
            conversation.move("awaiting_category", now, pending=[*conversation.data.get("pending", []), message.id])
            return replies.CHOOSE, None
        if route.category == "other":
            return replies.MENU, None

        ticket = self._open_ticket(session, inbound, route, route.category, route.subcategory, now)
        self._attach_pending(session, conversation, ticket, message)
        conversation.move("idle", now)
        return self._created(ticket)

    def _chosen(
        self,
        session: Session,
        inbound: Inbound,
        conversation: Conversation,
        category: str,
        now: datetime,
        message: Message | None = None,
        route: Route | None = None,
    ) -> Reply:
        """She chose the route herself (a reply to the question, or a menu button)."""
        if message is None:
            message = self._store(session, inbound, None)
        explanation = f"{category}: chosen by her"
        if route is not None:
            explanation += f" (router unsure: {route.explanation})"
        ticket = self._open_ticket(
            session, inbound, route, category, None, now, explanation=explanation, confidence=1.0
        )
        self._attach_pending(session, conversation, ticket, message)
        conversation.move("idle", now)
        return self._created(ticket)

    def _add_to(self, ticket: Ticket, route: Route, now: datetime) -> Reply:
        ticket.updated_at = now
        ticket.record("message_added", actor_type="woman")
        if route.urgent and ticket.mark_urgent(list(route.urgent_keywords)):
            ticket.claim_due_at = min(ticket.claim_due_at, now + self.deadlines.urgent_claim)
            ticket.record("urgent_alert", reason="marked urgent by a later message")
            log.warning("ticket %s raised to urgent", ticket)
            return replies.URGENT_ADDED.format(reference=ticket.reference), ticket
        return replies.ADDED.format(reference=ticket.reference), ticket

    def _attachment(self, session: Session, inbound: Inbound, added: str, no_ticket: str) -> Reply:
        ticket = Ticket.open_for(session, inbound.channel, inbound.user)
        self._store(session, inbound, ticket)
        if ticket is None:
            return no_ticket, None
        ticket.record(f"{inbound.kind}_added", actor_type="woman")
        return added.format(reference=ticket.reference), ticket

    # -- helpers --------------------------------------------------------------

    def _open_ticket(
        self,
        session: Session,
        inbound: Inbound,
        route: Route | None,
        category: str,
        subcategory: str | None,
        now: datetime,
        explanation: str | None = None,
        confidence: float | None = None,
    ) -> Ticket:
        urgent = bool(route and route.urgent)
        keywords = list(route.keywords) + [k for k in route.urgent_keywords if k not in route.keywords] if route else []
        ticket = Ticket.open(
            session,
            reference_prefix=self.reference_prefix,
            channel=inbound.channel,
            channel_user=inbound.user,
            category=category,
            subcategory=subcategory,
            urgent=urgent,
            confidence=route.confidence if confidence is None and route else (confidence or 0.0),
            keywords=keywords,
            explanation=explanation if explanation is not None else (route.explanation if route else ""),
            region=self._region(session),
            now=now,
            claim_within=self.deadlines.urgent_claim if urgent else self.deadlines.claim,
            resolve_within=self.deadlines.resolve,
        )
        if urgent:
            # Until supervisors have their own alerts, the audit trail carries the alarm.
            ticket.record("urgent_alert", reason="urgent at intake", keywords=list(route.urgent_keywords))
        log.info(
            "ticket %s opened on %s: %s urgent=%s", ticket.reference, inbound.channel, category, urgent
        )
        return ticket

    def _region(self, session: Session) -> Region:
        region = Region.by_code(session, self.default_region) if self.default_region else None
        if region is None and self.default_region:
            log.warning("intake.default_region %s does not exist; filing under the root", self.default_region)
        region = region or Region.root(session)
        if region is None:
            raise LookupError("no region to file tickets under: run `niangjia init-db` (or import regions)")
        return region

    def _attach_pending(
        self, session: Session, conversation: Conversation, ticket: Ticket, message: Message
    ) -> None:
        """Give the new ticket the messages that waited for it, and this one."""
        message.ticket = ticket
        pending = conversation.data.get("pending", [])
        if pending:
            for earlier in session.scalars(
                select(Message).where(Message.id.in_(pending), Message.ticket_id.is_(None))
            ):
                earlier.ticket = ticket

    def _store(self, session: Session, inbound: Inbound, ticket: Ticket | None) -> Message:
        message = Message(
            ticket=ticket,
            channel=inbound.channel,
            channel_user=inbound.user,
            direction="in",
            kind=inbound.kind,
            text=inbound.text,
            media_id=inbound.media_id,
            latitude=inbound.latitude,
            longitude=inbound.longitude,
            created_at=inbound.sent_at,
        )
        if inbound.kind == "location" and inbound.label:
            message.text = inbound.label
        session.add(message)
        return message

    def _created(self, ticket: Ticket) -> Reply:
        text = replies.CREATED.format(
            reference=ticket.reference,
            category=CATEGORY_LABELS[ticket.category],
            claim_within=replies.claim_within(self.claim_hours),
        )
        return text, ticket

    def _status(self, session: Session, inbound: Inbound) -> str:
        tickets = session.scalars(
            select(Ticket)
            .where(Ticket.channel == inbound.channel, Ticket.channel_user == inbound.user)
            .order_by(Ticket.created_at.desc())
            .limit(5)
        ).all()
        if not tickets:
            return replies.NO_TICKETS
        lines = [replies.STATUS_HEADER]
        for ticket in tickets:
            lines.append(
                replies.STATUS_LINE.format(
                    reference=ticket.reference,
                    category=CATEGORY_LABELS[ticket.category],
                    status=STATUS_LABELS[ticket.status],
                )
            )
        return "\n".join(lines)
