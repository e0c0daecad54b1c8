"""`niangjia users …`, `niangjia tokens …` and `niangjia issue-token`: staff accounts and
API tokens from the server's shell, the same operations as the admins' page
(bot/accounts.py), each audited as done from the command line. Errors name the problem
and exit with 1."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from bot import accounts
from bot.accounts import AccountError
from handlers.cli_root import cli, migrated


def _who() -> str:
    try:
        return f"command line ({getpass.getuser()})"
    except (KeyError, OSError):
        return "command line"


@contextmanager
def _change(ctx: click.Context) -> Iterator:
    """One transaction on the database at head; an AccountError becomes a one-line error."""
    runtime = migrated(ctx)
    try:
        with runtime.db.transaction() as session:
            yield session
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _audited(session, action: Callable, *args):
    """Run a bot.accounts operation as the command line, its audit entries naming the
    shell user; returns what the operation returns."""
    from models import AuditEvent, utcnow

    result = action(session, utcnow(), None, *args)
    for event in session.new:
        if isinstance(event, AuditEvent) and event.actor_id is None:
            event.actor_label = _who()
    return result


@cli.group()
def users() -> None:
    """Staff accounts: list, add, disable, enable, reset-password, unlock, set-role, set-region."""


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """Every account: username, role, region, active or disabled, two-step login, last login."""
    from sqlalchemy import select

    from models import Region, StaffUser

    with migrated(ctx).db.session() as session:
        rows = [
            {"username": u.username, "display_name": u.display_name, "role": u.role, "region": u.region.code,
             "active": u.active, "two_step": u.uses_totp,
             "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}
            for u in session.scalars(select(StaffUser).join(StaffUser.region).order_by(Region.path, StaffUser.username))
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        state = "active" if r["active"] else "DISABLED"
        click.echo(f"{r['username']:<16} {r['role']:<11} {r['region']:<12} {state:<8} "
                   f"{'2-step' if r['two_step'] else '      '} {r['last_login_at'] or 'never'}")


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, help="caseworker, supervisor or admin.")
@click.option("--region", "region_code", required=True, help="Code of the region the user works in.")
@click.option("--display-name", default="", help="Name shown to colleagues (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def users_add(ctx: click.Context, username: str, role: str, region_code: str, display_name: str, password_stdin: bool) -> None:
    """Add an account; the password (10+ characters, not easily guessed) from stdin or asked for."""
    password = _read_password(password_stdin)
    with _change(ctx) as session:
        _audited(session, lambda s, now, actor: accounts.add_user(s, now, actor, username, password, role, region_code, display_name))
    click.echo(f"user {username} ({role}, {region_code}) created")


# The command's older name, kept for scripts and the README's first steps.
cli.add_command(users_add, "create-user")


def _on_user(ctx: click.Context, username: str, operation: Callable, *args):
    """Run `operation` on the named account, audited, in one transaction; returns its result."""
    with _change(ctx) as session:
        return _audited(session, operation, accounts.find_user(session, username), *args)


# `users VERB USERNAME` for the operations that need nothing but the account: the
# command's help, and what it prints when done.
_USER_VERBS = {
    "disable": (accounts.disable, "Refuse the account at once: its sessions end, its API tokens stop working.",
                "{username} disabled: sessions ended, API tokens refused"),
    "enable": (accounts.enable, "Let a disabled account log in again.", "{username} enabled"),
    "totp-off": (accounts.turn_off_totp, "Turn off two-step login (a lost phone).", "{username}: two-step login off"),
}


def _user_verb(name: str, operation: Callable, help: str, done: str) -> None:
    @users.command(name, help=help)
    @click.argument("username")
    @click.pass_context
    def command(ctx: click.Context, username: str) -> None:
        _on_user(ctx, username, operation)
        click.echo(done.format(username=username))


for _name, (_operation, _help, _done) in _USER_VERBS.items():
    _user_verb(_name, _operation, _help, _done)


@users.command("unlock")
@click.argument("username")
@click.option("--address", default="", help="Also forget this IP address's failed logins.")
@click.pass_context
def users_unlock(ctx: click.Context, username: str, address: str) -> None:
    """Forget an account's failed logins, so its login delays end now."""
    _on_user(ctx, username, lambda s, now, actor, user: accounts.unlock(s, now, actor, user, client_address=address))
    click.echo(f"{username}: failed logins forgotten")


@users.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@click.pass_context
def users_reset_password(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Set a new password (read from stdin or asked for); every session of the account ends."""
    _on_user(ctx, username, accounts.reset_password, _read_password(password_stdin))
    click.echo(f"{username}: password reset, sessions ended")


@users.command("set-role")
@click.argument("username")
@click.argument("role")
@click.pass_context
def users_set_role(ctx: click.Context, username: str, role: str) -> None:
    """Make the account a caseworker, supervisor or admin."""
    _on_user(ctx, username, accounts.set_role, role)
    click.echo(f"{username} is now {role}")


@users.command("set-region")
@click.argument("username")
@click.argument("region_code")
@click.pass_context
def users_set_region(ctx: click.Context, username: str, region_code: str) -> None:
    """Move the account to another region (it then sees that region's subtree)."""
    _on_user(ctx, username, accounts.set_region, region_code)
    click.echo(f"{username} now works in {region_code}")


@cli.group()
def tokens() -> None:
    """API tokens: list and revoke (`niangjia issue-token` issues one)."""


@tokens.command("list")
@click.option("--user", "username", default=None, help="Only this account's tokens.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tokens_list(ctx: click.Context, username: str | None, as_json: bool) -> None:
    """Every token: id, its first characters, owner, label, issued, revoked (never the secret)."""
    with migrated(ctx).db.session() as session:
        try:
            rows = [
                {"id": t.id, "hint": t.hint, "user": t.user.username, "label": t.label,
                 "created_at": t.created_at.isoformat(), "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}
                for t in accounts.tokens_of(session, username=username)
            ]
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no tokens")
    for r in rows:
        state = f"revoked {r['revoked_at'][:16]}" if r["revoked_at"] else "active"
        click.echo(f"{r['id']:>5}  {r['hint']}…  {r['user']:<16} {state:<24} {r['label']}")


@tokens.command("revoke")
@click.argument("token")
@click.pass_context
def tokens_revoke(ctx: click.Context, token: str) -> None:
    """Revoke a token by its id or its first characters; it stops working at once."""
    with _change(ctx) as session:
        found = accounts.find_token(session, token)
        _audited(session, accounts.revoke_token, found)
        hint = found.hint
    click.echo(f"token {hint}… revoked")


@cli.command("issue-token")
@click.argument("username")
@click.option("--label", default="", help="What the token is for (shown to admins, never the secret).")
@click.pass_context
def issue_token(ctx: click.Context, username: str, label: str) -> None:
    """Print a new API token for a staff member (shown once; only its hash is stored)."""
    click.echo(_on_user(ctx, username, accounts.issue_token, label))
