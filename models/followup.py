"""Follow-up (回访): after a ticket is resolved, she says whether it is solved and how satisfied she is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base
from models.ticket import Ticket

SATISFACTION = ("satisfied", "basically_satisfied", "dissatisfied")


class FollowUp(Base):
    """One round of follow-up; a ticket reopened and resolved again gets another."""

    __tablename__ = "follow_up"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    asked_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    solved: Mapped[bool | None]
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    # Closed because she did not answer in time.
    expired: Mapped[bool] = mapped_column(default=False)

    ticket: Mapped[Ticket] = relationship()

    def __repr__(self) -> str:
        return f"<FollowUp ticket={self.ticket_id} solved={self.solved}>"

    @classmethod
    def start(cls, session: Session, ticket: Ticket, now: datetime) -> FollowUp:
        """Ask about a resolved ticket (the question itself is sent by the caller)."""
        follow_up = cls(ticket=ticket, asked_at=now)
        session.add(follow_up)
        ticket.record("follow_up_asked")
        return follow_up
