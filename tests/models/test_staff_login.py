"""Logging in: Argon2id passwords, failures counted on the user, a lock after five."""

from __future__ import annotations

from datetime import timedelta

from models import StaffUser, utcnow
from models.staff import LOCKOUT, MAX_FAILED_LOGINS
from tests.handlers.staff.factories import PASSWORD, make_staff


def attempt(db, password, now):
    with db.transaction() as session:
        return StaffUser.by_username(session, "li").log_in(session, password, now)


def test_password_is_stored_as_argon2id(db):
    make_staff(db, "li")
    with db.session() as session:
        user = StaffUser.by_username(session, "li")
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


def test_five_failures_lock_even_the_right_password_until_the_lock_expires(db):
    make_staff(db, "li")
    now = utcnow()
    results = [attempt(db, "wrong-password", now) for _ in range(MAX_FAILED_LOGINS)]
    assert results == ["wrong"] * (MAX_FAILED_LOGINS - 1) + ["locked"]
    assert attempt(db, PASSWORD, now + timedelta(minutes=1)) == "locked"
    assert attempt(db, PASSWORD, now + LOCKOUT + timedelta(seconds=1)) == "ok"
    with db.session() as session:
        user = StaffUser.by_username(session, "li")
        assert user.failed_logins == 0 and user.locked_until is None and user.last_login_at is not None


def test_a_success_resets_the_failure_count(db):
    make_staff(db, "li")
    now = utcnow()
    for _ in range(MAX_FAILED_LOGINS - 1):
        attempt(db, "wrong-password", now)
    assert attempt(db, PASSWORD, now) == "ok"
    assert attempt(db, "wrong-password", now) == "wrong"  # counting starts again


def test_an_inactive_account_cannot_log_in(db):
    make_staff(db, "li")
    with db.transaction() as session:
        StaffUser.by_username(session, "li").active = False
    assert attempt(db, PASSWORD, utcnow()) == "inactive"
