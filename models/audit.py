"""The accounts' audit trail: who did what to which staff account or token, when, from where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base
from models.staff import StaffUser

# Who acted when nobody is logged in: the `niangjia` command on the server.
COMMAND_LINE = "command line"


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    # The staff member who acted, or None for the command line (actor_label says which).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    actor_label: Mapped[str] = mapped_column(String(100))
    # e.g. user.disabled, user.password_reset, token.revoked, login.failed
    action: Mapped[str] = mapped_column(String(40), index=True)
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    # What changed (old and new role, the token's hint ...), never a password or secret.
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    actor: Mapped[StaffUser | None] = relationship(foreign_keys=[actor_id])
    target: Mapped[StaffUser | None] = relationship(foreign_keys=[target_user_id])

    @classmethod
    def record(
        cls, session: Session, now: datetime, action: str, actor: StaffUser | None = None,
        target: StaffUser | None = None, address: str = "", actor_label: str = "", **detail: Any,
    ) -> AuditEvent:
        """Add one entry to the trail (the caller commits with the change it records)."""
        event = cls(
            created_at=now, action=action, actor=actor, target=target, address=address[:64],
            actor_label=actor_label or (actor.username if actor else COMMAND_LINE), detail=detail,
        )
        session.add(event)
        return event

    @classmethod
    def recent(cls, session: Session, users: list[int] | None = None, limit: int = 100) -> list[AuditEvent]:
        """The newest entries, optionally only those about (or by) the given accounts."""
        query = select(cls).order_by(cls.id.desc()).limit(limit)
        if users is not None:
            query = query.where(cls.target_user_id.in_(users) | cls.actor_id.in_(users))
        return list(session.scalars(query))
