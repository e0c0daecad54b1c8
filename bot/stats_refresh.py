"""Counting the supervisor's reports ahead of use, outside any serving process.

Every report someone asked for within `stats.wanted_minutes` is counted again once it is
past half of `stats.cache_seconds` old and stored (models/stats_store.py), so the
dashboard, its exports and `GET /api/v1/stats` find it fresh and never count. Each
count is claimed first (a lease on the `counted_at` read): several refreshers, in
several instances on one PostgreSQL, never count the same report at once.

It runs beside the worker: `niangjia worker` starts it as a thread (that process serves
nothing); under `niangjia serve` with the embedded worker, gunicorn's master starts one
process of it (handlers/server.py), so the gunicorn workers only read.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from bot import metrics
from bot.settings import Settings
from models import Database, Region, stats_store, utcnow

log = logging.getLogger(__name__)

# A refresher that claimed a report and died: another may count it after this.
LEASE = timedelta(minutes=5)
# Reports nobody asked for in this long are dropped.
FORGET_AFTER = timedelta(days=1)
FORGET_EVERY = timedelta(minutes=10)


def refresh_due(db: Database, settings: Settings, clock: Callable[[], datetime] = utcnow,
                write_lock: AbstractContextManager | None = None) -> int:
    """Count again every wanted report past half its time; how many this call counted."""
    seconds = settings.stats.cache_seconds
    if seconds <= 0:
        return 0
    now = clock()
    with db.reader() as session:  # polled every second: takes no writer's lock
        wanted = stats_store.due(session.connection(), now, timedelta(seconds=seconds / 2),
                                 timedelta(minutes=settings.stats.wanted_minutes))
    counted = 0
    for report in wanted:
        with db.writing(write_lock) as connection:
            if not stats_store.claim(connection, report, clock(), LEASE):
                continue  # another refresher has it, or a request counted it meanwhile
        try:
            started = clock()
            with db.reader() as session:  # on SQLite, no writer waits for the count
                region = session.get(Region, report.region_id)
                numbers = stats_store.count(session, report.kind, region, report.first, report.last, started)
                body = stats_store.dump(report.kind, numbers)
            with db.writing(write_lock) as connection:
                stats_store.store(connection, report.kind, report.region_id, report.first, report.last, started, body)
        except Exception as exc:  # noqa: BLE001 - let the next round (or a request) count it
            # The database's own words (no parameters: the engine hides them), not the numbers.
            log.error("stats: counting %s failed: %s: %s in %s", report.key, type(exc).__name__,
                      str(getattr(exc, "orig", "")).splitlines()[:1], str(getattr(exc, "statement", ""))[:60])
            with db.writing(write_lock) as connection:
                stats_store.release(connection, report)
            continue
        metrics.stats_counted("worker")
        counted += 1
    return counted


def forget_unwanted(db: Database, now: datetime) -> int:
    """Drop the reports nobody asked for in FORGET_AFTER; how many."""
    with db.writing() as connection:
        return stats_store.forget_unwanted(connection, now - FORGET_AFTER)


class StatsRefresher:
    """`refresh_due` every `worker.poll_seconds` (and `forget_unwanted` every FORGET_EVERY), until stopped."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.stopping = threading.Event()

    def run_forever(self, alive: Callable[[], bool] = lambda: True) -> None:
        forgot_at: datetime | None = None
        while not self.stopping.is_set() and alive():
            try:
                refresh_due(self.db, self.settings)
                if forgot_at is None or utcnow() - forgot_at >= FORGET_EVERY:
                    forgot_at = utcnow()
                    forget_unwanted(self.db, forgot_at)
            except Exception as exc:  # noqa: BLE001 - the database may be back next round
                log.error("stats refresh round failed: %s", type(exc).__name__)
            self.stopping.wait(self.settings.worker.poll_seconds)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="niangjia-stats", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()


def run_process(settings: Settings) -> None:
    """The refresher as a process of its own (a child of gunicorn's master, or the bench's)."""
    db, parent = Database(settings.database_url), os.getppid()
    try:
        StatsRefresher(db, settings).run_forever(alive=lambda: os.getppid() == parent)  # ends with its parent
    finally:
        db.dispose()
