"""The application factory: load settings, build the runtime, register each subsystem."""

from __future__ import annotations

import logging

from flask import Flask, abort, jsonify, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from bot.inbound import unstorable
from bot.routing import Router
from bot.runtime import Runtime
from bot.settings import Settings, load_settings
from handlers import api, auth, context, limits, observability, pages, simulator, staff, webhooks


def create_app(settings: Settings | None = None, router: Router | None = None) -> Flask:
    """A Niangjia web app; `router` lets tests and forks share one loaded router."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    _check_sync_once(app)
    context.init_app(app, Runtime(settings, router=router))

    observability.init_app(app)
    webhooks.init_app(app)
    pages.init_app(app)
    simulator.init_app(app)
    # The staff workspace: sessions and CSRF first (exempting the blueprints above), then
    # the pages and the bearer-token API.
    auth.init_app(app)
    staff.init_app(app)
    api.init_app(app)
    limits.init_app(app)
    register_input_checks(app)
    register_error_handlers(app)
    return app


def _check_sync_once(app: Flask) -> None:
    """Flask asks of every hook and view, on every request, whether it is a coroutine
    function (`inspect`, a dozen times a request): here the answer is kept per function,
    for the first few hundred (an `after_this_request` function is new on every request)."""
    ensure_sync = app.ensure_sync
    checked: dict = {}

    def ensure_sync_once(func):
        try:
            return checked[func]
        except KeyError:
            result = ensure_sync(func)
            if len(checked) < 256:
                checked[func] = result
            return result
        except TypeError:  # an unhashable callable: asked every time, as Flask does
            return ensure_sync(func)

    app.ensure_sync = ensure_sync_once


def configure_logging(level: str) -> None:
    observability.install_log_context()
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
    )
    logging.getLogger().setLevel(level.upper())
    # jieba prints its own start-up chatter at DEBUG and INFO.
    logging.getLogger("jieba").setLevel(logging.WARNING)


def register_input_checks(app: Flask) -> None:
    @app.before_request
    def refuse_unstorable():
        # A NUL or lone surrogate in the path or query would reach the database's
        # comparisons (PostgreSQL refuses NUL): refused the same on every backend.
        if unstorable(request.path) or any(unstorable(k) or unstorable(v) for k, v in request.args.items(multi=True)):
            abort(400, description="请求含有空字符或无法识别的字符")
        return None


DATABASE_UNAVAILABLE = "数据库暂时连接不上，请稍后刷新页面重试。"
DATABASE_RETRY_AFTER_SECONDS = 5


def _wants_json() -> bool:
    """An error answered in the API's JSON shape: the API's routes, or a client asking for JSON."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if _wants_json():
            return jsonify(error=error.name, message=error.description), error.code
        return f"{error.code} {error.name}", error.code, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # Logged without the request body; the client sees no traceback.
        app.logger.error("unhandled %s on %s", type(error).__name__, request.path)
        return "500 Internal Server Error", 500, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        # The database away (down, restarting, a connection it dropped): the same request
        # will do once it is back. (The webhooks never get here: they journal her message.)
        if not (error.connection_invalidated or isinstance(error, (OperationalError, InterfaceError))):
            return unexpected(error)
        app.logger.warning("database unavailable on %s (%s)", request.path, type(error.orig).__name__)
        headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
        if _wants_json():
            return jsonify(error="Service Unavailable", message=DATABASE_UNAVAILABLE), 503, headers
        return DATABASE_UNAVAILABLE, 503, {"Content-Type": "text/plain; charset=utf-8", **headers}
