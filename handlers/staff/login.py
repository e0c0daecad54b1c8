"""Logging in and out of the workspace.

A login is answered in this order: the address's and the account's delays (a browser
that logged in to the account before waits only for its own failures, so a stranger's
guesses never keep her out), then one of the machine's few password-hashing slots (a
flood gets 429 "busy" instead of taking the cores the webhook needs), then the password,
then the one-time code of an account with two-step login. Failures count per account
and per address; every outcome is in the audit trail.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

from flask import Flask, Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from handlers.context import db_session, runtime
from handlers.staff.views import _safe_next, bp
from models import AuditEvent, LoginThrottle, StaffUser, ThrottlePolicy, utcnow
from models.staff import verify_password
from models.throttle import ACCOUNT, ADDRESS, DEVICE

log = logging.getLogger(__name__)

KNOWN_DEVICE_COOKIE = "nj_known"
# The accounts a browser remembers having logged in to (a shared office computer).
KNOWN_DEVICE_LIMIT = 8
# After a right password, how long the one-time code may take to type.
PENDING_CODE = timedelta(minutes=5)
WRONG = "用户名或密码错误"


class HashingSlots:
    """The machine's few password-hashing slots, shared by all worker processes of one
    service, and a short queue before them in each process.

    Argon2id keeps a core busy for its whole run: with one slot a login flood takes at
    most one core, whatever the number of workers, and the webhook keeps the others. A
    waiting login holds one of its worker's threads, which the webhook needs too: so at
    most `queue` logins a process wait (each at most `wait_ms`) and the rest are refused
    at once. A slot is an flock() on a file, so a worker killed while hashing frees it.
    """

    POLL = 0.01

    def __init__(self, slots: int, queue: int, wait_ms: int, name: str) -> None:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:16]
        self.paths = [Path(tempfile.gettempdir()) / f"niangjia-hashing-{os.getuid()}-{digest}-{i}.lock" for i in range(slots)]
        self._lock = threading.Lock()
        self._waiting = 0
        self.queue = queue
        self.wait = wait_ms / 1000

    def _try(self) -> int | None:
        for path in self.paths:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                os.close(fd)
        return None

    @contextmanager
    def slot(self, trusted: bool = False) -> Iterator[bool]:
        """A slot, or False when all are taken and the queue is full or the wait ran out.
        A trusted login (a browser that logged in to the account before) always may wait:
        a flood of strangers' logins fills the queue, not her way in."""
        fd = self._try()
        if fd is None:
            with self._lock:
                queued = trusted or self._waiting < self.queue
                self._waiting += queued
            if queued:
                try:
                    deadline = time.monotonic() + self.wait
                    while fd is None and time.monotonic() < deadline:
                        time.sleep(self.POLL)
                        fd = self._try()
                finally:
                    with self._lock:
                        self._waiting -= 1
        try:
            yield fd is not None
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


class RecentDelays:
    """The login delays this process met lately, so that a refused attempt needs no
    database: on SQLite every transaction, even a read, holds the one writer's lock that
    the webhook needs. Each is trusted for a few seconds only, so an admin's unlock on
    another process takes effect soon."""

    TRUST = timedelta(seconds=5)
    LIMIT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[tuple[str, str], tuple[datetime, datetime]] = {}

    def wait(self, scope: str, key: str, now: datetime) -> float:
        with self._lock:
            until, noted = self._until.get((scope, key), (now, now))
        if now - noted > self.TRUST:
            return 0.0
        return max((until - now).total_seconds(), 0.0)

    def note(self, scope: str, key: str, until: datetime, now: datetime) -> None:
        with self._lock:
            if len(self._until) >= self.LIMIT:
                self._until.clear()
            self._until[(scope, key)] = (until, now)

    def forget(self, scope: str, key: str) -> None:
        with self._lock:
            self._until.pop((scope, key), None)


def init_app(app: Flask) -> None:
    """The worker's password-hashing slots and recent delays (each gunicorn worker gets
    its own after the fork)."""
    settings = app.extensions["niangjia"].settings.login
    app.extensions["niangjia_hash_slots"] = HashingSlots(
        settings.max_concurrent_hashes, settings.hash_queue, settings.hash_wait_ms,
        app.extensions["niangjia"].settings.database_url,
    )
    app.extensions["niangjia_login_delays"] = RecentDelays()


def _scopes(address: str, account: str, device: str | None) -> list[tuple[str, str]]:
    """Whose failures an attempt counts and waits for. A browser that logged in to the
    account before (`device`) waits only for its own failures: neither a stranger's
    guesses at her username nor those from her shared address (an office, a mobile
    carrier's NAT, a proxy) keep her out, and a stolen cookie is slowed like an address."""
    if device:
        return [(DEVICE, device)]
    return [(ADDRESS, address), (ACCOUNT, account)]


def _delay(scopes: list[tuple[str, str]], now: datetime, db=None) -> float:
    """Seconds this attempt must wait. Without `db`, only what this process saw lately."""
    recent: RecentDelays = current_app.extensions["niangjia_login_delays"]
    wait = 0.0
    for scope, key in scopes:
        seconds = recent.wait(scope, key, now)
        if not seconds and db is not None:
            seconds = LoginThrottle.wait(db, scope, key, now)
            if seconds:
                recent.note(scope, key, now + timedelta(seconds=seconds), now)
        wait = max(wait, seconds)
    return wait


def _policy() -> ThrottlePolicy:
    s = runtime().settings.login
    return ThrottlePolicy(
        free_failures=s.free_failures, base_delay_seconds=s.base_delay_seconds,
        account_max_delay_seconds=s.account_max_delay_seconds,
        address_max_delay_seconds=s.address_max_delay_seconds, failure_expiry_minutes=s.failure_expiry_minutes,
    )


def client_address() -> str:
    """The address this request came from, as the service sees it (a proxy must pass it on)."""
    return request.remote_addr or "unknown"


# -- known devices ----------------------------------------------------------------


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="niangjia-known-device")


def known_device(account: str) -> str | None:
    """This browser's key when it logged in to `account` lately, else None."""
    if account not in _known_accounts():
        return None
    return hashlib.sha256(request.cookies[KNOWN_DEVICE_COOKIE].encode("utf-8")).hexdigest()[:40]


def _known_accounts() -> list[str]:
    """The accounts (throttle keys) this browser logged in to lately, from a signed cookie."""
    raw = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not raw:
        return []
    max_age = runtime().settings.login.known_device_days * 86400
    try:
        keys = _device_signer().loads(raw, max_age=max_age)
    except BadSignature:
        return []
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def _remember_device(response: Response, user: StaffUser) -> None:
    mine = LoginThrottle.account_key(user.username)
    keys = [mine] + [k for k in _known_accounts() if k != mine]
    response.set_cookie(
        KNOWN_DEVICE_COOKIE, _device_signer().dumps(keys[:KNOWN_DEVICE_LIMIT]),
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

    now, address = utcnow(), client_address()
    account = LoginThrottle.account_key(username)
    device = known_device(account)
    scopes = _scopes(address, account, device)
    db = db_session()
    wait = _delay(scopes, now) or _delay(scopes, now, db)
    if wait > 0:
        return _form(username, f"登录失败次数较多，请 {_wait_label(wait)}后再试", 429, retry_after=wait)
    user = StaffUser.by_username(db, username)

    # End the reading transaction before the slow part: on SQLite every transaction holds
    # the one writer's lock, which the webhook needs (expire_on_commit is off: `user` stays).
    password_hash = user.password_hash if user is not None else None
    db.commit()
    with current_app.extensions["niangjia_hash_slots"].slot(trusted=device is not None) as got:
        if not got:
            return _form(username, "登录的人较多，请稍候几秒再试", 429, retry_after=1)
        matches, upgraded = verify_password(password_hash, password)
    if not matches or user is None or not user.active:
        return _failed(user, account, address, device, now, WRONG)
    if user.uses_totp:
        if upgraded:
            user.password_hash = upgraded
            db.commit()
        session["pending_login"] = {"user": user.get_id(), "at": now.timestamp()}
        return _form(username, None, 200, code_step=True)
    user.record_login(now, upgraded)
    return _succeeded(user, now, address, device)


def _second_step():
    """The one-time code of an account whose password was right a moment ago."""
    pending = session.get("pending_login") or {}
    db, now, address = db_session(), utcnow(), client_address()
    user_id, _, epoch = str(pending.get("user", "")).partition(".")
    user = db.get(StaffUser, int(user_id)) if user_id.isdecimal() else None
    fresh = now.timestamp() - float(pending.get("at", 0)) < PENDING_CODE.total_seconds()
    if user is None or not user.active or str(user.session_epoch) != epoch or not fresh:
        session.pop("pending_login", None)
        return _form("", "请重新输入用户名和密码", 401)
    account = LoginThrottle.account_key(user.username)
    device = known_device(account)
    wait = _delay(_scopes(address, account, device), now, db)
    if wait > 0:
        return _form(user.username, f"尝试次数较多，请 {_wait_label(wait)}后再试", 429, code_step=True, retry_after=wait)
    if not user.check_totp(request.form.get("code", ""), now):
        return _failed(user, account, address, device, now, "动态验证码不对或已用过，请输入验证器上当前的 6 位数字", code_step=True)
    session.pop("pending_login", None)
    user.record_login(now)
    return _succeeded(user, now, address, device)


def count_failure(user: StaffUser | None, account: str, address: str, device: str | None, now: datetime, step: str) -> None:
    """Count a wrong password or code against the address, the account (and the browser)
    and record it; commits, and nothing else of the attempt is kept."""
    db = db_session()
    db.rollback()
    policy, recent = _policy(), current_app.extensions["niangjia_login_delays"]
    failures = {}
    for scope, key in [(ADDRESS, address), (ACCOUNT, account)] + ([(DEVICE, device)] if device else []):
        failures[scope] = LoginThrottle.fail(db, scope, key, now, policy)
        recent.note(scope, key, now + policy.delay(scope, failures[scope]), now)
    AuditEvent.record(db, now, "login.failed", user, user, address, actor_label="" if user else "(unknown user)", step=step)
    db.commit()
    log.info("staff login failed for %s from %s (%d in a row)", f"user {user.id}" if user else "an unknown user",
             address, failures[ACCOUNT])


def password_delay(user: StaffUser, now: datetime) -> float:
    """Seconds before `user`'s password may be tried again here (e.g. to change it)."""
    account = LoginThrottle.account_key(user.username)
    return _delay(_scopes(client_address(), account, known_device(account)), now, db_session())


def _failed(user: StaffUser | None, account: str, address: str, device: str | None, now, message: str,
            code_step: bool = False):
    count_failure(user, account, address, device, now, "code" if code_step else "password")
    return _form(user.username if code_step and user else request.form.get("username", ""), message, 401, code_step=code_step)


def _succeeded(user: StaffUser, now, address: str, device: str | None):
    db, recent = db_session(), current_app.extensions["niangjia_login_delays"]
    for scope, key in [(ACCOUNT, LoginThrottle.account_key(user.username))] + ([(DEVICE, device)] if device else []):
        LoginThrottle.clear(db, scope, key)
        recent.forget(scope, key)
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
    AuditEvent.record(db, utcnow(), "logout", user, user, client_address())
    db.commit()
    logout_user()
    session.pop("seen", None)
    flash("已退出登录（所有设备上的登录都已结束）", "info")
    return redirect(url_for("staff.login"), 303)
