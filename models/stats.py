"""The supervisor's numbers (统计): counts, the rates as their definitions count them, durations.

One module for the dashboard, the exports and `GET /api/v1/stats`, so they cannot
disagree. The database counts, grouped by region (a handful of GROUP BY queries over the
window's tickets); Python folds the regions into the subtree's child regions and the
total, and turns counts into rates with the pure functions below. A rate whose
denominator is zero is None ("no data"), never 0.

A window is a range of China dates, `last` inclusive. What falls "in the window":
- volume, status, route, channel, redo / return / extension / reopen: tickets created in it;
- the three clock rates: tickets whose clock was settled in it, withdrawn ones aside. A
  clock is met when it stopped (claim; first reply delivered or phone contact; resolution;
  or the case ended) no later than its due time as it stood (a pause or an approved
  extension moves it: waiting on her is not slowness), and it counts in the period it
  stopped; a missed one counts in the period it fell due. So each clock counts once, and
  a clock still running and not yet due counts nowhere yet;
- resolution and satisfaction rates: follow-up answers given in it;
- mediation success: mediation tickets closed in it; success is an agreement that no
  重办 ticket took up again within 90 days of closing (reopening a closed ticket clears
  its closing, so a reopened one is not counted closed until it closes again).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar

from sqlalchemy import Index, and_, case, func, literal_column, or_, select, text, true, union_all
from sqlalchemy.orm import Session, aliased

from models.clocks import CHINA_TZ
from models.followup import FollowUp
from models.region import Region
from models.ticket import OPEN_STATUSES, Ticket, TicketEvent

MEDIATION_GRACE = timedelta(days=90)
# A window longer than this is refused (the API says so): ten years of a province is a report, not a page.
MAX_WINDOW_DAYS = 3660

# Rate → (numerator field, denominator field); their names and definitions are the
# presentation's (handlers/labels.py).
RATES: dict[str, tuple[str, str]] = {
    "response_rate": ("claim_met", "claim_due"),
    "first_reply_rate": ("reply_met", "reply_due"),
    "on_time_resolution_rate": ("resolve_met", "resolve_due"),
    "resolution_rate": ("solved", "answered"),
    "satisfaction_rate": ("satisfied", "rated"),
    "mediation_success_rate": ("mediation_success", "mediation_closed"),
    "redo_rate": ("redo", "total"),
    "reopen_rate": ("reopened", "ever_resolved"),
    "return_rate": ("returned", "total"),
    "extension_rate": ("extended", "total"),
}
# The three rates the trend chart follows (三率).
TREND_RATES = ("response_rate", "resolution_rate", "satisfaction_rate")
DURATIONS = ("claim", "first_reply", "resolve")


@dataclass(frozen=True)
class Window:
    """China dates `first` to `last` inclusive, as a half-open UTC range [start, end)."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("the window ends before it starts")

    @classmethod
    def parse(cls, first: str, last: str) -> Window:
        return cls(date.fromisoformat(first), date.fromisoformat(last))

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), CHINA_TZ)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), CHINA_TZ)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Window:
        """The period just before, as long (环比)."""
        return Window(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def last_year(self) -> Window:
        """The same dates a year earlier (同比); 29 February becomes the 28th."""
        return Window(_year_earlier(self.first), _year_earlier(self.last))


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


PERIODS = ("week", "month", "quarter")


def period_window(period: str, today: date) -> Window:
    """This week (Monday on), month or quarter, up to and including `today` (a China date)."""
    if period == "week":
        return Window(today - timedelta(days=today.weekday()), today)
    if period == "month":
        return Window(today.replace(day=1), today)
    if period == "quarter":
        return Window(today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1), today)
    raise ValueError(f"unknown period {period!r}")


def china_today(now: datetime) -> date:
    return now.astimezone(CHINA_TZ).date()


# -- pure arithmetic ----------------------------------------------------------------


def rate(numerator: int, denominator: int) -> float | None:
    """numerator ÷ denominator, or None when there is nothing to divide by."""
    return None if not denominator else numerator / denominator


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (the smallest value with `share` of values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def median(values: list[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count)."""
    if not values:
        return None
    ordered, n = sorted(values), len(values)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


@dataclass
class Counts:
    """What is counted for one region (or summed over many); rates come from these."""

    total: int = 0
    open_now: int = 0
    overdue_now: int = 0
    urgent: int = 0
    redo: int = 0
    returned: int = 0
    extended: int = 0
    claim_due: int = 0
    claim_met: int = 0
    reply_due: int = 0
    reply_met: int = 0
    resolve_due: int = 0
    resolve_met: int = 0
    answered: int = 0
    solved: int = 0
    rated: int = 0
    satisfied: int = 0
    not_satisfied: int = 0
    mediation_closed: int = 0
    mediation_success: int = 0
    ever_resolved: int = 0
    reopened: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_category: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_subcategory: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    by_channel: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    hours: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # Read back from the store (models/stats_store.py), the hours are only what is shown of
    # them: clock -> (how many, median, 90th percentile).
    hour_summary: ClassVar[dict[str, tuple[int, float | None, float | None]]] = {}

    def add(self, other: Counts) -> None:
        """Fold `other` into this one."""
        if self.hour_summary or other.hour_summary:
            raise ValueError("a stored report's hours are summed up already")
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, int):
                setattr(self, f.name, mine + theirs)
            elif f.name == "hours":
                for key, values in theirs.items():
                    mine[key].extend(values)
            else:
                for key, value in theirs.items():
                    mine[key] += value

    def rate(self, name: str) -> float | None:
        numerator, denominator = RATES[name]
        return rate(getattr(self, numerator), getattr(self, denominator))

    def base(self, name: str) -> int:
        """The denominator behind a rate (what a ranking's minimum is measured on)."""
        return getattr(self, RATES[name][1])

    def rates(self) -> dict[str, float | None]:
        return {name: self.rate(name) for name in RATES}

    def median_hours(self, clock: str) -> float | None:
        if clock in self.hour_summary:
            return self.hour_summary[clock][1]
        return median(self._sorted_hours(clock))

    def p90_hours(self, clock: str) -> float | None:
        if clock in self.hour_summary:
            return self.hour_summary[clock][2]
        return percentile(self._sorted_hours(clock), 0.9)

    def hours_counted(self, clock: str) -> int:
        """How many of the `clock`'s durations the median is of."""
        if clock in self.hour_summary:
            return self.hour_summary[clock][0]
        return len(self.hours.get(clock, []))

    def _sorted_hours(self, clock: str) -> list[float]:
        """The clock's hours in order, sorted once (a province's month is tens of thousands,
        and a cached report is shown many times); forgotten when more hours are added."""
        values = self.hours.get(clock, [])
        memo = self.__dict__.setdefault("_sorted", {})
        found = memo.get(clock)
        if found is None or found[0] != len(values):
            found = memo[clock] = (len(values), sorted(values))
        return found[1]


@dataclass
class Report:
    """The numbers of a subtree over a window: the total and each child region's."""

    region: Region
    window: Window
    now: datetime
    total: Counts
    children: list[tuple[Region, Counts]]
    overdue_now: int  # every open ticket of the subtree past a running clock, whatever its age
    own: Counts = field(default_factory=Counts)  # tickets filed at the region itself, not below

    def by_region(self) -> dict[str, int]:
        """Child code → tickets; those filed at the region's own level under its own code."""
        result = {region.code: counts.total for region, counts in self.children}
        if self.own.total:
            result[self.region.code] = self.own.total
        return result

    def as_api(self) -> dict[str, Any]:
        """The object `GET /api/v1/stats` returns."""
        t = self.total
        return {
            "region": self.region.code,
            "from": self.window.first.isoformat(),
            "to": self.window.last.isoformat(),
            "total": t.total,
            "by_status": dict(sorted(t.by_status.items())),
            "by_category": dict(sorted(t.by_category.items())),
            "by_region": self.by_region(),
            **{name: _round(t.rate(name)) for name in RATES if name not in ("return_rate", "extension_rate")},
            "median_hours_to_claim": _round(t.median_hours("claim")),
            "median_hours_to_resolve": _round(t.median_hours("resolve")),
            "p90_hours_to_resolve": _round(t.p90_hours("resolve")),
            "overdue": self.overdue_now,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# -- the queries ----------------------------------------------------------------------


def subtree(session: Session, region: Region) -> list[tuple[int, str]]:
    """(id, path) of every region in `region`'s subtree."""
    return [(id_, path) for id_, path in session.execute(
        select(Region.id, Region.path).where(Region.path.startswith(region.path, autoescape=True))
    )]


def report(session: Session, region: Region, window: Window, now: datetime) -> Report:
    """Everything the dashboard, the exports and the API show for `region` over `window`."""
    _analytic(session)
    regions = subtree(session, region)
    children = list(session.scalars(select(Region).where(Region.parent_id == region.id).order_by(Region.code)))
    # Which child (or the region itself, for tickets filed at its own level) holds each region.
    holder: dict[int, int] = {}
    child_paths = [(c.path, c.id) for c in children]
    for region_id, path in regions:
        holder[region_id] = next((cid for cpath, cid in child_paths if path.startswith(cpath)), region.id)
    everything = len(regions) == session.scalar(select(func.count()).select_from(Region))
    ids = None if everything else [rid for rid, _ in regions]
    per_region = counts_by_region(session, ids, window, now)
    by_holder: dict[int, Counts] = defaultdict(Counts)
    total = Counts()
    for region_id, counts in per_region.items():
        by_holder[holder[region_id]].add(counts)
        total.add(counts)
    overdue = session.scalar(
        select(func.count()).select_from(Ticket).where(
            _in(Ticket.region_id, ids),
            Ticket.status.in_(OPEN_STATUSES), Ticket.next_due_at < now,
        )
    ) or 0
    return Report(region, window, now, total, [(c, by_holder.get(c.id, Counts())) for c in children], overdue,
                  by_holder.get(region.id, Counts()))


def _in(column: Any, ids: list[int] | None) -> Any:
    # The whole grid is no condition at all: the database scans by date instead of
    # probing a thousand region ids (as Ticket._scope does for the queue).
    return true() if ids is None else column.in_(ids)


# Each clock: its due column and the moment it stopped (its work done, or the case ended).
CLOCK_FIELDS = {"claim": ("claim_due", "claim_met"), "reply": ("reply_due", "reply_met"),
                "resolve": ("resolve_due", "resolve_met")}
_ENDED = func.coalesce(Ticket.resolved_at, Ticket.closed_at)
CLOCKS: dict[str, tuple[Any, Any]] = {
    "claim": (Ticket.claim_due_at, func.coalesce(Ticket.claimed_at, Ticket.resolved_at, Ticket.closed_at)),
    "reply": (Ticket.first_reply_due_at, func.coalesce(Ticket.first_response_at, Ticket.resolved_at, Ticket.closed_at)),
    "resolve": (Ticket.resolve_due_at, _ENDED),
}
# The indexes the clock rates read by: each due time, and each stop moment (an index on
# the expression, as the queries write it; SQLite and PostgreSQL both use it). The
# follow-up answers and closings by their moment. Migration 0015.
STATS_INDEXES = (
    Index("ix_ticket_claim_due_at", Ticket.claim_due_at),
    Index("ix_ticket_first_reply_due_at", Ticket.first_reply_due_at),
    Index("ix_ticket_resolve_due_at", Ticket.resolve_due_at),
    Index("ix_ticket_claim_stopped", CLOCKS["claim"][1]),
    Index("ix_ticket_reply_stopped", CLOCKS["reply"][1]),
    Index("ix_ticket_resolve_stopped", CLOCKS["resolve"][1]),
    Index("ix_ticket_closed_at", Ticket.closed_at),
    Index("ix_follow_up_answered_at", FollowUp.answered_at),
    # Mediation success looks for a 重办 ticket of each agreement (most tickets are none).
    Index("ix_ticket_redo_of_id", Ticket.redo_of_id),
    # The dashboard's overdue list, most escalated and oldest first: read in index order
    # and stopped after a page. Only open tickets are in it (the list's own condition, so
    # the planner knows the index holds nothing else), with their region beside them:
    # PostgreSQL underestimates how many open tickets are overdue (status and clock are
    # correlated; 171 estimated, 10,767 real at a million) and otherwise fetched them all.
    # Migration 0018 (0015 had it for every ticket with a clock).
    Index("ix_ticket_overdue", Ticket.escalation_level.desc(), Ticket.next_due_at, Ticket.id,
          postgresql_include=["region_id"],
          postgresql_where=Ticket.status.in_(OPEN_STATUSES), sqlite_where=Ticket.status.in_(OPEN_STATUSES)),
    # Its urgent list: the window's urgent tickets, newest first.
    Index("ix_ticket_urgent_created", Ticket.urgent, Ticket.created_at),
)


def _analytic(session: Session) -> None:
    """PostgreSQL: no JIT for the rest of this transaction. These queries read thousands of
    rows, not millions, and compiling them cost more than running them (160 ms of 1.7 s)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _settled(clock: str, in_scope: Any, start: datetime, end: datetime, now: datetime, *keys: Any,
             moment_key: Callable[[Any], Any] | None = None) -> Any:
    """(*keys, "met" | "missed", count) of the `clock`s settled in [start, end) by `now`.

    Met: stopped in the range, no later than due. Missed: fell due in the range without
    having stopped by then. Withdrawn tickets count nowhere. `moment_key`, if given, turns
    the settling moment into one more leading group key (the trend's week).
    """
    due, stop = CLOCKS[clock]
    met = select(*keys, *((moment_key(stop),) if moment_key else ()), literal_column("'met'"), func.count()).where(
        in_scope, stop >= start, stop < end, stop <= now, stop <= due, Ticket.status != "withdrawn")
    missed = select(*keys, *((moment_key(due),) if moment_key else ()), literal_column("'missed'"), func.count()).where(
        in_scope, due >= start, due < end, due <= now, or_(stop.is_(None), stop > due), Ticket.status != "withdrawn")
    width = len(keys) + (1 if moment_key else 0)
    group = [literal_column(str(i + 1)) for i in range(width)]
    return union_all(met.group_by(*group), missed.group_by(*group))


def counts_by_region(session: Session, region_ids: list[int] | None, window: Window, now: datetime) -> dict[int, Counts]:
    """Counts for each region of `region_ids` (None: every region) with anything in the window."""
    start, end = window.start, window.end
    result: dict[int, Counts] = defaultdict(Counts)
    in_scope = _in(Ticket.region_id, region_ids)
    created = and_(in_scope, Ticket.created_at >= start, Ticket.created_at < end)
    is_open = Ticket.status.in_(OPEN_STATUSES)

    def yes(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    rows = session.execute(
        select(
            Ticket.region_id, Ticket.status, Ticket.category, Ticket.subcategory, Ticket.channel,
            func.count(), yes(Ticket.urgent.is_(True)), yes(Ticket.redo_of_id.is_not(None)), yes(Ticket.returns > 0),
            yes(Ticket.extensions > 0), yes(and_(is_open, Ticket.next_due_at < now)),
        ).where(created).group_by(Ticket.region_id, Ticket.status, Ticket.category, Ticket.subcategory, Ticket.channel)
    )
    for region_id, status, category, subcategory, channel, n, urgent, redo, returned, extended, overdue in rows:
        c = result[region_id]
        c.total += n
        c.urgent += urgent or 0
        c.redo += redo or 0
        c.returned += returned or 0
        c.extended += extended or 0
        c.overdue_now += overdue or 0
        if status in OPEN_STATUSES:
            c.open_now += n
        c.by_status[status] += n
        c.by_category[category] += n
        c.by_subcategory[(category, subcategory or "")] += n
        c.by_channel[channel] += n

    # The three clocks, each counted once, in the period its outcome became known: when
    # it stopped, if in time (met), else when it fell due (missed). Stopped as the ticket
    # page says (models/clocks.stopped_at): its work done, or the case ended. Met and
    # missed are two range queries (on the stop moment and on the due time, each with its
    # index), so a window reads only the clocks settled in it, however old the tickets.
    for clock, (due_name, met_name) in CLOCK_FIELDS.items():
        for region_id, outcome, n in session.execute(
            _settled(clock, in_scope, start, end, now, Ticket.region_id)
        ):
            c = result[region_id]
            setattr(c, due_name, getattr(c, due_name) + n)
            if outcome == "met":
                setattr(c, met_name, getattr(c, met_name) + n)

    # Her follow-up answers given in the window.
    good = FollowUp.satisfaction.in_(("satisfied", "basically_satisfied"))
    rows = session.execute(
        select(
            Ticket.region_id, yes(FollowUp.solved.is_not(None)), yes(FollowUp.solved.is_(True)),
            yes(FollowUp.satisfaction.is_not(None)), yes(good), yes(FollowUp.satisfaction == "dissatisfied"),
        )
        .join(Ticket, FollowUp.ticket_id == Ticket.id)
        .where(in_scope, FollowUp.answered_at >= start, FollowUp.answered_at < end)
        .group_by(Ticket.region_id)
    )
    for region_id, answered, solved, rated, satisfied, dissatisfied in rows:
        c = result[region_id]
        c.answered, c.solved, c.rated = answered or 0, solved or 0, rated or 0
        c.satisfied, c.not_satisfied = satisfied or 0, dissatisfied or 0

    # Mediation closed in the window; success: an agreement no redo took up within 90 days.
    mediation = (in_scope, Ticket.category == "mediation", Ticket.status == "closed",
                 Ticket.closed_at >= start, Ticket.closed_at < end)
    redone = _redone_in_grace(session, select(Ticket.id).where(*mediation, Ticket.outcome == "agreement"))
    for region_id, ticket_id, outcome in session.execute(
        select(Ticket.region_id, Ticket.id, Ticket.outcome).where(*mediation)
    ):
        result[region_id].mediation_closed += 1
        result[region_id].mediation_success += outcome == "agreement" and ticket_id not in redone

    # Reopen rate: of the window's tickets resolved at least once, those reopened after.
    # Asked ticket by ticket (the trail's ticket index), in the select list: as a WHERE
    # EXISTS, PostgreSQL hashed every "resolved" line of the whole trail table instead.
    def happened(action: str) -> Any:
        return select(TicketEvent.id).where(TicketEvent.ticket_id == Ticket.id, TicketEvent.action == action).exists()
    rows = session.execute(
        select(Ticket.region_id, yes(happened("resolved")), yes(happened("reopened"))).where(created).group_by(Ticket.region_id)
    )
    for region_id, ever_resolved, reopened in rows:
        if ever_resolved or reopened:
            result[region_id].ever_resolved, result[region_id].reopened = ever_resolved or 0, reopened or 0

    # Hours from her first message to claim, first reply and resolution.
    rows = session.execute(
        select(Ticket.region_id, Ticket.created_at, Ticket.claimed_at, Ticket.first_response_at, Ticket.resolved_at)
        .where(created, or_(Ticket.claimed_at.is_not(None), Ticket.first_response_at.is_not(None)))
    )
    for region_id, created_at, *stops in rows:
        hours = result[region_id].hours
        for clock, stop in zip(DURATIONS, stops):
            if stop is not None:
                hours[clock].append((stop - created_at).total_seconds() / 3600)
    return result


def _redone_in_grace(session: Session, closed: Any) -> set[int]:
    """Of the closed tickets `closed` (ids, or a select of ids), those a 重办 ticket took up
    again within MEDIATION_GRACE of closing."""
    redo = aliased(Ticket)
    return {
        ticket_id for ticket_id, closed_at, redone_at in session.execute(
            select(Ticket.id, Ticket.closed_at, redo.created_at).join(redo, redo.redo_of_id == Ticket.id)
            .where(Ticket.id.in_(closed))
        ) if redone_at - closed_at <= MEDIATION_GRACE
    }


def weekly(session: Session, region: Region, last: date, weeks: int, now: datetime) -> list[tuple[Window, Counts]]:
    """Volume and the three rates (三率) for each of `weeks` weeks ending on `last`, oldest first.

    One GROUP BY per measure over the whole span, the week picked by a CASE over its
    boundaries (portable, and one scan instead of one per week).
    """
    _analytic(session)
    windows = [Window(last - timedelta(days=7 * back + 6), last - timedelta(days=7 * back)) for back in range(weeks - 1, -1, -1)]
    regions = subtree(session, region)
    ids = None if len(regions) == session.scalar(select(func.count()).select_from(Region)) else [r for r, _ in regions]
    in_scope = _in(Ticket.region_id, ids)
    start, end = windows[0].start, windows[-1].end
    result = [Counts() for _ in windows]

    def bucket(column: Any) -> Any:
        return case(*((column < w.end, i) for i, w in enumerate(windows)), else_=None)

    def yes(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    week = bucket(Ticket.created_at)
    for i, n in session.execute(
        select(week, func.count()).where(in_scope, Ticket.created_at >= start, Ticket.created_at < end).group_by(week)
    ):
        if i is not None:
            result[i].total = n
    for i, outcome, n in session.execute(_settled("claim", in_scope, start, end, now, moment_key=bucket)):
        if i is not None:
            result[i].claim_due += n
            if outcome == "met":
                result[i].claim_met += n
    week = bucket(FollowUp.answered_at)
    good = FollowUp.satisfaction.in_(("satisfied", "basically_satisfied"))
    for i, answered, solved, rated, satisfied in session.execute(
        select(week, yes(FollowUp.solved.is_not(None)), yes(FollowUp.solved.is_(True)),
               yes(FollowUp.satisfaction.is_not(None)), yes(good))
        .join(Ticket, FollowUp.ticket_id == Ticket.id)
        .where(in_scope, FollowUp.answered_at >= start, FollowUp.answered_at < end)
        .group_by(week)
    ):
        if i is not None:
            c = result[i]
            c.answered, c.solved, c.rated, c.satisfied = answered or 0, solved or 0, rated or 0, satisfied or 0
    return list(zip(windows, result))


# -- the tickets behind a rate (the dashboard's drill-downs) ---------------------------

RATE_PARTS = ("base", "met")


def rate_members(session: Session, name: str, part: str, window: Window, now: datetime) -> Any:
    """A condition on Ticket that holds for exactly the tickets behind `name`'s
    denominator ("base") or numerator ("met") over `window`, as counted by `now`.

    For the clock rates, the mediation rate and the ticket-based rates (redo, reopen,
    return, extension) the tickets are the counted things, so the queue's count equals
    the number. The resolution and satisfaction rates count follow-up answers: a ticket
    answered twice in the window (reopened and resolved again) is listed once.
    """
    if name not in RATES or part not in RATE_PARTS:
        raise ValueError(f"no rate {name!r} / part {part!r}")
    start, end = window.start, window.end
    created = and_(Ticket.created_at >= start, Ticket.created_at < end)
    clock = {"response_rate": "claim", "first_reply_rate": "reply", "on_time_resolution_rate": "resolve"}.get(name)
    if clock is not None:
        due, stop = CLOCKS[clock]
        met = and_(stop >= start, stop < end, stop <= now, stop <= due)
        if part == "met":
            return and_(met, Ticket.status != "withdrawn")
        missed = and_(due >= start, due < end, due <= now, or_(stop.is_(None), stop > due))
        return and_(or_(met, missed), Ticket.status != "withdrawn")
    if name in ("resolution_rate", "satisfaction_rate"):
        answered = and_(FollowUp.ticket_id == Ticket.id, FollowUp.answered_at >= start, FollowUp.answered_at < end)
        if name == "resolution_rate":
            condition = FollowUp.solved.is_(True) if part == "met" else FollowUp.solved.is_not(None)
        else:
            good = FollowUp.satisfaction.in_(("satisfied", "basically_satisfied"))
            condition = good if part == "met" else FollowUp.satisfaction.is_not(None)
        return select(FollowUp.id).where(answered, condition).exists()
    if name == "mediation_success_rate":
        closed = and_(Ticket.category == "mediation", Ticket.status == "closed",
                      Ticket.closed_at >= start, Ticket.closed_at < end)
        if part == "base":
            return closed
        # "Not redone within 90 days" is date arithmetic the two databases write
        # differently: the (few) agreements closed in the window are picked here.
        agreed = list(session.execute(select(Ticket.id, Ticket.closed_at).where(closed, Ticket.outcome == "agreement")))
        redone = _redone_in_grace(session, [ticket_id for ticket_id, _ in agreed])
        return Ticket.id.in_([ticket_id for ticket_id, _ in agreed if ticket_id not in redone])
    if name == "reopen_rate":
        def happened(action: str) -> Any:
            return select(TicketEvent.id).where(TicketEvent.ticket_id == Ticket.id, TicketEvent.action == action).exists()
        return and_(created, happened("resolved"), *((happened("reopened"),) if part == "met" else ()))
    if part == "base":
        return created
    return and_(created, {"redo_rate": Ticket.redo_of_id.is_not(None), "return_rate": Ticket.returns > 0,
                          "extension_rate": Ticket.extensions > 0}[name])
