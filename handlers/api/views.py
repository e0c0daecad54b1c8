"""The API's handlers, in the workspace's order: authenticate (bearer) → load in scope or
404 → authorise (403) → model method (409 / 422) → commit → serialise.

Errors are JSON: {"error": code, "message": 中文说明[, "field": name]}."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from handlers.api.openapi import openapi_document
from handlers.auth import bearer_user
from handlers.context import db_session
from handlers.messages import error_message
from handlers.stats_args import OutOfScope, cached_report, stats_query
from handlers.serializers import (
    serialize_delivery, serialize_note, serialize_region, serialize_staff, serialize_ticket_summary,
)
from handlers.staff.actions import (
    ACTIONS, audit_phone_search, page_args, policy, queue_filters, record_call_or_visit, ticket_detail,
)
from handlers.staff.actions import act as act_on
from models import Region, StaffUser, Ticket, utcnow
from models.ticket import InvalidInput, TicketError

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

HTTP_MESSAGES = {
    400: "请求格式有误",
    401: "需要有效的 API 令牌（Authorization: Bearer <token>）",
    403: "您没有权限这样做",
    404: "找不到该资源，或它不在您的管辖范围内",
    405: "不支持该请求方法",
    413: "请求体太大",
    415: "请使用 application/json",
    429: "请求太频繁，请稍后再试",
}
ERROR_CODES = {
    401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict", 422: "validation_error",
    429: "too_many_requests",
}
MAX_BODY_BYTES = 64 * 1024
NEED_TO_KNOW = "该工单涉及人身安全，对话记录和联系方式仅认领人、上级督办人和管理员可查看；认领后即可查看"


def error(status: int, message: str | None = None, field: str | None = None, **extra: Any) -> Response:
    """A JSON error response."""
    code = ERROR_CODES.get(status, "bad_request" if status < 500 else "server_error")
    body: dict[str, Any] = {"error": code, "message": message or HTTP_MESSAGES.get(status, "请求失败")}
    if field:
        body["field"] = field
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="niangjia"'
    return response


@bp.before_request
def authenticate():
    request.max_content_length = MAX_BODY_BYTES
    if request.endpoint == "api.openapi":
        return None
    user = bearer_user()
    if user is None:
        return error(401)
    g.api_user = user
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return error(exc.code or 500, HTTP_MESSAGES.get(exc.code or 500))


def _me() -> StaffUser:
    return g.api_user


def _body() -> dict[str, Any]:
    """The JSON object sent (empty when there is no body); anything else is a 422."""
    if not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("body_not_object", "body")
    return data


# -- reading ------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/me")
def me():
    return jsonify(serialize_staff(_me()))


@bp.get("/regions")
def regions():
    user = _me()
    rows = db_session().scalars(
        select(Region).where(Region.path.startswith(user.region.path, autoescape=True)).order_by(Region.path)
    ).all()
    parents = {r.id: r.code for r in rows}
    items = [{**serialize_region(r), "parent": parents.get(r.parent_id) if r.parent_id else None} for r in rows]
    return jsonify(items=items)


@bp.get("/tickets")
def tickets():
    session, user = db_session(), _me()
    filters, errors = queue_filters(session, user, request.args, default_tab="all")
    page, per_page, page_errors = page_args(request.args, 50)
    errors.update(page_errors)
    if errors:
        field = next(iter(errors))
        return error(422, errors[field], field, fields=errors)
    now = utcnow()
    counts = Ticket.tab_counts(session, user, filters)
    rows = Ticket.queue(session, user, filters, page, per_page, total=counts[filters.tab])
    if filters.phone:
        audit_phone_search(session, user, filters, rows, now, "api")
        session.commit()
    return jsonify(
        items=[serialize_ticket_summary(t, now, policy()) for t in rows],
        page=page, per_page=per_page, total=counts[filters.tab], counts=counts, tab=filters.tab,
    )


@bp.post("/tickets")
def record_ticket():
    """A phone call or a walk-in visit recorded as a ticket (线下): `channel` phone|visit."""
    session, user = db_session(), _me()
    try:
        found = record_call_or_visit(session, user, _body(), utcnow())
    except TicketError as exc:
        session.rollback()
        return error(422, error_message(exc), exc.field or "body")
    session.commit()
    log.info("ticket %s recorded by staff %s (api)", found.reference, user.id)
    return jsonify(ticket=_summary(found)), 201


@bp.get("/tickets/<reference>")
def ticket(reference: str):
    session, user = db_session(), _me()
    found = Ticket.find_visible(session, user, reference)
    if found is None:
        return error(404, "找不到该工单，或它不在您的管辖范围内")
    if not found.permits(user, "read"):
        return error(403, NEED_TO_KNOW, ticket=_summary(found))
    found.record_view(user, "api")
    session.commit()
    return jsonify(ticket_detail(session, found, utcnow()))


@bp.get("/stats")
def stats():
    session, user, now = db_session(), _me(), utcnow()
    if not user.supervises:
        return error(403, "只有督办人和管理员可以查看统计")
    try:
        query, errors = stats_query(session, user, request.args, now)
    except OutOfScope:
        return error(404, "找不到该区域，或它不在您的管辖范围内")
    if errors:
        field = next(iter(errors))
        return error(422, errors[field], field, fields=errors)
    body = cached_report(session, query.region, query.window, now).as_api()
    session.commit()  # a report counted here is stored for every process (models/stats_store.py)
    return jsonify(body)


# -- acting -------------------------------------------------------------------------


@bp.post("/tickets/<reference>/<action>")
def act(reference: str, action: str):
    if action not in ACTIONS:
        return error(404)
    session, user = db_session(), _me()
    found = Ticket.find_visible(session, user, reference)
    if found is None:
        return error(404, "找不到该工单，或它不在您的管辖范围内")
    acted = act_on(session, user, found, action, _body, via=" (api)")
    if acted.status == 403:
        return error(403, acted.message)
    if acted.status == 409:
        return error(409, acted.message, ticket=_summary(found))
    if acted.status == 422:
        return error(422, acted.message, acted.field or "body")
    if action == "notes":
        return jsonify(note=serialize_note(acted.result), ticket=_summary(found)), 201
    if action == "reply":
        return jsonify(delivery={"id": acted.result.id, **serialize_delivery(acted.result)}, ticket=_summary(found)), 202
    return jsonify(ticket=_summary(found))


def _summary(ticket: Ticket) -> dict[str, Any]:
    return serialize_ticket_summary(ticket, utcnow(), policy())
