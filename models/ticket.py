"""Tickets (工单), their public references and their append-only audit trail."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    Connection, Date, ForeignKey, Index, Select, String, Text, bindparam, case, func, literal, nulls_last, or_, select,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, joinedload, mapped_column, object_session, relationship

from models import clocks
from models.base import Base, insert_unless_present, utcnow
from models.region import Region
from models.staff import StaffUser

# References carry the date as the woman and the caseworker see it: China Standard Time.
CHINA_TZ = timezone(timedelta(hours=8), "CST")

CATEGORIES = ("consultation", "mediation", "service")
CATEGORY_LABELS = {"consultation": "咨询", "mediation": "调解", "service": "服务", "other": "其他"}

STATUSES = ("new", "claimed", "resolved", "closed", "withdrawn")
STATUS_LABELS = {
    "new": "待认领",
    "claimed": "处理中",
    "resolved": "已办结，待回访",
    "closed": "已关闭",
    "withdrawn": "已撤销",
}
OPEN_STATUSES = ("new", "claimed")
DONE_STATUSES = ("resolved", "closed")

# How a case can end, by route (办结结果).
OUTCOMES = {
    "consultation": ("answered", "referred"),
    "mediation": ("agreement", "no_agreement", "referred"),
    "service": ("provided", "referred", "declined"),
}
# A violence case ends in protection, not only in an answer (the rights-protection route).
VIOLENCE_OUTCOMES = (
    "protection_order_applied", "protection_order_granted", "warning_letter",
    "referred_police", "referred_shelter", "referred_legal_aid", "answered", "referred",
)
OUTCOME_LABELS = {
    "answered": "已解答",
    "referred": "已转介",
    "agreement": "达成调解协议",
    "no_agreement": "未达成协议",
    "provided": "已提供服务",
    "declined": "本人谢绝",
    "protection_order_applied": "已申请人身安全保护令",
    "protection_order_granted": "已获人身安全保护令",
    "warning_letter": "公安已出具告诫书",
    "referred_police": "已转介公安",
    "referred_shelter": "已转介庇护场所",
    "referred_legal_aid": "已转介法律援助",
}

# What staff may do to a ticket they can see (see Ticket.permits). "view" is its queue
# line; "read" its transcript, contact details, notes and trail.
ACTIONS = (
    "view", "read", "claim", "release", "assign", "transfer", "note", "reply", "resolve", "reopen", "route",
    "contact", "pause", "urgent", "extend", "decide_extension", "return", "redo",
)
# Routes read on a need-to-know basis, besides every urgent ticket: violence is a
# rights-protection case, and her words in the wrong hands can put her in danger.
NEED_TO_KNOW_ROUTES = {("consultation", "anti_dv_law")}
# The routes her case can be resolved on: violence gets its own outcomes.
VIOLENCE_ROUTES = NEED_TO_KNOW_ROUTES
# Channels staff record by hand (线下: a phone call, a walk-in visit): no chat to answer in.
OFFLINE_CHANNELS = ("phone", "visit")
CHANNEL_LABELS = {"wechat": "微信公众号", "telegram": "Telegram", "phone": "电话", "visit": "来访"}


def outcomes_for(category: str, subcategory: str | None) -> tuple[str, ...]:
    """The outcomes that fit a route (a violence case: protection orders, 告诫书, referrals)."""
    if (category, subcategory) in VIOLENCE_ROUTES:
        return VIOLENCE_OUTCOMES
    return OUTCOMES.get(category, ())


# Only supervisors and admins; everything else is for the assignee (or a supervisor).
SUPERVISOR_ACTIONS = ("assign", "transfer", "decide_extension")

MAX_NOTE_CHARS = 4000
MAX_REPLY_CHARS = 600  # a WeChat customer-service text is at most 2048 bytes
MAX_REASON_CHARS = 500

_WHOLE_REFERENCE = re.compile(r"[A-Z]+-\d{8}-\d{4,}")

# A tab holding more tickets than this is read along the date index rather than sorted.
WALK_DATES_ABOVE = 5000

# Queue tabs, in the order they are shown.
TABS = ("unclaimed", "mine", "open", "done", "all")
TAB_LABELS = {"unclaimed": "待认领", "mine": "我的工单", "open": "未办结", "done": "已办结", "all": "全部"}


class TicketError(Exception):
    """A staff action that cannot be done; the message is shown to the staff member."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(TicketError):
    """The action's input is wrong (HTTP 422, naming the field)."""


class Conflict(TicketError):
    """The ticket is not in a state that allows the action, or someone got there first (409)."""


class ReferenceCounter(Base):
    """The last reference number handed out on one day."""

    __tablename__ = "reference_counter"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


# Built once: every new ticket runs it (see models/desk.py on why that matters).
_BUMP_REFERENCE = (
    update(ReferenceCounter.__table__)
    .where(ReferenceCounter.__table__.c.day == bindparam("today"))
    .values(last=ReferenceCounter.__table__.c.last + 1)
    .returning(ReferenceCounter.__table__.c.last)
)


def next_reference(bind: Session | Connection, prefix: str, now: datetime) -> str:
    """The next free reference of the day, e.g. NJ-20261121-0042; safe across processes."""
    day = now.astimezone(CHINA_TZ).date()
    number = bind.scalar(_BUMP_REFERENCE, {"today": day})
    if number is None:
        # The day's first reference: create its counter (unless a concurrent first got
        # there before us), then bump it.
        bind.execute(insert_unless_present(bind, ReferenceCounter.__table__, ["day"], day=day, last=0))
        number = bind.scalar(_BUMP_REFERENCE, {"today": day})
    return f"{prefix}-{day:%Y%m%d}-{number:04d}"


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_status_urgent_created", "status", "urgent", "created_at"),
        Index("ix_ticket_channel_user", "channel", "channel_user"),
        # The queue: unclaimed tickets, urgent first, then by claim deadline.
        Index("ix_ticket_status_urgent_claim_due", "status", "urgent", "claim_due_at"),
        # A region's tickets by status; with assignee_id it also counts the tabs from the
        # index alone (tab_counts).
        Index("ix_ticket_region_status_assignee", "region_id", "status", "assignee_id"),
        Index("ix_ticket_assignee_status", "assignee_id", "status"),
        # The "done" and "all" tabs, newest first: walked backwards, stopped after a page.
        Index("ix_ticket_created_at", "created_at"),
        # The follow-up job's resolved tickets, oldest first (bot/followup.py): without it
        # SQLite scanned the whole table, in the writer's turn, on every worker round.
        Index("ix_ticket_status_resolved_at", "status", "resolved_at"),
        # The queue by its nearest running clock (models/clocks.py), and the sweep's work list.
        Index("ix_ticket_status_urgent_next_due", "status", "urgent", "next_due_at"),
        Index("ix_ticket_sweep_at", "sweep_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    # The woman's identity on her channel: WeChat openid, Telegram chat id.
    channel_user: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(16))
    subcategory: Mapped[str | None] = mapped_column(String(48))
    urgent: Mapped[bool] = mapped_column(default=False)
    confidence: Mapped[float] = mapped_column(default=0.0)
    route_keywords: Mapped[list[str]] = mapped_column(default=list)
    route_explanation: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="new")
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(24))
    resolution_note: Mapped[str] = mapped_column(Text, default="", server_default="")

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    claim_due_at: Mapped[datetime]
    resolve_due_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    # When its personal data was anonymised (models/retention.py); None: not yet.
    anonymised_at: Mapped[datetime | None]

    # Service clocks (models/clocks.py). The first-reply deadline; a pause (waiting on her)
    # stops every clock until she writes or `pause_until` comes.
    first_reply_due_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    pause_until: Mapped[datetime | None]
    pause_reason: Mapped[str | None] = mapped_column(String(24))
    # When she said it is safe to contact her, in her words (she cannot talk while he is
    # near); shown first on the ticket page.
    safe_contact_time: Mapped[str | None] = mapped_column(String(100))
    # Derived, kept for the queue: the nearest running clock's due time and when the first
    # running clock turns yellow (set by the sweep).
    next_due_at: Mapped[datetime | None]
    yellow_at: Mapped[datetime | None]
    # The sweep (bot/sla.py): when to look at the ticket next, and up to when it has looked;
    # a sweep acts only if it moves `swept_until` itself, so reminders go out once.
    sweep_at: Mapped[datetime | None]
    swept_until: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(default=0, server_default="0")
    # 延期: a pending request (until, reason, who), and how many were approved; 退单 count.
    extension_until: Mapped[datetime | None]
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    extensions: Mapped[int] = mapped_column(default=0, server_default="0")
    returns: Mapped[int] = mapped_column(default=0, server_default="0")
    # 重办: the closed ticket of hers this one redoes.
    redo_of_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    # When she first wrote on it, while claimed, since its assignee last opened it (未读).
    unread_at: Mapped[datetime | None]

    region: Mapped[Region] = relationship()
    assignee: Mapped[StaffUser | None] = relationship(foreign_keys=[assignee_id])
    redo_of: Mapped[Ticket | None] = relationship(remote_side=[id], foreign_keys=[redo_of_id])
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Ticket {self.reference} {self.category} {self.status}>"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def need_to_know(self) -> bool:
        """Urgent and violence tickets: read only by their assignee and those supervising."""
        return self.urgent or (self.category, self.subcategory) in NEED_TO_KNOW_ROUTES

    @classmethod
    def by_reference(cls, session: Session, reference: str) -> Ticket | None:
        return session.scalar(select(cls).where(cls.reference == reference))

    def record(self, action: str, actor: StaffUser | None = None, actor_type: str = "system", **detail: Any) -> TicketEvent:
        """Append an event to the audit trail (never edited, never deleted)."""
        event = TicketEvent(
            action=action,
            actor=actor,
            actor_type="staff" if actor is not None else actor_type,
            detail=detail,
        )
        session = object_session(self)
        if session is None:
            self.events.append(event)
        else:
            # Added beside the ticket rather than appended to `events`, which would load
            # the whole trail (every view is recorded, so it grows) just to add a line.
            event.ticket = self
            session.add(event)
        return event

    # -- what staff see ---------------------------------------------------------

    @property
    def due_at(self) -> datetime | None:
        """The next deadline among the running clocks; None once done or while paused."""
        return clocks.next_due(self)

    @classmethod
    def visible_to(cls, user: StaffUser, region: Region | None = None, per_row: bool = False) -> Any:
        """The condition for tickets in `user`'s subtree (narrowed to `region`'s, if given).

        The prefix match runs on the region table (thousands of rows, path-indexed),
        not on the ticket table, so the ticket side is a plain region_id IN (...), which
        both SQLite and PostgreSQL answer from an index whatever the collation.
        `per_row` asks instead, ticket by ticket, whether its region lies in the subtree:
        for walking a big scope in date order (see `queue`).
        """
        path = (region or user.region).path
        in_subtree = Region.path.startswith(path, autoescape=True)
        if per_row:
            return select(Region.id).where(Region.id == cls.region_id, in_subtree).exists()
        return cls.region_id.in_(select(Region.id).where(in_subtree))

    @classmethod
    def _scope(cls, session: Session, user: StaffUser, region: Region | None, per_row: bool = False) -> Any:
        """`visible_to` for a list: no condition at all when the subtree is the whole grid.

        A city-level account sees every ticket; saying so lets the database scan instead of
        probing the region index once per ticket (which is what `IN (every region)` costs).
        """
        path = (region or user.region).path
        inside, everything = session.execute(
            select(
                func.coalesce(func.sum(case((Region.path.startswith(path, autoescape=True), 1), else_=0)), 0),
                func.count(),
            ).select_from(Region)
        ).one()
        if inside == everything:
            return literal(True)
        return cls.visible_to(user, region, per_row=per_row)

    @classmethod
    def unattended(cls, session: Session, user: StaffUser, limit: int = 500) -> list[Ticket]:
        """Open tickets in `user`'s subtree that no one is there to work: no active
        caseworker or supervisor in the ticket's region or any region above it (无人负责).
        Admins keep the system, not cases, so an admin at the root does not count. Urgent first."""
        watcher_region = aliased(Region)
        ticket_region = aliased(Region)
        # Prefix by substring, not LIKE: a code holding "_" or "%" must not match others.
        watched = (
            select(StaffUser.id)
            .join(watcher_region, StaffUser.region_id == watcher_region.id)
            .where(
                StaffUser.active.is_(True),
                StaffUser.role.in_(("caseworker", "supervisor")),
                func.substr(ticket_region.path, 1, func.length(watcher_region.path)) == watcher_region.path,
            )
            .exists()
        )
        return list(
            session.scalars(
                select(cls)
                .join(ticket_region, cls.region_id == ticket_region.id)
                .where(cls.status.in_(OPEN_STATUSES), cls.visible_to(user), ~watched)
                .order_by(cls.urgent.desc(), cls.created_at, cls.id)
                .limit(limit)
            )
        )

    @classmethod
    def find_visible(cls, session: Session, user: StaffUser, reference: str) -> Ticket | None:
        """The ticket with this reference if `user` may see it; None otherwise (→ 404)."""
        return session.scalar(
            select(cls).where(cls.reference == reference.strip().upper(), cls.visible_to(user))
        )

    @classmethod
    def queue(
        cls, session: Session, user: StaffUser, filters: QueueFilter, page: int = 1, per_page: int = 50,
        total: int | None = None,
    ) -> list[Ticket]:
        """One page of a queue tab: urgent first, then the nearest deadline ("done" and
        "all": newest first). `total`, the tab's count if known, picks the plan."""
        # A big history (a city's "all" tab) is read newest-first along the date index and
        # stopped after a page; a small one is fetched by region and sorted in memory.
        # Planners cannot tell the two apart from `region_id IN (subtree)`, so we say it.
        walk_dates = filters.tab in ("done", "all") and (total is None or total > WALK_DATES_ABOVE)
        query = cls._filtered(session, user, filters, per_row=walk_dates).where(cls._tab_condition(user, filters.tab))
        if filters.tab in ("done", "all") and not walk_dates:
            # A few thousand at most: find them, then sort them. Left alone, a planner walks
            # the date index reading every ticket row to test a text filter on it.
            query = select(cls).where(cls.id.in_(query.with_only_columns(cls.id)))
        if filters.tab in ("done", "all"):
            order = [cls.created_at.desc(), cls.id.desc()]
        else:
            # The nearest running clock, kept on the row (clocks_changed); paused ones last.
            order = [cls.urgent.desc(), nulls_last(cls.next_due_at.asc()), cls.id]
        query = (
            query.options(joinedload(cls.region), joinedload(cls.assignee))
            .order_by(*order)
            .limit(per_page)
            .offset((max(page, 1) - 1) * per_page)
        )
        return list(session.scalars(query))

    @classmethod
    def listing(cls, session: Session, user: StaffUser, filters: QueueFilter) -> Select[Any]:
        """Every ticket a queue tab with `filters` holds, unordered (for exports)."""
        return cls._filtered(session, user, filters).where(cls._tab_condition(user, filters.tab))

    @classmethod
    def tab_counts(cls, session: Session, user: StaffUser, filters: QueueFilter) -> dict[str, int]:
        """How many tickets each tab holds under the same filters.

        One GROUP BY over (status, assignee), which the (region_id, status, assignee_id)
        index answers without reading a ticket row when no other filter is set.
        """
        query = cls._filtered(session, user, filters).with_only_columns(cls.status, cls.assignee_id, func.count())
        counts = dict.fromkeys(TABS, 0)
        for status, assignee_id, number in session.execute(query.group_by(cls.status, cls.assignee_id)):
            counts["all"] += number
            if status == "new":
                counts["unclaimed"] += number
            if status in OPEN_STATUSES:
                counts["open"] += number
            if status in DONE_STATUSES:
                counts["done"] += number
            if status == "claimed" and assignee_id == user.id:
                counts["mine"] += number
        return counts

    @classmethod
    def _filtered(cls, session: Session, user: StaffUser, filters: QueueFilter, per_row: bool = False) -> Select[Any]:
        query = select(cls).where(cls._scope(session, user, filters.region, per_row=per_row))
        if filters.category:
            query = query.where(cls.category == filters.category)
        if filters.status:
            query = query.where(cls.status == filters.status)
        if filters.urgent:
            query = query.where(cls.urgent.is_(True))
        if filters.subcategory is not None:
            query = query.where(cls.subcategory == filters.subcategory if filters.subcategory else cls.subcategory.is_(None))
        if filters.channel:
            query = query.where(cls.channel == filters.channel)
        if filters.assignee_id is not None:
            query = query.where(cls.assignee_id == filters.assignee_id)
        if filters.created_from is not None:
            query = query.where(cls.created_at >= filters.created_from)
        if filters.created_to is not None:
            query = query.where(cls.created_at < filters.created_to)
        if filters.members is not None:
            query = query.where(filters.members)
        if filters.light:
            query = query.where(cls.light_is(filters.light, filters.now or utcnow()))
        text = filters.text.strip()
        if filters.phone:
            # The number she gives when she calls the hotline: the whole number, never a part
            # of one (a partial match would let anyone browse numbers). The caller audits it.
            query = query.where(cls.contact_phone == filters.phone)
        elif text:
            # References are searched as typed ("0042", "nj-20261121"); the route's words
            # (婆婆, 抚养权) through the router's explanation; her own words only in the
            # tickets whose record the searcher may read anyway (their own, or as supervisor).
            if _WHOLE_REFERENCE.fullmatch(text.upper()):
                query = query.where(cls.reference == text.upper())  # read out on the phone: the index
            else:
                query = query.where(
                    or_(
                        cls.reference.contains(text.upper(), autoescape=True),
                        cls.route_explanation.contains(text, autoescape=True),
                        cls._her_words(user, text),
                    )
                )
        return query

    @classmethod
    def _her_words(cls, user: StaffUser, text: str) -> Any:
        """Tickets where she wrote `text`, among those `user` reads: the assignee's, or any for supervisors."""
        from models.message import Message  # message.py imports this module

        wrote = (
            select(Message.id)
            .where(Message.ticket_id == cls.id, Message.direction == "in", Message.text.contains(text, autoescape=True))
            .exists()
        )
        return wrote if user.supervises else (cls.assignee_id == user.id) & wrote

    def others_of_hers(self, session: Session, user: StaffUser, limit: int = 20) -> list[Ticket]:
        """Her other tickets that `user` may see: the same chat account, or the same phone number."""
        same = (Ticket.channel == self.channel) & (Ticket.channel_user == self.channel_user)
        if self.contact_phone:
            same = same | (Ticket.contact_phone == self.contact_phone)
        return list(
            session.scalars(
                select(Ticket)
                .where(same, Ticket.id != self.id, Ticket.visible_to(user))
                .options(joinedload(Ticket.region))
                .order_by(Ticket.created_at.desc(), Ticket.id.desc())
                .limit(limit)
            )
        )

    def mark_read(self, user: StaffUser) -> bool:
        """Its assignee opened it: what she wrote is read. True if that changed the row."""
        if self.unread_at is None or self.assignee_id != user.id:
            return False
        self.unread_at = None
        return True

    @classmethod
    def light_is(cls, light: str, now: datetime) -> Any:
        """The condition for tickets whose running clocks show `light` at `now` (red:
        one is overdue; yellow: one is past `sla.yellow_at`, as the sweep last set it)."""
        overdue = cls.next_due_at <= now
        if light == "red":
            return overdue
        yellow = cls.yellow_at <= now
        if light == "yellow":
            return yellow & ~overdue
        return or_(cls.next_due_at.is_(None), ~overdue) & or_(cls.yellow_at.is_(None), ~yellow)

    @classmethod
    def _tab_condition(cls, user: StaffUser, tab: str) -> Any:
        if tab == "unclaimed":
            return cls.status == "new"
        if tab == "mine":
            return (cls.assignee_id == user.id) & (cls.status == "claimed")
        if tab == "open":
            return cls.status.in_(OPEN_STATUSES)
        if tab == "done":
            return cls.status.in_(DONE_STATUSES)
        return literal(True)

    def permits(self, user: StaffUser, action: str) -> bool:
        """Whether `user` may do `action` to this ticket.

        Out of scope means nothing (and the handler answers 404, so existence does not
        leak). Anyone in scope may see the queue line and claim; anyone may read the
        record except of a need-to-know ticket (then the assignee, supervisors and
        admins); assigning and transferring are for supervisors and admins; the rest is
        for the assignee, or a supervisor or admin. Anyone in scope may also mark a
        ticket urgent: danger is everybody's business.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        if not user.active or not user.sees(self.region):
            return False
        if action in ("view", "claim", "urgent"):
            return True
        if user.supervises:
            return True
        if action == "read":
            # Need to know: the assignee; supervisors and admins of the region chain
            # (anyone whose subtree holds it, above) read every ticket.
            return not self.need_to_know or self.assignee_id == user.id
        if action in SUPERVISOR_ACTIONS:
            return False
        return self.assignee_id == user.id

    # -- staff transitions (each checks, records an event, never commits) -------

    def claim(self, session: Session, by: StaffUser, now: datetime) -> None:
        """Take the ticket; exactly one of any number of simultaneous claimers wins.

        A conditional UPDATE decides: on PostgreSQL the losers wait for the winner's row
        lock and then find the condition false; on SQLite the write lock serialises them.
        """
        won = self._swap(
            session,
            (Ticket.status == "new", Ticket.assignee_id.is_(None)),
            status="claimed", assignee_id=by.id, claimed_at=func.coalesce(Ticket.claimed_at, now), updated_at=now,
        )
        if not won:
            if self.status == "claimed" and self.assignee is not None:
                if self.assignee_id == by.id:
                    raise Conflict("您已认领此工单")
                raise Conflict(f"已被 {self.assignee.display_name} 认领")
            raise Conflict(f"工单{STATUS_LABELS.get(self.status, self.status)}，不能认领")
        self.record("claimed", actor=by)
        self.clocks_changed(now)

    def release(self, session: Session, by: StaffUser, reason: str, now: datetime) -> None:
        """Give a claimed ticket back to the queue of its region."""
        reason = _text(reason, "reason", MAX_REASON_CHARS, required=False)
        previous = self.assignee_id
        if self.status != "claimed" or not self._swap(
            session,
            (Ticket.status == "claimed", Ticket.assignee_id == previous),
            status="new", assignee_id=None, updated_at=now,
        ):
            raise self._changed("释放")
        self.record("released", actor=by, reason=reason, previous_assignee=previous)
        self.clocks_changed(now)

    def assign(self, session: Session, by: StaffUser, assignee: StaffUser, now: datetime) -> None:
        """A supervisor gives the ticket to a colleague who works in its region."""
        if not assignee.active or not assignee.sees(self.region):
            raise InvalidInput("该工作人员不负责这个工单所在的区域", "assignee")
        if not assignee.takes_cases:
            raise InvalidInput("管理员不承办工单，请指派给个案工作者或督办人", "assignee")
        if self.assignee_id == assignee.id and self.status == "claimed":
            raise InvalidInput("工单已由该工作人员处理", "assignee")
        previous = self.assignee_id
        if self.status not in OPEN_STATUSES or not self._swap(
            session,
            (Ticket.status.in_(OPEN_STATUSES), _same(Ticket.assignee_id, previous)),
            status="claimed", assignee_id=assignee.id, claimed_at=func.coalesce(Ticket.claimed_at, now),
            updated_at=now,
        ):
            raise self._changed("指派")
        self.record("assigned", actor=by, assignee=assignee.id, assignee_name=assignee.display_name,
                    previous_assignee=previous)
        self.clocks_changed(now)

    def transfer(
        self, session: Session, by: StaffUser, region: Region, assignee: StaffUser | None, reason: str, now: datetime
    ) -> None:
        """转办: move the ticket to another grid (and person), with the reason on record."""
        reason = _text(reason, "reason", MAX_REASON_CHARS)
        if not by.sees(region):
            raise InvalidInput("只能转办到您管辖范围内的区域", "region")
        if assignee is not None and (not assignee.active or not assignee.sees(region)):
            raise InvalidInput("该工作人员不负责所选区域", "assignee")
        if region.id == self.region_id and (assignee is None or assignee.id == self.assignee_id):
            raise InvalidInput("请选择另一个区域或另一位工作人员", "region")
        previous_region, previous = self.region_id, self.assignee_id
        values: dict[str, Any] = dict(region_id=region.id, updated_at=now)
        if assignee is None:
            values.update(status="new", assignee_id=None)
        else:
            values.update(status="claimed", assignee_id=assignee.id, claimed_at=func.coalesce(Ticket.claimed_at, now))
        if self.status not in OPEN_STATUSES or not self._swap(
            session,
            (Ticket.status.in_(OPEN_STATUSES), Ticket.region_id == previous_region, _same(Ticket.assignee_id, previous)),
            **values,
        ):
            raise self._changed("转办")
        self.record(
            "transferred", actor=by, reason=reason,
            from_region=session.get(Region, previous_region).code, to_region=region.code,
            assignee=assignee.id if assignee else None, previous_assignee=previous,
        )
        self.clocks_changed(now)

    def add_note(self, session: Session, by: StaffUser, text: str, now: datetime):
        """An internal note for colleagues (never sent to her)."""
        from models.note import TicketNote  # note.py imports this module

        text = _text(text, "text", MAX_NOTE_CHARS)
        note = TicketNote(ticket=self, author=by, text=text, created_at=now)
        session.add(note)
        session.flush()
        self.record("note_added", actor=by, note=note.id)
        return note

    def reply(self, session: Session, by: StaffUser, text: str, now: datetime):
        """Send her a message through her channel (queued in the outbox, same transaction)."""
        from models.outbox import OutboxMessage  # outbox.py imports this module

        text = _text(text, "text", MAX_REPLY_CHARS)
        if self.channel in OFFLINE_CHANNELS:
            raise Conflict("来电或来访登记的工单没有在线对话，请电话联系她并登记电话联系")
        if self.status != "claimed":
            raise Conflict("请先认领工单再回复" if self.status == "new" else "工单已办结；如需继续处理，请先重新打开")
        item = OutboxMessage.enqueue(
            session, channel=self.channel, channel_user=self.channel_user, text=text, now=now,
            ticket=self, author_id=by.id,
        )
        # The first-reply clock stops when a reply reaches her (bot/delivery.py), not here.
        self.updated_at = now
        session.flush()
        # The trail says that a reply was sent, not what it said (that is in the transcript).
        self.record("replied", actor=by, outbox=item.id)
        return item

    def resolve(self, session: Session, by: StaffUser, outcome: str, note: str, now: datetime) -> None:
        """办结: close the work with an outcome that fits the route; follow-up comes next."""
        allowed = outcomes_for(self.category, self.subcategory)
        if outcome not in allowed:
            labels = "、".join(OUTCOME_LABELS[o] for o in allowed)
            raise InvalidInput(f"请选择办结结果：{labels}", "outcome")
        note = _text(note, "note", MAX_NOTE_CHARS, required=False)
        if self.status != "claimed" or not self._swap(
            session,
            (Ticket.status == "claimed", _same(Ticket.assignee_id, self.assignee_id)),
            status="resolved", resolved_at=now, outcome=outcome, resolution_note=note, updated_at=now,
        ):
            raise self._changed("办结")
        self.record("resolved", actor=by, outcome=outcome)
        self.clocks_changed(now)

    def reopen(self, session: Session, by: StaffUser, reason: str, now: datetime) -> None:
        """Back to work after resolution: to the assignee if there is one, else the queue."""
        reason = _text(reason, "reason", MAX_REASON_CHARS)
        previous_outcome = self.outcome
        if self.status not in DONE_STATUSES or not self._swap(
            session,
            (Ticket.status.in_(DONE_STATUSES), _same(Ticket.assignee_id, self.assignee_id)),
            status="claimed" if self.assignee_id else "new",
            resolved_at=None, closed_at=None, outcome=None, updated_at=now,
        ):
            raise self._changed("重新打开")
        self.record("reopened", actor=by, reason=reason, previous_outcome=previous_outcome)
        self.clocks_changed(now)

    def correct_route(self, session: Session, by: StaffUser, category: str, now: datetime,
                      subcategory: str | None = None, urgent: bool | None = None,
                      policy: clocks.Policy | None = None) -> bool:
        """Put the ticket on the right route (and urgency); the event keeps what the router saw,
        and her routed words are kept, numbers masked, as an example the router learns from.
        A change of urgency goes through `set_urgent` (its clocks, its event) when `policy`
        is given; True if the ticket became urgent (the caller raises the alert)."""
        from models.learning import RouteExample

        if category not in CATEGORIES:
            raise InvalidInput("请选择咨询、调解或服务", "category")
        new_urgent = self.urgent if urgent is None else urgent
        if (category, subcategory) == (self.category, self.subcategory) and new_urgent == self.urgent:
            raise InvalidInput("工单已经在这个分类", "category")
        if self.status not in OPEN_STATUSES:
            raise Conflict("工单已办结，不能再改分类")
        self.record(
            "route_corrected", actor=by, from_category=self.category, from_subcategory=self.subcategory,
            to_category=category, to_subcategory=subcategory, from_urgent=self.urgent, to_urgent=new_urgent,
            keywords=list(self.route_keywords or []), explanation=self.route_explanation, confidence=self.confidence,
        )
        became_urgent = new_urgent and not self.urgent
        self.category, self.subcategory, self.updated_at = category, subcategory, now
        if new_urgent != self.urgent:
            if policy is not None:
                self.set_urgent(by, new_urgent, "更正分流时一并更正", policy, now)
            else:
                self.record("marked_urgent" if new_urgent else "urgent_cleared", actor=by, via="route")
                self.urgent = new_urgent
        RouteExample.keep(session, self.id, self.routed_text(session), category, subcategory, new_urgent, by, now)
        return became_urgent

    def routed_text(self, session: Session) -> str:
        """Her words the router read to open this ticket: her messages up to its opening."""
        from models.message import Message

        rows = session.scalars(
            select(Message.text).where(Message.ticket_id == self.id, Message.direction == "in",
                                       Message.kind.in_(("text", "voice")), Message.created_at <= self.created_at)
            .order_by(Message.id)
        ).all()
        return "\n".join(t for t in rows if t)

    # -- clocks (models/clocks.py) ---------------------------------------------

    def clocks_changed(self, now: datetime) -> None:
        """Keep the queue's nearest deadline current and have the sweep look again."""
        self.next_due_at = clocks.next_due(self)
        self.sweep_at, self.yellow_at = now, None

    def take_sweep(self, session: Session, now: datetime, step: clocks.SweepStep) -> bool:
        """Claim the sweep's look at this ticket up to `now` (compare-and-set on the marks the
        sweep read): True for exactly one of any number of concurrent sweeps."""
        return self._swap(
            session,
            (Ticket.sweep_at == self.sweep_at, _same(Ticket.swept_until, self.swept_until)),
            swept_until=now, sweep_at=step.next_look, yellow_at=step.yellow_at, escalation_level=step.level,
        )

    def clocks(self, policy: clocks.Policy, now: datetime) -> list[clocks.Clock]:
        """Each clock's due time, state and light at `now`."""
        return clocks.clocks_of(self, policy, now)

    def reached(self, now: datetime) -> None:
        """She has heard from us (a reply delivered, or a phone call): the first-reply clock stops."""
        if self.first_response_at is None:
            self.first_response_at = now
            self.clocks_changed(now)

    def record_contact(self, session: Session, by: StaffUser, note: str, now: datetime) -> None:
        """A phone contact with her, on the record (it stops the first-reply clock)."""
        note = _text(note, "note", MAX_REASON_CHARS, required=False)
        if self.status not in OPEN_STATUSES:
            raise Conflict("工单已办结，不能再登记联系")
        self.record("contacted", actor=by, note=note)
        self.reached(now)
        self.updated_at = now

    def pause(self, session: Session, by: StaffUser, reason: str, until: datetime | None, now: datetime) -> None:
        """Stop the clocks while the ticket waits on her (等待她补充, or her safe time)."""
        if reason not in clocks.PAUSE_REASONS:
            raise InvalidInput("请选择暂停原因：" + "、".join(clocks.PAUSE_REASONS.values()), "reason")
        if reason == "safe_time" and (until is None or until <= now):
            raise InvalidInput("请填写她方便联系的时间（须晚于现在）", "until")
        if self.status not in OPEN_STATUSES:
            raise Conflict("工单已办结，无需暂停计时")
        if self.paused_at is not None:
            raise Conflict("计时已暂停")
        self.paused_at, self.pause_reason, self.updated_at = now, reason, now
        self.pause_until = until if reason == "safe_time" else None
        self.record("paused", actor=by, reason=reason, until=until.isoformat() if self.pause_until else None)
        self.clocks_changed(now)

    def resume(self, policy: clocks.Policy, now: datetime, by: StaffUser | None = None, why: str = "staff") -> None:
        """The clocks run again, each with the time it had left when paused."""
        if self.paused_at is None:
            raise Conflict("计时没有暂停")
        for column, due in clocks.resumed_deadlines(self, policy, now).items():
            setattr(self, column, due)
        reason = self.pause_reason
        self.paused_at = self.pause_until = self.pause_reason = None
        self.updated_at = now
        self.record("resumed", actor=by, reason=reason, why=why)
        self.clocks_changed(now)

    def set_urgent(self, by: StaffUser, urgent: bool, reason: str, policy: clocks.Policy, now: datetime) -> bool:
        """Staff mark (or unmark) the ticket urgent; marking starts the urgent clocks. True if it changed."""
        reason = _text(reason, "reason", MAX_REASON_CHARS)
        if self.status not in OPEN_STATUSES:
            raise Conflict("工单已办结，不能再改紧急程度")
        if bool(self.urgent) == urgent:
            raise InvalidInput("工单已是紧急" if urgent else "工单本来就不是紧急", "urgent")
        if urgent:
            for column, due in clocks.urgent_deadlines(self, policy, now).items():
                setattr(self, column, due)
        else:
            # Back on the route's clocks, counted from when she first wrote.
            normal = policy.deadlines(self.created_at, self.category, urgent=False)
            for name, _ in clocks.unstopped(self):
                setattr(self, f"{name}_due_at", normal[name])
        self.urgent, self.updated_at = urgent, now
        self.record("urgent_marked" if urgent else "urgent_unmarked", actor=by, reason=reason)
        self.clocks_changed(now)
        return True

    def request_extension(self, by: StaffUser, until: datetime, reason: str, now: datetime) -> None:
        """延期: the assignee asks, before the resolve deadline, for more time."""
        reason = _text(reason, "reason", MAX_REASON_CHARS)
        if self.status != "claimed" or self.assignee_id != by.id:
            raise Conflict("只有工单的承办人可以申请延期")
        if self.extension_until is not None:
            raise Conflict("已有一个延期申请待审批")
        if now >= self.resolve_due_at:
            raise Conflict("办结时限已过，不能再申请延期")
        if until <= self.resolve_due_at:
            raise InvalidInput("延期后的时限须晚于现在的办结时限", "until")
        self.extension_until, self.extension_reason, self.extension_by_id = until, reason, by.id
        self.updated_at = now
        self.record("extension_requested", actor=by, until=until.isoformat(), reason=reason)

    def decide_extension(self, by: StaffUser, approve: bool, now: datetime) -> None:
        """A supervisor of the region approves (the deadline moves) or refuses a pending extension."""
        if not by.supervises:
            raise Conflict("只有督办人可以审批延期")
        if self.extension_until is None:
            raise Conflict("没有待审批的延期申请")
        until = self.extension_until
        if approve:
            self.resolve_due_at, self.extensions = until, (self.extensions or 0) + 1
        self.extension_until = self.extension_reason = self.extension_by_id = None
        self.updated_at = now
        self.record("extension_approved" if approve else "extension_refused", actor=by, until=until.isoformat())
        self.clocks_changed(now)

    def return_up(self, session: Session, by: StaffUser, reason: str, now: datetime) -> Region:
        """退单: not this region's business; the ticket goes to the region above to re-dispatch."""
        reason = _text(reason, "reason", MAX_REASON_CHARS)
        parent = self.region.parent
        if parent is None:
            raise Conflict("工单已在最上级区域，无法退回")
        previous_region, previous = self.region_id, self.assignee_id
        if self.status not in OPEN_STATUSES or not self._swap(
            session,
            (Ticket.status.in_(OPEN_STATUSES), Ticket.region_id == previous_region, _same(Ticket.assignee_id, previous)),
            region_id=parent.id, status="new", assignee_id=None, returns=Ticket.returns + 1, updated_at=now,
        ):
            raise self._changed("退回")
        self.record(
            "returned", actor=by, reason=reason, from_region=session.get(Region, previous_region).code,
            to_region=parent.code, previous_assignee=previous,
        )
        self.clocks_changed(now)
        return parent

    def link_redo(self, session: Session, by: StaffUser, original: Ticket, redo_days: int, now: datetime) -> None:
        """重办: this new ticket takes up again a closed case of hers from the last `redo_days` days."""
        if original.id == self.id or (original.channel, original.channel_user) != (self.channel, self.channel_user):
            raise InvalidInput("只能关联同一位求助人的工单", "original")
        if original.status != "closed" or original.closed_at is None:
            raise InvalidInput("只能关联已关闭的工单", "original")
        if self.created_at - original.closed_at > timedelta(days=redo_days):
            raise InvalidInput(f"原工单关闭已超过 {redo_days} 天", "original")
        if self.redo_of_id is not None:
            raise Conflict("此工单已关联为重办")
        self.redo_of_id, self.updated_at = original.id, now
        self.record("redo_linked", actor=by, original=original.reference)
        original.record("redone", actor=by, redo=self.reference)

    def record_view(self, by: StaffUser, via: str) -> None:
        """Opening her transcript and contact details is itself on the record."""
        self.record("viewed", actor=by, via=via)

    def _swap(self, session: Session, conditions: tuple[Any, ...], **values: Any) -> bool:
        """Compare-and-set: update this row only if `conditions` still hold in the database.

        Whatever the outcome, the object is refreshed to the row as it now is, so a
        loser can say who won.
        """
        result = session.execute(
            update(Ticket)
            .where(Ticket.id == self.id, *conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.refresh(self)
        return result.rowcount == 1

    def _changed(self, verb: str) -> Conflict:
        """The conflict for an action the ticket's current state does not allow."""
        return Conflict(f"工单当前{STATUS_LABELS.get(self.status, self.status)}，不能{verb}（可能刚被他人处理，请刷新）")


@dataclass
class QueueFilter:
    """What the queue shows: a tab, narrowed by route, status, region, urgency and text."""

    tab: str = "unclaimed"
    category: str | None = None
    status: str | None = None
    region: Region | None = None
    urgent: bool = False
    text: str = ""
    # green | yellow | red (models/clocks.py), as of `now` (default: the current time).
    light: str | None = None
    now: datetime | None = None
    # wechat | telegram | phone | visit: the online and offline tracks apart.
    channel: str | None = None
    # A whole phone number searched for (normalised), instead of `text`.
    phone: str | None = None
    # The dashboard's drill-downs: a route's subcategory, an assignee, and tickets
    # created in [created_from, created_to).
    subcategory: str | None = None
    assignee_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    # The tickets behind one of the dashboard's rates (models/stats.rate_members): a
    # condition on Ticket, applied as it is.
    members: Any = None


def _same(column: Any, value: int | None) -> Any:
    return column.is_(None) if value is None else column == value


def _text(value: str, field: str, limit: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput("请填写内容" if field in ("text", "note") else "请填写原因", field)
    if len(value) > limit:
        raise InvalidInput(f"最多 {limit} 个字", field)
    return value


class TicketEvent(Base):
    """One line of a ticket's audit trail: who did what, when."""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # system | woman | staff
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    action: Mapped[str] = mapped_column(String(48))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
    actor: Mapped[StaffUser | None] = relationship()

    @classmethod
    def trail(cls, session: Session, ticket: Ticket, limit: int = 500) -> list[TicketEvent]:
        """The ticket's audit trail (its last `limit` lines), oldest first, actors loaded."""
        newest = session.scalars(
            select(cls)
            .where(cls.ticket_id == ticket.id)
            .options(joinedload(cls.actor))
            .order_by(cls.id.desc())
            .limit(limit)
        ).all()
        return list(reversed(newest))

    @classmethod
    def views_seen_by(
        cls, session: Session, user: StaffUser, ticket: Ticket | None = None, viewer: StaffUser | None = None,
        limit: int = 200,
    ) -> list[TicketEvent]:
        """Who opened which ticket of `user`'s subtree when, newest first (a supervisor's check)."""
        query = (
            select(cls)
            .join(cls.ticket)
            .where(cls.action == "viewed", Ticket.visible_to(user))
            .options(joinedload(cls.actor), joinedload(cls.ticket))
            .order_by(cls.id.desc())
            .limit(limit)
        )
        if ticket is not None:
            query = query.where(cls.ticket_id == ticket.id)
        if viewer is not None:
            query = query.where(cls.actor_id == viewer.id)
        return list(session.scalars(query))

    def __repr__(self) -> str:
        return f"<TicketEvent {self.action} on {self.ticket_id}>"
