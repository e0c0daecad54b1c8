"""What the dashboard, its exports and `GET /api/v1/stats` share: reading the region and
the window from query arguments (dates are China dates, `to` inclusive), and the
reports themselves, each kept for `stats.cache_seconds` (0: computed on every request)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
import logging
import queue
import threading
import time
from datetime import date, datetime

from sqlalchemy.orm import Session

from handlers.context import runtime
from models import Region, StaffUser, utcnow
from models.stats import MAX_WINDOW_DAYS, PERIODS, Report, Window, china_today, period_window, report


class OutOfScope(Exception):
    """The region asked for does not exist or lies outside the user's subtree (→ 404)."""


@dataclass
class StatsQuery:
    region: Region
    window: Window
    period: str  # week | month | quarter | custom


def stats_query(session: Session, user: StaffUser, args: Mapping[str, str], now: datetime,
                default_period: str = "month") -> tuple[StatsQuery | None, dict[str, str]]:
    """The region and window asked for, or the errors by argument (`OutOfScope` for a region not theirs)."""
    errors: dict[str, str] = {}
    code = (args.get("region") or "").strip()
    region = user.region
    if code:
        region = Region.by_code(session, code)
        if region is None or not user.sees(region):
            raise OutOfScope(code)
    period = args.get("period") or ("custom" if args.get("from") or args.get("to") else default_period)
    today = china_today(now)
    if period in PERIODS:
        preset = period_window(period, today)
        typed = (args.get("from") or preset.first.isoformat(), args.get("to") or preset.last.isoformat())
        if typed == (preset.first.isoformat(), preset.last.isoformat()):
            return StatsQuery(region, preset, period), errors
        period = "custom"  # the page's form sends its period along with dates typed over it
    if period != "custom":
        errors["period"] = "统计周期应为 week、month、quarter 或 custom"
        return None, errors
    dates: dict[str, date] = {}
    for name, fallback in (("from", period_window("month", today).first), ("to", today)):
        raw = (args.get(name) or "").strip()
        if not raw:
            dates[name] = fallback
            continue
        try:
            dates[name] = date.fromisoformat(raw) if len(raw) == 10 else _bad()
        except ValueError:
            errors[name] = "日期格式应为 YYYY-MM-DD（北京时间）"
    if errors:
        return None, errors
    if dates["to"] < dates["from"]:
        return None, {"to": "结束日期不能早于开始日期"}
    if (dates["to"] - dates["from"]).days + 1 > MAX_WINDOW_DAYS:
        return None, {"to": f"统计区间最长 {MAX_WINDOW_DAYS} 天"}
    return StatsQuery(region, Window(dates["from"], dates["to"]), "custom"), errors


def _bad() -> date:
    raise ValueError("not YYYY-MM-DD")


class ReportCache:
    """Reports by (region, window), each reused for `seconds`: the numbers are at most that
    stale, and the report's `now` says when they were counted (the page shows it).

    Per process (each gunicorn worker keeps its own); one lock, so a burst of requests for
    the same numbers counts them once. A report past half its time is counted again in
    the background (`again`, on a session of its own) while the old one is still served:
    a supervisor who keeps the page open never waits for a count, and what she sees was
    counted less than `seconds` ago (the age runs from when a count started).
    """

    def __init__(self, seconds: int, clock: Callable[[], float] = time.monotonic,
                 spawn: Callable[[Callable[[], None]], None] | None = None) -> None:
        self.seconds = seconds
        self._clock = clock
        self._spawn = spawn or _thread
        self._lock = threading.Lock()
        self._reports: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._refreshing: set[tuple[Any, ...]] = set()

    def remember(self, key: tuple[Any, ...], count: Callable[[], Any],
                 again: Callable[[], Any] | None = None) -> Any:
        """`count()`, or what it gave under `key` less than `seconds` ago (refreshed by
        `again()` in the background once past half of that)."""
        if self.seconds <= 0:
            return count()
        with self._lock:
            found = self._reports.get(key)
            if found is not None:
                age = self._clock() - found[0]
                if age < self.seconds:
                    if again is not None and age >= self.seconds / 2 and key not in self._refreshing:
                        self._refreshing.add(key)
                        self._spawn(lambda: self._refresh(key, again))
                    return found[1]
            started = self._clock()
            counted = count()
            self._store(key, started, counted)
            return counted

    def _refresh(self, key: tuple[Any, ...], again: Callable[[], Any]) -> None:
        try:
            started = self._clock()
            counted = again()
            with self._lock:
                self._store(key, started, counted)
        except Exception:  # noqa: BLE001 - the next request past the minute counts in the foreground
            logging.getLogger(__name__).exception("stats: counting again in the background failed")
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _store(self, key: tuple[Any, ...], started: float, counted: Any) -> None:
        if len(self._reports) > 2000:
            self._reports.clear()
        self._reports[key] = (started, counted)


class _Refresher:
    """One background thread a process, counting one report at a time: several reports
    coming due together (a page asks for four) do not fight each other for the database
    and the interpreter, nor slow the requests being served meanwhile more than one does."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __call__(self, work: Callable[[], None]) -> None:
        self._work.put(work)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="stats-refresh", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._work.get()()


_thread = _Refresher()


def report_cache() -> ReportCache:
    """This process's cache of counted numbers (on the app's runtime)."""
    rt = runtime()
    cache = getattr(rt, "stats_cache", None)
    if cache is None or cache.seconds != rt.settings.stats.cache_seconds:
        cache = rt.stats_cache = ReportCache(rt.settings.stats.cache_seconds)
    return cache


def in_background(count: Callable[[Session, Region, datetime], Any], region: Region) -> Callable[[], Any]:
    """`count` again on a session of its own, as of the moment it runs (for ReportCache's refresh)."""
    db, region_id = runtime().db, region.id

    def again() -> Any:
        with db.session() as session:
            return count(session, session.get(Region, region_id), utcnow())
    return again


def cached_report(session: Session, region: Region, window: Window, now: datetime) -> Report:
    """The report for `region` over `window`, from this process's cache when fresh enough."""
    return report_cache().remember(("report", region.id, window.first, window.last),
                                   lambda: report(session, region, window, now),
                                   in_background(lambda s, r, at: report(s, r, window, at), region))
