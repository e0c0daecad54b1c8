"""The supervisor's dashboard (`/staff/dashboard`), its rankings, charts and exports.

Every number comes from models/stats.py (the same as `GET /api/v1/stats`); this module
arranges them for the page and the files, and links each to the queue behind it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Response, abort, g, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from handlers.context import db_session, runtime
from handlers.labels import (
    CATEGORY_LABELS, DASHBOARD_CHANNEL_LABELS, DURATION_LABELS, PERIOD_LABELS, RATE_LABELS, window_label,
)
from handlers.serializers import serialize_staff, serialize_ticket_summary
from handlers.staff import exports
from handlers.staff.actions import policy, queue_filters
from handlers.staff.views import bp, route_label
from handlers.stats_args import OutOfScope, StatsQuery, cached_report, stats_query, stored_or_counted
from models import AuditEvent, Region, StaffUser, Ticket, utcnow
from models.stats import RATES, TREND_RATES, Counts, Report, Window
from models.stats_store import WEEKLY, weekly_first
from models.ticket import OPEN_STATUSES

# The rates child regions are ranked on (三率 and the federation's own).
RANKED = ("response_rate", "first_reply_rate", "on_time_resolution_rate", "resolution_rate", "satisfaction_rate",
          "mediation_success_rate")
TREND_WEEKS = 8
LIST_LIMIT = 50
# The page's rates: (numerator, denominator, name, definition).
RATE_ROWS = {name: (*fields, *RATE_LABELS[name]) for name, fields in RATES.items()}


def _supervisor() -> StaffUser:
    user = current_user._get_current_object()
    if not user.supervises:
        abort(404)  # as the access log: a caseworker does not learn the page exists
    return user


def _query(session, user: StaffUser, now: datetime) -> tuple[StatsQuery | None, dict[str, str]]:
    try:
        return stats_query(session, user, request.args, now, default_period="week")
    except OutOfScope:
        abort(404)


def drill(query: StatsQuery, region: Region | None = None, **filters: Any) -> str:
    """The queue with the tickets behind a number: the window's, of `region`, narrowed by `filters`."""
    args = {"tab": "all", "region": (region or query.region).code,
            "from": query.window.first.isoformat(), "to": query.window.last.isoformat()}
    args.update({k: v for k, v in filters.items() if v is not None})
    # The queue's address once per request; a page links to it hundreds of times.
    base = g.get("queue_url") or g.setdefault("queue_url", url_for("staff.queue"))
    return f"{base}?{urlencode(args)}"


def arrow(now: float | None, before: float | None) -> str:
    """↑ better, ↓ worse, → the same, "" when either side has no data."""
    if now is None or before is None:
        return ""
    return "↑" if now > before + 1e-9 else "↓" if now < before - 1e-9 else "→"


def rankings(current: Report, previous: Report, last_year: Report, rank_min: int) -> list[dict[str, Any]]:
    """Each child region's counts and rates, its rank on each rate (None below `rank_min`), 环比 and 同比."""
    before = {r.id: c for r, c in previous.children}
    year = {r.id: c for r, c in last_year.children}
    rows = []
    for region, counts in current.children:
        rates = {}
        for name in RANKED:
            value = counts.rate(name)
            rates[name] = {
                "value": value, "base": counts.base(name), "numerator": getattr(counts, RATES[name][0]),
                "ranked": counts.base(name) >= rank_min and value is not None, "rank": None,
                "mom": arrow(value, before.get(region.id, Counts()).rate(name)),
                "yoy": arrow(value, year.get(region.id, Counts()).rate(name)),
            }
        rows.append({"region": region, "counts": counts, "rates": rates})
    for name in RANKED:
        ranked = sorted((r for r in rows if r["rates"][name]["ranked"]), key=lambda r: -r["rates"][name]["value"])
        position, last_value = 0, None
        for index, row in enumerate(ranked, start=1):
            value = row["rates"][name]["value"]
            if value != last_value:  # ties share a rank
                position, last_value = index, value
            row["rates"][name]["rank"] = position
    return rows


def trend(session, region: Region, window: Window, now: datetime) -> list[dict[str, Any]]:
    """Volume and the three rates week by week, the last TREND_WEEKS weeks up to the window's end."""
    return [
        {"label": f"{week.first:%m-%d}", "first": week.first.isoformat(), "last": week.last.isoformat(),
         "total": counts.total, **{name: counts.rate(name) for name in TREND_RATES}}
        for week, counts in stored_or_counted(session, WEEKLY, region, weekly_first(window.last, TREND_WEEKS),
                                              window.last, now)
    ]


def overdue_list(session, user: StaffUser, region: Region, now: datetime) -> list[dict[str, Any]]:
    """Open tickets past a running clock, the most escalated and oldest first, with their lights."""
    order = (Ticket.escalation_level.desc(), Ticket.next_due_at, Ticket.id)
    # The page's ids first, on their own: from the overdue index alone (models/stats.py),
    # whatever PostgreSQL estimates; then those tickets.
    page = (select(Ticket.id)
            .where(Ticket.visible_to(user, region), Ticket.status.in_(OPEN_STATUSES), Ticket.next_due_at < now)
            .order_by(*order).limit(LIST_LIMIT))
    rows = session.scalars(
        select(Ticket).where(Ticket.id.in_(page))
        .options(joinedload(Ticket.region), joinedload(Ticket.assignee)).order_by(*order)
    )
    return [serialize_ticket_summary(t, now, policy()) for t in rows]


def open_load(session, user: StaffUser, region: Region) -> list[dict[str, Any]]:
    """Each caseworker's (and supervisor's) open tickets in the subtree, busiest first."""
    counts = dict(session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.visible_to(user, region), Ticket.status == "claimed", Ticket.assignee_id.is_not(None))
        .group_by(Ticket.assignee_id)
    ).all())
    staff = session.scalars(
        select(StaffUser).join(Region, StaffUser.region_id == Region.id)
        .where(Region.path.startswith(region.path, autoescape=True), StaffUser.active.is_(True),
               StaffUser.role.in_(("caseworker", "supervisor")))
        .options(joinedload(StaffUser.region))
    ).all()
    rows = [{"username": s.username, "name": s.display_name, "region": s.region.name, "open": counts.get(s.id, 0)}
            for s in staff]
    return sorted(rows, key=lambda r: (-r["open"], r["username"]))[:LIST_LIMIT * 2]


def urgent_list(session, user: StaffUser, query: StatsQuery) -> list[dict[str, Any]]:
    """The window's urgent tickets and how long each waited to be claimed."""
    rows = session.scalars(
        select(Ticket)
        .where(Ticket.visible_to(user, query.region), Ticket.urgent.is_(True),
               Ticket.created_at >= query.window.start, Ticket.created_at < query.window.end)
        .options(joinedload(Ticket.region))
        .order_by(Ticket.created_at.desc())
        .limit(LIST_LIMIT)
    )
    return [
        {"reference": t.reference, "region": t.region.name, "status": t.status, "created_at": t.created_at,
         "claim_due_at": t.claim_due_at,
         "minutes_to_claim": None if t.claimed_at is None else round((t.claimed_at - t.created_at).total_seconds() / 60),
         "late": (t.claimed_at or utcnow()) > t.claim_due_at}
        for t in rows
    ]


def subcategories(counts: Counts) -> list[dict[str, Any]]:
    return [
        {"category": category, "sub": sub, "label": route_label(category, sub or None), "n": n}
        for (category, sub), n in sorted(counts.by_subcategory.items(), key=lambda item: -item[1])
    ]


@bp.get("/dashboard")
@login_required
def dashboard():
    session, user, now = db_session(), _supervisor(), utcnow()
    query, errors = _query(session, user, now)
    if query is None:
        fallback, _ = stats_query(session, user, {"region": request.args.get("region", "")}, now, default_period="week")
        page, status = _render(session, user, fallback, now, errors), 422
    else:
        page, status = _render(session, user, query, now, {}), 200
    session.commit()  # the reports counted here, stored for every process (models/stats_store.py)
    return page, status


def _render(session, user: StaffUser, query: StatsQuery, now: datetime, errors: dict[str, str]) -> str:
    current = cached_report(session, query.region, query.window, now)
    ranks = rankings(current, cached_report(session, query.region, query.window.previous(), now),
                     cached_report(session, query.region, query.window.last_year(), now), runtime().settings.stats.rank_min)
    weeks = trend(session, query.region, query.window, now)
    total = current.total
    chart_data = {
        "trend": weeks,
        "trend_drill": [drill(StatsQuery(query.region, Window.parse(w["first"], w["last"]), "custom")) for w in weeks],
        "routes": [{"name": CATEGORY_LABELS.get(k, k), "value": v, "url": drill(query, category=k)}
                   for k, v in sorted(total.by_category.items())],
        "regions": [{"name": r["region"].name, "total": r["counts"].total,
                     **{name: r["counts"].rate(name) for name in TREND_RATES},
                     "url": drill(query, r["region"])} for r in ranks],
        "rate_labels": {name: RATE_LABELS[name][0] for name in TREND_RATES},
    }
    parents = query.region.chain()[1:]
    return render_template(
        "staff/dashboard.html",
        me=serialize_staff(user), query=query, report=current, total=total, errors=errors,
        periods=PERIOD_LABELS, rates=RATE_ROWS, durations=DURATION_LABELS, ranked=RANKED, rankings=ranks,
        window_label=window_label,
        rank_min=runtime().settings.stats.rank_min, drill=drill, now=now,
        cache_seconds=runtime().settings.stats.cache_seconds,
        channel_labels=DASHBOARD_CHANNEL_LABELS, subcategories=subcategories(total),
        overdue=overdue_list(session, user, query.region, now), load=open_load(session, user, query.region),
        urgent=urgent_list(session, user, query), chart_data=chart_data,
        up=[r for r in reversed(parents) if user.sees(r)],
        export_args={"region": query.region.code, "from": query.window.first.isoformat(),
                     "to": query.window.last.isoformat()},
    )


# -- exports (no personal data; each one audited) ---------------------------------------


def _audit(session, user: StaffUser, now: datetime, what: str, **detail: Any) -> None:
    AuditEvent.record(session, now, "export", user, address=request.remote_addr or "", what=what, **detail)
    session.commit()


@bp.get("/dashboard/regions.<fmt>")
@login_required
def export_regions(fmt: str):
    """The dashboard's region table (one row per child region, with a total) as CSV or Excel."""
    session, user, now = db_session(), _supervisor(), utcnow()
    if fmt not in exports.FORMATS:
        abort(404)
    query, errors = _query(session, user, now)
    if query is None:
        abort(422)
    current = cached_report(session, query.region, query.window, now)
    header, rows = exports.region_rows(current)
    _audit(session, user, now, "regions", format=fmt, region=query.region.code, window=window_label(query.window))
    return exports.send(fmt, f"regions-{query.region.code}-{query.window.first}-{query.window.last}", header, rows,
                        title=f"{query.region.name} {window_label(query.window)} 分区域统计")


@bp.get("/dashboard/monthly.xlsx")
@login_required
def export_monthly():
    """月报: the fixed layout a federation sends upward."""
    session, user, now = db_session(), _supervisor(), utcnow()
    query, errors = _query(session, user, now)
    if query is None:
        abort(422)
    current = cached_report(session, query.region, query.window, now)
    _audit(session, user, now, "monthly", format="xlsx", region=query.region.code, window=window_label(query.window))
    return Response(
        exports.monthly_xlsx(current),
        mimetype=exports.MIMETYPES["xlsx"],
        headers={"Content-Disposition": exports.attachment(f"monthly-{query.region.code}-{query.window.first}-{query.window.last}.xlsx")},
    )


@bp.get("/export.<fmt>")
@login_required
def export_tickets(fmt: str):
    """The tickets behind any queue or dashboard view (its filters), as CSV or Excel, without personal data."""
    session, user, now = db_session(), current_user._get_current_object(), utcnow()
    if fmt not in exports.FORMATS:
        abort(404)
    filters, errors = queue_filters(session, user, request.args, default_tab="all")
    if errors:
        abort(422)
    header, rows = exports.ticket_rows(session, user, filters, now)
    _audit(session, user, now, "tickets", format=fmt, rows=len(rows),
           filters={k: v for k, v in request.args.items() if k != "q"})
    return exports.send(fmt, f"tickets-{now.astimezone(exports.CHINA_TZ):%Y%m%d-%H%M}", header, rows, title="工单明细")
