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
