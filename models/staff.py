"""Staff accounts: caseworkers, supervisors and admins, each bound to a region."""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, utcnow
from models.region import Region

ROLES = ("caseworker", "supervisor", "admin")
ROLE_LABELS = {"caseworker": "个案工作者", "supervisor": "督办人", "admin": "管理员"}
# Roles that may assign and transfer tickets anywhere in their subtree.
SUPERVISING_ROLES = ("supervisor", "admin")

# Repeated wrong passwords lock the account for a while (recorded on the user, so the
# lock holds across processes and restarts).
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


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
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # Her WeChat openid, if she linked it: alerts come as template messages.
    wechat_openid: Mapped[str | None] = mapped_column(String(64))
    # When one of her workspace pages last asked for alerts (at most once a minute):
    # someone is on duty who will see a banner.
    seen_at: Mapped[datetime | None]

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

    @classmethod
    def in_region(cls, session: Session, region: Region) -> list[StaffUser]:
        """Active staff who work in `region`'s subtree, for assignment pickers."""
        return list(
            session.scalars(
                select(cls)
                .join(cls.region)
                .where(cls.active.is_(True), Region.path.startswith(region.path, autoescape=True))
                .order_by(Region.path, cls.display_name)
            )
        )

    # -- scope ----------------------------------------------------------------

    @property
    def supervises(self) -> bool:
        """Supervisors and admins assign and transfer; caseworkers work their own tickets."""
        return self.role in SUPERVISING_ROLES

    def sees(self, region: Region) -> bool:
        """Whether `region` lies in this user's subtree (everything they may see)."""
        return self.region.contains(region)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    # -- logging in -----------------------------------------------------------

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def log_in(self, session: Session, password: str, now: datetime) -> str:
        """Check a password, counting failures: "ok", "wrong", "locked" or "inactive".

        A locked account does not even check the password, so guessing on stops
        counting. The failure count is raised in the database (not read, then written),
        so simultaneous guesses on several processes each count. The caller commits.
        """
        if self.locked(now):
            return "locked"
        if not self.check_password(password):
            failures = session.scalar(
                update(StaffUser)
                .where(StaffUser.id == self.id)
                .values(failed_logins=StaffUser.failed_logins + 1)
                .returning(StaffUser.failed_logins)
                .execution_options(synchronize_session=False)
            )
            if failures >= MAX_FAILED_LOGINS:
                session.execute(
                    update(StaffUser)
                    .where(StaffUser.id == self.id)
                    .values(failed_logins=0, locked_until=now + LOCKOUT)
                    .execution_options(synchronize_session=False)
                )
                session.refresh(self)
                return "locked"
            session.refresh(self)
            return "wrong"
        if not self.active:
            return "inactive"
        self.failed_logins = 0
        self.locked_until = None
        self.last_login_at = now
        return "ok"

    @staticmethod
    def waste_time_verifying(password: str) -> None:
        """Spend a verification on an unknown username, so its answer takes as long."""
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            pass

    # Flask-Login reads these four by name; plain attributes keep models free of Flask.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)
