"""Managing staff accounts and API tokens, the same for the `niangjia users|tokens`
commands and the admins' page: each change is checked, recorded in the audit trail in
the same transaction, and ends sessions where access is taken away. The caller commits.

`actor` is the admin doing it (None: the command line on the server, which has no
region limit); an admin acts only inside her own region's subtree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from bot.labels import ROLE_LABELS
from models import ApiToken, AuditEvent, LoginThrottle, Region, StaffUser
from models.passwords import WeakPassword, check_strength
from models.staff import ROLES
from models.throttle import ACCOUNT, ADDRESS


# The page's words for models.passwords' refusals (the command line reads their English).
PASSWORD_REFUSALS = {
    "too_short": "密码至少需要 {limit} 个字符",
    "too_long": "密码最多 {limit} 个字符",
    "contains_name": "密码不能包含用户名或姓名",
    "guessable": "密码太容易被猜到（如常见密码、键盘序列、日期或重复字符），请用更长、更少见的词组合",
}


class AccountError(ValueError):
    """A change refused: str() for the command line, `chinese` for the page."""

    def __init__(self, english: str, chinese: str) -> None:
        super().__init__(english)
        self.chinese = chinese


def _in_scope(actor: StaffUser | None, region: Region) -> None:
    if actor is not None and not actor.sees(region):
        raise AccountError(f"region {region.code} is outside {actor.username}'s area", "只能管理本辖区内的账号")


def find_user(session, username: str, actor: StaffUser | None = None) -> StaffUser:
    """The account `username` (in the actor's area), or AccountError naming it."""
    user = StaffUser.by_username(session, username.strip())
    if user is None or (actor is not None and not actor.sees(user.region)):
        raise AccountError(f"unknown user {username}", "找不到这个账号，或它不在您的辖区")
    return user


def find_region(session, code: str, actor: StaffUser | None = None) -> Region:
    region = Region.by_code(session, code.strip())
    if region is None:
        raise AccountError(f"unknown region {code}", f"没有代码为 {code} 的区域")
    _in_scope(actor, region)
    return region


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"bad role {role!r}: choose one of {', '.join(ROLES)}", "角色只能是：" + "、".join(ROLE_LABELS.values()))


def _keep_an_admin(session, target: StaffUser, actor: StaffUser | None) -> None:
    """Refuse to leave the federation without an active admin, or an admin to lock herself out."""
    if actor is not None and actor.id == target.id:
        raise AccountError("you cannot disable or demote your own account", "不能停用或降级自己的账号")
    if target.role == "admin" and target.active:
        admins = session.scalar(select(func.count()).select_from(StaffUser).where(StaffUser.role == "admin", StaffUser.active.is_(True)))
        if admins <= 1:
            raise AccountError(f"{target.username} is the last active admin", "这是最后一个在用的管理员账号")


def _password(password: str, username: str, display_name: str) -> None:
    try:
        check_strength(password, username, display_name)
    except WeakPassword as exc:
        raise AccountError(str(exc), PASSWORD_REFUSALS[exc.code].format(**exc.params)) from None


def add_user(session, now: datetime, actor: StaffUser | None, username: str, password: str, role: str,
             region_code: str, display_name: str = "", address: str = "") -> StaffUser:
    """A new account (refused: a taken username, a bad role or region, a weak password)."""
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise AccountError("username must be 1-64 characters without spaces", "用户名为 1-64 个字符，不能有空格")
    _check_role(role)
    region = find_region(session, region_code, actor)
    if StaffUser.by_username(session, username) is not None:
        raise AccountError(f"user {username} exists already", f"用户名 {username} 已被使用")
    _password(password, username, display_name)
    user = StaffUser.create(session, username, password, role, region, display_name.strip())
    AuditEvent.record(session, now, "user.added", actor, user, address, role=role, region=region.code)
    return user


def disable(session, now: datetime, actor: StaffUser | None, user: StaffUser, address: str = "") -> None:
    """Refuse the account at once: its sessions end, its API tokens stop working."""
    if not user.active:
        raise AccountError(f"{user.username} is disabled already", "该账号已停用")
    _keep_an_admin(session, user, actor)
    user.disable()
    AuditEvent.record(session, now, "user.disabled", actor, user, address)


def enable(session, now: datetime, actor: StaffUser | None, user: StaffUser, address: str = "") -> None:
    if user.active:
        raise AccountError(f"{user.username} is active already", "该账号已在使用")
    user.enable()
    AuditEvent.record(session, now, "user.enabled", actor, user, address)


def reset_password(session, now: datetime, actor: StaffUser | None, user: StaffUser, password: str, address: str = "") -> None:
    """A new password (checked by the policy); every session of the account ends."""
    _password(password, user.username, user.display_name)
    user.set_password(password)
    LoginThrottle.clear(session, ACCOUNT, LoginThrottle.account_key(user.username))
    AuditEvent.record(session, now, "user.password_reset", actor, user, address)


def unlock(session, now: datetime, actor: StaffUser | None, user: StaffUser, address: str = "",
           client_address: str = "") -> bool:
    """Forget the account's failed logins (and an address's, when given); whether any were kept."""
    cleared = LoginThrottle.clear(session, ACCOUNT, LoginThrottle.account_key(user.username))
    if client_address:
        cleared = LoginThrottle.clear(session, ADDRESS, client_address) or cleared
    AuditEvent.record(session, now, "user.unlocked", actor, user, address, **({"cleared_address": client_address} if client_address else {}))
    return cleared


def set_role(session, now: datetime, actor: StaffUser | None, user: StaffUser, role: str, address: str = "") -> None:
    _check_role(role)
    if role == user.role:
        return
    if user.role == "admin":
        _keep_an_admin(session, user, actor)
    old, user.role = user.role, role
    AuditEvent.record(session, now, "user.role_changed", actor, user, address, old=old, new=role)


def set_region(session, now: datetime, actor: StaffUser | None, user: StaffUser, region_code: str, address: str = "") -> None:
    region = find_region(session, region_code, actor)
    if region.id == user.region_id:
        return
    old = user.region.code
    user.region = region
    AuditEvent.record(session, now, "user.region_changed", actor, user, address, old=old, new=region.code)


def tokens_of(session, actor: StaffUser | None = None, username: str | None = None) -> list[ApiToken]:
    """API tokens (newest first), of one user or of everyone in the actor's area."""
    query = select(ApiToken).join(ApiToken.user).join(StaffUser.region).order_by(ApiToken.id.desc())
    if username:
        query = query.where(StaffUser.id == find_user(session, username, actor).id)
    if actor is not None:
        query = query.where(Region.path.startswith(actor.region.path, autoescape=True))
    return list(session.scalars(query))


def find_token(session, ref: str, actor: StaffUser | None = None) -> ApiToken:
    """A token by its id or its hint (the first characters printed when it was issued)."""
    ref = ref.strip()
    if ref.isdecimal():
        token = session.get(ApiToken, int(ref))
        found = [token] if token else []
    else:
        found = list(session.scalars(select(ApiToken).where(ApiToken.hint == ref[:8]))) if len(ref) >= 8 else []
    found = [t for t in found if actor is None or actor.sees(t.user.region)]
    if len(found) != 1:
        raise AccountError(
            f"unknown token {ref}" if not found else f"several tokens start with {ref}: give the id",
            "找不到这个令牌",
        )
    return found[0]


def issue_token(session, now: datetime, actor: StaffUser | None, user: StaffUser, label: str = "", address: str = "") -> str:
    """A new API token for an active account; the secret, shown once."""
    if not user.active:
        raise AccountError(f"no active user {user.username}", "该账号已停用")
    token, secret = ApiToken.issue(session, user, now, label)
    session.flush()
    AuditEvent.record(session, now, "token.issued", actor, user, address, token=token.id, hint=token.hint, label=label)
    return secret


def revoke_token(session, now: datetime, actor: StaffUser | None, token: ApiToken, address: str = "") -> None:
    """The token stops working at the next request."""
    if token.revoked_at is not None:
        raise AccountError(f"token {token.id} is revoked already", "该令牌已吊销")
    token.revoke(now)
    AuditEvent.record(session, now, "token.revoked", actor, token.user, address, token=token.id, hint=token.hint)


def turn_off_totp(session, now: datetime, actor: StaffUser | None, user: StaffUser, address: str = "") -> None:
    """Two-step login off (a lost phone): the password alone logs in again."""
    if not user.uses_totp:
        raise AccountError(f"{user.username} has no two-step login", "该账号没有开启两步验证")
    user.disable_totp()
    AuditEvent.record(session, now, "user.totp_off", actor, user, address)
