"""Importing the grid keeps one root: the placeholder from init-db is adopted, a second root refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.regions import RegionFileError, import_regions
from bot.setup import SetupError, check_regions, init_database
from models import Database, Region, Ticket, utcnow
from models.desk import Desk

GRID = "code,name,level,parent_code\nC1,一市,city,\nC101,一县,county,C1\nC10101,一街道,town,C101\n"


@pytest.fixture
def fresh(database_url):
    """A database as `niangjia init-db` leaves it: at head, with the placeholder root."""
    database = Database(database_url)
    init_database(database)
    yield database
    database.dispose()


def test_import_adopts_the_placeholder_root_and_keeps_what_was_filed_there(fresh):
    now = utcnow()
    with fresh.engine.begin() as connection:
        desk = Desk(connection)
        ticket_id = desk.open_ticket(
            reference_prefix="NJ", channel="wechat", channel_user="o-1", category="consultation", subcategory=None,
            urgent=True, confidence=0.9, keywords=[], explanation="", region_id=desk.root_region().id, now=now,
            deadlines={"claim": now + timedelta(minutes=30), "first_reply": now + timedelta(hours=2),
                       "resolve": now + timedelta(days=3)},
        ).id
        desk.save()
    with fresh.transaction() as session:
        assert import_regions(session, GRID) == 3
    with fresh.session() as session:
        [root] = Region.roots(session)
        assert (root.code, root.name, root.level, root.path) == ("C1", "一市", "city", "/C1/")
        assert Region.by_code(session, "C10101").path == "/C1/C101/C10101/"
        assert Region.by_code(session, "ROOT") is None
        assert session.get(Ticket, ticket_id).region_id == root.id


def test_a_second_root_is_refused_naming_the_line(fresh):
    with fresh.transaction() as session:
        import_regions(session, GRID)
    with pytest.raises(RegionFileError, match="line 2: C2 .*root"):
        with fresh.transaction() as session:
            import_regions(session, "code,name,level,parent_code\nC2,二市,city,\n")
    with fresh.session() as session:
        assert [r.code for r in Region.roots(session)] == ["C1"]


def test_a_file_with_two_top_rows_is_refused(database_url):
    database = Database(database_url)
    init_database(database, create_root=False)
    with pytest.raises(RegionFileError, match="line 3"):
        with database.transaction() as session:
            import_regions(session, "C1,一市,city,\nC2,二市,city,\n".join(["code,name,level,parent_code\n", ""]))
    database.dispose()


def test_reimporting_the_same_grid_renames_and_adds_nothing(fresh):
    with fresh.transaction() as session:
        import_regions(session, GRID)
    with fresh.transaction() as session:
        assert import_regions(session, GRID.replace("一市", "第一市")) == 0
    with fresh.session() as session:
        assert [r.name for r in Region.roots(session)] == ["第一市"]


def test_start_up_refuses_an_unknown_default_region_and_several_roots(fresh):
    with pytest.raises(SetupError, match="intake.default_region is NOPE"):
        check_regions(fresh, "NOPE")
    check_regions(fresh, "")
    check_regions(fresh, "ROOT")
    with fresh.transaction() as session:
        # A database from before imports kept one root: two roots side by side.
        Region.create(session, "X1", "别市", "city")
    with pytest.raises(SetupError, match="2 roots"):
        check_regions(fresh, "")
    check_regions(fresh, "X1")
