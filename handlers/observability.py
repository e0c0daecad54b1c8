"""Request ids in every log line and response, and `/metrics` for Prometheus.

A request keeps the `X-Request-ID` it came with when that is a sane token (nginx or a
load balancer set one), else gets a fresh one; the id is in the response header and in
every log line written while the request runs (`request_id` on each log record; "-"
outside requests, e.g. the worker thread).

`/metrics` is for the monitoring server, not the world: with `metrics.token` set it wants
`Authorization: Bearer <token>`; without, it answers only requests from this machine
(loopback). The shipped nginx config refuses /metrics from outside anyway (deploy/).
"""

from __future__ import annotations

import contextvars
import hmac
import ipaddress
import logging
import re
import uuid

from flask import Flask, Response, abort, g, request

from bot import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_installed = False


def install_log_context() -> None:
    """Give every log record a `request_id` attribute (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def record_with_request_id(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.request_id = _request_id.get()
        return record

    logging.setLogRecordFactory(record_with_request_id)


def current_request_id() -> str:
    """The id of the request being served, or "-"."""
    return _request_id.get()


def init_app(app: Flask) -> None:
    install_log_context()
    settings = app.extensions["niangjia"].settings

    @app.before_request
    def assign_request_id() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_id_token = _request_id.set(g.request_id)

    @app.after_request
    def send_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response

    @app.teardown_request
    def forget_request_id(_: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            _request_id.reset(token)

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        if not _may_scrape(settings.metrics.token):
            abort(404)  # as if it were not there
        runtime = app.extensions["niangjia"]

        def read(now):
            with runtime.db.session() as session:
                return metrics.figures_at(session, now)

        return Response(metrics.exposition([metrics.DatabaseCollector(read)]), content_type=metrics.CONTENT_TYPE)


def _may_scrape(token: str) -> bool:
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode("utf-8"), f"Bearer {token}".encode("utf-8"))
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
