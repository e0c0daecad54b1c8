"""`niangjia users …` and `niangjia tokens …` on a real database: accounts and tokens
managed from the shell, each change taking effect at once and audited."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from handlers.cli import cli
from models import ApiToken, AuditEvent, StaffUser
from tests.handlers.staff.factories import PASSWORD, login, make_staff

NEW_PASSWORD = "风筝飞过小河边-2026"


@pytest.fixture
def run(settings, db):
    """`niangjia ARGS` in this process, on the test's database."""
    runner = CliRunner()
    env = {"NIANGJIA_DATABASE_URL": settings.database_url, "NIANGJIA_LOG_LEVEL": "WARNING", "NIANGJIA_CONFIG": ""}

    def run(*args: str, stdin: str = ""):
        return runner.invoke(cli, list(args), input=stdin, env=env)

    return run


def test_add_list_disable_enable_and_a_disabled_users_token_and_session_stop_at_once(run, db, app):
    make_staff(db, "boss", "admin", "T")
    added = run("users", "add", "wang", "--role", "admin", "--region", "T01", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    listed = json.loads(run("users", "list", "--json").output)
    assert [(u["username"], u["role"], u["region"], u["active"]) for u in listed] == [
        ("boss", "admin", "T", True), ("wang", "admin", "T01", True)]
    secret = run("issue-token", "wang", "--label", "report").output.strip()
    client, browser = app.test_client(), app.test_client()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert login(browser, "wang").status_code == 303

    assert run("users", "disable", "wang").exit_code == 0
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert browser.get("/staff/").status_code == 302
    assert "DISABLED" in run("users", "list").output

    assert run("users", "enable", "wang").exit_code == 0
    assert login(app.test_client(), "wang").status_code == 303
    with db.session() as session:
        events = AuditEvent.recent(session)
        assert [e.action for e in events if e.action.startswith(("user.", "token."))][:4] == [
            "user.enabled", "user.disabled", "token.issued", "user.added"]
        assert all(e.actor_label.startswith("command line") for e in events if e.action.startswith("user."))


def test_tokens_list_and_revoke_by_id_or_hint(run, db, app):
    make_staff(db, "li")
    first = run("issue-token", "li").output.strip()
    second = run("issue-token", "li", "--label", "excel").output.strip()
    listed = json.loads(run("tokens", "list", "--json").output)
    assert [t["hint"] for t in listed] == [second[:8], first[:8]] and first not in json.dumps(listed)
    assert run("tokens", "revoke", first[:8]).exit_code == 0
    assert run("tokens", "revoke", str(listed[0]["id"])).exit_code == 0
    client = app.test_client()
    for secret in (first, second):
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert "revoked" in run("tokens", "list", "--user", "li").output
    again = run("tokens", "revoke", first[:8])
    assert again.exit_code == 1 and "revoked already" in again.output


def test_reset_password_unlock_set_role_and_region(run, db, app):
    make_staff(db, "li")
    browser = app.test_client()
    login(browser, "li")
    assert run("users", "reset-password", "li", "--password-stdin", stdin=NEW_PASSWORD + "\n").exit_code == 0
    assert browser.get("/staff/").status_code == 302  # the old session ended
    assert login(app.test_client(), "li", PASSWORD).status_code == 401
    assert login(app.test_client(), "li", NEW_PASSWORD).status_code == 303
    assert run("users", "unlock", "li", "--address", "203.0.113.66").exit_code == 0
    assert run("users", "set-role", "li", "supervisor").exit_code == 0
    assert run("users", "set-region", "li", "T02").exit_code == 0
    with db.session() as session:
        user = StaffUser.by_username(session, "li")
        assert (user.role, user.region.code) == ("supervisor", "T02")
        changes = {e.action: e.detail for e in AuditEvent.recent(session)}
    assert changes["user.role_changed"] == {"old": "caseworker", "new": "supervisor"}
    assert changes["user.region_changed"] == {"old": "T01", "new": "T02"}
    assert changes["user.unlocked"] == {"cleared_address": "203.0.113.66"}
    assert "user.password_reset" in changes


@pytest.mark.parametrize(
    "args, stdin, fragment",
    [
        (("users", "disable", "nobody"), "", "unknown user nobody"),
        (("users", "set-role", "li", "boss"), "", "bad role 'boss'"),
        (("users", "set-region", "li", "NOPE"), "", "unknown region NOPE"),
        (("users", "add", "wang", "--role", "admin", "--region", "T01"), "12345678\n", "at least 10 characters"),
        (("users", "add", "wang", "--role", "admin", "--region", "T01"), "password1234\n", "too easy to guess"),
        (("users", "add", "wangjie", "--role", "admin", "--region", "T01"), "wangjie-2026!\n", "username"),
        (("users", "add", "li", "--role", "admin", "--region", "T01"), PASSWORD + "\n", "exists already"),
        (("users", "reset-password", "li"), "password\n", "at least 10"),
        (("tokens", "revoke", "nj_nothing"), "", "unknown token"),
        (("users", "disable", "boss"), "", "last active admin"),
    ],
)
def test_errors_name_the_problem_and_exit_1_changing_nothing(run, db, args, stdin, fragment):
    make_staff(db, "li")
    make_staff(db, "boss", "admin")
    result = run(*args, stdin=stdin)
    assert result.exit_code == 1 and fragment in result.output, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    with db.session() as session:
        assert session.query(StaffUser).count() == 2 and session.query(ApiToken).count() == 0
        assert session.query(AuditEvent).count() == 0
        assert StaffUser.by_username(session, "boss").active


PRODUCTION = {
    "NIANGJIA_ENV": "production", "NIANGJIA_SECRET_KEY": "q3Vx9Lr0TzN-8cWm4Ka_7bJdYe2Uh5GsPo1Fi6RnXvE",
    "NIANGJIA_WECHAT_TOKEN": "t", "NIANGJIA_WECHAT_APPID": "wx1", "NIANGJIA_WECHAT_SECRET": "s",
}


@pytest.mark.parametrize("args", [("serve", "--demo", "--port", "1"), ("demo-data",)])
def test_demo_data_is_refused_in_production(settings, db, args):
    env = {"NIANGJIA_DATABASE_URL": settings.database_url, "NIANGJIA_CONFIG": "", **PRODUCTION}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 1 and "refused in production" in result.output
    with db.session() as session:
        assert session.query(StaffUser).count() == 0


def test_a_typed_secret_key_is_refused_at_start_up_naming_it(settings, db):
    env = {"NIANGJIA_DATABASE_URL": settings.database_url, "NIANGJIA_CONFIG": "", **PRODUCTION, "NIANGJIA_SECRET_KEY": "x"}
    result = CliRunner().invoke(cli, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 1 and "NIANGJIA_SECRET_KEY" in result.output and "32" in result.output
