"""Staff accounts: caseworkers, supervisors and admins, each bound to a region."""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, utcnow
from models.region import Region

ROLES = ("caseworker", "supervisor", "admin")
ROLE_LABELS = {"caseworker": "个案工作者", "supervisor": "督办人", "admin": "管理员"}

_hasher = PasswordHasher()


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    region: Mapped[Region] = relationship()

    def __repr__(self) -> str:
        return f"<StaffUser {self.username} {self.role}>"

    @classmethod
    def create(
        cls, session: Session, username: str, password: str, role: str, region: Region, display_name: str = ""
    ) -> StaffUser:
        """Add a staff account; the password is stored only as an Argon2id hash."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise ValueError("password must have at least 8 characters")
        user = cls(username=username, display_name=display_name or username, role=role, region=region)
        user.set_password(password)
        session.add(user)
        return user

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        try:
            return _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @classmethod
    def by_username(cls, session: Session, username: str) -> StaffUser | None:
        return session.scalar(select(cls).where(cls.username == username))
