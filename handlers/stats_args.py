"""What the dashboard, its exports and `GET /api/v1/stats` share: reading the region and
the window from query arguments (dates are China dates, `to` inclusive), and the
reports themselves: stored ones at most `stats.cache_seconds` old (models/stats_store.py;
the worker keeps them counted), else counted in the request (0: on every request)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot import metrics
from handlers.context import runtime
from models import Region, StaffUser, stats_store
from models.stats import MAX_WINDOW_DAYS, PERIODS, Report, Window, china_today, period_window

log = logging.getLogger(__name__)


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


# A request that shows a stored report marks it wanted at most this often (a write).
WANT_EVERY = timedelta(seconds=60)


def stored_or_counted(session: Session, kind: str, region: Region, first: date, last: date, now: datetime) -> Any:
    """The report of `kind`: the stored one if less than `stats.cache_seconds` old (its
    `now` says when it was counted); else counted here, exactly, as of `now`, and stored
    for every process. Never counted behind the request: the worker keeps the reports in
    use counted (bot/stats_refresh.py). What it writes (a count, or that the report is
    still wanted) is in `session`, for the handler to commit."""
    settings = runtime().settings.stats
    if settings.cache_seconds <= 0:
        return stats_store.count(session, kind, region, first, last, now)
    key = stats_store.key_of(kind, region.id, first, last)
    found = stats_store.read(session, key)
    if found is not None:
        counted_at, wanted_at, body = found
        if now - counted_at < timedelta(seconds=settings.cache_seconds):
            try:
                stored = stats_store.load(session, kind, region, first, last, body)
            except (KeyError, IndexError, TypeError, ValueError):
                # Stored by a release whose report had another shape: counted again below.
                log.warning("stored %s report of region %s unreadable: counted again", kind, region.id)
            else:
                if now - wanted_at >= min(WANT_EVERY, timedelta(minutes=settings.wanted_minutes) / 2):
                    stats_store.want(session.connection(), key, now)
                return stored
    counted = stats_store.count(session, kind, region, first, last, now)
    metrics.stats_counted("request")
    stats_store.store(session.connection(), kind, region.id, first, last, now, stats_store.dump(kind, counted),
                      wanted_at=now)
    return counted


def cached_report(session: Session, region: Region, window: Window, now: datetime) -> Report:
    """The report for `region` over `window`, stored or counted (see `stored_or_counted`)."""
    return stored_or_counted(session, stats_store.REPORT, region, window.first, window.last, now)
