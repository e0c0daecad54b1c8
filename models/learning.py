"""What the router learns from: caseworkers' corrections kept as labelled examples
(her words with phone and ID numbers masked), and the routing models installed."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, utcnow
from models.staff import StaffUser

# An ID card number (18 digits, the last maybe X, or the old 15) and a mobile
# number; longer runs of digits are left alone (an order number is not hers).
_ID_RE = re.compile(r"(?<!\d)(?:\d{17}[\dXx]|\d{15})(?![\dXx])")
_MOBILE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_LANDLINE_RE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")


def mask_numbers(text: str) -> str:
    """Her text with ID card, mobile and landline numbers replaced by placeholders."""
    text = _ID_RE.sub("［身份证号］", text)
    text = _MOBILE_RE.sub("［手机号］", text)
    return _LANDLINE_RE.sub("［电话］", text)


class RouteExample(Base):
    """A message labelled by a person: the route a caseworker corrected a ticket to."""

    __tablename__ = "route_example"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    text: Mapped[str] = mapped_column(Text)  # numbers masked (mask_numbers)
    category: Mapped[str] = mapped_column(String(32))
    subcategory: Mapped[str | None] = mapped_column(String(64))
    urgent: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(16), default="correction")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[StaffUser | None] = relationship()

    def __repr__(self) -> str:
        return f"<RouteExample {self.id} {self.category}/{self.subcategory}>"

    @classmethod
    def keep(cls, session: Session, ticket_id: int | None, text: str, category: str, subcategory: str | None,
             urgent: bool, author: StaffUser | None, now: datetime) -> RouteExample | None:
        """Keep the ticket's text as labelled by a person; a newer label of the same ticket replaces the old."""
        text = mask_numbers(text).strip()
        if not text:
            return None
        example = None
        if ticket_id is not None:
            example = session.scalar(select(cls).where(cls.ticket_id == ticket_id, cls.source == "correction"))
        if example is None:
            example = cls(ticket_id=ticket_id, source="correction")
            session.add(example)
        example.text, example.category, example.subcategory, example.urgent = text, category, subcategory, urgent
        example.author, example.created_at = author, now
        return example

    @classmethod
    def all(cls, session: Session) -> list[RouteExample]:
        return list(session.scalars(select(cls).order_by(cls.id)))


class RouteModelRevision(Base):
    """A routing model installed by `niangjia model apply`; the newest not rolled back is in force."""

    __tablename__ = "route_model_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(Text)  # the model file (bot/model.py's JSON)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(String(500), default="")
    # The figures that let it in: the fixed evaluation set and unseen authors, its and the old model's.
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rolled_back_at: Mapped[datetime | None]
    rolled_back_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    author: Mapped[StaffUser] = relationship(foreign_keys=[author_id])
    rolled_back_by: Mapped[StaffUser | None] = relationship(foreign_keys=[rolled_back_by_id])

    def __repr__(self) -> str:
        return f"<RouteModelRevision {self.id}>"

    @classmethod
    def in_force(cls, session: Session) -> RouteModelRevision | None:
        return session.scalar(select(cls).where(cls.rolled_back_at.is_(None)).order_by(cls.id.desc()).limit(1))

    @classmethod
    def in_force_id(cls, session: Session) -> int | None:
        return session.scalar(select(cls.id).where(cls.rolled_back_at.is_(None)).order_by(cls.id.desc()).limit(1))

    def roll_back(self, by: StaffUser, now: datetime) -> None:
        self.rolled_back_at, self.rolled_back_by = now, by
