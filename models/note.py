"""Internal notes on a ticket: written by staff for staff, never sent to the woman."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, utcnow
from models.staff import StaffUser
from models.ticket import Ticket


class TicketNote(Base):
    __tablename__ = "ticket_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship()
    author: Mapped[StaffUser] = relationship()

    def __repr__(self) -> str:
        return f"<TicketNote {self.id} on {self.ticket_id}>"

    @classmethod
    def on(cls, session: Session, ticket: Ticket) -> list[TicketNote]:
        """The ticket's notes, oldest first."""
        return list(session.scalars(select(cls).where(cls.ticket_id == ticket.id).order_by(cls.id)))
