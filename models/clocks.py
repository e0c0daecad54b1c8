"""Service clocks (时限): pure arithmetic over deadlines, no database and no wall clock.

Every ticket runs three clocks: claim (签收), first reply (首次答复: a staff reply
delivered to her, or a recorded phone contact) and resolve (办结). Urgent clocks run
around the clock; with `working_time` the others count China's working days only, as
the State Council's holiday notice sets them each year (official holidays off, 调休
weekends on), from the `chinesecalendar` package. A working day counts in full, from
midnight to midnight China time, so "1d" from Friday 15:00 is Monday 15:00.

Callers pass `now`; nothing here reads the time, so tests move a clock they control.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

CHINA_TZ = timezone(timedelta(hours=8), "CST")
# The keys only: the words staff read are handlers/labels.py's.
CLOCKS = ("claim", "first_reply", "resolve")
STATES = ("running", "paused", "met", "missed")
LIGHTS = ("green", "yellow", "red")
# Why a clock may stop while the ticket waits on her.
PAUSE_REASONS = ("awaiting_her", "safe_time")

_DURATION = re.compile(r"\s*(\d+)\s*([smhd])\s*")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# Ranges longer than this are refused rather than walked day by day.
_MAX_DAYS = 3660


def parse_duration(value: Any, key: str) -> timedelta:
    """'45s', '30m', '24h' or '3d' as a timedelta; ValueError naming `key` otherwise."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.fullmatch(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"{key}: expected a positive duration like 45s, 30m, 24h or 3d, got {value!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def format_duration(span: timedelta) -> str:
    """A duration back in the config's notation (the largest whole unit)."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_warned_years: set[int] = set()


@lru_cache(maxsize=4096)
def china_workday(day: date) -> bool:
    """Whether `day` is a working day in mainland China (holidays and 调休 included).

    A year the installed `chinesecalendar` does not know yet (its data arrive after the
    State Council's notice each November) falls back to Monday-Friday, with a warning:
    upgrade the package (README: "Working days").
    """
    import chinese_calendar

    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("no holiday data for %d: counting Monday-Friday; upgrade chinesecalendar", day.year)
        return day.weekday() < 5


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), CHINA_TZ)


def add_working(start: datetime, span: timedelta, is_workday: Callable[[date], bool] = china_workday) -> datetime:
    """`start` moved by `span` of working-day time (backwards when `span` is negative)."""
    t = start.astimezone(CHINA_TZ)
    remaining = abs(span)
    forward = span >= timedelta(0)
    for _ in range(_MAX_DAYS):
        if forward:
            day = t.date()
            edge = _midnight(day + timedelta(days=1))
            room = edge - t
        else:
            day = (t - timedelta(microseconds=1)).date()
            edge = _midnight(day)
            room = t - edge
        if is_workday(day):
            if remaining <= room:
                return (t + remaining if forward else t - remaining).astimezone(start.tzinfo or timezone.utc)
            remaining -= room
        t = edge
    raise ValueError("a working-time span longer than ten years")


def working_between(start: datetime, end: datetime, is_workday: Callable[[date], bool] = china_workday) -> timedelta:
    """Working-day time from `start` to `end` (negative when `end` comes first)."""
    if end < start:
        return -working_between(end, start, is_workday)
    t, end = start.astimezone(CHINA_TZ), end.astimezone(CHINA_TZ)
    total = timedelta(0)
    for _ in range(_MAX_DAYS):
        if t >= end:
            return total
        edge = min(_midnight(t.date() + timedelta(days=1)), end)
        if is_workday(t.date()):
            total += edge - t
        t = edge
    raise ValueError("a working-time span longer than ten years")


@dataclass(frozen=True)
class Durations:
    """How long each of a ticket's three clocks runs."""

    claim: timedelta
    first_reply: timedelta
    resolve: timedelta

    def of(self, name: str) -> timedelta:
        return getattr(self, name)


@dataclass(frozen=True)
class Policy:
    """The deadlines a federation sets (config `sla:` and `escalation:`), as arithmetic."""

    urgent: Durations
    routes: dict[str, Durations]
    working_time: bool = True
    yellow_at: float = 0.8
    escalate_every: timedelta = timedelta(days=1)
    max_level: int = 3
    is_workday: Callable[[date], bool] = field(default=china_workday, compare=False)

    def durations(self, category: str, urgent: bool) -> Durations:
        return self.urgent if urgent else self.routes.get(category) or self.routes["consultation"]

    def _working(self, urgent: bool) -> bool:
        return self.working_time and not urgent

    def add(self, start: datetime, span: timedelta, urgent: bool) -> datetime:
        """`start` + `span`, on the clock this urgency runs on."""
        return add_working(start, span, self.is_workday) if self._working(urgent) else start + span

    def between(self, start: datetime, end: datetime, urgent: bool) -> timedelta:
        """Clock time from `start` to `end` for this urgency."""
        return working_between(start, end, self.is_workday) if self._working(urgent) else end - start

    def deadlines(self, start: datetime, category: str, urgent: bool) -> dict[str, datetime]:
        """Each clock's due time for a ticket whose clocks start at `start`."""
        durations = self.durations(category, urgent)
        return {name: self.add(start, durations.of(name), urgent) for name in CLOCKS}

    def yellow(self, name: str, due: datetime, category: str, urgent: bool) -> datetime:
        """When a clock due at `due` turns yellow: `yellow_at` of its time gone."""
        left = self.durations(category, urgent).of(name) * (1 - self.yellow_at)
        return self.add(due, -left, urgent)

    def resumed(self, due: datetime, paused_at: datetime, now: datetime, urgent: bool) -> datetime:
        """A deadline after a pause from `paused_at` to `now`: the time it had left, from now."""
        if due <= paused_at:
            return due  # already missed when paused: the pause does not forgive it
        return self.add(now, self.between(paused_at, due, urgent), urgent)

    def escalation_level(self, due: datetime, now: datetime, urgent: bool) -> int:
        """督办 level a clock missed at `due` has reached by `now` (0: not missed)."""
        if now < due:
            return 0
        every = self.escalate_every.total_seconds()
        periods = int(self.between(due, now, urgent).total_seconds() // every)
        return min(self.max_level, 1 + periods)

    def escalation_moment(self, due: datetime, level: int, urgent: bool) -> datetime:
        """When a clock missed at `due` reaches `level`."""
        return self.add(due, self.escalate_every * (level - 1), urgent)


# -- a ticket's clocks (anything with the ticket's columns: the ORM row or the desk's) --


def ended_at(ticket: Any) -> datetime | None:
    """When the ticket stopped needing work, if it has."""
    if ticket.status in ("new", "claimed"):
        return None
    return ticket.resolved_at or ticket.closed_at or ticket.withdrawn_at or ticket.updated_at


def stopped_at(ticket: Any, name: str) -> datetime | None:
    """When clock `name` stopped (its work done, or the case ended)."""
    done = {"claim": ticket.claimed_at, "first_reply": ticket.first_response_at, "resolve": ticket.resolved_at}[name]
    return done or ended_at(ticket)


def due_of(ticket: Any, name: str) -> datetime | None:
    return getattr(ticket, f"{name}_due_at", None)


def running(ticket: Any) -> list[tuple[str, datetime]]:
    """The clocks counting now, with their due times (none while paused)."""
    if ticket.paused_at is not None or ticket.status not in ("new", "claimed"):
        return []
    return [(name, due_of(ticket, name)) for name in CLOCKS if due_of(ticket, name) and stopped_at(ticket, name) is None]


def next_due(ticket: Any) -> datetime | None:
    """The nearest due time among the running clocks: what the queue sorts by."""
    dues = [due for _, due in running(ticket)]
    return min(dues) if dues else None


def unstopped(ticket: Any) -> list[tuple[str, datetime | None]]:
    """The clocks whose work is not done yet (running or paused), with their due times."""
    return [(name, due_of(ticket, name)) for name in CLOCKS if stopped_at(ticket, name) is None]


def urgent_deadlines(ticket: Any, policy: Policy, now: datetime) -> dict[str, datetime]:
    """Columns for a ticket made urgent at `now`: each unfinished clock due no later
    than an urgent clock started now."""
    urgent = policy.deadlines(now, ticket.category, urgent=True)
    return {f"{name}_due_at": min(due or urgent[name], urgent[name]) for name, due in unstopped(ticket)}


def resumed_deadlines(ticket: Any, policy: Policy, now: datetime) -> dict[str, datetime]:
    """Columns for a paused ticket resuming at `now`: each clock keeps the time it had left."""
    return {
        f"{name}_due_at": policy.resumed(due, ticket.paused_at, now, ticket.urgent)
        for name, due in unstopped(ticket)
        if due is not None
    }


@dataclass(frozen=True)
class Clock:
    """One clock as staff see it."""

    name: str
    due_at: datetime | None
    state: str
    light: str
    stopped_at: datetime | None = None

    def left(self, now: datetime) -> timedelta | None:
        """Time until due (negative: overdue), while the clock counts."""
        if self.due_at is None or self.state in ("met", "paused") or self.stopped_at is not None:
            return None
        return self.due_at - now


def clocks_of(ticket: Any, policy: Policy, now: datetime) -> list[Clock]:
    """Each of the ticket's clocks: due time, state and light at `now`."""
    result = []
    for name in CLOCKS:
        due = due_of(ticket, name)
        stop = stopped_at(ticket, name)
        if due is None:
            result.append(Clock(name, None, "met", "green", stop))
        elif stop is not None:
            missed = stop > due
            result.append(Clock(name, due, "missed" if missed else "met", "red" if missed else "green", stop))
        elif ticket.paused_at is not None:
            # The light at the moment of the pause: a pause for her safety never reads as slowness.
            at = ticket.paused_at
            light = "red" if at >= due else "yellow" if at >= policy.yellow(name, due, ticket.category, ticket.urgent) else "green"
            result.append(Clock(name, due, "paused", light))
        elif now >= due:
            result.append(Clock(name, due, "missed", "red"))
        else:
            yellow = now >= policy.yellow(name, due, ticket.category, ticket.urgent)
            result.append(Clock(name, due, "running", "yellow" if yellow else "green"))
    return result


def next_yellow(ticket: Any, policy: Policy) -> datetime | None:
    """The earliest moment a running clock turns yellow (for the queue's light filter)."""
    moments = [policy.yellow(name, due, ticket.category, ticket.urgent) for name, due in running(ticket)]
    return min(moments) if moments else None


@dataclass
class SweepStep:
    """What a sweep found due on one ticket between its last look and now."""

    reminders: list[str] = field(default_factory=list)  # clock names turned yellow
    level: int = 0  # the 督办 level reached (never lowered)
    urgent_unclaimed: bool = False
    next_look: datetime | None = None
    yellow_at: datetime | None = None


def sweep_step(ticket: Any, policy: Policy, since: datetime, now: datetime) -> SweepStep:
    """Reminders and escalation due in (`since`, `now`], and when to look again."""
    step = SweepStep(level=ticket.escalation_level or 0)
    clocks = running(ticket)
    future: list[datetime] = []
    for name, due in clocks:
        yellow = policy.yellow(name, due, ticket.category, ticket.urgent)
        if since < yellow <= now < due:
            step.reminders.append(name)
        if now < yellow:
            future.append(yellow)
        if now < due:
            future.append(due)
    if clocks:
        earliest = min(due for _, due in clocks)
        step.level = max(step.level, policy.escalation_level(earliest, now, ticket.urgent))
        if now >= earliest and step.level < policy.max_level:
            future.append(policy.escalation_moment(earliest, step.level + 1, ticket.urgent))
        claim_due = dict(clocks).get("claim")
        step.urgent_unclaimed = bool(ticket.urgent and claim_due and since < claim_due <= now)
        step.yellow_at = next_yellow(ticket, policy)
    if ticket.paused_at is not None and getattr(ticket, "pause_until", None):
        future.append(ticket.pause_until)
    step.next_look = min(future) if future else None
    return step
