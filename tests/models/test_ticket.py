"""Tickets: references that can be read out on the phone, unique under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from models import Ticket, next_reference
from models.desk import Desk
from tests.factories import open_ticket


def test_references_count_up_per_china_day(db):
    # 2026-11-21 16:30 UTC is already 2026-11-22 in China.
    evening = datetime(2026, 11, 21, 15, 0, tzinfo=timezone.utc)
    with db.transaction() as session:
        first = next_reference(session, "NJ", evening)
        second = next_reference(session, "NJ", evening)
        next_day = next_reference(session, "NJ", evening + timedelta(hours=1, minutes=30))
    assert (first, second, next_day) == ("NJ-20261121-0001", "NJ-20261121-0002", "NJ-20261122-0001")


def test_concurrent_tickets_get_distinct_references(db):
    now = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)

    def create(n):
        with db.transaction() as session:
            return open_ticket(session, now, channel_user=f"o-{n}").reference

    with ThreadPoolExecutor(max_workers=8) as pool:
        references = list(pool.map(create, range(24)))
    assert len(set(references)) == 24
    assert sorted(references)[-1] == "NJ-20261121-0024"


def test_a_ticket_opened_in_an_uncommitted_delivery_does_not_hold_up_the_next_reference(db):
    # On PostgreSQL the day's counter is bumped in a transaction of its own: a second
    # delivery gets its number while the first is still open (with the counter locked
    # until the first commits, it would wait, here for lock_timeout).
    if db.dialect == "sqlite":
        pytest.skip("SQLite's writers take turns: the second delivery waits for the first anyway")
    now = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)
    with db.transaction() as first, db.transaction() as second:
        second.execute(text("SET LOCAL lock_timeout = '2s'"))
        one = open_ticket(first, now, channel_user="o-first").reference
        two = open_ticket(second, now, channel_user="o-second").reference
    assert (one, two) == ("NJ-20261121-0001", "NJ-20261121-0002")


def test_the_reference_bumped_apart_leaves_the_pooled_connections_as_they_were(db):
    # The bump turns synchronous_commit off for its own one-statement transaction only: a
    # connection back in the pool that kept it off (or kept autocommit) would make the
    # next delivery's commit unsafe.
    if db.dialect == "sqlite":
        pytest.skip("SQLite bumps the counter inside the delivery")
    now = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)
    with db.transaction() as session:
        references = [open_ticket(session, now, channel_user=f"o-{n}").reference for n in range(3)]
    assert references == ["NJ-20261121-0001", "NJ-20261121-0002", "NJ-20261121-0003"]
    connections = [db.engine.connect() for _ in range(db.engine.pool.checkedin())]
    try:
        assert len(connections) >= 2  # the delivery's and the bump's
        for connection in connections:
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
            assert connection.connection.dbapi_connection.autocommit is False
    finally:
        for connection in connections:
            connection.close()


def test_open_ticket_sets_deadlines_and_records_creation(db):
    now = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)
    with db.transaction() as session:
        ticket = open_ticket(session, now, urgent=True, claim_within=timedelta(minutes=30))
    with db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.id == ticket.id))
        assert ticket.claim_due_at == now + timedelta(minutes=30)
        assert ticket.resolve_due_at == now + timedelta(days=15)
        assert [e.action for e in ticket.events] == ["created"]
        assert ticket.created_at.tzinfo is not None


def test_open_for_finds_only_her_open_ticket(db):
    now = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)
    with db.transaction() as session:
        closed = open_ticket(session, now)
        closed.status = "closed"
        mine = open_ticket(session, now + timedelta(minutes=1))
        open_ticket(session, now, channel_user="o-other")
    with db.engine.connect() as connection:
        desk = Desk(connection)
        assert desk.open_ticket_for("wechat", "o-1").id == mine.id
        assert desk.open_ticket_for("telegram", "o-1") is None
