"""API tokens: the secret is shown once and only its hash is kept."""

from __future__ import annotations

from sqlalchemy import select

from models import ApiToken, StaffUser, utcnow
from tests.handlers.staff.factories import make_staff


def test_issued_token_finds_its_user_and_is_stored_hashed(db):
    make_staff(db, "li")
    with db.transaction() as session:
        _, secret = ApiToken.issue(session, StaffUser.by_username(session, "li"), utcnow(), "手机")
    with db.session() as session:
        stored = session.scalars(select(ApiToken)).one()
        assert secret.startswith("nj_") and secret not in stored.token_hash and len(stored.token_hash) == 64
        assert ApiToken.user_for(session, secret).username == "li"
        assert ApiToken.user_for(session, secret + "x") is None
        assert ApiToken.user_for(session, "not-a-token") is None


def test_revoked_token_and_inactive_user_are_refused(db):
    make_staff(db, "li")
    make_staff(db, "wang")
    with db.transaction() as session:
        token, revoked = ApiToken.issue(session, StaffUser.by_username(session, "li"), utcnow())
        token.revoke(utcnow())
        _, inactive = ApiToken.issue(session, StaffUser.by_username(session, "wang"), utcnow())
        StaffUser.by_username(session, "wang").active = False
    with db.session() as session:
        assert ApiToken.user_for(session, revoked) is None
        assert ApiToken.user_for(session, inactive) is None
