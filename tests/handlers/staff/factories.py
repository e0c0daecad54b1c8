"""Small factories for the workspace's tests: staff, tickets with a transcript, logins."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache

from models import ApiToken, Message, Region, StaffUser, Ticket, utcnow
from models.staff import hash_password
from tests.factories import open_ticket

PASSWORD = "a-long-password"
WORDS = "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下"
PHONE = "13812345678"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@lru_cache(maxsize=1)
def _password_hash() -> str:
    # Argon2id is slow on purpose; one hash, at the service's own parameters (so no login
    # upgrades it), serves every test account.
    return hash_password(PASSWORD)


class Clock:
    """The time the login pages and the session checks read, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    @classmethod
    def install(cls, monkeypatch) -> Clock:
        clock = cls()
        for where in ("handlers.staff.login", "handlers.auth", "handlers.staff.admin"):
            monkeypatch.setattr(f"{where}.utcnow", clock)
        return clock


def make_staff(db, username: str, role: str = "caseworker", region: str = "T01", display_name: str | None = None) -> int:
    with db.transaction() as session:
        user = StaffUser(
            username=username, display_name=display_name or username, role=role,
            region=Region.by_code(session, region), password_hash=_password_hash(),
        )
        session.add(user)
        session.flush()
        return user.id


def make_ticket(
    db,
    region: str = "T01",
    category: str = "mediation",
    urgent: bool = False,
    user: str = "o-woman",
    text: str = WORDS,
    now: datetime | None = None,
    claim_within: timedelta = timedelta(hours=24),
    phone: str | None = None,
    subcategory: str | None = None,
) -> str:
    """A routed ticket with her first message on it; returns its reference."""
    now = now or utcnow()
    with db.transaction() as session:
        ticket = open_ticket(
            session, now, channel_user=user, category=category, urgent=urgent, keywords=["婆婆", "调解"],
            explanation=f"{category}: 婆婆 2.5", region_id=Region.by_code(session, region).id,
            claim_within=claim_within, subcategory=subcategory,
        )
        ticket.contact_phone = phone
        session.add(Message(ticket=ticket, channel="wechat", channel_user=user, direction="in", text=text, created_at=now))
        session.flush()
        return ticket.reference


def token_for(db, username: str) -> str:
    with db.transaction() as session:
        _, secret = ApiToken.issue(session, StaffUser.by_username(session, username), utcnow())
    return secret


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    """Log in through the form, as a browser would (CSRF token and all)."""
    page = client.get("/staff/login")
    return client.post(
        "/staff/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.get_data(as_text=True))},
    )


def post_form(client, path: str, page_path: str, **data):
    """Submit a form on `page_path` to `path` with that page's CSRF token."""
    page = client.get(page_path)
    return client.post(path, data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))})


def ticket_state(db, reference: str) -> Ticket:
    with db.session() as session:
        ticket = Ticket.by_reference(session, reference)
        ticket.assignee, ticket.region  # load before the session closes
        return ticket


def actions_of(db, reference: str) -> list[tuple[str, int | None]]:
    with db.session() as session:
        ticket = Ticket.by_reference(session, reference)
        return [(e.action, e.actor_id) for e in ticket.events]
