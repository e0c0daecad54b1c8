"""Logging in: Argon2id passwords, a password policy, session epochs, one-time codes."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from argon2 import PasswordHasher

from models import Region, StaffUser, utcnow
from models.passwords import WeakPassword
from tests.handlers.staff.factories import PASSWORD, make_staff


def test_password_is_stored_as_argon2id_with_one_lane(db):
    with db.transaction() as session:
        user = StaffUser.create(session, "li", PASSWORD, "caseworker", Region.by_code(session, "T01"))
        assert user.password_hash.startswith("$argon2id$") and ",p=1$" in user.password_hash
        assert PASSWORD not in user.password_hash


@pytest.mark.parametrize("weak", ["12345678", "password", "password123", "qwertyuiop", "wangjie-wangjie", "1234567890"])
def test_weak_passwords_and_the_username_are_refused(db, weak):
    with db.transaction() as session, pytest.raises(WeakPassword):
        StaffUser.create(session, "wangjie", weak, "admin", Region.by_code(session, "T01"))


def test_a_passphrase_of_ten_or_more_characters_is_accepted(db):
    with db.transaction() as session:
        StaffUser.create(session, "wangjie", "风筝飞过小河边-2026", "admin", Region.by_code(session, "T01"))


def test_an_old_hash_is_upgraded_at_the_next_good_login(db):
    make_staff(db, "li")
    with db.transaction() as session:
        user = StaffUser.by_username(session, "li")
        user.password_hash = PasswordHasher().hash(PASSWORD)  # argon2-cffi's default, 4 lanes
        assert user.log_in(PASSWORD, utcnow()) == "ok"
        assert ",p=1$" in user.password_hash and user.check_password(PASSWORD)


def test_wrong_and_inactive(db):
    make_staff(db, "li")
    with db.transaction() as session:
        user = StaffUser.by_username(session, "li")
        assert user.log_in("not-the-password", utcnow()) == "wrong"
        user.disable()
        assert user.log_in(PASSWORD, utcnow()) == "inactive"


def test_ending_sessions_changes_the_session_id(db):
    make_staff(db, "li")
    with db.transaction() as session:
        user = StaffUser.by_username(session, "li")
        before = user.get_id()
        user.end_sessions()
        assert user.get_id() != before and user.get_id().startswith(f"{user.id}.")


def test_a_one_time_code_works_once_and_only_near_its_time(db):
    make_staff(db, "wang", "admin")
    now = utcnow()
    secret = StaffUser.new_totp_secret()
    totp = pyotp.TOTP(secret)
    with db.transaction() as session:
        user = StaffUser.by_username(session, "wang")
        assert not user.enable_totp(secret, "000000" if totp.at(now) != "000000" else "111111", now)
        assert user.enable_totp(secret, totp.at(now), now)
        later = now + timedelta(seconds=60)
        assert not user.check_totp(totp.at(now), later)  # spent at enrolment, and too old
        assert not user.check_totp(totp.at(later + timedelta(minutes=5)), later)  # not yet
        assert user.check_totp(totp.at(later), later)
        assert not user.check_totp(totp.at(later), later)  # each code once
