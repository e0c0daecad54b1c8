"""The serving side of the stored reports (handlers/stats_args.py): a request shows a stored
report at most `stats.cache_seconds` old and never counts while there is one; only when
there is none that fresh does it count, exactly, and store what it counted."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

import models.stats_store
from bot.stats_refresh import refresh_due
from models import StoredReport
from models.clocks import CHINA_TZ
from tests.handlers.api.test_views import Api
from tests.handlers.staff.factories import Clock, login, make_staff, make_ticket, token_for


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    for where in ("handlers.api.views", "handlers.staff.dashboard"):
        monkeypatch.setattr(f"{where}.utcnow", clock)
    return clock


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """The kinds of report counted, in order, wherever they were counted."""
    calls, real = [], models.stats_store.count

    def spy(session, kind, *args):
        calls.append(kind)
        return real(session, kind, *args)

    monkeypatch.setattr(models.stats_store, "count", spy)
    return calls


@pytest.fixture
def boss(db, client) -> Api:
    make_staff(db, "boss", "supervisor", "T01")
    return Api(client, token_for(db, "boss"))


def test_a_request_never_counts_while_a_stored_report_is_fresh(boss, db, clock, counted):
    make_ticket(db, user="o-1")
    assert boss.get("/stats").json["total"] == 1
    assert counted == ["report"], "the first request finds nothing stored: it counts, and stores"
    make_ticket(db, user="o-2")
    for _ in range(3):
        clock.advance(seconds=19)  # up to 57 s after the count
        assert boss.get("/stats").json["total"] == 1
    assert counted == ["report"], "no request counted while the stored report was fresh"


def test_a_stored_report_a_minute_old_is_counted_exactly_in_the_request(boss, db, clock, counted):
    make_ticket(db, user="o-1")
    boss.get("/stats")
    make_ticket(db, user="o-2")
    clock.advance(seconds=60)  # the worker is behind (or not running): never older than a minute
    assert boss.get("/stats").json["total"] == 2
    assert counted == ["report", "report"]
    clock.advance(seconds=30)
    assert boss.get("/stats").json["total"] == 2 and len(counted) == 2, "and stored for the next request"


def test_the_worker_keeps_a_report_in_use_fresh_so_requests_never_count(boss, db, app, clock, counted):
    settings = app.extensions["niangjia"].settings
    make_ticket(db, user="o-1")
    boss.get("/stats")
    make_ticket(db, user="o-2")
    for _ in range(6):  # three minutes of a supervisor looking every 30 s, the worker running
        clock.advance(seconds=30)
        refresh_due(db, settings, clock=clock)
        assert boss.get("/stats").json["total"] == 2
    assert counted == ["report"] + ["report"] * 6, "every count after the first was the worker's"
    with db.session() as session:
        stored = session.scalar(select(StoredReport))
    assert clock.now - stored.counted_at <= timedelta(seconds=settings.stats.cache_seconds / 2)


def test_the_page_and_its_trend_are_stored_and_say_when_they_were_counted(db, client, clock, counted):
    make_staff(db, "city", "supervisor", "T")
    login(client, "city")
    make_ticket(db, user="o-1")
    first = client.get("/staff/dashboard").get_data(as_text=True)
    kinds = sorted(counted)
    assert kinds == ["report", "report", "report", "weekly"]  # this period, the one before, a year back; the trend
    clock.advance(seconds=40)
    again = client.get("/staff/dashboard").get_data(as_text=True)
    assert sorted(counted) == kinds, "the second page counted nothing"
    stamp = f"本页数字统计于 {clock.now.astimezone(CHINA_TZ):%m-%d}"
    assert "数字每 60 秒统计一次" in again and stamp in again
    assert _freshness(first) == _freshness(again), "the stored report's own moment, not the request's"


def _freshness(html: str) -> str:
    return re.search(r'<span id="dash-freshness">(.*?)</span>', html).group(1)


def test_zero_seconds_counts_every_request_exactly_and_stores_nothing(boss, db, app, clock, counted):
    app.extensions["niangjia"].settings.stats.cache_seconds = 0
    make_ticket(db, user="o-1")
    assert [boss.get("/stats").json["total"] for _ in range(2)] == [1, 1]
    assert counted == ["report", "report"]
    with db.session() as session:
        assert session.scalar(select(StoredReport)) is None


def test_a_stored_report_this_code_cannot_read_is_counted_again_not_a_500(boss, db, clock, counted):
    """A report stored by an older release (another shape) is counted afresh, and replaced."""
    make_ticket(db, user="o-1")
    boss.get("/stats")
    with db.transaction() as session:
        session.execute(models.stats_store.T.update().values(body='{"shape": "of an older release"}'))
    clock.advance(seconds=10)
    answer = boss.get("/stats")
    assert answer.status_code == 200 and answer.json["total"] == 1
    assert counted == ["report", "report"]
    clock.advance(seconds=10)
    assert boss.get("/stats").json["total"] == 1 and len(counted) == 2, "the count replaced what could not be read"
