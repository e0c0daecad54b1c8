"""回访 of a call or a visit, taken down by a caseworker: the ticket page's form
(`POST /staff/tickets/REF/followup`) and the API's action of the same name.

A phone or walk-in ticket has no chat to ask in (bot/followup.py passes it by): a
caseworker calls her back and records what she said; it settles the follow-up as her
chat answer would (bot/offline.py `record_follow_up`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import Session

from bot.offline import CallBack, record_follow_up
from handlers.context import db_session
from handlers.staff.actions import REFUSED_OTHERS, _bool, _str
from handlers.staff.views import _refused, bp
from models import StaffUser, Ticket, utcnow
from models.followup import SATISFACTION, SATISFACTION_LABELS
from models.ticket import Conflict, InvalidInput, TicketError

log = logging.getLogger(__name__)

# Who may take her answer down: who may resolve the ticket (its caseworker, a supervisor).
PERMISSION = "resolve"
DONE = "已登记回访"


def take_down(session: Session, user: StaffUser, ticket: Ticket, data: Mapping[str, Any]) -> None:
    """Her answer from a form or a JSON body → the follow-up settled (raises TicketError)."""
    if data.get("solved") in (None, ""):
        raise InvalidInput("请选择她说问题是否已经解决", "solved")
    solved = _bool(data, "solved")
    satisfaction = _str(data, "satisfaction").strip() or None
    record_follow_up(session, ticket, user, CallBack(solved, satisfaction, _str(data, "note")), utcnow())


@bp.context_processor
def follow_up_options() -> dict[str, Any]:
    return {"satisfaction_options": [(key, SATISFACTION_LABELS[key]) for key in SATISFACTION]}


@bp.post("/tickets/<reference>/followup")
@login_required
def follow_up(reference: str):
    session = db_session()
    user = current_user._get_current_object()
    found = Ticket.find_visible(session, user, reference)
    if found is None:
        abort(404)
    if not found.permits(user, PERMISSION):
        return _refused(session, user, found, "followup", REFUSED_OTHERS, None, 403)
    try:
        take_down(session, user, found, request.form)
    except TicketError as error:
        session.rollback()
        status = 409 if isinstance(error, Conflict) else 422
        return _refused(session, user, found, "followup", error.message, error.field, status)
    session.commit()
    log.info("ticket %s: followup by staff %s", found.reference, user.id)
    flash(DONE, "success")
    return redirect(url_for("staff.ticket", reference=found.reference) + "#closure", 303)
