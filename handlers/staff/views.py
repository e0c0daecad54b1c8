"""The workspace's pages. Each handler: load (in scope) or 404 → authorise → model method
→ commit → render. Forms post back here with a CSRF token; errors are shown on the page
with 409 (the ticket moved on) or 422 (the input was wrong), never as a 500."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask import session as flask_session
from flask_login import current_user, login_required
from sqlalchemy import func, select

from bot.alerts import is_for
from bot.dialogue import mask_mobile
from bot.media import media_content
from handlers.context import db_session, runtime
from handlers.labels import (
    CATEGORY_LABELS, CHANNEL_LABELS, LIGHT_LABELS, ROLE_LABELS, SATISFACTION_LABELS, STATUS_LABELS, TAB_LABELS,
)
from handlers.messages import error_message
from handlers.serializers import serialize_staff, serialize_ticket_summary
from handlers.staff.actions import (
    ACTIONS, audit_phone_search, page_args, policy, queue_filters, record_call_or_visit, ticket_detail,
)
from handlers.staff.actions import act as act_on
from handlers.staff.canned import canned_for
from models import Message, Region, StaffAlert, StaffUser, Ticket, utcnow
from models.followup import SATISFACTION
from models.region import LEVELS
from models.ticket import TABS, TicketError

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
        "last_alert_id": lambda: StaffAlert.last_id(db_session()),
        "light_labels": LIGHT_LABELS,
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
    if filters.phone:
        audit_phone_search(session, user, filters, tickets, now, "web", seen=flask_session.setdefault("phone_searches", {}))
        flask_session.modified = True
        session.commit()
    previews = Message.first_words(session, [t.id for t in tickets if _may_preview(t, user)])
    return render_template(
        "staff/queue.html",
        me=serialize_staff(user),
        rows=[serialize_ticket_summary(t, now, policy()) | {"preview": previews.get(t.id)} for t in tickets],
        channel_labels=CHANNEL_LABELS,
        counts=counts,
        tabs=[(tab, TAB_LABELS[tab]) for tab in TABS],
        filters=filters,
        args=request.args,
        errors=errors,
        regions=_regions_in_scope(session, user),
        page=page,
        pages=pages,
    ), 422 if errors else 200


def _may_preview(ticket: Ticket, user: StaffUser) -> bool:
    """The queue shows the first words of her message only where they are harmless at a
    glance: never for an urgent or violence ticket (a queue is read on shared screens),
    and only to those who may read the record anyway."""
    return not ticket.need_to_know and ticket.permits(user, "read")


def _regions_in_scope(session, user: StaffUser) -> list[dict[str, Any]]:
    regions = session.scalars(
        select(Region).where(Region.path.startswith(user.region.path, autoescape=True)).order_by(Region.path).limit(2000)
    ).all()
    top = LEVELS.index(user.region.level)
    return [
        {"code": r.code, "name": r.name, "depth": max(LEVELS.index(r.level) - top, 0)} for r in regions
    ]


# -- both tracks: a call or a visit recorded as a ticket ---------------------------------


@bp.route("/record", methods=["GET", "POST"])
@login_required
def record():
    """登记来电 / 来访: her account, taken down by a caseworker, becomes a ticket."""
    session = db_session()
    user = current_user._get_current_object()
    error = field = None
    if request.method == "POST":
        try:
            found = record_call_or_visit(session, user, request.form, utcnow())
        except TicketError as exc:
            session.rollback()
            error, field = error_message(exc), exc.field
        else:
            session.commit()
            log.info("ticket %s recorded by staff %s", found.reference, user.id)
            flash(f"已登记为工单 {found.reference}", "success")
            return redirect(url_for("staff.ticket", reference=found.reference), 303)
    page = render_template(
        "staff/record.html", me=serialize_staff(user), regions=_regions_in_scope(session, user),
        form=request.form if request.method == "POST" else {"channel": request.args.get("channel", "phone")},
        error=error, field=field, takes_cases=user.takes_cases,
    )
    return page, 422 if error else 200


# -- alerts: what open pages poll for ------------------------------------------------

# An open page asks this often (staff.js); `seen_at` is written at most once a minute.
SEEN_EVERY = timedelta(minutes=1)


@bp.get("/alerts")
@login_required
def alerts():
    """New alerts for this user since `after` (an alert id), for the banner; and a sign
    of life, so an urgent message knows someone has the workspace open (bot/alerts.on_duty)."""
    session = db_session()
    user = current_user._get_current_object()
    now = utcnow()
    if user.seen_at is None or now - user.seen_at >= SEEN_EVERY:
        user.seen_at = now
        session.commit()
    raw = request.args.get("after", "")
    if not raw.isdecimal():
        return {"last": StaffAlert.last_id(session), "alerts": []}
    found = StaffAlert.since(session, int(raw), limit=50)
    mine = [a for a in found if is_for(a, user)]
    return {
        "last": found[-1].id if found else int(raw),
        "alerts": [
            {"id": a.id, "kind": a.kind, "level": a.level, "text": a.text, "reference": a.ticket.reference,
             "url": url_for("staff.ticket", reference=a.ticket.reference)}
            for a in mine
        ],
    }


@bp.get("/unattended")
@login_required
def unattended():
    """Admins: open tickets whose region chain holds no active staff account (无人负责)."""
    user = current_user._get_current_object()
    if user.role != "admin":
        abort(403)
    now = utcnow()
    rows = [serialize_ticket_summary(t, now) for t in Ticket.unattended(db_session(), user)]
    return render_template("staff/unattended.html", me=serialize_staff(user), rows=rows)


# -- the ticket page ---------------------------------------------------------------


def _visible_or_404(session, user: StaffUser, reference: str) -> Ticket:
    """The ticket with this reference if `user` may see it; else 404 (out of scope reads as nonexistent)."""
    found = Ticket.find_visible(session, user, reference)
    if found is None:
        abort(404)
    return found


@bp.get("/tickets/<reference>")
@login_required
def ticket(reference: str):
    session = db_session()
    user = current_user._get_current_object()
    found = _visible_or_404(session, user, reference)
    return _render_ticket(session, user, found)


@bp.get("/tickets/<reference>/media/<int:message_id>")
@login_required
def media(reference: str, message_id: int):
    """Her image or voice, to those who may read the ticket; every view on the record."""
    session = db_session()
    user = current_user._get_current_object()
    found = _visible_or_404(session, user, reference)
    if not found.permits(user, "read"):
        abort(404)
    message = session.get(Message, message_id)
    content = media_content(runtime().settings, message) if message is not None and message.ticket_id == found.id else None
    if content is None:
        abort(404)
    found.record("media_viewed", actor=user, message=message.id, via="web")
    session.commit()
    return send_file(io.BytesIO(content), mimetype=message.media_type, max_age=0, conditional=False)


@bp.post("/tickets/<reference>/<action>")
@login_required
def act(reference: str, action: str):
    if action not in ACTIONS:
        abort(404)
    session = db_session()
    user = current_user._get_current_object()
    found = _visible_or_404(session, user, reference)
    acted = act_on(session, user, found, action, lambda: request.form, via="")
    if acted.status != 200:
        return _refused(session, user, found, action, acted.message, acted.field, acted.status)
    flash(acted.message, "success")
    if not found.permits(user, "view"):
        return redirect(url_for("staff.queue"), 303)  # returned up the grid, out of this user's sight
    anchor = {"reply": "#transcript", "notes": "#notes", "followup": "#closure"}.get(action, "")
    return redirect(url_for("staff.ticket", reference=found.reference) + anchor, 303)


def _refused(session, user: StaffUser, ticket: Ticket, action: str, message: str, field: str | None, status: int):
    """The ticket page again, as it is now, with the error beside the form that caused it
    (and what was typed still in that form)."""
    session.refresh(ticket)
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
    """The ticket page; opening her record is recorded (and committed) first. A
    need-to-know ticket shows those without the need only its queue line."""
    now = utcnow()
    if not ticket.permits(user, "read"):
        return render_template(
            "staff/ticket_restricted.html", me=serialize_staff(user), t=serialize_ticket_summary(ticket, now),
            may_claim=ticket.permits(user, "claim"), error=error,
        )
    ticket.record_view(user, "web")
    ticket.mark_read(user)
    session.commit()
    detail = ticket_detail(session, ticket, now)
    may = {action: ticket.permits(user, permission) for action, permission in ACTIONS.items()}
    colleagues = takers = regions = []
    if may["assign"] or may["transfer"]:
        # Assigning: only who may take this ticket (active, its grid, a case role).
        takers = [_staff_option(s) for s in StaffUser.may_take(session, ticket.region)]
        colleagues = [_staff_option(s) for s in StaffUser.in_region(session, user.region) if s.takes_cases]
        regions = _regions_in_scope(session, user)
    phone = ticket.contact_phone
    return render_template(
        "staff/ticket.html",
        route_options=_route_options(),
        satisfaction_options=[(key, SATISFACTION_LABELS[key]) for key in SATISFACTION],
        me=serialize_staff(user),
        t=detail,
        may=may,
        canned=canned_for(session, ticket.category),
        colleagues=colleagues,
        takers=takers,
        regions=regions,
        phone={"masked": mask_mobile(phone), "shown": phone if _phone_shown(ticket) else None} if phone else None,
        others=[serialize_ticket_summary(t, now) for t in ticket.others_of_hers(session, user)],
        stamp=_stamp(session, ticket),
        error=error,
        field=field,
        failed=action,
        form=form or {},
        views=[e for e in detail["events"] if e["action"] == "viewed"][-20:],
        trail=[e for e in detail["events"] if e["action"] != "viewed"],
    )


def _staff_option(staff: StaffUser) -> dict[str, str]:
    role = ROLE_LABELS.get(staff.role, staff.role)
    return {"username": staff.username, "label": f"{staff.display_name}（{staff.region.name}，{role}）"}


# A revealed number stays shown on that ticket page for a while, then is masked again.
PHONE_SHOWN_FOR = timedelta(minutes=10)


def _phone_shown(ticket: Ticket) -> bool:
    shown = flask_session.get("phones_shown", {}).get(ticket.reference)
    return bool(shown) and utcnow() - datetime.fromisoformat(shown) < PHONE_SHOWN_FOR


@bp.post("/tickets/<reference>/phone")
@login_required
def reveal_phone(reference: str):
    """Show her number (to call her): each reveal is on the ticket's record."""
    session = db_session()
    user = current_user._get_current_object()
    found = _visible_or_404(session, user, reference)
    if not found.permits(user, "read"):
        abort(403)
    if found.contact_phone:
        now = utcnow()
        found.record("phone_revealed", actor=user, via="web")
        session.commit()
        shown = {k: v for k, v in flask_session.get("phones_shown", {}).items()
                 if now - datetime.fromisoformat(v) < PHONE_SHOWN_FOR}
        flask_session["phones_shown"] = shown | {found.reference: now.isoformat()}
    return redirect(url_for("staff.ticket", reference=found.reference) + "#contact", 303)


def _stamp(session, ticket: Ticket) -> str:
    """What changes when anything on the ticket page would: her last line, state, assignee."""
    last = session.scalar(select(func.max(Message.id)).where(Message.ticket_id == ticket.id)) or 0
    return f"{last}-{ticket.status}-{ticket.assignee_id or 0}-{ticket.updated_at.isoformat()}"


@bp.get("/tickets/<reference>/stamp")
@login_required
def ticket_stamp(reference: str):
    """For an open ticket page: whether it changed (then it reloads its parts). No personal data."""
    session = db_session()
    user = current_user._get_current_object()
    found = _visible_or_404(session, user, reference)
    return {"stamp": _stamp(session, found), "unread": found.unread_at is not None}


@bp.errorhandler(404)
def not_found(error):
    # Out of scope reads exactly like nonexistent: existence does not leak.
    return render_template("staff/error.html", code=404, message="找不到这个工单，或它不在您的管辖范围内。"), 404
