"""The access log: who opened which ticket's record, when, for supervisors and admins.

Every opening is already a `viewed` event on the ticket's trail; this page reads them
across the supervisor's subtree, so need-to-know can be checked, not only promised.
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user, login_required

from handlers.context import db_session
from handlers.serializers import serialize_staff
from handlers.staff.views import bp
from models import StaffUser, Ticket, TicketEvent

LIMIT = 200


@bp.get("/access-log")
@login_required
def access_log():
    session = db_session()
    user = current_user._get_current_object()
    if not user.supervises:
        abort(404)
    errors: dict[str, str] = {}
    reference, username = request.args.get("ticket", "").strip(), request.args.get("staff", "").strip()
    ticket = viewer = None
    if reference:
        ticket = Ticket.find_visible(session, user, reference)
        if ticket is None:
            errors["ticket"] = "找不到这个工单，或它不在您的管辖范围内"
    if username:
        viewer = StaffUser.by_username(session, username)
        if viewer is None:
            errors["staff"] = "没有这个工作人员"
    rows = [] if errors else TicketEvent.views_seen_by(session, user, ticket, viewer, LIMIT)
    views = [
        {
            "at": event.at,
            "viewer": event.actor.display_name if event.actor else "—",
            "username": event.actor.username if event.actor else "",
            "reference": event.ticket.reference,
            "urgent": event.ticket.urgent,
            "need_to_know": event.ticket.need_to_know,
            "via": {"web": "网页", "api": "接口"}.get((event.detail or {}).get("via"), "—"),
        }
        for event in rows
    ]
    page = render_template(
        "staff/access_log.html", me=serialize_staff(user), views=views, errors=errors,
        reference=reference, username=username, limit=LIMIT,
    )
    return page, 422 if errors else 200
