"""Login throttling: failures counted per account and per address, each answered with a
growing delay (never a lock), kept in the database so every process sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, UniqueConstraint, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, insert_unless_present

ACCOUNT = "account"
ADDRESS = "address"
# A browser holding a signed cookie from an earlier login to the account: it waits only
# for its own failures (handlers/staff/login.py), with the address's growing delays.
DEVICE = "device"


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, how the delay grows, where it stops, when it is forgotten."""

    free_failures: int = 3
    base_delay_seconds: int = 2
    account_max_delay_seconds: int = 60
    address_max_delay_seconds: int = 900
    failure_expiry_minutes: int = 30

    def delay(self, scope: str, failures: int) -> timedelta:
        """The wait after the `failures`-th failure in a row: doubling, capped per scope.

        The account's cap is low on purpose: anyone can type her username, so what they
        can do to her account must stay a short wait, never a lock-out.
        """
        over = failures - self.free_failures
        if over <= 0:
            return timedelta(0)
        cap = self.account_max_delay_seconds if scope == ACCOUNT else self.address_max_delay_seconds
        return timedelta(seconds=min(self.base_delay_seconds * 2 ** min(over - 1, 30), cap))

    @property
    def expiry(self) -> timedelta:
        return timedelta(minutes=self.failure_expiry_minutes)


class LoginThrottle(Base):
    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # ACCOUNT (key: the username as typed, lower-cased, known or not), ADDRESS (an IP)
    # or DEVICE (a digest of the browser's known-device cookie).
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    blocked_until: Mapped[datetime]

    @staticmethod
    def account_key(username: str) -> str:
        return username.strip().lower()[:200]

    @classmethod
    def wait(cls, session: Session, scope: str, key: str, now: datetime) -> float:
        """Seconds until `key` may try again (0: now)."""
        until = session.scalar(select(cls.blocked_until).where(cls.scope == scope, cls.key == key))
        return max((until - now).total_seconds(), 0.0) if until else 0.0

    @classmethod
    def fail(cls, session: Session, scope: str, key: str, now: datetime, policy: ThrottlePolicy) -> int:
        """Count a failure for `key` and set its delay; returns the failures in a row.

        Failures older than the policy's expiry are forgotten first. The count is raised
        in the database (insert if absent, then one UPDATE), so simultaneous failures on
        several processes each count. The caller commits.
        """
        stale = now - policy.expiry
        session.execute(delete(cls).where(cls.last_failure_at < stale).execution_options(synchronize_session=False))
        session.execute(
            insert_unless_present(
                session, cls.__table__, ["scope", "key"],
                scope=scope, key=key, failures=0, last_failure_at=now, blocked_until=now,
            )
        )
        failures = session.scalar(
            update(cls)
            .where(cls.scope == scope, cls.key == key)
            .values(failures=cls.failures + 1, last_failure_at=now)
            .returning(cls.failures)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(cls)
            .where(cls.scope == scope, cls.key == key)
            .values(blocked_until=now + policy.delay(scope, failures))
            .execution_options(synchronize_session=False)
        )
        return failures

    @classmethod
    def clear(cls, session: Session, scope: str, key: str) -> bool:
        """Forget `key`'s failures (a success, or an admin's unlock); whether there were any."""
        result = session.execute(
            delete(cls).where(cls.scope == scope, cls.key == key).execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)
