"""The JSON API under /api/v1: bearer tokens, scope as 404, 409 for state, 422 naming the field."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from sqlalchemy import select

from models import OutboxMessage, TicketEvent
from tests.handlers.staff.factories import PHONE, WORDS, actions_of, make_staff, make_ticket, ticket_state, token_for


@pytest.fixture
def tokens(db):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    make_staff(db, "zhang", "caseworker", "T010101", "张姐")
    make_staff(db, "boss", "supervisor", "T01", "县妇联督办")
    return {name: token_for(db, name) for name in ("li", "zhang", "boss")}


class Api:
    def __init__(self, client, token):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, path, **params):
        return self.client.get(f"/api/v1{path}", headers=self.headers, query_string=params)

    def post(self, path, json=None, **kwargs):
        return self.client.post(f"/api/v1{path}", headers=self.headers, json=json, **kwargs)


@pytest.fixture
def api(client, tokens):
    return lambda name: Api(client, tokens[name])


def test_no_token_or_a_wrong_one_is_401_json(client, tokens):
    for headers in ({}, {"Authorization": "Bearer nj_wrong"}, {"Authorization": f"Basic {tokens['li']}"}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.json["error"] == "unauthorized" and "Bearer" in response.json["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_session_cookie_is_not_enough_for_the_api(client, tokens):
    from tests.handlers.staff.factories import login

    login(client, "li")
    assert client.get("/api/v1/me").status_code == 401


def test_me_and_regions_in_my_subtree(api):
    me = api("zhang").get("/me").json
    assert (me["username"], me["role"], me["region"]["code"]) == ("zhang", "caseworker", "T010101")
    codes = [r["code"] for r in api("li").get("/regions").json["items"]]
    assert codes == ["T01", "T0101", "T010101"]
    assert api("li").get("/regions").json["items"][1]["parent"] == "T01"


def test_list_is_scoped_filtered_and_paginated(api, db):
    refs = [make_ticket(db, user=f"o-{n}", category="consultation" if n % 2 else "mediation") for n in range(5)]
    elsewhere = make_ticket(db, region="T02", user="o-x")
    body = api("li").get("/tickets").json
    assert body["total"] == 5 and {t["reference"] for t in body["items"]} == set(refs)
    assert elsewhere not in {t["reference"] for t in body["items"]}
    assert body["counts"]["unclaimed"] == 5
    first = api("li").get("/tickets", per_page=2, page=1).json
    third = api("li").get("/tickets", per_page=2, page=3).json
    assert len(first["items"]) == 2 and len(third["items"]) == 1
    consult = api("li").get("/tickets", category="consultation").json
    assert consult["total"] == 2 and all(t["category"] == "consultation" for t in consult["items"])
    row = body["items"][0]
    assert "messages" not in row and "contact_phone" not in row  # lists carry no personal data


@pytest.mark.parametrize(
    "params, field",
    [({"tab": "x"}, "tab"), ({"category": "x"}, "category"), ({"region": "T02"}, "region"),
     ({"per_page": "1000"}, "per_page"), ({"page": "-1"}, "page"), ({"status": "open"}, "status")],
)
def test_a_bad_filter_is_422_naming_it(api, params, field):
    response = api("li").get("/tickets", **params)
    assert response.status_code == 422
    assert response.json["error"] == "validation_error" and response.json["field"] == field


def test_detail_has_the_transcript_and_the_view_is_recorded(api, db):
    reference = make_ticket(db, phone=PHONE)
    body = api("li").get(f"/tickets/{reference}").json
    assert body["messages"][0]["text"] == WORDS and body["contact_phone"] == PHONE
    assert body["route"]["keywords"] == ["婆婆", "调解"]
    assert [o["value"] for o in body["outcomes"]] == ["agreement", "no_agreement", "referred"]
    with db.session() as session:
        viewed = session.scalars(select(TicketEvent).where(TicketEvent.action == "viewed")).one()
        assert viewed.detail == {"via": "api"} and viewed.actor.username == "li"


def test_out_of_scope_is_404_for_reading_and_acting(api, db):
    reference = make_ticket(db, region="T01")
    assert api("zhang").get(f"/tickets/{reference}").status_code == 404
    for action in ("claim", "release", "notes", "reply", "resolve", "reopen", "transfer"):
        response = api("zhang").post(f"/tickets/{reference}/{action}", json={})
        assert response.status_code == 404 and response.json["error"] == "not_found", action
    assert [a for a, _ in actions_of(db, reference)] == ["created"]


def test_second_claim_gets_409_naming_the_winner(api, db):
    reference = make_ticket(db)
    first = api("li").post(f"/tickets/{reference}/claim")
    assert first.status_code == 200 and first.json["ticket"]["assignee"]["display_name"] == "李姐"
    second = api("boss").post(f"/tickets/{reference}/claim")
    assert second.status_code == 409
    assert second.json["message"] == "已被 李姐 认领" and second.json["ticket"]["status"] == "claimed"


def test_the_whole_case_claim_note_reply_resolve_reopen(api, db):
    reference = make_ticket(db, category="service")
    li = api("li")
    assert li.post(f"/tickets/{reference}/claim").status_code == 200
    note = li.post(f"/tickets/{reference}/notes", json={"text": "已联系巾帼家政培训班"})
    assert note.status_code == 201 and note.json["note"]["author"] == "李姐"
    reply = li.post(f"/tickets/{reference}/reply", json={"text": "您好，已为您报名育婴师培训。"})
    assert reply.status_code == 202 and reply.json["delivery"]["status"] == "pending"
    resolved = li.post(f"/tickets/{reference}/resolve", json={"outcome": "provided", "note": "已报名"})
    assert resolved.status_code == 200 and resolved.json["ticket"]["outcome"] == "provided"
    assert li.post(f"/tickets/{reference}/resolve", json={"outcome": "provided"}).status_code == 409
    reopened = li.post(f"/tickets/{reference}/reopen", json={"reason": "培训取消了"})
    assert reopened.status_code == 200 and reopened.json["ticket"]["status"] == "claimed"
    detail = li.get(f"/tickets/{reference}").json
    assert [m["delivery"]["status"] for m in detail["messages"] if m["delivery"]] == ["pending"]
    assert [e["action"] for e in detail["events"] if e["action"] != "viewed"] == [
        "created", "claimed", "note_added", "replied", "resolved", "reopened",
    ]
    with db.session() as session:
        assert session.scalars(select(OutboxMessage)).one().text == "您好，已为您报名育婴师培训。"


def test_validation_errors_name_the_field(api, db):
    reference = make_ticket(db, category="consultation")
    li = api("li")
    li.post(f"/tickets/{reference}/claim")
    cases = [
        ("resolve", {"outcome": "agreement"}, "outcome"),
        ("reply", {"text": ""}, "text"),
        ("reply", {"text": "长" * 601}, "text"),
        ("reply", {"text": 42}, "text"),
        ("notes", {}, "text"),
        ("route", {"category": "other"}, "category"),
    ]
    for action, body, field in cases:
        response = li.post(f"/tickets/{reference}/{action}", json=body)
        assert response.status_code == 422, (action, body)
        assert response.json["field"] == field and response.json["message"], (action, body)


def test_a_body_that_is_not_a_json_object_is_422(api, db):
    reference = make_ticket(db)
    li = api("li")
    li.post(f"/tickets/{reference}/claim")
    for data in (b"not json", b"[1, 2]", b'"text"'):
        response = li.client.post(
            f"/api/v1/tickets/{reference}/notes", headers=li.headers, data=data, content_type="application/json"
        )
        assert response.status_code == 422 and response.json["field"] == "body"


def test_roles_caseworker_cannot_assign_or_transfer_supervisor_can(api, db):
    reference = make_ticket(db, region="T010101")
    li, boss = api("li"), api("boss")
    assert li.post(f"/tickets/{reference}/assign", json={"assignee": "zhang"}).status_code == 403
    assert li.post(f"/tickets/{reference}/transfer", json={"region": "T0101", "reason": "x"}).status_code == 403
    assert boss.post(f"/tickets/{reference}/assign", json={"assignee": "nobody"}).json["field"] == "assignee"
    assert boss.post(f"/tickets/{reference}/assign", json={"assignee": "zhang"}).status_code == 200
    assert ticket_state(db, reference).assignee.username == "zhang"
    moved = boss.post(f"/tickets/{reference}/transfer", json={"region": "T0101", "assignee": "li", "reason": "街道直接办"})
    assert moved.status_code == 200 and moved.json["ticket"]["region"]["code"] == "T0101"
    assert moved.json["ticket"]["assignee"]["username"] == "li"
    # Now in the street's region: the community worker no longer sees it.
    assert api("zhang").get(f"/tickets/{reference}").status_code == 404


def test_caseworker_cannot_resolve_someone_elses_ticket(api, db):
    reference = make_ticket(db, region="T010101")
    api("zhang").post(f"/tickets/{reference}/claim")
    response = api("li").post(f"/tickets/{reference}/resolve", json={"outcome": "agreement"})
    assert response.status_code == 403 and response.json["error"] == "forbidden"


def test_unknown_paths_and_methods_are_json(api, db):
    reference = make_ticket(db)
    assert api("li").post(f"/tickets/{reference}/delete").status_code == 404
    response = api("li").client.delete(f"/api/v1/tickets/{reference}", headers=api("li").headers)
    assert response.status_code == 405 and response.is_json


def test_openapi_document_is_valid_and_lists_the_interface(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    validate(document)
    paths = set(document["paths"])
    for path in ("/tickets", "/tickets/{reference}", "/regions", "/me", *(
        f"/tickets/{{reference}}/{a}" for a in ("claim", "release", "transfer", "notes", "reply", "resolve", "reopen")
    )):
        assert path in paths
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_api_posts_need_no_csrf_token(api, db):
    # Bearer tokens are not sent by browsers on their own; CSRF protection would only get in the way.
    reference = make_ticket(db)
    assert api("li").post(f"/tickets/{reference}/claim").status_code == 200
