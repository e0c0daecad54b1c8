"""Messages to a woman that staff (or the engine) wrote after the passive reply.

An outbox row is written in the same transaction as the change that caused it, so a
reply is never lost and never sent for a change that rolled back; a worker delivers it
through her channel (WeChat customer-service API, Telegram sendMessage).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, utcnow
from models.message import Message
from models.ticket import Ticket

# unknown: the send went out and no answer came (or the process died mid-send); it may
# have arrived, so it is never sent again by itself: a person checks.
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "unknown")


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    # The transcript line this delivery is for.
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    ticket: Mapped[Ticket | None] = relationship()
    message: Mapped[Message] = relationship()

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.status}>"

    @classmethod
    def enqueue(
        cls,
        session: Session,
        *,
        channel: str,
        channel_user: str,
        text: str,
        now: datetime,
        ticket: Ticket | None = None,
        author_id: int | None = None,
    ) -> OutboxMessage:
        """Record an outbound transcript line and queue its delivery (the caller commits)."""
        message = Message(
            ticket=ticket,
            channel=channel,
            channel_user=channel_user,
            direction="out",
            kind="text",
            text=text,
            created_at=now,
            author_id=author_id,
        )
        session.add(message)
        item = cls(
            ticket=ticket,
            message=message,
            channel=channel,
            channel_user=channel_user,
            text=text,
            status="pending",
            next_attempt_at=now,
            created_at=now,
        )
        session.add(item)
        return item
