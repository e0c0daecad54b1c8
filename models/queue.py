"""The queue's read side: what a queue tab holds, under which filters, counted, and in
which order (with the plan the database is told to use). `QueueReads` is a part of the
ORM `Ticket` (models/ticket.py); the tab → condition table `QUEUE_TABS` is the one
definition of what each tab means, for the lists and the counts alike."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, nulls_last, or_, select
from sqlalchemy.orm import Session, joinedload

from models.base import utcnow
from models.lifecycle import DONE_STATUSES, OPEN_STATUSES
from models.region import Region
from models.staff import StaffUser

_WHOLE_REFERENCE = re.compile(r"[A-Z]+-\d{8}-\d{4,}")

# A tab holding more tickets than this is read along the date index rather than sorted.
WALK_DATES_ABOVE = 5000


@dataclass(frozen=True)
class Tab:
    """A queue tab: the statuses it holds (None: every one), and whether only the viewer's own."""

    statuses: tuple[str, ...] | None
    mine: bool = False

    def condition(self, ticket: Any, user: StaffUser) -> Any:
        """The SQL condition on the ticket table (`ticket`: the mapped class)."""
        parts = [ticket.assignee_id == user.id] if self.mine else []
        if self.statuses is not None:
            status = ticket.status
            parts.append(status == self.statuses[0] if len(self.statuses) == 1 else status.in_(self.statuses))
        return and_(*parts) if parts else literal(True)

    def holds(self, status: str, assignee_id: int | None, user: StaffUser) -> bool:
        """The same condition, on a ticket's status and assignee as read."""
        return (self.statuses is None or status in self.statuses) and (not self.mine or assignee_id == user.id)


# Queue tabs, in the order they are shown.
QUEUE_TABS = {
    "unclaimed": Tab(("new",)),
    "mine": Tab(("claimed",), mine=True),
    "open": Tab(OPEN_STATUSES),
    "done": Tab(DONE_STATUSES),
    "all": Tab(None),
}
TABS = tuple(QUEUE_TABS)


@dataclass
class QueueFilter:
    """What the queue shows: a tab, narrowed by route, status, region, urgency and text."""

    tab: str = "unclaimed"
    category: str | None = None
    status: str | None = None
    region: Region | None = None
    urgent: bool = False
    text: str = ""
    # green | yellow | red (models/clocks.py), as of `now` (default: the current time).
    light: str | None = None
    now: datetime | None = None
    # wechat | telegram | phone | visit: the online and offline tracks apart.
    channel: str | None = None
    # A whole phone number searched for (normalised), instead of `text`.
    phone: str | None = None
    # The dashboard's drill-downs: a route's subcategory, an assignee, and tickets
    # created in [created_from, created_to).
    subcategory: str | None = None
    assignee_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    # The tickets behind one of the dashboard's rates (models/stats.rate_members): a
    # condition on Ticket, applied as it is.
    members: Any = None


class QueueReads:
    """The queue's reads, as classmethods of the mapped `Ticket`."""

    @classmethod
    def _scope(cls, session: Session, user: StaffUser, region: Region | None, per_row: bool = False) -> Any:
        """`visible_to` for a list: no condition at all when the subtree is the whole grid.

        A city-level account sees every ticket; saying so lets the database scan instead of
        probing the region index once per ticket (which is what `IN (every region)` costs).
        """
        path = (region or user.region).path
        inside, everything = session.execute(
            select(
                func.coalesce(func.sum(case((Region.path.startswith(path, autoescape=True), 1), else_=0)), 0),
                func.count(),
            ).select_from(Region)
        ).one()
        if inside == everything:
            return literal(True)
        return cls.visible_to(user, region, per_row=per_row)

    @classmethod
    def queue(
        cls, session: Session, user: StaffUser, filters: QueueFilter, page: int = 1, per_page: int = 50,
        total: int | None = None,
    ) -> list[Any]:
        """One page of a queue tab: urgent first, then the nearest deadline ("done" and
        "all": newest first). `total`, the tab's count if known, picks the plan."""
        # A big history (a city's "all" tab) is read newest-first along the date index and
        # stopped after a page; a small one is fetched by region and sorted in memory.
        # Planners cannot tell the two apart from `region_id IN (subtree)`, so we say it.
        walk_dates = filters.tab in ("done", "all") and (total is None or total > WALK_DATES_ABOVE)
        query = cls._filtered(session, user, filters, per_row=walk_dates).where(cls.tab_is(user, filters.tab))
        if filters.tab in ("done", "all") and not walk_dates:
            # A few thousand at most: find them, then sort them. Left alone, a planner walks
            # the date index reading every ticket row to test a text filter on it.
            query = select(cls).where(cls.id.in_(query.with_only_columns(cls.id)))
        if filters.tab in ("done", "all"):
            order = [cls.created_at.desc(), cls.id.desc()]
        else:
            # The nearest running clock, kept on the row (clocks_changed); paused ones last.
            order = [cls.urgent.desc(), nulls_last(cls.next_due_at.asc()), cls.id]
        query = (
            query.options(joinedload(cls.region), joinedload(cls.assignee))
            .order_by(*order)
            .limit(per_page)
            .offset((max(page, 1) - 1) * per_page)
        )
        return list(session.scalars(query))

    @classmethod
    def listing(cls, session: Session, user: StaffUser, filters: QueueFilter) -> Select[Any]:
        """Every ticket a queue tab with `filters` holds, unordered (for exports)."""
        return cls._filtered(session, user, filters).where(cls.tab_is(user, filters.tab))

    @classmethod
    def tab_counts(cls, session: Session, user: StaffUser, filters: QueueFilter) -> dict[str, int]:
        """How many tickets each tab holds under the same filters.

        One GROUP BY over (status, assignee), which the (region_id, status, assignee_id)
        index answers without reading a ticket row when no other filter is set.
        """
        query = cls._filtered(session, user, filters).with_only_columns(cls.status, cls.assignee_id, func.count())
        counts = dict.fromkeys(TABS, 0)
        for status, assignee_id, number in session.execute(query.group_by(cls.status, cls.assignee_id)):
            for name, tab in QUEUE_TABS.items():
                if tab.holds(status, assignee_id, user):
                    counts[name] += number
        return counts

    @classmethod
    def _filtered(cls, session: Session, user: StaffUser, filters: QueueFilter, per_row: bool = False) -> Select[Any]:
        query = select(cls).where(cls._scope(session, user, filters.region, per_row=per_row))
        if filters.category:
            query = query.where(cls.category == filters.category)
        if filters.status:
            query = query.where(cls.status == filters.status)
        if filters.urgent:
            query = query.where(cls.urgent.is_(True))
        if filters.subcategory is not None:
            query = query.where(cls.subcategory == filters.subcategory if filters.subcategory else cls.subcategory.is_(None))
        if filters.channel:
            query = query.where(cls.channel == filters.channel)
        if filters.assignee_id is not None:
            query = query.where(cls.assignee_id == filters.assignee_id)
        if filters.created_from is not None:
            query = query.where(cls.created_at >= filters.created_from)
        if filters.created_to is not None:
            query = query.where(cls.created_at < filters.created_to)
        if filters.members is not None:
            query = query.where(filters.members)
        if filters.light:
            query = query.where(cls.light_is(filters.light, filters.now or utcnow()))
        text = filters.text.strip()
        if filters.phone:
            # The number she gives when she calls the hotline: the whole number, never a part
            # of one (a partial match would let anyone browse numbers). The caller audits it.
            query = query.where(cls.contact_phone == filters.phone)
        elif text:
            # References are searched as typed ("0042", "nj-20261121"); the route's words
            # (婆婆, 抚养权) through the router's explanation; her own words only in the
            # tickets whose record the searcher may read anyway (their own, or as supervisor).
            if _WHOLE_REFERENCE.fullmatch(text.upper()):
                query = query.where(cls.reference == text.upper())  # read out on the phone: the index
            else:
                query = query.where(
                    or_(
                        cls.reference.contains(text.upper(), autoescape=True),
                        cls.route_explanation.contains(text, autoescape=True),
                        cls._her_words(user, text),
                    )
                )
        return query

    @classmethod
    def _her_words(cls, user: StaffUser, text: str) -> Any:
        """Tickets where she wrote `text`, among those `user` reads: the assignee's, or any for supervisors."""
        from models.message import Message  # message.py imports this module

        wrote = (
            select(Message.id)
            .where(Message.ticket_id == cls.id, Message.direction == "in", Message.text.contains(text, autoescape=True))
            .exists()
        )
        return wrote if user.supervises else (cls.assignee_id == user.id) & wrote

    @classmethod
    def light_is(cls, light: str, now: datetime) -> Any:
        """The condition for tickets whose running clocks show `light` at `now` (red:
        one is overdue; yellow: one is past `sla.yellow_at`, as the sweep last set it)."""
        overdue = cls.next_due_at <= now
        if light == "red":
            return overdue
        yellow = cls.yellow_at <= now
        if light == "yellow":
            return yellow & ~overdue
        return or_(cls.next_due_at.is_(None), ~overdue) & or_(cls.yellow_at.is_(None), ~yellow)

    @classmethod
    def tab_is(cls, user: StaffUser, tab: str) -> Any:
        """The condition for the tickets tab `tab` holds for `user` (an unknown tab: all)."""
        return QUEUE_TABS.get(tab, QUEUE_TABS["all"]).condition(cls, user)
