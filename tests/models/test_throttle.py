"""Login throttling in the database: growing delays per key, capped per scope, forgotten."""

from __future__ import annotations

from datetime import timedelta

from models import LoginThrottle, ThrottlePolicy, utcnow
from models.throttle import ACCOUNT, ADDRESS

POLICY = ThrottlePolicy(free_failures=3, base_delay_seconds=2, account_max_delay_seconds=60,
                        address_max_delay_seconds=900, failure_expiry_minutes=30)


def test_delays_start_after_the_free_failures_double_and_stop_at_the_scopes_cap():
    account = [POLICY.delay(ACCOUNT, n).total_seconds() for n in range(1, 12)]
    address = [POLICY.delay(ADDRESS, n).total_seconds() for n in range(1, 12)]
    assert account == [0, 0, 0, 2, 4, 8, 16, 32, 60, 60, 60]
    assert address == [0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256]
    assert POLICY.delay(ADDRESS, 1000).total_seconds() == 900


def test_failures_count_per_key_and_set_the_wait(db):
    now = utcnow()
    with db.transaction() as session:
        counts = [LoginThrottle.fail(session, ADDRESS, "203.0.113.66", now, POLICY) for _ in range(5)]
        assert counts == [1, 2, 3, 4, 5]
        assert LoginThrottle.wait(session, ADDRESS, "203.0.113.66", now) == 4
        assert LoginThrottle.wait(session, ADDRESS, "10.0.0.1", now) == 0
        assert LoginThrottle.wait(session, ACCOUNT, "203.0.113.66", now) == 0


def test_old_failures_are_forgotten_and_clear_forgets_at_once(db):
    now = utcnow()
    with db.transaction() as session:
        for _ in range(5):
            LoginThrottle.fail(session, ACCOUNT, "li", now, POLICY)
        later = now + timedelta(minutes=31)
        assert LoginThrottle.fail(session, ACCOUNT, "li", later, POLICY) == 1
        assert LoginThrottle.clear(session, ACCOUNT, "li")
        assert not LoginThrottle.clear(session, ACCOUNT, "li")
        assert LoginThrottle.wait(session, ACCOUNT, "li", later) == 0
