"""Need to know: an urgent or violence ticket's record opens only to its assignee, the
supervisors of its region chain and admins; others of the area see its queue line and
may claim it, then read it. Page and API both, and supervisors see who opened what."""

from __future__ import annotations

import pytest

from tests.handlers.staff.factories import PHONE, actions_of, login, make_staff, make_ticket, post_form, token_for

MASKED = PHONE[:3] + "****" + PHONE[-4:]

VIOLENCE = "他昨晚又打我，还说要是我报警就弄死我"


@pytest.fixture
def staff(db):
    return {
        "li": make_staff(db, "li", "caseworker", "T01", "李姐"),
        "grid": make_staff(db, "grid", "caseworker", "T010101", "网格员小张"),
        "boss": make_staff(db, "boss", "supervisor", "T01", "县妇联督办"),
        "admin": make_staff(db, "admin", "admin", "T", "市妇联管理员"),
    }


def logged_in(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 303
    return client


def page_of(client, reference) -> tuple[int, str]:
    response = client.get(f"/staff/tickets/{reference}")
    return response.status_code, response.get_data(as_text=True)


@pytest.fixture(params=["urgent", "anti_dv_law"])
def violence(request, db):
    """A domestic-violence ticket in the village, urgent or on the violence route."""
    if request.param == "urgent":
        return make_ticket(db, region="T010101", category="consultation", urgent=True, text=VIOLENCE, phone=PHONE)
    return make_ticket(
        db, region="T010101", category="consultation", subcategory="anti_dv_law", text=VIOLENCE, phone=PHONE
    )


def test_a_gridworker_sees_the_queue_line_but_not_her_words_or_phone(app, staff, violence, db):
    grid = logged_in(app, "grid")
    assert violence in grid.get("/staff/").get_data(as_text=True)
    status, html = page_of(grid, violence)
    assert status == 200
    assert VIOLENCE not in html and PHONE not in html and MASKED not in html
    assert 'id="claim"' in html and "认领后即可查看" in html
    # Nothing of hers was opened, so nothing is recorded as viewed.
    assert ("viewed", staff["grid"]) not in actions_of(db, violence)


def test_after_someone_else_claims_it_other_caseworkers_still_cannot_read_it(app, staff, violence):
    li = logged_in(app, "li")
    assert post_form(li, f"/staff/tickets/{violence}/claim", f"/staff/tickets/{violence}").status_code == 303
    _, html = page_of(li, violence)
    assert VIOLENCE in html and MASKED in html  # her number itself only when revealed (test_desk)
    grid = logged_in(app, "grid")
    _, html = page_of(grid, violence)
    assert VIOLENCE not in html and PHONE not in html and MASKED not in html and 'id="claim"' not in html
    assert "李姐" in html  # the queue line says who has it


def test_claiming_it_opens_it(app, staff, violence, db):
    grid = logged_in(app, "grid")
    response = post_form(grid, f"/staff/tickets/{violence}/claim", f"/staff/tickets/{violence}")
    assert response.status_code == 303
    _, html = page_of(grid, violence)
    assert VIOLENCE in html and MASKED in html  # her number itself only when revealed (test_desk)
    assert ("viewed", staff["grid"]) in actions_of(db, violence)


@pytest.mark.parametrize("username", ["boss", "admin"])
def test_supervisors_of_the_region_chain_and_admins_read_it(app, staff, violence, username):
    _, html = page_of(logged_in(app, username), violence)
    assert VIOLENCE in html and MASKED in html  # her number itself only when revealed (test_desk)


def test_an_ordinary_ticket_stays_open_to_the_area(app, staff, db):
    reference = make_ticket(db, region="T010101", phone=PHONE)
    _, html = page_of(logged_in(app, "grid"), reference)
    assert MASKED in html


def test_the_api_refuses_the_record_but_lists_the_line_and_lets_her_be_claimed(client, staff, violence, db):
    auth = {"Authorization": f"Bearer {token_for(db, 'grid')}"}
    listed = client.get("/api/v1/tickets", headers=auth).get_json()
    assert violence in [item["reference"] for item in listed["items"]]
    refused = client.get(f"/api/v1/tickets/{violence}", headers=auth)
    assert refused.status_code == 403
    body = refused.get_data(as_text=True)
    assert VIOLENCE not in body and PHONE not in body
    assert refused.get_json()["ticket"]["reference"] == violence
    assert client.post(f"/api/v1/tickets/{violence}/claim", headers=auth).status_code == 200
    opened = client.get(f"/api/v1/tickets/{violence}", headers=auth)
    assert opened.status_code == 200 and opened.get_json()["contact_phone"] == PHONE


def test_a_supervisor_sees_who_viewed_which_ticket_when(app, staff, violence, db):
    li = logged_in(app, "li")
    post_form(li, f"/staff/tickets/{violence}/claim", f"/staff/tickets/{violence}")
    page_of(li, violence)
    other = make_ticket(db, region="T02", user="o-elsewhere")  # outside the supervisor's county
    page_of(logged_in(app, "admin"), other)

    boss = logged_in(app, "boss")
    page_of(boss, violence)
    response = boss.get("/staff/access-log")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert violence in html and "李姐" in html and other not in html
    only_li = boss.get("/staff/access-log?staff=li").get_data(as_text=True)
    assert "?staff=li" in only_li and "?staff=boss" not in only_li
    assert "?staff=boss" in html
    assert boss.get("/staff/access-log?ticket=NJ-20000101-9999").status_code == 422


def test_caseworkers_have_no_access_log(app, staff):
    assert logged_in(app, "li").get("/staff/access-log").status_code == 404
