"""The review page (样本标注): her messages that never became tickets, sampled by the
intake (bot/review.py), for supervisors and admins to label within their subtree. Every
showing of the samples and every label is written to the audit trail: they are her words."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from handlers.context import db_session
from handlers.messages import error_message
from handlers.serializers import serialize_staff
from handlers.staff.actions import _route
from handlers.staff.login import client_address
from handlers.staff.views import _route_options, bp
from models import AuditEvent, ReviewSample, utcnow
from models.review import NOT_A_REQUEST
from models.ticket import Conflict, InvalidInput, TicketError

PER_PAGE = 30


def _supervisor():
    user = current_user._get_current_object()
    if not user.supervises:
        abort(404)
    return user


@bp.get("/review")
@login_required
def review():
    user = _supervisor()
    page = _render(user)
    db_session().commit()  # the showing's audit entry
    return page


@bp.post("/review/<int:sample_id>")
@login_required
def review_label(sample_id: int):
    """Label one sample with a route (`decision=label`) or as not a request (`decision=not_request`)."""
    user = _supervisor()
    session = db_session()
    sample = ReviewSample.find_visible(session, user, sample_id)
    if sample is None:
        abort(404)
    now = utcnow()
    try:
        if sample.is_labelled:
            raise Conflict("sample_taken")
        decision = request.form.get("decision", "")
        if decision == "not_request":
            category, subcategory, urgent = NOT_A_REQUEST, None, False
        elif decision == "label":
            # Only a route of the lexicon in force (as on the ticket page), never "other" by the back door.
            if request.form.get("route") not in {o["value"] for g in _route_options() for o in g["options"]}:
                raise InvalidInput("choose_subcategory", "route")
            category, subcategory, urgent = _route(request.form)
        else:
            raise InvalidInput("choose_decision", "decision")
    except TicketError as error:
        session.rollback()
        status = 409 if isinstance(error, Conflict) else 422
        page = _render(user, error=error_message(error), failed=sample_id)
        session.commit()
        return page, status
    sample.label(user, category, subcategory, bool(urgent), now)
    AuditEvent.record(session, now, "review.labelled", user, address=client_address(), sample=sample.id,
                      category=category, subcategory=subcategory, urgent=bool(urgent))
    session.commit()
    flash("已标为“不是求助”" if category == NOT_A_REQUEST else "已保存标注", "success")
    return redirect(url_for("staff.review"), 303)


def _render(user, error: str | None = None, failed: int | None = None) -> str:
    """The unlabelled samples of `user`'s subtree; showing them is recorded (the caller commits)."""
    session = db_session()
    samples = ReviewSample.unlabelled_for(session, user, PER_PAGE)
    if samples:
        AuditEvent.record(session, utcnow(), "review.viewed", user, address=client_address(),
                          samples=[s.id for s in samples])
    return render_template(
        "staff/review.html", me=serialize_staff(user), samples=samples, route_options=_route_options(),
        waiting=ReviewSample.count_unlabelled(session, user), error=error, failed=failed,
    )
