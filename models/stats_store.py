"""Counted reports, kept in the database (`stats_report`) for every process of every instance.

The supervisor's numbers are expensive to count at a province's scale (seconds), cheap to
read once counted (milliseconds). A report, once counted, is stored here under its key
(kind, region, window) with the moment it was counted as of. A serving process shows a
stored report while it is at most `stats.cache_seconds` old and otherwise counts it
itself, exactly, and stores that; the worker (bot/stats_refresh.py) counts again every
report someone asked for lately before it gets that old, so a request that finds a
report in use never counts.

Two workers never count the same report at once: each claims it first with a
conditional UPDATE (a lease, `claimed_until`) on the `counted_at` it read, as the SLA
sweep claims a ticket (Ticket.take_sweep), and only the one whose UPDATE matched counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Integer, String, Text, delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, UTCDateTime
from models.region import Region
from models.stats import Counts, Report, Window, report, weekly

REPORT = "report"
WEEKLY = "weekly"  # the trend: the weeks ending on `last`, as many as fit from `first`


class StoredReport(Base):
    """One counted report: what it is, when it was counted as of, and when it was last wanted."""

    __tablename__ = "stats_report"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    region_id: Mapped[int] = mapped_column(Integer)
    first: Mapped[date] = mapped_column(Date)
    last: Mapped[date] = mapped_column(Date)
    # The moment the numbers are as of (the count's start): their age runs from here.
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The last request that showed it (at most once a `WANT_EVERY`): the worker keeps
    # counting a report again while it is wanted.
    wanted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # A worker is counting it until then (its lease; cleared when stored).
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    body: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class Wanted:
    """A stored report due a count: its key, what it is, and the `counted_at` it was claimed on."""

    key: str
    kind: str
    region_id: int
    first: date
    last: date
    counted_at: datetime


def key_of(kind: str, region_id: int, first: date, last: date) -> str:
    return f"{kind}/{region_id}/{first.isoformat()}/{last.isoformat()}"


def weeks_of(first: date, last: date) -> int:
    return ((last - first).days + 1) // 7


def weekly_first(last: date, weeks: int) -> date:
    return last - timedelta(days=7 * weeks - 1)


# -- counting a kind, and the report as JSON and back ----------------------------------


def count(session: Session, kind: str, region: Region, first: date, last: date, now: datetime) -> Any:
    """The report of `kind` for `region` over first..last, counted as of `now`."""
    if kind == REPORT:
        return report(session, region, Window(first, last), now)
    if kind == WEEKLY:
        return weekly(session, region, last, weeks_of(first, last), now)
    raise ValueError(f"no report kind {kind!r}")


_SCALARS = tuple(f.name for f in fields(Counts) if f.type in ("int", int))
_TALLIES = ("by_status", "by_category", "by_channel")


def _counts_out(c: Counts) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(c, name) for name in _SCALARS}
    out.update({name: dict(getattr(c, name)) for name in _TALLIES})
    out["by_subcategory"] = [[cat, sub, n] for (cat, sub), n in c.by_subcategory.items()]
    # The hours only as what is shown of them: how many, the median and the 90th percentile.
    out["hours"] = {clock: [len(values), c.median_hours(clock), c.p90_hours(clock)]
                    for clock, values in c.hours.items() if values}
    return out


def _counts_in(data: dict[str, Any]) -> Counts:
    c = Counts(**{name: data[name] for name in _SCALARS})
    for name in _TALLIES:
        getattr(c, name).update(data[name])
    for cat, sub, n in data["by_subcategory"]:
        c.by_subcategory[(cat, sub)] = n
    c.hour_summary = {clock: tuple(v) for clock, v in data["hours"].items()}
    return c


def dump(kind: str, counted: Any) -> str:
    """A counted report as JSON (what `load` reads back)."""
    if kind == REPORT:
        return json.dumps({
            "now": counted.now.isoformat(), "total": _counts_out(counted.total), "overdue_now": counted.overdue_now,
            "own": _counts_out(counted.own),
            "children": [[region.id, _counts_out(c)] for region, c in counted.children],
        }, ensure_ascii=False, separators=(",", ":"))
    return json.dumps([[w.first.isoformat(), w.last.isoformat(), _counts_out(c)] for w, c in counted],
                      separators=(",", ":"))


def load(session: Session, kind: str, region: Region, first: date, last: date, body: str) -> Any:
    """The report `dump` wrote, its regions read from `session`."""
    data = json.loads(body)
    if kind == WEEKLY:
        return [(Window.parse(a, b), _counts_in(c)) for a, b, c in data]
    ids = [region_id for region_id, _ in data["children"]]
    regions = {r.id: r for r in session.scalars(select(Region).where(Region.id.in_(ids)))} if ids else {}
    return Report(region, Window(first, last), datetime.fromisoformat(data["now"]), _counts_in(data["total"]),
                  [(regions[region_id], _counts_in(c)) for region_id, c in data["children"] if region_id in regions],
                  data["overdue_now"], _counts_in(data["own"]))


# -- the table ---------------------------------------------------------------------------

T = StoredReport.__table__


def read(session: Session, key: str) -> tuple[datetime, datetime, str] | None:
    """(counted_at, wanted_at, body) of the report stored under `key`, if any."""
    row = session.execute(select(T.c.counted_at, T.c.wanted_at, T.c.body).where(T.c.key == key)).first()
    return None if row is None else (row.counted_at, row.wanted_at, row.body)


def want(connection: Connection, key: str, now: datetime) -> None:
    """Someone is looking at the report: the worker keeps it counted."""
    connection.execute(update(T).where(T.c.key == key, T.c.wanted_at < now).values(wanted_at=now))


def store(connection: Connection, kind: str, region_id: int, first: date, last: date, counted_at: datetime,
          body: str, wanted_at: datetime | None = None) -> bool:
    """Keep a report counted as of `counted_at`, unless a newer one is stored already
    (True if kept). `wanted_at`: a request's, which also marks the report wanted."""
    key = key_of(kind, region_id, first, last)
    values: dict[str, Any] = {"counted_at": counted_at, "body": body, "claimed_until": None}
    if wanted_at is not None:
        values["wanted_at"] = wanted_at
    if connection.execute(update(T).where(T.c.key == key, T.c.counted_at < counted_at).values(**values)).rowcount:
        return True
    if connection.execute(select(T.c.key).where(T.c.key == key)).first() is not None:
        return False  # a newer count is there
    try:
        with connection.begin_nested():
            connection.execute(insert(T).values(key=key, kind=kind, region_id=region_id, first=first, last=last,
                                                **{"wanted_at": counted_at, **values}))
    except IntegrityError:
        return False  # another process stored it meanwhile
    return True


def due(connection: Connection, now: datetime, older_than: timedelta, wanted_within: timedelta,
        limit: int = 100) -> list[Wanted]:
    """The reports wanted within `wanted_within` whose count is older than `older_than`
    and that no worker is counting, the oldest count first."""
    rows = connection.execute(
        select(T.c.key, T.c.kind, T.c.region_id, T.c.first, T.c.last, T.c.counted_at)
        .where(T.c.wanted_at >= now - wanted_within, T.c.counted_at <= now - older_than,
               or_(T.c.claimed_until.is_(None), T.c.claimed_until < now))
        .order_by(T.c.counted_at).limit(limit)
    )
    return [Wanted(*row) for row in rows]


def claim(connection: Connection, wanted: Wanted, now: datetime, lease: timedelta) -> bool:
    """Take the count of `wanted` for `lease` (compare-and-set on the `counted_at` read):
    True for exactly one of any number of workers asking at once."""
    return connection.execute(
        update(T).where(T.c.key == wanted.key, T.c.counted_at == wanted.counted_at,
                        or_(T.c.claimed_until.is_(None), T.c.claimed_until < now))
        .values(claimed_until=now + lease)
    ).rowcount == 1


def release(connection: Connection, wanted: Wanted) -> None:
    """Give back a claim whose count failed."""
    connection.execute(update(T).where(T.c.key == wanted.key, T.c.counted_at == wanted.counted_at)
                       .values(claimed_until=None))


def forget_unwanted(connection: Connection, before: datetime) -> int:
    """Drop the reports nobody has wanted since `before`."""
    return connection.execute(delete(T).where(T.c.wanted_at < before)).rowcount

