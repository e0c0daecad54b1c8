"""The intake desk's reads and writes: plain rows and Core statements, no unit of work.

A woman's message is the system's hot path. Through the ORM's unit of work a delivery
cost about 2.5 ms of Python, nearly all of it bookkeeping for rows written once and
never read back (bench/README.md). Here a delivery reads what it needs as plain rows and
changes them in memory, inside the caller's transaction, with no flush.

What is written when:
- at `Desk.save`, once: each changed ticket's UPDATE, the transcript lines not yet
  inserted (and the outbox items of queued ones), lines changed since an early insert,
  the audit trail, the unread mark, and her conversation;
- at once, because the delivery needs the result: the receipt (`claim_receipt`, which
  decides whether this delivery is the first), a new ticket (`open_ticket`: its id and
  reference, with the day's counter), a line whose id is needed before `save`
  (`message_id`), attaching and erasing loose lines (`attach_messages`,
  `erase_loose_messages`), and a follow-up's answer (`settle_follow_up`, a
  compare-and-set that must not be lost to another process);
- after `save`, by the caller: the receipt's answer (`answer_receipt`), for retries.
The staff side keeps the ORM models, which map the same tables.

A ticket's transitions (withdraw, reopen, close, pause, resume, urgent) are defined once,
in models/lifecycle.py, for the desk's `TicketRow` and the staff side's `Ticket` alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from models import clocks
from models.conversation import Conversation
from models.followup import SATISFACTION, FollowUp
from models.lifecycle import Lifecycle
from models.message import InboundReceipt, Message
from models.outbox import OutboxMessage
from models.prepared import Prepared
from models.region import Region
from models.ticket import CATEGORIES, OPEN_STATUSES, Ticket, TicketEvent, next_reference, next_reference_apart

TICKETS = Ticket.__table__
MESSAGES = Message.__table__
EVENTS = TicketEvent.__table__
CONVERSATIONS = Conversation.__table__
RECEIPTS = InboundReceipt.__table__
FOLLOW_UPS = FollowUp.__table__
REGIONS = Region.__table__

# What the desk reads of a ticket: all a conversation step needs, nothing personal it doesn't.
_TICKET_COLUMNS = [
    TICKETS.c[name]
    for name in (
        "id", "reference", "channel", "channel_user", "category", "subcategory", "urgent", "status",
        "assignee_id", "region_id", "contact_phone", "outcome", "claim_due_at",
        # The clocks (models/clocks.py): what a pause, urgency or her reopening changes.
        "first_reply_due_at", "resolve_due_at", "claimed_at", "first_response_at", "resolved_at",
        "paused_at", "pause_until", "pause_reason", "safe_contact_time", "created_at",
    )
]
_PARENT = REGIONS.alias("parent")

# The statements of the hot path are built once, with bound parameters: building and
# hashing a statement per call cost more than running it (bench/README.md).
# The hottest run as `Prepared` statements, on the DBAPI cursor (models/prepared.py).
_CLAIM_RECEIPT = {
    name: Prepared(
        dialect.insert(RECEIPTS).on_conflict_do_nothing(index_elements=["channel", "dedup_key"])
        .returning(RECEIPTS.c.id)
    )
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_FIRST_ANSWER = (
    select(RECEIPTS.c.reply, TICKETS.c.reference)
    .select_from(RECEIPTS.outerjoin(TICKETS, RECEIPTS.c.ticket_id == TICKETS.c.id))
    .where(RECEIPTS.c.channel == bindparam("channel"), RECEIPTS.c.dedup_key == bindparam("dedup_key"))
)
# (Parameters named like a column set that column in an UPDATE: the row is `row_id`.)
_ANSWER_RECEIPT = Prepared(update(RECEIPTS).where(RECEIPTS.c.id == bindparam("row_id")))
_CONVERSATION = Prepared(select(
    CONVERSATIONS.c.id, CONVERSATIONS.c.state, CONVERSATIONS.c.data, CONVERSATIONS.c.updated_at
).where(CONVERSATIONS.c.channel == bindparam("channel"), CONVERSATIONS.c.channel_user == bindparam("user")))
_INSERT_CONVERSATION = Prepared(insert(CONVERSATIONS).returning(CONVERSATIONS.c.id))
_UPDATE_CONVERSATION = Prepared(update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("row_id")))
_TICKET = Prepared(select(*_TICKET_COLUMNS).where(TICKETS.c.id == bindparam("ticket_id")))
_OPEN_TICKET_FOR = Prepared(
    select(*_TICKET_COLUMNS)
    .where(TICKETS.c.channel == bindparam("channel"), TICKETS.c.channel_user == bindparam("user"),
           # The statuses as bound literals, not an expanding list: an expanding IN is
           # rendered again on every execution (bench/README.md).
           TICKETS.c.status.in_([literal(status) for status in OPEN_STATUSES]))
    .order_by(TICKETS.c.created_at.desc(), TICKETS.c.id.desc())
    .limit(1)
)
_INSERT_TICKET = Prepared(insert(TICKETS).returning(TICKETS.c.id))
_UPDATE_TICKET = Prepared(update(TICKETS).where(TICKETS.c.id == bindparam("row_id")))
_INSERT_MESSAGE = Prepared(insert(MESSAGES).returning(MESSAGES.c.id))
_INSERT_MESSAGES = Prepared(insert(MESSAGES))
_UPDATE_MESSAGE = Prepared(update(MESSAGES).where(MESSAGES.c.id == bindparam("row_id")))
_INSERT_EVENTS = Prepared(insert(EVENTS))
# She wrote on a claimed ticket: the first unread moment is kept.
_MARK_UNREAD = Prepared(
    update(TICKETS)
    .where(TICKETS.c.id == bindparam("row_id"), TICKETS.c.status == literal("claimed"),
           TICKETS.c.assignee_id.is_not(None))
    .values(unread_at=func.coalesce(TICKETS.c.unread_at, bindparam("at")))
)
_QUEUE = Prepared(insert(OutboxMessage.__table__))
_REGIONS = select(
    REGIONS.c.id, REGIONS.c.code, REGIONS.c.name, REGIONS.c.level, REGIONS.c.path, _PARENT.c.name.label("parent_name")
).select_from(REGIONS.outerjoin(_PARENT, REGIONS.c.parent_id == _PARENT.c.id))
_REGION = Prepared(_REGIONS.where(REGIONS.c.id == bindparam("region_id")))
# Her words contain the full name, or the name begins with her words; deepest first.
_REGIONS_MATCHING = Prepared(
    _REGIONS.where(
        or_(bindparam("text").contains(REGIONS.c.name), REGIONS.c.name.like(bindparam("prefix"), escape="/"))
    )
    .order_by(func.length(REGIONS.c.path).desc(), REGIONS.c.code)
    .limit(bindparam("limit"))
)


@dataclass(eq=False)
class TicketRow(Lifecycle):
    """A ticket as the desk sees it. Changes are kept for one UPDATE at `Desk.save`; its
    transitions are the ticket's own (models/lifecycle.py)."""

    desk: Desk = field(repr=False)
    id: int
    reference: str
    channel: str
    channel_user: str
    category: str
    subcategory: str | None
    urgent: bool
    status: str
    assignee_id: int | None
    region_id: int
    contact_phone: str | None
    outcome: str | None
    claim_due_at: datetime
    first_reply_due_at: datetime | None
    resolve_due_at: datetime
    claimed_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    paused_at: datetime | None
    pause_until: datetime | None
    pause_reason: str | None
    safe_contact_time: str | None
    created_at: datetime

    def change(self, **values: Any) -> None:
        """Set columns; written with the delivery's other changes."""
        for name, value in values.items():
            if name in self.__dataclass_fields__:
                setattr(self, name, value)
        self.desk.stage_change(self.id, values)

    def record(
        self, action: str, actor: Any = None, actor_type: str = "system", actor_id: int | None = None, **detail: Any
    ) -> None:
        """Append a line to the ticket's audit trail (inserted at `Desk.save`)."""
        if actor is not None:
            actor_type, actor_id = "staff", actor.id
        self.desk.stage_event(
            {"ticket_id": self.id, "actor_type": actor_type, "actor_id": actor_id, "action": action, "detail": detail}
        )

    def _write(self, guard: tuple[Any, ...] | None, **values: Any) -> bool:
        """Her changes need no guard: they are written at `Desk.save`, inside her delivery."""
        self.change(**values)
        return True

    # -- her changes, from the chat (the transitions are models/lifecycle.py's) ----

    def reopen_for_her(self, now: datetime, reason: str) -> None:
        """She says it is not solved: back to the assignee if there is one, else the queue."""
        self.reopen_to_work(now, reason, actor_type="woman")

    def pause_for_her(self, now: datetime, reason: str, until: datetime | None) -> None:
        """She asked to be contacted later (her safe time): the clocks wait until then."""
        self.pause_clocks(now, reason, until, actor_type="woman")

    def mark_urgent(self, keywords: list[str], policy: clocks.Policy, now: datetime) -> bool:
        """Her words raise the ticket to urgent (never lower it); True if it changed."""
        if self.urgent:
            return False
        self.make_urgent(policy, now, "marked_urgent", actor_type="woman", keywords=keywords)
        return True


# Desk._ticket_row builds a TicketRow from a row of _TICKET_COLUMNS by position.
assert [f.name for f in fields(TicketRow)][1:] == [column.name for column in _TICKET_COLUMNS]


@dataclass(eq=False)
class ConversationRow:
    """Her conversation's state; `id` None until it is first saved."""

    id: int | None
    channel: str
    channel_user: str
    state: str = "idle"
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None

    def move(self, state: str, now: datetime, **data: Any) -> None:
        """Go to `state`, replacing what the previous state remembered."""
        self.state, self.data, self.updated_at = state, data, now


@dataclass(eq=False)
class MessageRow:
    """A transcript line; inserted at `Desk.save` unless something needed its id before."""

    channel: str
    channel_user: str
    direction: str
    created_at: datetime
    kind: str = "text"
    text: str = ""
    media_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    ticket_id: int | None = None
    # "pending" for her image or voice on WeChat: the worker keeps the file (bot/media.py).
    media_state: str | None = None
    id: int | None = None
    # Delivered by the outbox worker (channels without passive replies).
    queued: bool = False
    # What was written when the row was inserted early, to write the rest at save.
    _written: tuple[int | None, str] | None = field(default=None, repr=False)

    def values(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id, "channel": self.channel, "channel_user": self.channel_user,
            "direction": self.direction, "kind": self.kind, "text": self.text, "media_id": self.media_id,
            "latitude": self.latitude, "longitude": self.longitude, "created_at": self.created_at,
            "media_state": self.media_state,
        }


@dataclass(frozen=True)
class RegionRow:
    id: int
    code: str
    name: str
    level: str
    path: str
    parent_name: str | None

    @property
    def display_name(self) -> str:
        """A village is named with its town ("青石镇青石村"): village names repeat."""
        return f"{self.parent_name}{self.name}" if self.parent_name and self.level == "village" else self.name


@dataclass(eq=False)
class FollowUpRow:
    id: int
    ticket: TicketRow
    answered_at: datetime | None
    expired: bool

    @property
    def pending(self) -> bool:
        return self.answered_at is None and not self.expired

    def not_solved(self, now: datetime) -> None:
        """She says it is not solved: the ticket goes back to work, never closed."""
        if self._settle(answered_at=now, solved=False):
            self.ticket.reopen_for_her(now, reason="follow-up: not solved")

    def solved_with(self, satisfaction: str, now: datetime) -> None:
        """She says it is solved and how satisfied she is: the ticket closes."""
        if satisfaction not in SATISFACTION:
            raise ValueError(f"unknown satisfaction {satisfaction!r}")
        if self._settle(answered_at=now, solved=True, satisfaction=satisfaction):
            self.ticket.close(now, actor_type="woman", satisfaction=satisfaction)

    def expire(self, now: datetime) -> None:
        """No answer in time: closed, and recorded as unanswered."""
        if self._settle(expired=True):
            self.ticket.close(now, actor_type="system", reason="follow-up unanswered")

    def _settle(self, **values: Any) -> bool:
        """Answer or expire it, unless that already happened (another process's job, say)."""
        settled = self.ticket.desk.settle_follow_up(self.id, values)
        self.answered_at = values.get("answered_at", self.answered_at)
        self.expired = values.get("expired", self.expired)
        return settled


def _first_look(values: dict[str, Any], policy: clocks.Policy, now: datetime) -> dict[str, Any]:
    """The sweep's marks for a ticket opened at `now`, as its first look would set them.

    The next sweep (once a minute) used to look at every new ticket, each in a write
    transaction of its own: about half the CPU of the delivery that opened it, and on SQLite
    a writer's turn of its own (bench/README.md, "Session 8", 4). Opened at `now`, nothing
    is due yet: no clock has turned yellow or fallen due in (now, now]. Should a deadline
    be due at once (a policy of zero), the sweep looks at once, as before, and raises it."""
    step = clocks.sweep_step(SimpleNamespace(**values, escalation_level=0), policy, now, now)
    if step.level or step.reminders or step.urgent_unclaimed:
        return {}
    return {"sweep_at": step.next_look, "swept_until": now, "yellow_at": step.yellow_at, "escalation_level": 0}


class Desk:
    """One unit of the desk's work (a delivery, a job's round) on the caller's connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._tickets: dict[int, TicketRow] = {}
        self._ticket_changes: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._messages: list[MessageRow] = []
        self._conversations: list[ConversationRow] = []

    # -- receipts: exactly-once delivery ------------------------------------------

    def claim_receipt(self, channel: str, dedup_key: str, now: datetime) -> int | None:
        """Insert the delivery's receipt and return its id, or None if it has one already.

        One statement, INSERT ... ON CONFLICT DO NOTHING: on PostgreSQL it waits for a
        concurrent first delivery to commit (then yields nothing) or roll back (then inserts).
        """
        return _CLAIM_RECEIPT[self.connection.dialect.name].scalar(
            self.connection, {"channel": channel, "dedup_key": dedup_key, "reply": "", "created_at": now}
        )

    def first_answer(self, channel: str, dedup_key: str) -> tuple[str, str | None] | None:
        """The reply and ticket reference the first delivery of a message was answered with."""
        row = self.connection.execute(_FIRST_ANSWER, {"channel": channel, "dedup_key": dedup_key}).first()
        return (row.reply, row.reference) if row else None

    def answer_receipt(self, receipt_id: int, reply: str, ticket_id: int | None) -> None:
        """Store what the first delivery was answered, for the retries to repeat."""
        _ANSWER_RECEIPT.rows(self.connection, {"row_id": receipt_id, "reply": reply, "ticket_id": ticket_id})

    # -- conversations -------------------------------------------------------------

    def conversation(self, channel: str, channel_user: str) -> ConversationRow:
        """Her conversation, started (idle) if she has none yet; saved at `save`."""
        for conversation in self._conversations:
            if (conversation.channel, conversation.channel_user) == (channel, channel_user):
                return conversation
        row = _CONVERSATION.first(self.connection, {"channel": channel, "user": channel_user})
        if row:
            row_id, state, data, updated_at = row
            conversation = ConversationRow(row_id, channel, channel_user, state, dict(data or {}), updated_at)
        else:
            conversation = ConversationRow(None, channel, channel_user)
        self._conversations.append(conversation)
        return conversation

    # -- tickets ---------------------------------------------------------------------

    def ticket(self, ticket_id: int) -> TicketRow | None:
        if ticket_id in self._tickets:
            return self._tickets[ticket_id]
        return self._ticket_row(_TICKET.first(self.connection, {"ticket_id": ticket_id}))

    def open_ticket_for(self, channel: str, channel_user: str) -> TicketRow | None:
        """Her most recent open ticket on this channel, if any."""
        return self._ticket_row(_OPEN_TICKET_FOR.first(self.connection, {"channel": channel, "user": channel_user}))

    def tickets_of(self, channel: str, channel_user: str, limit: int | None = None) -> list[TicketRow]:
        """Her tickets on this channel, newest first."""
        statement = (
            select(*_TICKET_COLUMNS)
            .where(TICKETS.c.channel == channel, TICKETS.c.channel_user == channel_user)
            .order_by(TICKETS.c.created_at.desc(), TICKETS.c.id.desc())
            .limit(limit)
        )
        return [self._ticket_row(row) for row in self.connection.execute(statement)]

    def open_ticket(
        self,
        *,
        reference_prefix: str,
        channel: str,
        channel_user: str,
        category: str,
        subcategory: str | None,
        urgent: bool,
        confidence: float,
        keywords: list[str],
        explanation: str,
        region_id: int,
        now: datetime,
        deadlines: dict[str, datetime],
        policy: clocks.Policy | None = None,
    ) -> TicketRow:
        """A new ticket with its reference and its clocks' `deadlines`, recorded as created.

        With the `policy` that set the deadlines, the SLA sweep's first look is worked out
        here (when a clock turns yellow or falls due); without it the next sweep looks at
        the new ticket at once."""
        if category not in CATEGORIES:
            raise ValueError(f"a ticket's category is one of {', '.join(CATEGORIES)}, not {category!r}")
        values = {
            "reference": self._next_reference(reference_prefix, now),
            "channel": channel,
            "channel_user": channel_user,
            "category": category,
            "subcategory": subcategory,
            "urgent": urgent,
            "confidence": confidence,
            "route_keywords": list(keywords),
            "route_explanation": explanation,
            "status": "new",
            "region_id": region_id,
            "assignee_id": None,
            "contact_phone": None,
            "outcome": None,
            "created_at": now,
            "updated_at": now,
            "claim_due_at": deadlines["claim"],
            "first_reply_due_at": deadlines["first_reply"],
            "resolve_due_at": deadlines["resolve"],
            "next_due_at": min(deadlines.values()),
            "sweep_at": now,
            "swept_until": now,
            "claimed_at": None,
            "first_response_at": None,
            "resolved_at": None,
            "paused_at": None,
            "pause_until": None,
            "pause_reason": None,
            "safe_contact_time": None,
        }
        if policy is not None:
            values.update(_first_look(values, policy, now))
        ticket_id = _INSERT_TICKET.scalar(self.connection, values)
        ticket = self._ticket_row({"id": ticket_id, **values})
        ticket.record("created", actor_type="woman", category=category, subcategory=subcategory, urgent=urgent)
        return ticket

    def _next_reference(self, prefix: str, now: datetime) -> str:
        if self.connection.dialect.name == "sqlite":
            # SQLite's writers take turns: the counter is ours until the commit anyway.
            return next_reference(self.connection, prefix, now)
        # The day's counter is one row that every new ticket updates. Bumped inside the
        # delivery's transaction it stays locked until that commits, and every delivery
        # that opens a ticket queues behind the one before (27 ms of the slowest 1% at two
        # workers: bench/webhook --trace). Bumped apart it is locked for one statement; a
        # delivery that then rolls back leaves a gap in the day's numbers, never a
        # duplicate. Nor does the bump wait for its own flush to disk: the log is written in
        # order, so the ticket's commit, which does wait, makes the bump durable first.
        return next_reference_apart(self.connection.engine, prefix, now)

    def _ticket_row(self, row: Any) -> TicketRow | None:
        if row is None:
            return None
        if isinstance(row, dict):
            ticket = TicketRow(self, **{column.name: row[column.name] for column in _TICKET_COLUMNS})
        else:  # a row of _TICKET_COLUMNS, in the order of TicketRow's fields (checked below it)
            ticket = TicketRow(self, *row)
        # One row object per ticket in a unit of work, so changes made through one are seen by all.
        return self._tickets.setdefault(ticket.id, ticket)

    # -- the transcript ---------------------------------------------------------------

    def add_message(self, message: MessageRow) -> MessageRow:
        self._messages.append(message)
        return message

    def message_id(self, message: MessageRow) -> int:
        """The line's id, inserting it now if it was waiting for `save`."""
        if message.id is None:
            message.id = _INSERT_MESSAGE.scalar(self.connection, message.values())
            message._written = (message.ticket_id, message.text)
        return message.id

    def attach_messages(self, message_ids: list[int], ticket_id: int) -> None:
        """Give loose lines (written before her ticket existed) to the ticket."""
        self.connection.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id.in_(message_ids), MESSAGES.c.ticket_id.is_(None))
            .values(ticket_id=ticket_id)
        )

    def erase_loose_messages(self, channel: str, channel_user: str) -> int:
        """Blank her words that never became part of a case; how many lines were blanked."""
        return self.connection.execute(
            update(MESSAGES)
            .where(
                MESSAGES.c.channel == channel, MESSAGES.c.channel_user == channel_user,
                MESSAGES.c.ticket_id.is_(None), MESSAGES.c.direction == "in",
            )
            .values(text="", media_id=None, latitude=None, longitude=None)
        ).rowcount

    # -- regions and follow-ups ---------------------------------------------------------

    def region(self, region_id: int) -> RegionRow | None:
        row = _REGION.first(self.connection, {"region_id": region_id})
        return RegionRow(*row) if row else None

    def region_by_code(self, code: str) -> RegionRow | None:
        row = self.connection.execute(_REGIONS.where(REGIONS.c.code == code)).first()
        return RegionRow(*row) if row else None

    def root_region(self) -> RegionRow | None:
        """The top of the tree (the first root when several were imported)."""
        row = self.connection.execute(_REGIONS.where(REGIONS.c.parent_id.is_(None)).order_by(REGIONS.c.id)).first()
        return RegionRow(*row) if row else None

    def regions_matching(self, text: str, limit: int = 6) -> list[RegionRow]:
        """Regions she may mean by `text` ("幸福社区", "我住青石村", "幸福"), deepest first."""
        text = text.strip()
        if len(text) < 2:
            return []
        prefix = text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
        candidates = [
            RegionRow(*row)
            for row in _REGIONS_MATCHING.rows(self.connection, {"text": text, "prefix": prefix, "limit": limit * 4})
        ]
        # "青石镇青石村" names the village: drop regions that contain another match.
        return [
            region
            for region in candidates
            if not any(other is not region and other.path.startswith(region.path) for other in candidates)
        ][:limit]

    def settle_follow_up(self, follow_up_id: int, values: dict[str, Any]) -> bool:
        """Answer or expire a follow-up at once, if no one did (compare-and-set); True if this did."""
        return self.connection.execute(
            update(FOLLOW_UPS)
            .where(FOLLOW_UPS.c.id == follow_up_id, FOLLOW_UPS.c.answered_at.is_(None),
                   FOLLOW_UPS.c.expired.is_(False))
            .values(**values)
        ).rowcount == 1

    def follow_up(self, follow_up_id: int) -> FollowUpRow | None:
        row = self.connection.execute(
            select(FOLLOW_UPS.c.ticket_id, FOLLOW_UPS.c.answered_at, FOLLOW_UPS.c.expired)
            .where(FOLLOW_UPS.c.id == follow_up_id)
        ).first()
        ticket = self.ticket(row.ticket_id) if row else None
        return FollowUpRow(follow_up_id, ticket, row.answered_at, row.expired) if ticket else None

    # -- the end of the unit of work ---------------------------------------------------

    def stage_change(self, ticket_id: int, values: dict[str, Any]) -> None:
        """Columns of a ticket to set in its one UPDATE at `save`."""
        self._ticket_changes.setdefault(ticket_id, {}).update(values)

    def stage_event(self, event: dict[str, Any]) -> None:
        """A line of a ticket's audit trail, inserted with the others at `save`."""
        self._events.append(event)

    def save(self) -> None:
        """Write what changed: each ticket once, the transcript, the audit trail, the conversation."""
        for ticket_id, values in self._ticket_changes.items():
            _UPDATE_TICKET.rows(self.connection, {"row_id": ticket_id, **values})
        self._ticket_changes.clear()
        self._mark_unread()
        # Lines nothing needs the id of go in together, in order (her line and the answer:
        # one statement, not two); a queued line's id is its outbox item's.
        run: list[dict[str, Any]] = []
        for message in self._messages:
            if message.id is None and not message.queued:
                run.append(message.values())
                continue
            self._insert_lines(run)
            if message.id is None:
                self.message_id(message)
                self._queue(message)
            elif message._written != (message.ticket_id, message.text):
                _UPDATE_MESSAGE.rows(
                    self.connection, {"row_id": message.id, "ticket_id": message.ticket_id, "text": message.text}
                )
        self._insert_lines(run)
        self._messages.clear()
        if self._events:
            _INSERT_EVENTS.many(self.connection, self._events)
            self._events.clear()
        for conversation in self._conversations:
            values = {"state": conversation.state, "data": conversation.data, "updated_at": conversation.updated_at}
            if conversation.id is None:
                conversation.id = _INSERT_CONVERSATION.scalar(
                    self.connection,
                    {"channel": conversation.channel, "channel_user": conversation.channel_user, **values},
                )
            else:
                _UPDATE_CONVERSATION.rows(self.connection, {"row_id": conversation.id, **values})

    def _insert_lines(self, run: list[dict[str, Any]]) -> None:
        if run:
            _INSERT_MESSAGES.many(self.connection, run)
            run.clear()

    def _mark_unread(self) -> None:
        """She wrote on a claimed ticket: its assignee sees 新消息 until they open it."""
        written: dict[int, datetime] = {}
        for message in self._messages:
            if message.direction != "in" or message.ticket_id is None or message.kind == "event":
                continue
            ticket = self._tickets.get(message.ticket_id)
            if ticket is not None and (ticket.status != "claimed" or ticket.assignee_id is None):
                continue
            written.setdefault(message.ticket_id, message.created_at)
        for ticket_id, at in written.items():
            _MARK_UNREAD.rows(self.connection, {"row_id": ticket_id, "at": at})

    def _queue(self, message: MessageRow) -> None:
        """Hand an outbound line to the outbox worker (channels without passive replies)."""
        _QUEUE.rows(self.connection, {
            "ticket_id": message.ticket_id, "message_id": message.id, "channel": message.channel,
            "channel_user": message.channel_user, "text": message.text, "status": "pending",
            "next_attempt_at": message.created_at, "created_at": message.created_at,
        })
