"""The workspace's pages. Each handler: load (in scope) or 404 → authorise → model method
→ commit → render. Forms post back here with a CSRF token; errors are shown on the page
with 409 (the ticket moved on) or 422 (the input was wrong), never as a 500."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from handlers.app import runtime
from handlers.auth import db_session
from handlers.serializers import serialize_staff, serialize_ticket_summary
from handlers.staff.actions import ACTIONS, DONE, page_args, perform, queue_filters, ticket_detail
from handlers.staff.canned import canned_for
from models import Region, StaffUser, Ticket, utcnow
from models.region import LEVELS
from models.staff import LOCKOUT
from models.ticket import (
    CATEGORY_LABELS, STATUS_LABELS, TAB_LABELS, TABS, Conflict, TicketError,
)

log = logging.getLogger(__name__)

bp = Blueprint("staff", __name__, url_prefix="/staff")

PER_PAGE = 50


@bp.after_request
def no_caching_of_personal_data(response):
    # Her words must not stay in a shared computer's cache or leak through a Referer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response


@bp.context_processor
def workspace_globals() -> dict[str, Any]:
    return {
        "route_label": route_label,
        "category_labels": CATEGORY_LABELS,
        "status_labels": STATUS_LABELS,
        "with_args": with_args,
    }


def with_args(**changes: Any) -> str:
    """This page's URL with some query arguments changed (None drops one)."""
    args = {k: v for k, v in request.args.items() if v}
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = str(value)
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def route_label(category: str, subcategory: str | None) -> str:
    """"调解 · 婆媳/姻亲矛盾", from the lexicon the router uses now."""
    try:
        return runtime().router.label(category, subcategory)
    except KeyError:
        return CATEGORY_LABELS.get(category, category)


# -- logging in -------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("staff.queue"))
    if request.method == "GET":
        return render_template("staff/login.html", username="", error=None, next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    if not username or not password:
        return render_template("staff/login.html", username=username, error="请输入用户名和密码", next=target), 422

    session = db_session()
    user = StaffUser.by_username(session, username)
    if user is None:
        StaffUser.waste_time_verifying(password)
        result = "wrong"
    else:
        result = user.log_in(session, password, utcnow())
        session.commit()  # failures count even though the login fails
    if result == "ok":
        login_user(user)
        log.info("staff %s logged in", user.id)
        return redirect(_safe_next(target) or url_for("staff.queue"), 303)
    if result == "locked":
        log.warning("staff login locked for user %s", user.id if user else "?")
        minutes = int(LOCKOUT.total_seconds() // 60)
        error = f"登录失败次数过多，账号已暂时锁定，请 {minutes} 分钟后再试"
        return render_template("staff/login.html", username=username, error=error, next=target), 429
    return render_template("staff/login.html", username=username, error="用户名或密码错误", next=target), 401


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("staff.login"), 303)


def _safe_next(target: str) -> str | None:
    """Only a path on this site, never another host (open redirect)."""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc:
        return target
    return None


# -- the queue --------------------------------------------------------------------


@bp.get("/")
@login_required
def queue():
    session = db_session()
    user = current_user._get_current_object()
    filters, errors = queue_filters(session, user, request.args)
    page, _, page_errors = page_args(request.args, PER_PAGE)
    errors.update(page_errors)
    now = utcnow()
    counts = Ticket.tab_counts(session, user, filters)
    tickets = Ticket.queue(session, user, filters, page, PER_PAGE, total=counts[filters.tab])
    pages = max((counts[filters.tab] + PER_PAGE - 1) // PER_PAGE, 1)
    return render_template(
        "staff/queue.html",
        me=serialize_staff(user),
        rows=[serialize_ticket_summary(t, now) for t in tickets],
        counts=counts,
        tabs=[(tab, TAB_LABELS[tab]) for tab in TABS],
        filters=filters,
        args=request.args,
        errors=errors,
        regions=_regions_in_scope(session, user),
        page=page,
        pages=pages,
    ), 422 if errors else 200


def _regions_in_scope(session, user: StaffUser) -> list[dict[str, Any]]:
    regions = session.scalars(
        select(Region).where(Region.path.startswith(user.region.path, autoescape=True)).order_by(Region.path).limit(2000)
    ).all()
    top = LEVELS.index(user.region.level)
    return [
        {"code": r.code, "name": r.name, "depth": max(LEVELS.index(r.level) - top, 0)} for r in regions
    ]


# -- the ticket page ---------------------------------------------------------------


@bp.get("/tickets/<reference>")
@login_required
def ticket(reference: str):
    session = db_session()
    user = current_user._get_current_object()
    found = Ticket.find_visible(session, user, reference)
    if found is None:
        abort(404)
    found.record_view(user, "web")
    session.commit()
    return _render_ticket(session, user, found)


@bp.post("/tickets/<reference>/<action>")
@login_required
def act(reference: str, action: str):
    if action not in ACTIONS:
        abort(404)
    session = db_session()
    user = current_user._get_current_object()
    found = Ticket.find_visible(session, user, reference)
    if found is None:
        abort(404)
    if not found.permits(user, ACTIONS[action]):
        message = "只有督办人或管理员可以转办、指派" if ACTIONS[action] in ("assign", "transfer") else "只有认领人或督办人可以这样做"
        return _refused(session, user, found, action, message, None, 403)
    try:
        perform(session, user, found, action, request.form, utcnow())
    except TicketError as error:
        session.rollback()
        status = 409 if isinstance(error, Conflict) else 422
        return _refused(session, user, found, action, error.message, error.field, status)
    session.commit()
    log.info("ticket %s: %s by staff %s", found.reference, action, user.id)
    flash(DONE[action], "success")
    anchor = {"reply": "#transcript", "notes": "#notes"}.get(action, "")
    return redirect(url_for("staff.ticket", reference=found.reference) + anchor, 303)


def _refused(session, user: StaffUser, ticket: Ticket, action: str, message: str, field: str | None, status: int):
    """The ticket page again, as it is now, with the error beside the form that caused it
    (and what was typed still in that form)."""
    session.refresh(ticket)
    ticket.record_view(user, "web")
    session.commit()
    page = _render_ticket(session, user, ticket, error=message, field=field, form=request.form, action=action)
    return page, status


def _route_options() -> list[dict[str, Any]]:
    """Every category and subcategory a caseworker may correct a route to, as the lexicon names them."""
    lexicon = runtime().router.lexicon
    return [
        {"label": c.label, "options": [{"value": f"{c.key}/{s.key}", "label": s.label} for s in c.subcategories]}
        for c in lexicon.categories() if c.key in CATEGORY_LABELS and c.key != "other"
    ]


def _render_ticket(session, user: StaffUser, ticket: Ticket, error: str | None = None,
                   field: str | None = None, form: Any = None, action: str | None = None) -> str:
    now = utcnow()
    detail = ticket_detail(session, ticket, now)
    may = {action: ticket.permits(user, permission) for action, permission in ACTIONS.items()}
    colleagues = regions = []
    if may["assign"] or may["transfer"]:
        colleagues = [
            {"username": s.username, "label": f"{s.display_name}（{s.region.name}）"}
            for s in StaffUser.in_region(session, user.region)
        ]
        regions = _regions_in_scope(session, user)
    return render_template(
        "staff/ticket.html",
        route_options=_route_options(),
        me=serialize_staff(user),
        t=detail,
        may=may,
        canned=canned_for(ticket.category),
        colleagues=colleagues,
        regions=regions,
        error=error,
        field=field,
        failed=action,
        form=form or {},
        views=[e for e in detail["events"] if e["action"] == "viewed"][-20:],
        trail=[e for e in detail["events"] if e["action"] != "viewed"],
    )


@bp.errorhandler(404)
def not_found(error):
    # Out of scope reads exactly like nonexistent: existence does not leak.
    return render_template("staff/error.html", code=404, message="找不到这个工单，或它不在您的管辖范围内。"), 404
