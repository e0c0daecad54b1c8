"""Tickets (工单), their public references and their append-only audit trail.

The ticket's transitions are models/lifecycle.py's (shared with the desk's plain rows);
the queue's reads (tabs, filters, counts, plans) are models/queue.py's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Date, Engine, ForeignKey, Index, String, Text, bindparam, func, select, update
from sqlalchemy.orm import Mapped, Session, aliased, joinedload, mapped_column, object_session, relationship

from models import clocks
from models.base import Base, insert_unless_present, utcnow
from models.lifecycle import DONE_STATUSES, OPEN_STATUSES, Conflict, InvalidInput, Lifecycle, TicketError
from models.queue import TABS, QueueFilter, QueueReads
from models.region import Region
from models.staff import StaffUser
from models.prepared import Prepared

# References carry the date as the woman and the caseworker see it: China Standard Time.
CHINA_TZ = timezone(timedelta(hours=8), "CST")

# The keys only: the words staff read are handlers/labels.py's, hers bot/replies.py's.
CATEGORIES = ("consultation", "mediation", "service")

STATUSES = ("new", "claimed", "resolved", "closed", "withdrawn")

# How a case can end, by route.
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
# Every channel a ticket comes by: the chats, and the tracks staff record by hand.
CHANNELS = ("wechat", "telegram", "phone", "visit")


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

# The transitions' errors live in models/lifecycle.py, the queue's reads in models/queue.py.
__all__ = ["Conflict", "DONE_STATUSES", "InvalidInput", "OPEN_STATUSES", "QueueFilter", "TABS", "TicketError"]


class ReferenceCounter(Base):
    """The last reference number handed out on one day."""

    __tablename__ = "reference_counter"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


# Built once: every new ticket runs it (see models/desk.py on why that matters).
_BUMP_REFERENCE = Prepared(
    update(ReferenceCounter.__table__)
    .where(ReferenceCounter.__table__.c.day == bindparam("today"))
    .values(last=ReferenceCounter.__table__.c.last + 1)
    .returning(ReferenceCounter.__table__.c.last)
)


def _bump_reference(bind: Session | Connection, day: Any) -> int | None:
    if isinstance(bind, Connection):  # a delivery's (models/prepared.py)
        return _BUMP_REFERENCE.scalar(bind, {"today": day})
    return bind.scalar(_BUMP_REFERENCE.statement, {"today": day})


# The bump as a transaction of its own on PostgreSQL (see next_reference_apart): the
# statement commits by itself, and set_config(..., true) turns synchronous_commit off for
# that transaction alone, so its commit does not wait for the disk. Never inside a
# caller's transaction: it would make the caller's commit asynchronous too.
_BUMP_REFERENCE_UNSYNCED = (
    update(ReferenceCounter.__table__)
    .where(
        ReferenceCounter.__table__.c.day == bindparam("today"),
        func.set_config("synchronous_commit", "off", True).is_not(None),
    )
    .values(last=ReferenceCounter.__table__.c.last + 1)
    .returning(ReferenceCounter.__table__.c.last)
)


def _reference(bind: Session | Connection, prefix: str, now: datetime, bump: Callable[[Any], int | None]) -> str:
    day = now.astimezone(CHINA_TZ).date()
    number = bump(day)
    if number is None:
        # The day's first reference: create its counter (unless a concurrent first got
        # there before us), then bump it.
        bind.execute(insert_unless_present(bind, ReferenceCounter.__table__, ["day"], day=day, last=0))
        number = bump(day)
    return f"{prefix}-{day:%Y%m%d}-{number:04d}"


def next_reference(bind: Session | Connection, prefix: str, now: datetime) -> str:
    """The next free reference of the day, e.g. NJ-20261121-0042; safe across processes.
    Bumped in `bind`'s transaction: the day's counter stays locked until that ends."""
    return _reference(bind, prefix, now, lambda day: _bump_reference(bind, day))


def next_reference_apart(engine: Engine, prefix: str, now: datetime) -> str:
    """The same on PostgreSQL, each statement its own transaction on a connection of its
    own (autocommit): the counter is locked for one statement, and one round trip bumps
    it where BEGIN, SET LOCAL, UPDATE and COMMIT took four. A caller that then rolls back
    leaves a gap in the day's numbers, never a duplicate."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as own:
        return _reference(own, prefix, now, lambda day: own.scalar(_BUMP_REFERENCE_UNSYNCED, {"today": day}))


class Ticket(Lifecycle, QueueReads, Base):
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

    def change(self, **values: Any) -> None:
        """Set columns on the mapped object (written at the session's flush)."""
        for name, value in values.items():
            setattr(self, name, value)

    def _write(self, guard: tuple[Any, ...] | None, **values: Any) -> bool:
        """Compare-and-set on `guard` (see `_swap`); without a guard, set the columns."""
        if guard is None:
            self.change(**values)
            return True
        return self._swap(object_session(self), guard, **values)

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
                    raise Conflict("claimed_by_you")
                raise Conflict("claimed_by", name=self.assignee.display_name)
            raise Conflict("cannot_claim", status=self.status)
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
            raise self._changed("release")
        self.record("released", actor=by, reason=reason, previous_assignee=previous)
        self.clocks_changed(now)

    def assign(self, session: Session, by: StaffUser, assignee: StaffUser, now: datetime) -> None:
        """A supervisor gives the ticket to a colleague who works in its region."""
        if not assignee.active or not assignee.sees(self.region):
            raise InvalidInput("assignee_outside_region", "assignee")
        if not assignee.takes_cases:
            raise InvalidInput("admin_takes_no_tickets", "assignee")
        if self.assignee_id == assignee.id and self.status == "claimed":
            raise InvalidInput("already_assignee", "assignee")
        previous = self.assignee_id
        if self.status not in OPEN_STATUSES or not self._swap(
            session,
            (Ticket.status.in_(OPEN_STATUSES), _same(Ticket.assignee_id, previous)),
            status="claimed", assignee_id=assignee.id, claimed_at=func.coalesce(Ticket.claimed_at, now),
            updated_at=now,
        ):
            raise self._changed("assign")
        self.record("assigned", actor=by, assignee=assignee.id, assignee_name=assignee.display_name,
                    previous_assignee=previous)
        self.clocks_changed(now)

    def transfer(
        self, session: Session, by: StaffUser, region: Region, assignee: StaffUser | None, reason: str, now: datetime
    ) -> None:
        """转办: move the ticket to another grid (and person), with the reason on record."""
        reason = _text(reason, "reason", MAX_REASON_CHARS)
        if not by.sees(region):
            raise InvalidInput("transfer_outside_scope", "region")
        if assignee is not None and (not assignee.active or not assignee.sees(region)):
            raise InvalidInput("assignee_outside_chosen_region", "assignee")
        if region.id == self.region_id and (assignee is None or assignee.id == self.assignee_id):
            raise InvalidInput("transfer_to_same", "region")
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
            raise self._changed("transfer")
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
            raise Conflict("offline_no_chat")
        if self.status != "claimed":
            raise Conflict("claim_before_reply" if self.status == "new" else "reopen_before_reply")
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
            raise InvalidInput("choose_outcome", "outcome", outcomes=allowed)
        note = _text(note, "note", MAX_NOTE_CHARS, required=False)
        if self.status != "claimed" or not self._swap(
            session,
            (Ticket.status == "claimed", _same(Ticket.assignee_id, self.assignee_id)),
            status="resolved", resolved_at=now, outcome=outcome, resolution_note=note, updated_at=now,
        ):
            raise self._changed("resolve")
        self.record("resolved", actor=by, outcome=outcome)
        self.clocks_changed(now)

    def reopen(self, session: Session, by: StaffUser, reason: str, now: datetime) -> None:
        """Back to work after resolution: to the assignee if there is one, else the queue."""
        reason = _text(reason, "reason", MAX_REASON_CHARS)
        if self.status not in DONE_STATUSES or not self.reopen_to_work(
            now, reason, by=by,
            guard=(Ticket.status.in_(DONE_STATUSES), _same(Ticket.assignee_id, self.assignee_id)),
        ):
            raise self._changed("reopen")

    def correct_route(self, session: Session, by: StaffUser, category: str, now: datetime,
                      subcategory: str | None = None, urgent: bool | None = None,
                      policy: clocks.Policy | None = None, urgent_reason: str = "") -> bool:
        """Put the ticket on the right route (and urgency); the event keeps what the router saw,
        and her routed words are kept, numbers masked, as an example the router learns from.
        A change of urgency goes through `set_urgent` (its clocks, its event, `urgent_reason`
        as its reason: the caller's words) when `policy` is given; True if the ticket became
        urgent (the caller raises the alert)."""
        from models.learning import RouteExample

        if category not in CATEGORIES:
            raise InvalidInput("choose_category", "category")
        new_urgent = self.urgent if urgent is None else urgent
        if (category, subcategory) == (self.category, self.subcategory) and new_urgent == self.urgent:
            raise InvalidInput("same_route", "category")
        if self.status not in OPEN_STATUSES:
            raise Conflict("route_after_done")
        self.record(
            "route_corrected", actor=by, from_category=self.category, from_subcategory=self.subcategory,
            to_category=category, to_subcategory=subcategory, from_urgent=self.urgent, to_urgent=new_urgent,
            keywords=list(self.route_keywords or []), explanation=self.route_explanation, confidence=self.confidence,
        )
        became_urgent = new_urgent and not self.urgent
        self.category, self.subcategory, self.updated_at = category, subcategory, now
        if new_urgent != self.urgent:
            if policy is not None:
                self.set_urgent(by, new_urgent, urgent_reason, policy, now)
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
            raise Conflict("contact_after_done")
        self.record("contacted", actor=by, note=note)
        self.reached(now)
        self.updated_at = now

    def pause(self, session: Session, by: StaffUser, reason: str, until: datetime | None, now: datetime) -> None:
        """Stop the clocks while the ticket waits on her (等待她补充, or her safe time)."""
        if reason not in clocks.PAUSE_REASONS:
            raise InvalidInput("choose_pause_reason", "reason")
        if reason == "safe_time" and (until is None or until <= now):
            raise InvalidInput("safe_time_needed", "until")
        if self.status not in OPEN_STATUSES:
            raise Conflict("pause_after_done")
        if self.paused_at is not None:
            raise Conflict("already_paused")
        self.pause_clocks(now, reason, until if reason == "safe_time" else None, by=by)

    def set_urgent(self, by: StaffUser, urgent: bool, reason: str, policy: clocks.Policy, now: datetime) -> bool:
        """Staff mark (or unmark) the ticket urgent; marking starts the urgent clocks. True if it changed."""
        reason = _text(reason, "reason", MAX_REASON_CHARS)
        if self.status not in OPEN_STATUSES:
            raise Conflict("urgent_after_done")
        if bool(self.urgent) == urgent:
            raise InvalidInput("already_urgent" if urgent else "already_not_urgent", "urgent")
        if urgent:
            self.make_urgent(policy, now, "urgent_marked", by=by, reason=reason)
            return True
        # Back on the route's clocks, counted from when she first wrote.
        normal = policy.deadlines(self.created_at, self.category, urgent=False)
        for name, _ in clocks.unstopped(self):
            setattr(self, f"{name}_due_at", normal[name])
        self.urgent, self.updated_at = urgent, now
        self.record("urgent_unmarked", actor=by, reason=reason)
        self.clocks_changed(now)
        return True

    def request_extension(self, by: StaffUser, until: datetime, reason: str, now: datetime) -> None:
        """延期: the assignee asks, before the resolve deadline, for more time."""
        reason = _text(reason, "reason", MAX_REASON_CHARS)
        if self.status != "claimed" or self.assignee_id != by.id:
            raise Conflict("extend_not_assignee")
        if self.extension_until is not None:
            raise Conflict("extension_pending")
        if now >= self.resolve_due_at:
            raise Conflict("extend_after_deadline")
        if until <= self.resolve_due_at:
            raise InvalidInput("extension_not_later", "until")
        self.extension_until, self.extension_reason, self.extension_by_id = until, reason, by.id
        self.updated_at = now
        self.record("extension_requested", actor=by, until=until.isoformat(), reason=reason)

    def decide_extension(self, by: StaffUser, approve: bool, now: datetime) -> None:
        """A supervisor of the region approves (the deadline moves) or refuses a pending extension."""
        if not by.supervises:
            raise Conflict("decide_not_supervisor")
        if self.extension_until is None:
            raise Conflict("no_extension_pending")
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
            raise Conflict("return_at_top")
        previous_region, previous = self.region_id, self.assignee_id
        if self.status not in OPEN_STATUSES or not self._swap(
            session,
            (Ticket.status.in_(OPEN_STATUSES), Ticket.region_id == previous_region, _same(Ticket.assignee_id, previous)),
            region_id=parent.id, status="new", assignee_id=None, returns=Ticket.returns + 1, updated_at=now,
        ):
            raise self._changed("return")
        self.record(
            "returned", actor=by, reason=reason, from_region=session.get(Region, previous_region).code,
            to_region=parent.code, previous_assignee=previous,
        )
        self.clocks_changed(now)
        return parent

    def link_redo(self, session: Session, by: StaffUser, original: Ticket, redo_days: int, now: datetime) -> None:
        """重办: this new ticket takes up again a closed case of hers from the last `redo_days` days."""
        if original.id == self.id or (original.channel, original.channel_user) != (self.channel, self.channel_user):
            raise InvalidInput("redo_other_woman", "original")
        if original.status != "closed" or original.closed_at is None:
            raise InvalidInput("redo_not_closed", "original")
        if self.created_at - original.closed_at > timedelta(days=redo_days):
            raise InvalidInput("redo_too_old", "original", days=redo_days)
        if self.redo_of_id is not None:
            raise Conflict("already_redo")
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

    def _changed(self, action: str) -> Conflict:
        """The conflict for an action the ticket's current state does not allow."""
        return Conflict("changed", status=self.status, action=action)


def _same(column: Any, value: int | None) -> Any:
    return column.is_(None) if value is None else column == value


def _text(value: str, field: str, limit: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput("text_required" if field in ("text", "note") else "reason_required", field)
    if len(value) > limit:
        raise InvalidInput("too_long", field, limit=limit)
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
