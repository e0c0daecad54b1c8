"""models/stats_store.py: a stored report reads back as counted, and one claim wins."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, timedelta

import pytest

from models import Region, stats_store, utcnow
from models.stats import Counts, Window, report, weekly
from tests.stats_scenario import build


@pytest.fixture
def scenario(db, wechat, worker, client):
    return build(db, wechat, worker, client)


def _same(a: Counts, b: Counts) -> None:
    for f in fields(Counts):
        if f.name != "hours":
            assert dict(getattr(a, f.name)) == dict(getattr(b, f.name)) if isinstance(getattr(a, f.name), dict) \
                else getattr(a, f.name) == getattr(b, f.name), f.name
    for clock in ("claim", "first_reply", "resolve"):
        assert (a.hours_counted(clock), a.median_hours(clock), a.p90_hours(clock)) == \
               (b.hours_counted(clock), b.median_hours(clock), b.p90_hours(clock)), clock


def test_a_stored_report_reads_back_as_it_was_counted(scenario, db):
    window, now = Window.parse(scenario.first, scenario.last), utcnow()
    with db.session() as session:
        city = Region.by_code(session, "T")
        counted = report(session, city, window, now)
        back = stats_store.load(session, stats_store.REPORT, city, window.first, window.last,
                                stats_store.dump(stats_store.REPORT, counted))
        assert back.as_api() == counted.as_api()
        assert back.now == counted.now and back.overdue_now == counted.overdue_now
        assert [r.code for r, _ in back.children] == [r.code for r, _ in counted.children]
        for (_, mine), (_, theirs) in zip(back.children, counted.children):
            _same(mine, theirs)
        _same(back.total, counted.total)
        _same(back.own, counted.own)
        weeks = weekly(session, city, window.last, 8, now)
        first = stats_store.weekly_first(window.last, 8)
        again = stats_store.load(session, stats_store.WEEKLY, city, first, window.last,
                                 stats_store.dump(stats_store.WEEKLY, weeks))
        assert [w for w, _ in again] == [w for w, _ in weeks]
        for (_, mine), (_, theirs) in zip(again, weeks):
            _same(mine, theirs)
        assert stats_store.weeks_of(first, window.last) == 8


def test_of_two_refreshers_claiming_one_report_exactly_one_counts_it(db):
    now = utcnow()
    with db.transaction() as session:
        region_id = Region.by_code(session, "T").id
    with db.engine.begin() as connection:
        stats_store.store(connection, "report", region_id, date(2026, 12, 1), date(2026, 12, 7), now - timedelta(seconds=40),
                          "{}", wanted_at=now)
    with db.engine.connect() as connection:
        (wanted,) = stats_store.due(connection, now, timedelta(seconds=30), timedelta(minutes=10))
    with db.engine.begin() as connection:
        assert stats_store.claim(connection, wanted, now, timedelta(minutes=5))
        assert not stats_store.claim(connection, wanted, now, timedelta(minutes=5))
    with db.engine.connect() as connection:
        assert stats_store.due(connection, now, timedelta(seconds=30), timedelta(minutes=10)) == [], "claimed: not due"
        later = now + timedelta(minutes=6)  # the claimer died: its lease runs out
        assert [w.key for w in stats_store.due(connection, later, timedelta(seconds=30), timedelta(minutes=10))] \
            == [wanted.key]


def test_an_older_count_never_replaces_a_newer_one(db):
    now = utcnow()
    with db.transaction() as session:
        region_id = Region.by_code(session, "T").id
    args = ("report", region_id, date(2026, 12, 1), date(2026, 12, 7))
    with db.engine.begin() as connection:
        assert stats_store.store(connection, *args, now, "new")
        assert not stats_store.store(connection, *args, now - timedelta(seconds=5), "old")
    with db.session() as session:
        assert stats_store.read(session, stats_store.key_of(*args))[2] == "new"
