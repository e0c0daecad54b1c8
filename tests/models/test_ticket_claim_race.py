"""Claim exactly once: ten processes claim one ticket at the same moment, on whatever
database the suite runs on (SQLite, or PostgreSQL with NIANGJIA_TEST_DATABASE_URL)."""

from __future__ import annotations

import multiprocessing

from sqlalchemy import func, select

from handlers.messages import error_message  # the staff side words the models' refusals
from models import Database, StaffUser, Ticket, TicketEvent, utcnow
from models.ticket import Conflict
from tests.handlers.staff.factories import make_staff, make_ticket

CLAIMERS = 10


def _claim(url, reference, username, barrier, results):
    db = Database(url)
    try:
        barrier.wait(timeout=60)
        with db.transaction() as session:
            ticket = Ticket.by_reference(session, reference)
            ticket.claim(session, StaffUser.by_username(session, username), utcnow())
        results.put((username, "won"))
    except Conflict as conflict:
        results.put((username, error_message(conflict)))
    except Exception as exc:  # reported, so the test fails with the cause
        results.put((username, f"error {type(exc).__name__}: {exc}"))
    finally:
        db.dispose()


def test_ten_simultaneous_claimers_one_wins_nine_are_told_who(db, settings):
    names = [f"worker{n}" for n in range(CLAIMERS)]
    for name in names:
        make_staff(db, name, display_name=f"网格员{name[-1]}")
    reference = make_ticket(db)
    db.dispose()  # no connections cross the fork

    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(CLAIMERS), context.Queue()
    workers = [
        context.Process(target=_claim, args=(settings.database_url, reference, name, barrier, results))
        for name in names
    ]
    for worker in workers:
        worker.start()
    outcomes = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    winners = [name for name, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1, outcomes
    winner_label = f"网格员{winners[0][-1]}"
    assert all(outcome == f"已被 {winner_label} 认领" for name, outcome in outcomes.items() if name != winners[0]), outcomes
    with db.session() as session:
        ticket = Ticket.by_reference(session, reference)
        assert ticket.assignee.username == winners[0]
        claims = session.scalar(
            select(func.count()).select_from(TicketEvent).where(TicketEvent.action == "claimed")
        )
        assert claims == 1
