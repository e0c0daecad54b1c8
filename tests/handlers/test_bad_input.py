"""The bad input the issue quoted: each gets a 4xx with a reason and writes nothing, on
SQLite and PostgreSQL alike (lengths and characters are checked at the edge)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from models import Conversation, InboundReceipt, Message, OutboxMessage, Ticket, TicketNote
from tests.handlers.staff.factories import make_staff, make_ticket, token_for
from tests.telegram import update
from tests.wechat import ACCOUNT, signature, text_xml

GRIEVANCE = "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下"


def written(db) -> int:
    with db.session() as session:
        return sum(
            session.scalar(select(func.count()).select_from(model))
            for model in (InboundReceipt, Message, Ticket, Conversation, OutboxMessage)
        )


def test_a_310_digit_timestamp_is_403_not_a_500(client, db):
    response = client.post("/wechat", query_string={"timestamp": "9" * 310, "nonce": "1", "signature": "x"}, data=b"<xml/>")
    assert response.status_code == 403 and b"timestamp" in response.data
    assert written(db) == 0


def test_a_signed_310_digit_timestamp_is_403(client, db, settings):
    ts = "1" + "0" * 309
    query = {"timestamp": ts, "nonce": "1", "signature": signature(settings.wechat.token, ts, "1")}
    assert client.post("/wechat", query_string=query, data=text_xml("o-x", GRIEVANCE)).status_code == 403


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"date": 1e309}, id="date-infinite"),
        pytest.param({"date": 10**400}, id="date-huge-int"),
        pytest.param({"date": 1.5}, id="date-float"),
        pytest.param({"date": True}, id="date-bool"),
        pytest.param({"chat": {"id": 10**30, "type": "private"}}, id="chat-id-huge"),
        pytest.param({"photo": [1, 2]}, id="photo-not-objects"),
        pytest.param({"photo": [{"file_id": 7}]}, id="photo-id-not-text"),
        pytest.param({"location": {"latitude": "x", "longitude": 1}}, id="location-not-numbers"),
        pytest.param({"location": {"latitude": 1e309, "longitude": 1}}, id="location-infinite"),
        pytest.param({"text": "婆婆\x00骂我"}, id="text-nul"),
        pytest.param({"text": "婆婆\ud800骂我"}, id="text-lone-surrogate"),
    ],
)
def test_malformed_telegram_messages_are_400_and_write_nothing(telegram, db, change):
    payload = update(9001, None if "text" in change else GRIEVANCE)
    payload["message"].update(change)
    if "photo" in change or "location" in change:
        payload["message"].pop("text", None)
    response = telegram.post(None, raw=json.dumps(payload).encode())
    assert response.status_code == 400, response.data
    assert response.data  # a reason
    assert written(db) == 0


@pytest.mark.parametrize("update_id", [10**30, -1, 1e3])
def test_out_of_range_update_ids_are_400(telegram, db, update_id):
    payload = update(9002, GRIEVANCE)
    payload["update_id"] = update_id
    assert telegram.post(None, raw=json.dumps(payload).encode()).status_code == 400
    assert written(db) == 0


def _wechat_xml(user: str = "o-edge", content: str = GRIEVANCE, msg_id: str = "6900000000000000555", create_time: str | None = None) -> str:
    import time

    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


@pytest.mark.parametrize(
    "xml",
    [
        pytest.param(_wechat_xml(user="o" * 129), id="openid-over-128"),
        pytest.param(_wechat_xml(content="婆婆]]>&#0;<![CDATA[骂我"), id="nul-character-reference"),
        pytest.param(_wechat_xml(msg_id="9" * 200), id="msgid-200-digits"),
        pytest.param(_wechat_xml(create_time="9" * 30), id="createtime-huge"),
    ],
)
def test_wechat_pushes_the_database_cannot_hold_are_400_and_write_nothing(wechat, db, xml):
    reply = wechat.post(xml)
    assert reply.status == 400 and reply.body
    assert written(db) == 0


def test_a_nul_in_wechat_text_as_a_raw_byte_is_400(wechat, db):
    reply = wechat.post(_wechat_xml(content="婆婆\x00骂我").encode("utf-8"))
    assert reply.status == 400
    assert written(db) == 0


@pytest.fixture
def token(db):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    return token_for(db, "li")


@pytest.mark.parametrize("text", ["备注\ud800", "备注\x00备注"])
def test_api_note_with_a_lone_surrogate_or_nul_is_422_naming_the_field(client, db, token, text):
    reference = make_ticket(db, "T01")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    client.post(f"/api/v1/tickets/{reference}/claim", headers=headers)
    # json.dumps escapes the surrogate as \ud800, as a hostile client would send it.
    response = client.post(f"/api/v1/tickets/{reference}/notes", headers=headers, data=json.dumps({"text": text}))
    assert response.status_code == 422 and response.get_json()["field"] == "text"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(TicketNote)) == 0


@pytest.mark.parametrize("path", ["/api/v1/tickets/NJ%00X", "/api/v1/tickets?q=%00", "/api/v1/tickets/" + "N" * 5000])
def test_api_nul_and_overlong_references_are_4xx(client, token, path):
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert 400 <= response.status_code < 500
