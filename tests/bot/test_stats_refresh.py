"""bot/stats_refresh.py: the worker counts again the reports in use, and only those."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

import models.stats_store
from bot.stats_refresh import forget_unwanted, refresh_due
from models import Region, stats_store
from tests.handlers.staff.factories import Clock

FIRST, LAST = date(2026, 12, 1), date(2026, 12, 7)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stored(db, clock):
    """Store a report of city T counted `age` seconds ago and last wanted `wanted` seconds ago."""
    with db.session() as session:
        region_id = Region.by_code(session, "T").id

    def store(age: float, wanted: float, last: date = LAST) -> str:
        with db.engine.begin() as connection:
            stats_store.store(connection, "report", region_id, FIRST, last, clock.now - timedelta(seconds=age), "{}",
                              wanted_at=clock.now - timedelta(seconds=wanted))
        return stats_store.key_of("report", region_id, FIRST, last)
    return store


def counted_at(db, key):
    with db.session() as session:
        return stats_store.read(session, key)[0]


def test_wanted_reports_past_half_their_minute_are_counted_again_and_no_others(db, settings, clock, stored):
    old = stored(age=31, wanted=5)
    young = stored(age=29, wanted=5, last=date(2026, 12, 6))
    forgotten = stored(age=50, wanted=11 * 60, last=date(2026, 12, 5))  # nobody looked for 11 minutes
    assert refresh_due(db, settings, clock=clock) == 1
    assert counted_at(db, old) == clock.now
    assert counted_at(db, young) == clock.now - timedelta(seconds=29)
    assert counted_at(db, forgotten) == clock.now - timedelta(seconds=50)
    with db.session() as session:  # a real report, as a request would read it
        found = stats_store.read(session, old)
        report = stats_store.load(session, "report", Region.by_code(session, "T"), FIRST, LAST, found[2])
    assert report.now == clock.now and report.total.total == 0


def test_a_report_another_refresher_is_counting_is_left_to_it(db, settings, clock, stored):
    key = stored(age=40, wanted=5)
    with db.engine.connect() as connection:
        (wanted,) = stats_store.due(connection, clock.now, timedelta(seconds=30), timedelta(minutes=10))
    with db.engine.begin() as connection:
        assert stats_store.claim(connection, wanted, clock.now, timedelta(minutes=5))
    assert refresh_due(db, settings, clock=clock) == 0
    assert counted_at(db, key) == clock.now - timedelta(seconds=40)


def test_a_failed_count_gives_its_claim_back_and_keeps_the_old_numbers(db, settings, clock, stored, monkeypatch):
    key = stored(age=40, wanted=5)

    def broken(*args):
        raise RuntimeError("database went away")

    monkeypatch.setattr(models.stats_store, "count", broken)
    assert refresh_due(db, settings, clock=clock) == 0
    assert counted_at(db, key) == clock.now - timedelta(seconds=40)
    monkeypatch.undo()
    assert refresh_due(db, settings, clock=clock) == 1, "the next round tries again"


def test_reports_nobody_wanted_for_a_day_are_dropped(db, settings, clock, stored):
    key = stored(age=10, wanted=25 * 3600)
    kept = stored(age=10, wanted=23 * 3600, last=date(2026, 12, 6))
    assert forget_unwanted(db, clock.now) == 1
    with db.session() as session:
        assert stats_store.read(session, key) is None and stats_store.read(session, kept) is not None


def test_nothing_is_counted_ahead_when_every_request_counts(db, settings, clock, stored):
    stored(age=40, wanted=5)
    settings.stats.cache_seconds = 0
    assert refresh_due(db, settings, clock=clock) == 0

