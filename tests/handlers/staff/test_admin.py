"""The admins' accounts page: admins only, their region's subtree only, CSRF on every
form, each change effective at once and in the audit trail."""

from __future__ import annotations

import re

import pytest

from models import ApiToken, AuditEvent, StaffUser
from tests.handlers.staff.factories import PASSWORD, login, make_staff, post_form, token_for

PAGE = "/staff/admin/users"


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def staff(db):
    return {
        "admin": make_staff(db, "admin1", "admin", "T01", "县管理员"),
        "li": make_staff(db, "li", "caseworker", "T0101", "李姐"),
        "neighbour": make_staff(db, "neighbour", "caseworker", "T02", "邻县王姐"),
        "cityadmin": make_staff(db, "cityadmin", "admin", "T", "市管理员"),
    }


@pytest.fixture
def admin(app, staff):
    client = app.test_client()
    assert login(client, "admin1").status_code == 303
    return client


def act(client, username, action, **data):
    return post_form(client, f"{PAGE}/{username}/{action}", PAGE, **data)


def shown_password(html: str) -> str:
    return re.search(r'id="shown-password">([^<]+)<', html).group(1)


def test_only_admins_open_the_page_and_its_forms(app, staff):
    li = app.test_client()
    login(li, "li")
    assert li.get(PAGE).status_code == 403
    assert post_form(li, f"{PAGE}/neighbour/disable", "/staff/").status_code == 403
    assert app.test_client().get(PAGE).status_code == 302  # not logged in


def test_the_page_lists_the_admins_subtree_only(admin):
    html = text(admin.get(PAGE))
    assert 'data-username="li"' in html and 'data-username="admin1"' in html
    assert 'data-username="neighbour"' not in html and 'data-username="cityadmin"' not in html
    assert "账号管理" in html


def test_an_account_outside_the_subtree_is_404(admin, db):
    assert act(admin, "neighbour", "disable").status_code == 404
    assert act(admin, "nobody", "disable").status_code == 404
    with db.session() as session:
        assert StaffUser.by_username(session, "neighbour").active


def test_forms_need_the_csrf_token(admin, db):
    assert admin.post(f"{PAGE}/li/disable").status_code == 400
    with db.session() as session:
        assert StaffUser.by_username(session, "li").active


def test_disabling_ends_her_session_and_token_at_once_and_is_audited(app, admin, db):
    secret = token_for(db, "li")
    li = app.test_client()
    login(li, "li")
    response = act(admin, "li", "disable")
    assert response.status_code == 303
    assert li.get("/staff/").status_code == 302
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert "已停用" in text(admin.get(PAGE))
    with db.session() as session:
        event = AuditEvent.recent(session)[0]
        assert (event.action, event.actor.username, event.target.username) == ("user.disabled", "admin1", "li")
    assert act(admin, "li", "enable").status_code == 303
    assert login(app.test_client(), "li").status_code == 303


def test_an_admin_cannot_disable_or_demote_herself(admin, db):
    refused = act(admin, "admin1", "disable")
    assert refused.status_code == 422 and "自己" in text(refused)
    assert act(admin, "admin1", "role", role="caseworker").status_code == 422
    with db.session() as session:
        me = StaffUser.by_username(session, "admin1")
        assert me.active and me.role == "admin"


def test_reset_password_shows_a_new_one_once_and_the_old_one_stops(app, admin, db):
    response = act(admin, "li", "reset-password")
    assert response.status_code == 200
    new = shown_password(text(response))
    assert new not in text(admin.get(PAGE))  # shown once
    assert login(app.test_client(), "li", PASSWORD).status_code == 401
    assert login(app.test_client(), "li", new).status_code == 303


def test_add_a_user_in_the_subtree_and_refuse_one_outside_it(app, admin, db):
    added = post_form(admin, PAGE, PAGE, username="zhao", display_name="赵姐", role="supervisor", region="T0101")
    assert added.status_code == 200 and "zhao" in text(added)
    assert login(app.test_client(), "zhao", shown_password(text(added))).status_code == 303
    outside = post_form(admin, PAGE, PAGE, username="qian", role="caseworker", region="T02")
    assert outside.status_code == 422 and "辖区" in text(outside)
    bad_role = post_form(admin, PAGE, PAGE, username="qian", role="boss", region="T01")
    assert bad_role.status_code == 422
    taken = post_form(admin, PAGE, PAGE, username="li", role="caseworker", region="T01")
    assert taken.status_code == 422 and "已被使用" in text(taken)
    with db.session() as session:
        assert StaffUser.by_username(session, "qian") is None


def test_role_region_and_unlock(admin, db):
    assert act(admin, "li", "role", role="supervisor").status_code == 303
    assert act(admin, "li", "region", region="T01").status_code == 303
    assert act(admin, "li", "region", region="T02").status_code == 422  # outside her admin's subtree
    assert act(admin, "li", "unlock").status_code == 303
    with db.session() as session:
        li = StaffUser.by_username(session, "li")
        assert (li.role, li.region.code) == ("supervisor", "T01")
        actions = [e.action for e in AuditEvent.recent(session)]
    assert actions[:3] == ["user.unlocked", "user.region_changed", "user.role_changed"]


def test_revoke_a_token_from_the_page(app, admin, db):
    secret = token_for(db, "li")
    other = token_for(db, "neighbour")
    html = text(admin.get(PAGE))
    assert secret[:8] in html and other[:8] not in html and secret not in html
    with db.session() as session:
        mine = session.query(ApiToken).filter_by(hint=secret[:8]).one().id
        theirs = session.query(ApiToken).filter_by(hint=other[:8]).one().id
    assert post_form(admin, f"/staff/admin/tokens/{theirs}/revoke", PAGE).status_code == 404
    assert post_form(admin, f"/staff/admin/tokens/{mine}/revoke", PAGE).status_code == 303
    client = app.test_client()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200
