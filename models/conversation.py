"""A woman's conversation with the bot: its state lives here, not in any process."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, utcnow


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (
        UniqueConstraint("channel", "channel_user"),
        # The worker's round looks for "new or add?" questions left unanswered
        # (bot/unanswered.py); partial, so her every message does not maintain it.
        Index("ix_conversation_new_or_add", "updated_at",
              sqlite_where=text("state = 'new_or_add'"), postgresql_where=text("state = 'new_or_add'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(32), default="idle")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Conversation {self.channel} {self.state}>"

    @classmethod
    def for_user(cls, session: Session, channel: str, channel_user: str) -> Conversation:
        """The woman's conversation, started (idle) if she has none yet."""
        conversation = session.scalar(
            select(cls).where(cls.channel == channel, cls.channel_user == channel_user)
        )
        if conversation is None:
            conversation = cls(channel=channel, channel_user=channel_user, state="idle", data={})
            session.add(conversation)
        return conversation

    def move(self, state: str, now: datetime, **data: Any) -> None:
        """Go to `state`, replacing what the previous state remembered."""
        self.state = state
        self.data = data
        self.updated_at = now
