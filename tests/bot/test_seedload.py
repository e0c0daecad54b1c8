"""niangjia seed-load: a four-level grid and realistic cases whose numbers hang together."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from bot.seedload import load
from models import Database, FollowUp, Message, Region, Ticket, TicketEvent
from models.stats import Window, report


@pytest.fixture
def empty_db(database_url):
    db = Database(database_url)
    from bot.setup import init_database

    init_database(db)
    yield db
    db.dispose()


def test_seed_load_fills_a_grid_with_cases_their_trails_and_answers(empty_db):
    now = datetime(2026, 12, 7, 4, 0, tzinfo=timezone.utc)
    counts = load(empty_db, 3000, regions=250, years=1, now=now)
    with empty_db.session() as session:
        levels = dict(session.execute(select(Region.level, func.count()).group_by(Region.level)).tuples().all())
        assert levels == {"city": 1, "county": 2, "town": 20, "village": 200}
        assert session.scalar(select(func.count()).select_from(Ticket)) == counts["tickets"] == 3000
        assert session.scalar(select(func.count()).select_from(Message)) == counts["messages"] >= 3000
        assert session.scalar(select(func.count()).select_from(FollowUp)) == counts["follow_ups"] > 0
        actions = set(session.scalars(select(TicketEvent.action).distinct()))
        assert {"created", "claimed", "replied", "resolved", "closed", "reopened", "escalated"} <= actions
        statuses = set(session.scalars(select(Ticket.status).distinct()))
        assert {"new", "claimed", "resolved", "closed"} <= statuses
        # Nothing personal: stock words, made-up openids.
        assert not session.scalar(select(func.count()).select_from(Ticket).where(Ticket.contact_phone.is_not(None)))
        numbers = report(session, Region.root(session), Window(date(2026, 1, 1), date(2026, 11, 30)), now)
    assert 0.5 < numbers.total.rate("response_rate") < 1
    assert 0.5 < numbers.total.rate("satisfaction_rate") < 1
    assert sum(c.total for _, c in numbers.children) == numbers.total.total > 2000


def test_seed_load_refuses_a_database_with_a_grid(db):
    with pytest.raises(ValueError, match="empty database"):
        load(db, 10)


def test_the_command_says_what_it_wrote(tmp_path):
    from click.testing import CliRunner

    from handlers.cli import cli

    result = CliRunner().invoke(cli, ["seed-load", "500", "--regions", "120", "--years", "0.5"],
                                env={"NIANGJIA_DATABASE_URL": f"sqlite:///{tmp_path / 'seed.db'}"})
    assert result.exit_code == 0, result.output
    assert "tickets 500" in result.output
    bad = CliRunner().invoke(cli, ["seed-load", "0"], env={"NIANGJIA_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert bad.exit_code == 2 and "N" in bad.output


def test_the_indexed_counts_agree_with_a_count_of_every_row(empty_db):
    """The clock rates read only the clocks settled in a window (two range queries on
    indexed moments); here every seeded ticket is read and counted by the definition
    itself, in Python, for a few windows of the tree and of one county."""
    from models.stats import RATES, rate_members

    now = datetime(2026, 12, 7, 4, 0, tzinfo=timezone.utc)
    load(empty_db, 4000, regions=250, years=1, now=now)
    with empty_db.session() as session:
        rows = session.execute(select(
            Ticket.id, Ticket.region_id, Ticket.status, Ticket.created_at, Ticket.claim_due_at, Ticket.first_reply_due_at,
            Ticket.resolve_due_at, Ticket.claimed_at, Ticket.first_response_at, Ticket.resolved_at, Ticket.closed_at,
        )).all()
        answers = session.execute(select(FollowUp.ticket_id, FollowUp.answered_at, FollowUp.solved, FollowUp.satisfaction)).all()
        root = Region.root(session)
        county = session.scalar(select(Region).where(Region.parent_id == root.id).order_by(Region.code).limit(1))
        in_county = {rid for rid, in session.execute(select(Region.id).where(Region.path.startswith(county.path)))}
        for region, regions in ((root, None), (county, in_county)):
            for window in (Window(date(2026, 11, 1), date(2026, 11, 30)), Window(date(2026, 12, 1), date(2026, 12, 7)),
                           Window(date(2026, 1, 1), date(2026, 3, 31))):
                start, end = window.start, window.end
                want = {k: 0 for k in ("claim_due", "claim_met", "reply_due", "reply_met", "resolve_due", "resolve_met",
                                       "total", "answered", "solved", "rated", "satisfied")}
                mine = set()
                for (tid, rid, status, created, claim_due, reply_due, resolve_due, claimed, replied, resolved,
                     closed) in rows:
                    if regions is not None and rid not in regions:
                        continue
                    mine.add(tid)
                    want["total"] += start <= created < end
                    if status == "withdrawn":
                        continue
                    ended = resolved or closed
                    for name, due, stop in (("claim", claim_due, claimed or ended), ("reply", reply_due, replied or ended),
                                            ("resolve", resolve_due, ended)):
                        if due is None:
                            continue
                        met = stop is not None and stop <= due
                        moment = stop if met else due
                        if start <= moment < end and moment <= now:
                            want[f"{name}_due"] += 1
                            want[f"{name}_met"] += met
                for tid, answered_at, solved, satisfaction in answers:
                    if tid in mine and answered_at is not None and start <= answered_at < end:
                        want["answered"] += solved is not None
                        want["solved"] += solved is True
                        want["rated"] += satisfaction is not None
                        want["satisfied"] += satisfaction in ("satisfied", "basically_satisfied")
                got = report(session, region, window, now).total
                assert {k: getattr(got, k) for k in want} == want, (region.code, window)
                assert want["claim_due"] > 0 or window.first.month == 12 and regions is not None
                # Each rate's drill-down holds as many tickets as its numerator and denominator.
                for name, (numerator, denominator) in RATES.items():
                    if name in ("resolution_rate", "satisfaction_rate"):
                        continue  # answers, not tickets (one answer a ticket here, but not in general)
                    for part, field in (("met", numerator), ("base", denominator)):
                        members = rate_members(session, name, part, window, now)
                        scope = Ticket.region_id.in_(regions) if regions is not None else Ticket.id.is_not(None)
                        listed = session.scalar(select(func.count()).select_from(Ticket).where(members, scope))
                        assert listed == getattr(got, field), (name, part, region.code, window)
