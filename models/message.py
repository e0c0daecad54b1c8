"""The transcript (both directions) and the receipts that make delivery exactly-once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, ForeignKey, Index, String, Text, UniqueConstraint, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, utcnow
from models.ticket import Ticket
from models.prepared import Prepared

KINDS = ("text", "voice", "image", "location", "event")


class Message(Base):
    """One line of a conversation: from the woman (in) or to her (out)."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_channel_user", "channel", "channel_user", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    kind: Mapped[str] = mapped_column(String(16), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    media_id: Mapped[str | None] = mapped_column(String(256))
    # Her image or voice kept by the worker (bot/media.py) before WeChat deletes it after
    # three days: pending | stored | failed | too_large | removed; None for other lines.
    media_state: Mapped[str | None] = mapped_column(String(16), index=True)
    media_path: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(64))
    media_size: Mapped[int | None]
    media_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The staff member who wrote an outbound message; None for the bot's own replies.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    ticket: Mapped[Ticket | None] = relationship()

    def __repr__(self) -> str:
        return f"<Message {self.direction} {self.kind} ticket={self.ticket_id}>"

    @classmethod
    def transcript(cls, session: Session, ticket: Ticket) -> list[Message]:
        return list(session.scalars(select(cls).where(cls.ticket_id == ticket.id).order_by(cls.id)))

    @classmethod
    def first_words(cls, session: Session, ticket_ids: list[int], chars: int = 20) -> dict[int, str]:
        """The start of her first written message on each ticket (the queue's preview)."""
        if not ticket_ids:
            return {}
        first = (
            select(func.min(cls.id))
            .where(cls.ticket_id.in_(ticket_ids), cls.direction == "in", cls.kind == "text", cls.text != "")
            .group_by(cls.ticket_id)
        )
        rows = session.execute(select(cls.ticket_id, func.substr(cls.text, 1, chars + 1)).where(cls.id.in_(first)))
        return {ticket_id: text[:chars] + ("…" if len(text) > chars else "") for ticket_id, text in rows}


class InboundReceipt(Base):
    """A delivery already handled, keyed by the channel's own message id.

    The unique constraint is what makes a retry harmless: a second delivery of the same
    message, on any process, inserts nothing and is answered with the stored reply
    (`models.desk.Desk.claim_receipt`).
    """

    __tablename__ = "inbound_receipt"
    __table_args__ = (UniqueConstraint("channel", "dedup_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str] = mapped_column(String(200))
    reply: Mapped[str] = mapped_column(Text, default="")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket | None] = relationship()


class WebhookNonce(Base):
    """A signed (timestamp, nonce) pair already seen, with a digest of the body it came with.

    WeChat's plaintext signature covers only token, timestamp and nonce, never the body:
    a captured query string would carry any body for the whole timestamp window. The
    unique key lets a pair in once, on any process; the platform's retry brings the same
    body again (same digest) and a replay a different one (`remember`).
    """

    __tablename__ = "webhook_nonce"
    __table_args__ = (UniqueConstraint("channel", "timestamp", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    timestamp: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(128))
    body_digest: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(index=True)

    @classmethod
    def remember(
        cls, connection: Connection, channel: str, timestamp: str, nonce: str, body_digest: str, now: datetime
    ) -> str:
        """Record the pair unless it is known; the digest of the body it first came with."""
        return _REMEMBER[connection.dialect.name].scalar(
            connection,
            {"channel": channel, "timestamp": timestamp, "nonce": nonce, "body_digest": body_digest, "seen_at": now},
        )

    @classmethod
    def forget_before(cls, connection: Connection, cutoff: datetime) -> int:
        """Drop pairs seen before `cutoff` (their timestamps are refused anyway); how many."""
        return connection.execute(delete(cls.__table__).where(cls.__table__.c.seen_at < cutoff)).rowcount


# Built once (a statement built per push cost more than running it, as models/desk.py
# found): insert the pair, or on conflict leave the row as it is and return its digest.
_NONCES = WebhookNonce.__table__
# A `Prepared` statement: run on the DBAPI cursor, once per push (models/prepared.py).
_REMEMBER = {
    name: Prepared(
        dialect.insert(_NONCES)
        .on_conflict_do_update(
            index_elements=["channel", "timestamp", "nonce"], set_={"body_digest": _NONCES.c.body_digest}
        )
        .returning(_NONCES.c.body_digest)
    )
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
