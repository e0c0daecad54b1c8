"""Admins' page for staff accounts and API tokens (`/staff/admin/users`), and every staff
member's own account page (`/staff/account`: password, two-step login).

The same operations as `niangjia users|tokens` (bot/accounts.py), limited to the admin's
region subtree: an account outside it is 404, as tickets are. Every form carries a CSRF
token; every change is in the audit trail.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from sqlalchemy import select

from bot import accounts
from bot.accounts import AccountError
from handlers.context import db_session
from handlers.labels import ROLE_LABELS, TOTP_ISSUER
from handlers.serializers import serialize_account, serialize_audit, serialize_staff, serialize_token
from handlers.staff.login import client_address, count_failure, known_device, password_delay
from handlers.staff.views import _regions_in_scope, bp
from models import AuditEvent, LoginThrottle, Region, StaffUser, utcnow
from models.staff import ROLES
from models.throttle import ACCOUNT

# What each button on a user's row does, and what the page says after it.
USER_ACTIONS = {
    "disable": "账号已停用，它的登录和 API 令牌立即失效",
    "enable": "账号已恢复使用",
    "unlock": "已清除该账号的登录失败记录",
    "reset-password": "已重置密码",
    "role": "角色已修改",
    "region": "所属区域已修改",
    "totp-off": "已关闭该账号的两步验证",
}


def _admin() -> StaffUser:
    user = current_user._get_current_object()
    if user.role != "admin":
        abort(403)
    return user


def _new_password() -> str:
    # About 79 random bits she can type on a phone: 4 groups of 4, no look-alike characters.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


@bp.get("/admin/users")
@login_required
def admin_users():
    return _render_admin(_admin())


def _render_admin(admin: StaffUser, error: str | None = None, status: int = 200, shown_password: dict | None = None,
                  form: Any = None):
    db, now = db_session(), utcnow()
    users = list(
        db.scalars(
            select(StaffUser).join(StaffUser.region)
            .where(Region.path.startswith(admin.region.path, autoescape=True))
            .order_by(Region.path, StaffUser.username)
        )
    )
    delays = dict(
        db.execute(
            select(LoginThrottle.key, LoginThrottle.blocked_until)
            .where(LoginThrottle.scope == ACCOUNT, LoginThrottle.key.in_([LoginThrottle.account_key(u.username) for u in users]))
        ).all()
    )
    rows = [serialize_account(u, now, delays.get(LoginThrottle.account_key(u.username))) for u in users]
    return render_template(
        "staff/admin_users.html",
        me=serialize_staff(admin),
        users=rows,
        tokens=[serialize_token(t) for t in accounts.tokens_of(db, admin)],
        trail=[serialize_audit(e) for e in AuditEvent.recent(db, [u.id for u in users], limit=50)],
        roles=[(r, ROLE_LABELS[r]) for r in ROLES],
        regions=_regions_in_scope(db, admin),
        error=error,
        shown_password=shown_password,
        form=form or {},
    ), status


@bp.post("/admin/users")
@login_required
def admin_add_user():
    admin = _admin()
    db, now = db_session(), utcnow()
    password = _new_password()
    try:
        user = accounts.add_user(
            db, now, admin, request.form.get("username", ""), password, request.form.get("role", ""),
            request.form.get("region", ""), request.form.get("display_name", ""), client_address(),
        )
    except AccountError as error:
        db.rollback()
        return _render_admin(admin, error.chinese, 422, form=request.form)
    db.commit()
    # Shown on this one page, never stored or sent in a cookie: she changes it at first login.
    return _render_admin(admin, shown_password={"username": user.username, "password": password, "new": True})


@bp.post("/admin/users/<username>/<action>")
@login_required
def admin_user_action(username: str, action: str):
    admin = _admin()
    if action not in USER_ACTIONS:
        abort(404)
    db, now, address = db_session(), utcnow(), client_address()
    try:
        user = accounts.find_user(db, username, admin)
    except AccountError:
        abort(404)
    shown = None
    try:
        if action == "disable":
            accounts.disable(db, now, admin, user, address)
        elif action == "enable":
            accounts.enable(db, now, admin, user, address)
        elif action == "unlock":
            accounts.unlock(db, now, admin, user, address)
            current_app.extensions["niangjia_login_delays"].forget(ACCOUNT, LoginThrottle.account_key(user.username))
        elif action == "reset-password":
            password = _new_password()
            accounts.reset_password(db, now, admin, user, password, address)
            shown = {"username": user.username, "password": password, "new": False}
        elif action == "role":
            accounts.set_role(db, now, admin, user, request.form.get("role", ""), address)
        elif action == "region":
            accounts.set_region(db, now, admin, user, request.form.get("region", ""), address)
        elif action == "totp-off":
            accounts.turn_off_totp(db, now, admin, user, address)
    except AccountError as error:
        db.rollback()
        return _render_admin(admin, error.chinese, 422)
    db.commit()
    if shown:
        return _render_admin(admin, shown_password=shown)
    flash(f"{user.username}：{USER_ACTIONS[action]}", "success")
    return redirect(url_for("staff.admin_users"), 303)


@bp.post("/admin/tokens/<int:token_id>/revoke")
@login_required
def admin_revoke_token(token_id: int):
    admin = _admin()
    db = db_session()
    try:
        token = accounts.find_token(db, str(token_id), admin)
        accounts.revoke_token(db, utcnow(), admin, token, client_address())
    except AccountError as error:
        db.rollback()
        if "找不到" in error.chinese:
            abort(404)
        return _render_admin(admin, error.chinese, 422)
    db.commit()
    flash(f"令牌 {token.hint}… 已吊销，立即失效", "success")
    return redirect(url_for("staff.admin_users"), 303)


# -- one's own account ---------------------------------------------------------------


@bp.get("/account")
@login_required
def account():
    return _render_account()


def _render_account(error: str | None = None, status: int = 200, enrol: dict | None = None):
    user = current_user._get_current_object()
    return render_template(
        "staff/account.html", me=serialize_staff(user), two_step=user.uses_totp, error=error, enrol=enrol,
    ), status


@bp.post("/account/password")
@login_required
def change_password():
    """A new password: every other session of hers ends, this one carries on."""
    user = current_user._get_current_object()
    db, now = db_session(), utcnow()
    # Whoever holds her session must still know her password: guesses here count as
    # wrong logins and wait as long.
    wait = password_delay(user, now)
    if wait:
        return _render_account(f"密码错误次数较多，请 {math.ceil(wait)} 秒后再试", 429)
    if not user.check_password(request.form.get("current", "")):
        account = LoginThrottle.account_key(user.username)
        count_failure(user, account, client_address(), known_device(account), now, "password change")
        return _render_account("当前密码不对", 422)
    if request.form.get("new", "") != request.form.get("repeat", ""):
        return _render_account("两次输入的新密码不一致", 422)
    try:
        accounts.reset_password(db, now, user, user, request.form.get("new", ""), client_address())
    except AccountError as error:
        db.rollback()
        return _render_account(error.chinese, 422)
    db.commit()
    login_user(user)  # this session, under the new epoch
    flash("密码已修改，其他设备上的登录都已结束", "success")
    return redirect(url_for("staff.account"), 303)


@bp.post("/account/totp")
@login_required
def totp():
    """Two-step login: start (a secret shown once), confirm (a code from the app), or turn off."""
    user = current_user._get_current_object()
    db, now, step = db_session(), utcnow(), request.form.get("step", "")
    if step == "start" and not user.uses_totp:
        secret = StaffUser.new_totp_secret()
        return _render_account(enrol={"secret": secret, "uri": StaffUser.totp_uri(secret, user.username, TOTP_ISSUER)})
    if step == "confirm" and not user.uses_totp:
        secret = request.form.get("secret", "")
        if not (len(secret) == 32 and secret.isalnum()) or not user.enable_totp(secret, request.form.get("code", ""), now):
            enrol = ({"secret": secret, "uri": StaffUser.totp_uri(secret, user.username, TOTP_ISSUER)}
                     if secret.isalnum() else None)
            return _render_account("验证码不对：请确认手机时间准确，输入验证器上当前的 6 位数字", 422, enrol=enrol)
        AuditEvent.record(db, now, "user.totp_on", user, user, client_address())
        db.commit()
        flash("两步验证已开启：以后登录时还要输入验证器上的数字", "success")
        return redirect(url_for("staff.account"), 303)
    if step == "off" and user.uses_totp:
        if not user.check_totp(request.form.get("code", ""), now):
            return _render_account("验证码不对，两步验证没有关闭", 422)
        accounts.turn_off_totp(db, now, user, user, client_address())
        db.commit()
        flash("两步验证已关闭", "info")
        return redirect(url_for("staff.account"), 303)
    abort(400)
