"""Logging in and out of the workspace.

A login is answered in this order: the address's and the account's delays (a browser
that logged in to the account before skips the account's, so a stranger's guesses
never keep her out), then one of the worker's few password-hashing slots (a flood gets
429 "busy" instead of taking the cores the webhook needs), then the password, then the
one-time code of an account with two-step login. Failures count per account and per
address; every outcome is in the audit trail.
"""

from __future__ import annotations

import logging
import math
import threading
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from flask import Flask, Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from handlers.app import runtime
from handlers.auth import db_session
from handlers.staff.views import _safe_next, bp
from models import AuditEvent, LoginThrottle, StaffUser, ThrottlePolicy, utcnow
from models.throttle import ACCOUNT, ADDRESS

log = logging.getLogger(__name__)

KNOWN_DEVICE_COOKIE = "nj_known"
# The accounts a browser remembers having logged in to (a shared office computer).
KNOWN_DEVICE_LIMIT = 8
# After a right password, how long the one-time code may take to type.
PENDING_CODE = timedelta(minutes=5)
WRONG = "用户名或密码错误"


def init_app(app: Flask) -> None:
    """The worker's password-hashing slots (each gunicorn worker gets its own after fork)."""
    app.extensions["niangjia_hash_slots"] = threading.BoundedSemaphore(runtime_settings(app).max_concurrent_hashes)


def runtime_settings(app: Flask):
    return app.extensions["niangjia"].settings.login


def _policy() -> ThrottlePolicy:
    s = runtime().settings.login
    return ThrottlePolicy(
        free_failures=s.free_failures, base_delay_seconds=s.base_delay_seconds,
        account_max_delay_seconds=s.account_max_delay_seconds,
        address_max_delay_seconds=s.address_max_delay_seconds, failure_expiry_minutes=s.failure_expiry_minutes,
    )


@contextmanager
def hashing_slot() -> Iterator[bool]:
    """One of this process's password-hashing slots, waited for briefly; False if none came."""
    slots: threading.BoundedSemaphore = current_app.extensions["niangjia_hash_slots"]
    got = slots.acquire(timeout=runtime().settings.login.hash_wait_seconds)
    try:
        yield got
    finally:
        if got:
            slots.release()


def _client_address() -> str:
    return request.remote_addr or "unknown"


# -- known devices ----------------------------------------------------------------


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="niangjia-known-device")


def _known_accounts() -> list[int]:
    raw = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not raw:
        return []
    max_age = runtime().settings.login.known_device_days * 86400
    try:
        ids = _device_signer().loads(raw, max_age=max_age)
    except BadSignature:
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def _remember_device(response: Response, user: StaffUser) -> None:
    ids = [user.id] + [i for i in _known_accounts() if i != user.id]
    response.set_cookie(
        KNOWN_DEVICE_COOKIE, _device_signer().dumps(ids[:KNOWN_DEVICE_LIMIT]),
        max_age=runtime().settings.login.known_device_days * 86400, path="/staff/",
        httponly=True, samesite="Lax", secure=runtime().settings.production,
    )


# -- the pages ----------------------------------------------------------------------


def _form(username: str = "", error: str | None = None, status: int = 200, code_step: bool = False,
          retry_after: float | None = None):
    page = render_template(
        "staff/login.html", username=username, error=error, code_step=code_step,
        next=request.values.get("next", ""),
    )
    headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after else {}
    return page, status, headers


def _wait_label(seconds: float) -> str:
    seconds = math.ceil(seconds)
    return f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分钟"


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("staff.queue"))
    if request.method == "GET":
        session.pop("pending_login", None)
        return _form()
    if "code" in request.form and session.get("pending_login"):
        return _second_step()
    session.pop("pending_login", None)
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    if not username or not password:
        return _form(username, "请输入用户名和密码", 422)

    db, now, address = db_session(), utcnow(), _client_address()
    account = LoginThrottle.account_key(username)
    user = StaffUser.by_username(db, username)
    wait = LoginThrottle.wait(db, ADDRESS, address, now)
    if user is None or user.id not in _known_accounts():
        wait = max(wait, LoginThrottle.wait(db, ACCOUNT, account, now))
    if wait > 0:
        return _form(username, f"登录失败次数较多，请 {_wait_label(wait)}后再试", 429, retry_after=wait)

    with hashing_slot() as got:
        if not got:
            return _form(username, "登录的人较多，请稍候几秒再试", 429, retry_after=1)
        if user is None:
            StaffUser.waste_time_verifying(password)
            result = "wrong"
        else:
            result = user.log_in(password, now)
    if result != "ok":
        return _failed(user, account, address, now, WRONG)
    if user.uses_totp:
        session["pending_login"] = {"user": user.get_id(), "at": now.timestamp()}
        db.commit()  # a hash upgraded at this login
        return _form(username, None, 200, code_step=True)
    return _succeeded(user, now, address)


def _second_step():
    """The one-time code of an account whose password was right a moment ago."""
    pending = session.get("pending_login") or {}
    db, now, address = db_session(), utcnow(), _client_address()
    user_id, _, epoch = str(pending.get("user", "")).partition(".")
    user = db.get(StaffUser, int(user_id)) if user_id.isdecimal() else None
    fresh = now.timestamp() - float(pending.get("at", 0)) < PENDING_CODE.total_seconds()
    if user is None or not user.active or str(user.session_epoch) != epoch or not fresh:
        session.pop("pending_login", None)
        return _form("", "请重新输入用户名和密码", 401)
    account = LoginThrottle.account_key(user.username)
    wait = LoginThrottle.wait(db, ADDRESS, address, now)
    if user.id not in _known_accounts():
        wait = max(wait, LoginThrottle.wait(db, ACCOUNT, account, now))
    if wait > 0:
        return _form(user.username, f"尝试次数较多，请 {_wait_label(wait)}后再试", 429, code_step=True, retry_after=wait)
    if not user.check_totp(request.form.get("code", ""), now):
        return _failed(user, account, address, now, "动态验证码不对或已用过，请输入验证器上当前的 6 位数字", code_step=True)
    session.pop("pending_login", None)
    return _succeeded(user, now, address)


def _failed(user: StaffUser | None, account: str, address: str, now, message: str, code_step: bool = False):
    db = db_session()
    db.rollback()  # nothing from a failed attempt is kept but its count
    policy = _policy()
    LoginThrottle.fail(db, ADDRESS, address, now, policy)
    failures = LoginThrottle.fail(db, ACCOUNT, account, now, policy)
    AuditEvent.record(db, now, "login.failed", user, user, address, actor_label="" if user else "(unknown user)",
                      step="code" if code_step else "password")
    db.commit()
    log.info("staff login failed for %s from %s (%d in a row)", f"user {user.id}" if user else "an unknown user", address, failures)
    return _form(user.username if code_step and user else request.form.get("username", ""), message, 401, code_step=code_step)


def _succeeded(user: StaffUser, now, address: str):
    db = db_session()
    LoginThrottle.clear(db, ACCOUNT, LoginThrottle.account_key(user.username))
    AuditEvent.record(db, now, "login.ok", user, user, address)
    db.commit()
    session.clear()  # nothing from before the login carries over (session fixation)
    login_user(user)
    session["seen"] = now.timestamp()
    log.info("staff %s logged in", user.id)
    response = redirect(_safe_next(request.form.get("next", "")) or url_for("staff.queue"), 303)
    _remember_device(response, user)
    return response


@bp.post("/logout")
@login_required
def logout():
    """Log out here and everywhere else: every session of this user ends."""
    db = db_session()
    user = db.get(StaffUser, current_user.id)
    user.end_sessions()
    AuditEvent.record(db, utcnow(), "logout", user, user, _client_address())
    db.commit()
    logout_user()
    session.pop("seen", None)
    flash("已退出登录（所有设备上的登录都已结束）", "info")
    return redirect(url_for("staff.login"), 303)
