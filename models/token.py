"""API tokens: a staff member's bearer credential for the JSON API, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, utcnow
from models.staff import StaffUser

TOKEN_PREFIX = "nj_"


def _digest(token: str) -> str:
    # The token is 256 random bits, so a plain SHA-256 cannot be brute-forced; a slow
    # password hash would only make every API request slow.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so an admin can tell tokens apart without the secret.
    hint: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    user: Mapped[StaffUser] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.hint}… user={self.user_id}>"

    @classmethod
    def issue(cls, session: Session, user: StaffUser, now: datetime, label: str = "") -> tuple[ApiToken, str]:
        """A new token for `user`: the row, and the secret (shown once, never stored)."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls(user=user, token_hash=_digest(secret), hint=secret[:8], label=label, created_at=now)
        session.add(token)
        return token, secret

    @classmethod
    def user_for(cls, session: Session, secret: str) -> StaffUser | None:
        """The active staff member a presented token belongs to, or None."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        token = session.scalar(
            select(cls).where(cls.token_hash == _digest(secret), cls.revoked_at.is_(None))
        )
        if token is None or not token.user.active:
            return None
        return token.user

    def revoke(self, now: datetime) -> None:
        self.revoked_at = now
