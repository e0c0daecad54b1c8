"""Alerts to staff (紧急提醒, 催办, 督办) and their deliveries outside the workspace.

An alert is written in the same transaction as the change that caused it (a new urgent
ticket, a sweep's reminder or escalation), so it is never lost and never sent for a
change that rolled back. Open staff pages poll for alerts in their user's scope; each
configured notifier (企业微信 robot, Telegram chat, WeChat template message) gets an
`AlertDelivery` row that the worker sends and retries like the outbox.

An alert's text names the reference, route, region and deadline: never her words, her
name or her number (it goes to group chats).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, utcnow
from models.region import Region
from models.ticket import Ticket

ALERT_KINDS = ("urgent", "reminded", "escalated", "alerted")
# Who an alert is for: the assignee, the caseworkers of `region`, its supervisors, or
# every supervisor from `region` up to the root.
AUDIENCES = ("assignee", "caseworkers", "supervisors", "chain")
NOTIFIERS = ("wecom", "telegram", "wechat")


class StaffAlert(Base):
    __tablename__ = "staff_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(default=0)
    audience: Mapped[str] = mapped_column(String(16))
    # The region whose staff the alert is for (for "chain": the lowest of the chain).
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    ticket: Mapped[Ticket] = relationship()
    region: Mapped[Region] = relationship()

    def __repr__(self) -> str:
        return f"<StaffAlert {self.kind} ticket={self.ticket_id}>"

    @classmethod
    def since(cls, session: Session, after_id: int, limit: int = 20) -> list[StaffAlert]:
        """Alerts newer than `after_id`, oldest first (the caller keeps those for its user)."""
        return list(
            session.scalars(select(cls).where(cls.id > after_id).order_by(cls.id).limit(limit))
        )

    @classmethod
    def last_id(cls, session: Session) -> int:
        return session.scalar(select(cls.id).order_by(cls.id.desc()).limit(1)) or 0


class AlertDelivery(Base):
    """One alert on its way through one notifier (sent by the worker, retried)."""

    __tablename__ = "alert_delivery"
    __table_args__ = (Index("ix_alert_delivery_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("staff_alert.id"), index=True)
    via: Mapped[str] = mapped_column(String(16))
    # The robot URL, the chat id or the staff member's openid.
    target: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    alert: Mapped[StaffAlert] = relationship()

    def __repr__(self) -> str:
        return f"<AlertDelivery {self.via} {self.status}>"
