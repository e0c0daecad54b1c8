"""Messages that never became tickets, sampled for a supervisor to label (issue 17).

A sample keeps her words with phone and ID numbers masked (as a correction does), the
region she was filed under, and what the router guessed. A supervisor of that region (or
above) labels it with a route, or as not a request; a labelled sample is a training
example like a caseworker's correction. Retention deletes samples as it blanks the loose
lines they came from, and her erasure removes hers at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, ForeignKey, String, Text, delete, exists, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base
from models.learning import mask_numbers
from models.message import Message
from models.region import Region
from models.staff import StaffUser

# The label a supervisor gives a message that asks for nothing (a greeting, noise): the
# router's own "other", so the model learns what not to open a ticket for.
NOT_A_REQUEST = "other"


class ReviewSample(Base):
    """One sampled message that did not become a ticket, and the label a supervisor gave it."""

    __tablename__ = "review_sample"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The transcript line it came from (her erasure and retention find it through this).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    text: Mapped[str] = mapped_column(Text)  # numbers masked (mask_numbers)
    guess_category: Mapped[str] = mapped_column(String(32))
    guess_subcategory: Mapped[str | None] = mapped_column(String(64))
    guess_urgent: Mapped[bool] = mapped_column(default=False)
    confidence: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(index=True)
    # The label: category "other" means not a request; unset until a supervisor labels it.
    category: Mapped[str | None] = mapped_column(String(32))
    subcategory: Mapped[str | None] = mapped_column(String(64))
    urgent: Mapped[bool | None]
    labelled_at: Mapped[datetime | None]
    labelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    region: Mapped[Region] = relationship()
    labelled_by: Mapped[StaffUser | None] = relationship()

    def __repr__(self) -> str:
        return f"<ReviewSample {self.id} {self.category or 'unlabelled'}>"

    # -- taking a sample (the intake's hot path: one Core insert on its connection) ----------

    @classmethod
    def take(cls, connection: Connection, message_id: int, region_id: int, text: str, category: str,
             subcategory: str | None, urgent: bool, confidence: float, now: datetime) -> bool:
        """Keep her message, numbers masked, with the router's guess; False if nothing is left of it."""
        text = mask_numbers(text).strip()
        if not text:
            return False
        connection.execute(insert(cls.__table__).values(
            message_id=message_id, region_id=region_id, text=text, guess_category=category,
            guess_subcategory=subcategory, guess_urgent=urgent, confidence=confidence, created_at=now,
        ))
        return True

    @classmethod
    def forget(cls, connection: Connection, channel: str, channel_user: str) -> int:
        """Her erasure: every sample of her lines that never joined a case; how many went."""
        hers = select(Message.id).where(
            Message.channel == channel, Message.channel_user == channel_user, Message.ticket_id.is_(None),
        )
        return connection.execute(delete(cls.__table__).where(cls.__table__.c.message_id.in_(hers))).rowcount

    # -- the supervisor's review -----------------------------------------------------------

    @classmethod
    def visible_to(cls, user: StaffUser) -> Any:
        """The condition for samples filed in `user`'s subtree whose line never joined a case.

        A line she wrote before choosing 1/2/3 is sampled while it waits; if the choice
        opened her ticket it was a request after all, and it is not shown (retention deletes it).
        """
        in_subtree = Region.path.startswith(user.region.path, autoescape=True)
        return cls.region_id.in_(select(Region.id).where(in_subtree)) & ~cls.joined_a_case()

    @classmethod
    def joined_a_case(cls) -> Any:
        """The condition for samples whose line has since become part of a ticket."""
        return exists().where(Message.id == cls.message_id, Message.ticket_id.is_not(None))

    @classmethod
    def unlabelled_for(cls, session: Session, user: StaffUser, limit: int) -> list[ReviewSample]:
        """Samples in `user`'s subtree waiting for a label, oldest first."""
        return list(session.scalars(
            select(cls).where(cls.visible_to(user), cls.labelled_at.is_(None)).order_by(cls.id).limit(limit)
        ))

    @classmethod
    def count_unlabelled(cls, session: Session, user: StaffUser) -> int:
        return session.scalar(
            select(func.count()).select_from(cls).where(cls.visible_to(user), cls.labelled_at.is_(None))
        ) or 0

    @classmethod
    def find_visible(cls, session: Session, user: StaffUser, sample_id: int) -> ReviewSample | None:
        """The sample if it lies in `user`'s subtree (outside it reads as missing)."""
        return session.scalar(select(cls).where(cls.id == sample_id, cls.visible_to(user)))

    @classmethod
    def labelled(cls, session: Session) -> list[ReviewSample]:
        """Every labelled sample, for training."""
        return list(session.scalars(select(cls).where(cls.labelled_at.is_not(None)).order_by(cls.id)))

    @property
    def is_labelled(self) -> bool:
        return self.labelled_at is not None

    @property
    def not_a_request(self) -> bool:
        return self.category == NOT_A_REQUEST

    def label(self, by: StaffUser, category: str, subcategory: str | None, urgent: bool, now: datetime) -> None:
        """Label it with the route it should have had (`NOT_A_REQUEST`: it asks for nothing)."""
        if category == NOT_A_REQUEST:
            subcategory, urgent = None, False
        self.category, self.subcategory, self.urgent = category, subcategory, urgent
        self.labelled_at, self.labelled_by = now, by


__all__ = ["NOT_A_REQUEST", "ReviewSample"]
