"""Staff accounts: caseworkers, supervisors and admins, each bound to a region."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, utcnow
from models.passwords import check_strength
from models.region import Region

ROLES = ("caseworker", "supervisor", "admin")
# Roles that may assign and transfer tickets anywhere in their subtree.
SUPERVISING_ROLES = ("supervisor", "admin")
# Roles that work cases: a ticket is given only to one of these (admins keep the system).
CASE_ROLES = ("caseworker", "supervisor")

# Argon2id at OWASP's second recommended setting (19 MiB, 2 passes, 1 lane): a fraction
# of the time of argon2-cffi's default (64 MiB, 3 passes, 4 lanes, i.e. 4 threads per
# login; the figures: see bench/README.md). A login flood must not take the cores the
# webhook needs (bench/login_flood.py); older hashes are upgraded at the next good login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# A TOTP code is accepted one 30-second step early or late (phone clocks drift).
TOTP_STEP_SECONDS = 30
TOTP_DRIFT_STEPS = 1
# Verified against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """The Argon2id hash stored for `password` (no policy check: see StaffUser.set_password)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Whether `password` matches `password_hash` (None, for an unknown username, takes
    as long and never matches), and a hash at today's parameters to store when it does
    and the old one is weaker. Needs no database: the web login calls it outside any
    transaction, since on SQLite a transaction holds the one writer's lock."""
    try:
        matches = _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False, None
    upgraded = _hasher.hash(password) if matches and _hasher.check_needs_rehash(password_hash) else None
    return matches, upgraded


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
    last_login_at: Mapped[datetime | None]
    # Her WeChat openid, if she linked it: alerts come as template messages.
    wechat_openid: Mapped[str | None] = mapped_column(String(64))
    # When one of her workspace pages last asked for alerts (at most once a minute):
    # someone is on duty who will see a banner.
    seen_at: Mapped[datetime | None]

    # Part of every session's user id: raising it ends all of this user's sessions at
    # once, on every process (logout, a new password, a disabled account).
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # Base32 TOTP secret when the user turned on two-step login, and the last time step
    # used, so a code seen over her shoulder cannot be used again.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None]

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
        user = cls(username=username, display_name=display_name or username, role=role, region=region)
        user.set_password(password)
        session.add(user)
        return user

    def set_password(self, password: str) -> None:
        """Store a new password (WeakPassword if the policy refuses it); it ends every
        session, so whoever knew the old one is out."""
        check_strength(password, self.username, self.display_name or "")
        self.password_hash = hash_password(password)
        self.end_sessions()

    def disable(self) -> None:
        """Refuse this account from now on: its sessions end and its API tokens stop working."""
        self.active = False
        self.end_sessions()

    def enable(self) -> None:
        self.active = True

    def end_sessions(self) -> None:
        """Log this user out everywhere: every session cookie issued so far stops working."""
        self.session_epoch = (self.session_epoch or 0) + 1

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

    @classmethod
    def may_take(cls, session: Session, region: Region) -> list[StaffUser]:
        """Who a ticket of `region` may be given to: active caseworkers and supervisors
        whose grid holds it (its region or one above it), nearest first."""
        chain = [r.id for r in region.chain()]
        return list(
            session.scalars(
                select(cls)
                .join(cls.region)
                .where(cls.active.is_(True), cls.role.in_(CASE_ROLES), cls.region_id.in_(chain))
                .order_by(Region.path.desc(), cls.display_name)
            )
        )

    @property
    def takes_cases(self) -> bool:
        return self.role in CASE_ROLES

    # -- scope ----------------------------------------------------------------

    @property
    def supervises(self) -> bool:
        """Supervisors and admins assign and transfer; caseworkers work their own tickets."""
        return self.role in SUPERVISING_ROLES

    def sees(self, region: Region) -> bool:
        """Whether `region` lies in this user's subtree (everything they may see)."""
        return self.region.contains(region)

    # -- logging in -----------------------------------------------------------

    def log_in(self, password: str, now: datetime) -> str:
        """Check a password: "ok", "wrong" or "inactive" (failures are counted per
        account and address by models.throttle, never by locking the account). The
        caller commits."""
        matches, upgraded = verify_password(self.password_hash, password)
        return self.record_login(now, upgraded) if matches else "wrong"

    def record_login(self, now: datetime, upgraded_hash: str | None = None) -> str:
        """After verify_password matched: "ok", or "inactive" for a disabled account."""
        if not self.active:
            return "inactive"
        if upgraded_hash:
            self.password_hash = upgraded_hash
        self.last_login_at = now
        return "ok"

    # -- two-step login (TOTP) ------------------------------------------------

    @property
    def uses_totp(self) -> bool:
        return bool(self.totp_secret)

    @staticmethod
    def new_totp_secret() -> str:
        return pyotp.random_base32()

    @staticmethod
    def totp_uri(secret: str, username: str, issuer: str) -> str:
        """The otpauth:// link an authenticator app reads (typed in or as a QR code); `issuer`
        is the name the app shows beside the code (the caller's words)."""
        return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)

    @staticmethod
    def _totp_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
        """The time step `code` belongs to, if it is current (± drift) and newer than `after`."""
        code = code.strip().replace(" ", "")
        if not code.isdecimal():
            return None
        totp = pyotp.TOTP(secret)
        current = int(now.timestamp()) // TOTP_STEP_SECONDS
        for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
            if (after is None or step > after) and hmac.compare_digest(totp.at(step * TOTP_STEP_SECONDS), code):
                return step
        return None

    def enable_totp(self, secret: str, code: str, now: datetime) -> bool:
        """Turn on two-step login once the user shows a code from her app for `secret`."""
        step = self._totp_step(secret, code, now, None)
        if step is None:
            return False
        self.totp_secret, self.totp_last_step = secret, step
        return True

    def disable_totp(self) -> None:
        self.totp_secret = self.totp_last_step = None

    def check_totp(self, code: str, now: datetime) -> bool:
        """Whether `code` is this user's current one-time code, each code usable once."""
        if not self.totp_secret:
            return True
        step = self._totp_step(self.totp_secret, code, now, self.totp_last_step)
        if step is None:
            return False
        self.totp_last_step = step
        return True

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
        # "id.epoch": a session saved before end_sessions() names an old epoch.
        return f"{self.id}.{self.session_epoch or 0}"
