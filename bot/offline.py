"""Both tracks (线上线下双轨): a phone call to the hotline or a walk-in visit at a 妇女之家,
recorded by a caseworker as a ticket like one she wrote herself.

Her words as told are routed by the same router, the ticket gets the same clocks, an
urgent one alerts the same people, and it is counted by channel (`phone`, `visit`), so
the queue and the figures tell the tracks apart. There is no chat to answer in: staff
reach her by phone, so the call or visit itself is recorded as the first contact.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot import metrics
from bot.alerts import AlertTicket, raise_alert
from bot.routing import Router
from bot.settings import Settings
from models.desk import Desk, MessageRow, RegionRow, TicketRow
from models.followup import SATISFACTION, FollowUp
from models.staff import StaffUser
from models.ticket import CATEGORIES, MAX_NOTE_CHARS, OFFLINE_CHANNELS, Conflict, InvalidInput, Ticket

log = logging.getLogger(__name__)

MAX_WORDS_CHARS = 4000
# The route an urgent account takes when the router names no category (as in the chat).
URGENT_FALLBACK_CATEGORY = "consultation"


@dataclass(frozen=True)
class Account:
    """What a caseworker took down: how she came, what she said, where she lives, her number."""

    channel: str
    text: str
    region: RegionRow
    phone: str | None
    category: str | None = None  # the caseworker's choice; None: the router decides


def record_offline(
    desk: Desk, settings: Settings, router: Router, account: Account, now: datetime, by_id: int
) -> TicketRow:
    """Open the ticket for a call or a visit (in the caller's transaction; the caller commits)."""
    if account.channel not in OFFLINE_CHANNELS:
        raise InvalidInput("bad_channel", "channel")
    text = (account.text or "").strip()
    if not text:
        raise InvalidInput("account_required", "text")
    if len(text) > MAX_WORDS_CHARS:
        raise InvalidInput("too_long", "text", limit=MAX_WORDS_CHARS)
    if account.category is not None and account.category not in CATEGORIES:
        raise InvalidInput("bad_category_or_empty", "category")
    route = router.route(text)
    category, subcategory, explanation = route.category, route.subcategory, route.explanation
    if account.category is not None and account.category != route.category:
        category, subcategory = account.category, None
        explanation = f"工作人员选择“{router.label(category)}”；系统建议：{route.explanation}"
    if category not in CATEGORIES:
        if not route.urgent:
            raise InvalidInput("category_not_found", "category")
        category, subcategory = URGENT_FALLBACK_CATEGORY, None
        explanation = f"紧急，系统未能判断分类，先按“{router.label(category)}”办理；系统判断：{route.explanation}"
    # Her identity on this track: her number when she gave one (so her calls link up),
    # else a fresh anonymous one.
    channel_user = f"{account.channel}:{account.phone or 'anon-' + uuid.uuid4().hex[:16]}"
    ticket = desk.open_ticket(
        reference_prefix=settings.intake.reference_prefix,
        channel=account.channel,
        channel_user=channel_user,
        category=category,
        subcategory=subcategory,
        urgent=route.urgent,
        confidence=route.confidence if category == route.category else 1.0,
        keywords=[*route.keywords, *(k for k in route.urgent_keywords if k not in route.keywords)],
        explanation=explanation,
        region_id=account.region.id,
        now=now,
        deadlines=settings.policy.deadlines(now, category, route.urgent),
        policy=settings.policy,
    )
    ticket.change(contact_phone=account.phone)
    ticket.record("recorded_offline", actor_type="staff", actor_id=by_id, channel=account.channel,
                  anonymous=account.phone is None)
    desk.add_message(MessageRow(account.channel, channel_user, "in", now, text=text, ticket_id=ticket.id))
    if route.urgent:
        about = AlertTicket(ticket.id, ticket.reference, ticket.category, ticket.region_id, None)
        notified = raise_alert(
            desk.connection, settings, about, kind="urgent", audience="chain", region_id=ticket.region_id,
            now=now, due=ticket.claim_due_at,
        )
        ticket.record("urgent_alert", reason="urgent at intake", keywords=list(route.urgent_keywords),
                      notifiers=notified)
    metrics.message_in(account.channel, category, route.urgent)
    log.info("ticket %s recorded from a %s by staff %s: %s urgent=%s",
             ticket.reference, account.channel, by_id, category, route.urgent)
    return ticket


@dataclass(frozen=True)
class CallBack:
    """What she said when a caseworker called her back (回访) about a call or a visit."""

    solved: bool
    satisfaction: str | None  # asked only when solved, as in the chat
    note: str = ""


def record_follow_up(session: Session, ticket: Ticket, by: StaffUser, answer: CallBack, now: datetime) -> None:
    """Settle a call's or a visit's follow-up with her answer on the phone, exactly as her
    chat answer settles it (`FollowUpRow.solved_with` / `not_solved`: closed, or reopened
    to its caseworker), counted alike, and recorded as taken down by `by`. In the caller's
    transaction; the caller commits (and rolls back on an error)."""
    if answer.solved and answer.satisfaction not in SATISFACTION:
        raise InvalidInput("choose_satisfaction", "satisfaction")
    note = (answer.note or "").strip()
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidInput("too_long", "note", limit=MAX_NOTE_CHARS)
    if ticket.channel not in OFFLINE_CHANNELS:
        raise Conflict("follow_up_online")
    # One answer per resolution: of two caseworkers taking it down at once, the first
    # wins (PostgreSQL: the second waits for the row and finds it settled).
    if ticket.status != "resolved" or session.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.status == "resolved").values(updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount != 1:
        raise Conflict("follow_up_not_due")
    follow_up = FollowUp.start(session, ticket, now)
    session.flush()
    desk = Desk(session.connection())
    pending = desk.follow_up(follow_up.id)
    if answer.solved:
        pending.solved_with(answer.satisfaction, now)
    else:
        pending.not_solved(now)
    desk.save()
    session.expire(ticket)  # the desk wrote its status behind the ORM's back
    note_id = ticket.add_note(session, by, note, now).id if note else None
    ticket.record("follow_up_recorded", actor=by, via="phone", solved=answer.solved,
                  satisfaction=answer.satisfaction if answer.solved else None, note=note_id)
    log.info("ticket %s: follow-up taken down by staff %s, solved=%s", ticket.reference, by.id, answer.solved)
