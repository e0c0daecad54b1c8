"""Tickets (工单), their public references and their append-only audit trail."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, utcnow
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


class ReferenceCounter(Base):
    """The last reference number handed out on one day."""

    __tablename__ = "reference_counter"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


def next_reference(session: Session, prefix: str, now: datetime) -> str:
    """The next free reference of the day, e.g. NJ-20261121-0042; safe across processes."""
    day = now.astimezone(CHINA_TZ).date()
    bump = (
        update(ReferenceCounter)
        .where(ReferenceCounter.day == day)
        .values(last=ReferenceCounter.last + 1)
        .returning(ReferenceCounter.last)
    )
    number = session.scalar(bump)
    if number is None:
        try:
            with session.begin_nested():
                session.add(ReferenceCounter(day=day, last=0))
        except IntegrityError:
            pass  # another transaction created the day's row first; bump it below
        number = session.scalar(bump)
    return f"{prefix}-{day:%Y%m%d}-{number:04d}"


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_status_urgent_created", "status", "urgent", "created_at"),
        Index("ix_ticket_channel_user", "channel", "channel_user"),
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
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    contact_phone: Mapped[str | None] = mapped_column(String(32))

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    claim_due_at: Mapped[datetime]
    resolve_due_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]

    region: Mapped[Region] = relationship()
    assignee: Mapped[StaffUser | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Ticket {self.reference} {self.category} {self.status}>"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def open(
        cls,
        session: Session,
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
        region: Region,
        now: datetime,
        claim_within: timedelta,
        resolve_within: timedelta,
    ) -> Ticket:
        """A new ticket with its reference and deadlines, recorded as created."""
        if category not in CATEGORIES:
            raise ValueError(f"a ticket's category is one of {', '.join(CATEGORIES)}, not {category!r}")
        ticket = cls(
            reference=next_reference(session, reference_prefix, now),
            channel=channel,
            channel_user=channel_user,
            category=category,
            subcategory=subcategory,
            urgent=urgent,
            confidence=confidence,
            route_keywords=list(keywords),
            route_explanation=explanation,
            status="new",
            region=region,
            created_at=now,
            updated_at=now,
            claim_due_at=now + claim_within,
            resolve_due_at=now + resolve_within,
        )
        session.add(ticket)
        ticket.record("created", actor_type="woman", category=category, subcategory=subcategory, urgent=urgent)
        return ticket

    @classmethod
    def open_for(cls, session: Session, channel: str, channel_user: str) -> Ticket | None:
        """The woman's most recent open ticket on this channel, if any."""
        return session.scalar(
            select(cls)
            .where(cls.channel == channel, cls.channel_user == channel_user, cls.status.in_(OPEN_STATUSES))
            .order_by(cls.created_at.desc(), cls.id.desc())
            .limit(1)
        )

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
        self.events.append(event)
        return event

    def mark_urgent(self, keywords: list[str]) -> bool:
        """Raise the ticket to urgent (never lowers it); True if it changed."""
        if self.urgent:
            return False
        self.urgent = True
        self.record("marked_urgent", actor_type="woman", keywords=keywords)
        return True


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

    def __repr__(self) -> str:
        return f"<TicketEvent {self.action} on {self.ticket_id}>"
