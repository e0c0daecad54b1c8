"""Admins edit the canned replies (常用回复) in the workspace; every change is audited."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from handlers.context import db_session
from handlers.messages import error_message
from handlers.serializers import serialize_staff
from handlers.staff.canned import canned_replies
from handlers.staff.login import client_address
from handlers.staff.views import bp
from models import AuditEvent, CannedReply, utcnow
from models.ticket import CATEGORIES, TicketError


def _admin():
    user = current_user._get_current_object()
    if user.role != "admin":
        abort(404)
    return user


@bp.get("/canned")
@login_required
def canned():
    user = _admin()
    return render_template("staff/canned.html", me=serialize_staff(user), replies=canned_replies(db_session()),
                           routes=CATEGORIES, error=None, failed=None, form={})


@bp.post("/canned/<target>")
@login_required
def canned_save(target: str):
    """Add (`new`), change (an id) or remove (an id, with `remove`) one canned reply."""
    user = _admin()
    session = db_session()
    now = utcnow()
    replies = canned_replies(session)
    if target == "new":
        reply = CannedReply(position=max((r.position for r in replies), default=-1) + 1, active=True)
    elif target.isdigit() and (reply := session.get(CannedReply, int(target))) is not None and reply.active:
        pass
    else:
        abort(404)
    if request.form.get("remove") == "1" and reply.id is not None:
        reply.active, reply.updated_at, reply.updated_by_id = False, now, user.id
        AuditEvent.record(session, now, "canned.removed", user, address=client_address(), reply=reply.id,
                          title=reply.title)
        session.commit()
        flash("已删除该常用回复", "success")
        return redirect(url_for("staff.canned"), 303)
    before = {"title": reply.title, "routes": list(reply.routes or [])} if reply.id else None
    try:
        reply.edit(request.form.get("title", ""), request.form.get("text", ""), request.form.getlist("routes"),
                   now, user.id)
    except TicketError as error:
        session.rollback()
        page = render_template("staff/canned.html", me=serialize_staff(user), replies=canned_replies(session),
                               routes=CATEGORIES, error=error_message(error), failed=target, form=request.form)
        return page, 422
    session.add(reply)
    session.flush()
    AuditEvent.record(session, now, "canned.added" if before is None else "canned.changed", user,
                      address=client_address(), reply=reply.id, title=reply.title, before=before)
    session.commit()
    flash("常用回复已保存", "success")
    return redirect(url_for("staff.canned") + f"#canned-{reply.id}", 303)
