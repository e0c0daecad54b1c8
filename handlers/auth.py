"""Who is asking: staff sessions (Flask-Login), CSRF on forms, bearer tokens for the API.

The request's database session is `handlers.context.db_session`.
"""

from __future__ import annotations

from flask import Flask, flash, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from handlers.context import db_session, runtime
from models import ApiToken, StaffUser, utcnow

login_manager = LoginManager()
csrf = CSRFProtect()

# Endpoints that are not cookie-session forms: the channels' webhooks (authenticated by
# their signatures), the simulator (its own header check) and the bearer-token API.
CSRF_EXEMPT_BLUEPRINTS = ("webhooks", "simulator", "api")


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, their signing serializer built once per key set.

    Flask builds it on every request, a cookie or not (about 1% of a webhook delivery's
    instructions: bench/README.md); it holds no state of a request's.
    """

    def __init__(self) -> None:
        self._serializers: dict[tuple[object, ...], object] = {}

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if keys not in self._serializers:
            self._serializers = {keys: super().get_signing_serializer(app)}
        return self._serializers[keys]


def init_app(app: Flask) -> None:
    """Sessions and CSRF; call after the blueprints that are exempt from CSRF are
    registered (the API exempts itself)."""
    app.session_interface = SessionInterface()
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
    app.before_request(_end_idle_session)
    app.register_error_handler(CSRFError, _csrf_failed)


def _load_user(user_id: str) -> StaffUser | None:
    # "id.epoch" (StaffUser.get_id): a session from before the user's last logout,
    # password change or disabling names an older epoch and opens nothing.
    id_part, _, epoch = user_id.partition(".")
    if not id_part.isdecimal() or not epoch.isdecimal():
        return None
    user = db_session().get(StaffUser, int(id_part))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    return user


# A session's last-seen time is rewritten at most this often (each rewrite is a new cookie).
_SEEN_RESOLUTION = 30


def _end_idle_session() -> None:
    """A staff session unused for login.idle_minutes ends; the page then asks to log in."""
    if "_user_id" not in session:
        return  # webhooks, the API and logged-out visitors: nothing to load or check
    now = utcnow().timestamp()
    seen = session.get("seen", 0)
    if now - seen > runtime().settings.login.idle_minutes * 60:
        logout_user()
        session.pop("seen", None)
        flash("长时间未操作，已自动退出，请重新登录", "info")
    elif now - seen > _SEEN_RESOLUTION:
        session["seen"] = now


def bearer_user() -> StaffUser | None:
    """The staff member whose API token is in `Authorization: Bearer …`, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return ApiToken.user_for(db_session(), secret.strip())


def _csrf_failed(error: CSRFError):
    return render_template("staff/error.html", code=400, message="页面已过期或来源不明，请刷新页面后重试。"), 400
