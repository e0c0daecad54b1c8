"""Revisions of the routing lexicon made by supervisors: who changed it, when, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, utcnow
from models.staff import StaffUser


class LexiconRevision(Base):
    """A whole lexicon as a supervisor saved it; the newest one is in force."""

    __tablename__ = "lexicon_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(String(500), default="")
    # What changed against the revision before: {"added": [...], "removed": [...], "reweighted": [...]}
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)

    author: Mapped[StaffUser] = relationship()

    def __repr__(self) -> str:
        return f"<LexiconRevision {self.id}>"

    @classmethod
    def latest(cls, session: Session) -> LexiconRevision | None:
        return session.scalar(select(cls).order_by(cls.id.desc()).limit(1))

    @classmethod
    def latest_id(cls, session: Session) -> int | None:
        return session.scalar(select(cls.id).order_by(cls.id.desc()).limit(1))
