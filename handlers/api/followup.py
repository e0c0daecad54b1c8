"""`POST /api/v1/tickets/REF/followup`: her answer to a call-back, as the ticket page's form
takes it (handlers/staff/followup.py)."""

from __future__ import annotations

import logging

from flask import jsonify

from handlers.api.views import REFUSED_OTHERS, _body, _me, _summary, bp, error
from handlers.context import db_session
from handlers.staff.followup import PERMISSION, take_down
from models import Ticket
from models.ticket import Conflict, TicketError

log = logging.getLogger(__name__)


@bp.post("/tickets/<reference>/followup")
def follow_up(reference: str):
    session, user = db_session(), _me()
    found = Ticket.find_visible(session, user, reference)
    if found is None:
        return error(404, "找不到该工单，或它不在您的管辖范围内")
    if not found.permits(user, PERMISSION):
        return error(403, REFUSED_OTHERS)
    try:
        take_down(session, user, found, _body())
    except Conflict as exc:
        session.rollback()
        return error(409, exc.message, ticket=_summary(found))
    except TicketError as exc:
        session.rollback()
        return error(422, exc.message, exc.field or "body")
    session.commit()
    log.info("ticket %s: followup by staff %s (api)", found.reference, user.id)
    return jsonify(ticket=_summary(found))
