"""Who is asking: staff sessions (Flask-Login), CSRF on forms, bearer tokens for the API.

Also the request's database session: one per request, opened on first use, closed
(rolled back unless the handler committed) when the request ends.
"""

from __future__ import annotations

from flask import Flask, g, render_template, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session

from handlers.app import runtime
from models import ApiToken, StaffUser

login_manager = LoginManager()
csrf = CSRFProtect()

# Endpoints that are not cookie-session forms: the channels' webhooks (authenticated by
# their signatures), the simulator (its own header check) and the bearer-token API.
CSRF_EXEMPT_BLUEPRINTS = ("webhooks", "simulator", "api")


def init_app(app: Flask) -> None:
    """Sessions, CSRF and the per-request database session; call after the blueprints
    that are exempt from CSRF are registered (the API exempts itself)."""
    # A token lives as long as the session: a form left open over lunch still submits.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    for name in CSRF_EXEMPT_BLUEPRINTS:
        if name in app.blueprints:
            csrf.exempt(app.blueprints[name])

    login_manager.init_app(app)
    login_manager.login_view = "staff.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "info"
    # "basic", not "strong": grid workers' phones hop between Wi-Fi and mobile data.
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_user)

    app.teardown_appcontext(_close_db_session)
    app.register_error_handler(CSRFError, _csrf_failed)


def db_session() -> Session:
    """The request's database session (the handler commits, once)."""
    if "db_session" not in g:
        g.db_session = runtime().db.session()
    return g.db_session


def _close_db_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def _load_user(user_id: str) -> StaffUser | None:
    if not user_id.isdigit():
        return None
    user = db_session().get(StaffUser, int(user_id))
    return user if user is not None and user.active else None


def bearer_user() -> StaffUser | None:
    """The staff member whose API token is in `Authorization: Bearer …`, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return ApiToken.user_for(db_session(), secret.strip())


def _csrf_failed(error: CSRFError):
    return render_template("staff/error.html", code=400, message="页面已过期或来源不明，请刷新页面后重试。"), 400
