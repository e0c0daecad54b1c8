"""Canned replies (常用回复): kept in the database so admins edit them in the workspace."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.ticket import CATEGORIES, MAX_REPLY_CHARS, InvalidInput

MAX_TITLE_CHARS = 40


class CannedReply(Base):
    """One canned reply: a title for the list, the text it fills in, the routes it suits."""

    __tablename__ = "canned_reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(MAX_TITLE_CHARS))
    text: Mapped[str] = mapped_column(Text)
    # The routes it suits (consultation, mediation, service); empty: every route.
    routes: Mapped[list[str]] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(default=0)
    # A removed reply is kept (inactive), so an empty table means "never seeded".
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    def suits(self, category: str) -> bool:
        return not self.routes or category in self.routes

    def edit(self, title: str, text: str, routes: list[str], now: datetime, by_id: int | None) -> None:
        """Change it, checked: a title, a text one WeChat message long, known routes."""
        title, text = (title or "").strip(), (text or "").strip()
        if not title:
            raise InvalidInput("title_required", "title")
        if len(title) > MAX_TITLE_CHARS:
            raise InvalidInput("title_too_long", "title", limit=MAX_TITLE_CHARS)
        if not text:
            raise InvalidInput("reply_text_required", "text")
        if len(text) > MAX_REPLY_CHARS:
            raise InvalidInput("reply_text_too_long", "text", limit=MAX_REPLY_CHARS)
        if any(r not in CATEGORIES for r in routes):
            raise InvalidInput("bad_routes", "routes")
        self.title, self.text, self.routes = title, text, sorted(set(routes), key=CATEGORIES.index)
        self.updated_at, self.updated_by_id = now, by_id

    @classmethod
    def listed(cls, session: Session) -> list[CannedReply]:
        """The active replies, in their order."""
        return list(session.scalars(select(cls).where(cls.active.is_(True)).order_by(cls.position, cls.id)))

    @classmethod
    def seed(cls, session: Session, entries: list[tuple[str, str, tuple[str, ...]]], now: datetime) -> bool:
        """Fill a never-seeded table from the shipped file's entries; True if it did."""
        if session.scalar(select(func.count()).select_from(cls)):
            return False
        for position, (title, text, routes) in enumerate(entries):
            session.add(cls(title=title, text=text, routes=list(routes), position=position, updated_at=now))
        session.flush()
        return True
