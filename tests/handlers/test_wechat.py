"""The /wechat webhook, driven with pushes signed and encrypted as WeChat does."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from models import InboundReceipt, Message, Ticket, TicketEvent
from tests.wechat import ACCOUNT, event_xml, signature, text_xml

GRIEVANCE = "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下"
URGENT = "他又喝多了拿着刀在门口，我和孩子躲在卧室里"


def count(db, model) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def only_ticket(db) -> Ticket:
    with db.session() as session:
        tickets = session.scalars(select(Ticket)).all()
        assert len(tickets) == 1
        return tickets[0]


def test_get_verification_echoes_echostr(client, wechat):
    params = {**wechat.params(), "echostr": "8765309"}
    response = client.get("/wechat", query_string=params)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "8765309"


def test_get_with_a_wrong_signature_is_403(client, wechat):
    params = {**wechat.params(), "echostr": "x", "signature": "0" * 40}
    assert client.get("/wechat", query_string=params).status_code == 403


def test_get_without_signature_is_403_even_claiming_safe_mode(client, wechat):
    params = {**wechat.params(), "echostr": "x", "encrypt_type": "aes"}
    del params["signature"]
    assert client.get("/wechat", query_string=params).status_code == 403


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_grievance_creates_ticket_and_reply_gives_reference(wechat, db, mode):
    reply = wechat.send_text("o-woman-1", GRIEVANCE, mode=mode)
    assert reply.status == 200
    ticket = only_ticket(db)
    assert ticket.category == "mediation"
    assert ticket.channel == "wechat" and ticket.channel_user == "o-woman-1"
    assert ticket.status == "new" and ticket.region_id is not None
    assert ticket.route_keywords and ticket.route_explanation
    assert ticket.reference in reply.content
    assert "调解" in reply.content
    # The passive reply goes back to her, from the account.
    assert reply.fields["ToUserName"] == "o-woman-1" and reply.fields["FromUserName"] == ACCOUNT
    if mode != "plain":
        assert "<Encrypt>" in reply.body and "Content" not in reply.body


def test_transcript_keeps_both_directions(wechat, db):
    wechat.send_text("o-woman-1", GRIEVANCE)
    ticket = only_ticket(db)
    with db.session() as session:
        lines = session.scalars(select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id)).all()
    assert [(m.direction, m.kind) for m in lines] == [("in", "text"), ("out", "text")]
    assert lines[0].text == GRIEVANCE


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_three_retries_make_one_ticket_and_get_the_same_reply(wechat, db, mode):
    xml = text_xml("o-woman-2", GRIEVANCE, msg_id=1234567890123456)
    replies = [wechat.post(xml, mode=mode) for _ in range(3)]
    assert {r.status for r in replies} == {200}
    assert len({r.content for r in replies}) == 1
    assert count(db, Ticket) == 1
    assert count(db, InboundReceipt) == 1
    with db.session() as session:
        inbound = session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
    assert inbound == 1


def test_event_retries_are_deduplicated_by_sender_and_time(wechat, db):
    xml = event_xml("o-woman-3", "subscribe", create_time=1700000000)
    first, second = wechat.post(xml), wechat.post(xml)
    assert first.content == second.content and "娘家人" in first.content
    assert count(db, InboundReceipt) == 1


def test_urgent_reply_starts_with_safety_guidance_and_ticket_is_urgent(wechat, db):
    reply = wechat.send_text("o-woman-4", URGENT, mode="safe")
    ticket = only_ticket(db)
    assert ticket.urgent
    first_line = reply.content.splitlines()[0]
    assert "110" in first_line and "12338" in first_line
    assert ticket.reference in reply.content
    with db.session() as session:
        actions = session.scalars(select(TicketEvent.action).where(TicketEvent.ticket_id == ticket.id)).all()
    assert "urgent_alert" in actions
    # An urgent ticket must be claimed much sooner than an ordinary one.
    assert (ticket.claim_due_at - ticket.created_at).total_seconds() <= 3600


def test_reply_never_quotes_her_sensitive_words(wechat):
    for text in (URGENT, GRIEVANCE, "我老公出轨还家暴，我想离婚，孩子抚养权怎么争取"):
        reply = wechat.send_text(f"o-{hash(text)}", text)
        for word in ("刀", "喝多", "婆婆", "女儿", "出轨", "家暴", "离婚", "抚养权"):
            assert word not in reply.content, word


def test_greeting_gets_a_menu_and_no_ticket(wechat, db):
    reply = wechat.send_text("o-woman-5", "你好")
    assert "1 咨询" in reply.content and "2 调解" in reply.content and "3 服务" in reply.content
    assert count(db, Ticket) == 0


def test_second_message_is_added_to_her_open_ticket(wechat, db):
    first = wechat.send_text("o-woman-6", GRIEVANCE)
    second = wechat.send_text("o-woman-6", "她还说要把我赶出去")
    ticket = only_ticket(db)
    assert ticket.reference in first.content and ticket.reference in second.content
    with db.session() as session:
        assert session.scalar(
            select(func.count()).select_from(Message).where(Message.ticket_id == ticket.id, Message.direction == "in")
        ) == 2


def test_later_danger_raises_her_open_ticket_to_urgent(wechat, db):
    wechat.send_text("o-woman-7", GRIEVANCE)
    reply = wechat.send_text("o-woman-7", "他现在拿着刀说要弄死我")
    assert only_ticket(db).urgent
    assert "110" in reply.content.splitlines()[0]


def voice_xml(user: str, recognition: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
        "<MediaId><![CDATA[media_voice_1]]></MediaId><Format><![CDATA[amr]]></Format>"
        f"<Recognition><![CDATA[{recognition}]]></Recognition><MsgId>5500000000000000001</MsgId></xml>"
    )


def test_voice_uses_wechat_recognition_text(wechat, db):
    reply = wechat.post(voice_xml("o-woman-8", GRIEVANCE))
    ticket = only_ticket(db)
    assert ticket.category == "mediation" and ticket.reference in reply.content


def test_voice_without_recognition_asks_again(wechat, db):
    reply = wechat.post(voice_xml("o-woman-9", ""))
    assert "语音" in reply.content
    assert count(db, Ticket) == 0


def image_xml(user: str, msg_id: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        "<PicUrl><![CDATA[http://mmbiz.example/pic.jpg]]></PicUrl><MediaId><![CDATA[media_img_1]]></MediaId>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def test_image_is_attached_to_her_open_ticket(wechat, db):
    wechat.send_text("o-woman-10", GRIEVANCE)
    reply = wechat.post(image_xml("o-woman-10", 5500000000000000002))
    ticket = only_ticket(db)
    assert ticket.reference in reply.content
    with db.session() as session:
        image = session.scalar(select(Message).where(Message.kind == "image"))
    assert image.ticket_id == ticket.id and image.media_id == "media_img_1"


def test_image_without_a_ticket_asks_for_words(wechat, db):
    reply = wechat.post(image_xml("o-woman-11", 5500000000000000003))
    assert "文字" in reply.content
    assert count(db, Ticket) == 0


def test_location_is_attached_to_her_open_ticket(wechat, db):
    wechat.send_text("o-woman-12", GRIEVANCE)
    xml = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[o-woman-12]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[location]]></MsgType>"
        "<Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale>"
        "<Label><![CDATA[幸福社区]]></Label><MsgId>5500000000000000004</MsgId></xml>"
    )
    reply = wechat.post(xml)
    ticket = only_ticket(db)
    assert ticket.reference in reply.content
    with db.session() as session:
        location = session.scalar(select(Message).where(Message.kind == "location"))
    assert location.ticket_id == ticket.id and location.latitude == pytest.approx(23.134521)


def test_unsubscribe_view_and_link_get_success(wechat, db):
    link = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[o-w]]></FromUserName>"
        "<CreateTime>1351776360</CreateTime><MsgType><![CDATA[link]]></MsgType><Title><![CDATA[t]]></Title>"
        "<Description><![CDATA[d]]></Description><Url><![CDATA[http://example.com]]></Url>"
        "<MsgId>1234567890123456</MsgId></xml>"
    )
    for xml in (event_xml("o-w", "unsubscribe"), event_xml("o-w", "VIEW", key="http://example.com"), link):
        reply = wechat.post(xml)
        assert (reply.status, reply.body) == (200, "success")
    assert count(db, Ticket) == 0


def test_menu_click_for_status_lists_her_tickets(wechat, db):
    wechat.send_text("o-woman-13", GRIEVANCE)
    reply = wechat.post(event_xml("o-woman-13", "CLICK", key="STATUS"))
    assert only_ticket(db).reference in reply.content and "待认领" in reply.content


def test_unsure_route_asks_her_to_choose_and_her_choice_opens_the_ticket(wechat, db):
    reply = wechat.send_text("o-woman-14", "我有个事情想问一下你们这边能不能管，说来话长，心里很乱很乱")
    assert "1 咨询" in reply.content and count(db, Ticket) == 0
    reply = wechat.send_text("o-woman-14", "2")
    ticket = only_ticket(db)
    assert ticket.category == "mediation" and ticket.reference in reply.content
    with db.session() as session:
        assert session.scalar(
            select(func.count()).select_from(Message).where(Message.ticket_id == ticket.id, Message.direction == "in")
        ) == 2


# -- refusals ---------------------------------------------------------------------------


def test_post_with_a_wrong_signature_is_403_and_stores_nothing(wechat, db):
    params = {**wechat.params(), "signature": "f" * 40}
    assert wechat.post(text_xml("o-x", GRIEVANCE), params=params).status == 403
    assert count(db, Message) == 0 and count(db, InboundReceipt) == 0


def test_post_with_a_wrong_msg_signature_is_403(client, wechat, db):
    params = wechat.params()
    body = wechat.crypto.encrypt_message(text_xml("o-x", GRIEVANCE), params["nonce"], params["timestamp"])
    response = client.post(
        "/wechat", query_string={**params, "encrypt_type": "aes", "msg_signature": "0" * 40}, data=body
    )
    assert response.status_code == 403
    assert count(db, Message) == 0


# Timestamps are whole seconds and the server compares them with its own clock's fraction,
# so "just outside" the 300-second window is two seconds past it, not one.
@pytest.mark.parametrize("offset", [-302, 302, -86400])
def test_timestamp_outside_the_window_is_refused(wechat, db, offset):
    params = wechat.params(timestamp=int(time.time()) + offset)
    assert wechat.post(text_xml("o-x", GRIEVANCE), params=params).status == 403
    assert count(db, Message) == 0


def test_timestamp_inside_the_window_is_accepted(wechat):
    params = wechat.params(timestamp=int(time.time()) - 200)
    assert wechat.post(text_xml("o-x", "你好"), params=params).status == 200


def test_body_over_the_limit_is_413(wechat, db, settings):
    big = text_xml("o-x", "很" * settings.webhook.max_body_bytes)
    assert wechat.post(big).status == 413
    assert count(db, Message) == 0


HOSTILE = {
    "broken xml": b"<xml><ToUserName>",
    "not xml": b"hello",
    "empty": b"",
    "wrong root": b"<foo><MsgType>text</MsgType></foo>",
    "no MsgType": b"<xml><FromUserName>a</FromUserName><CreateTime>1</CreateTime></xml>",
    "no sender": b"<xml><MsgType>text</MsgType><CreateTime>1</CreateTime><Content>x</Content></xml>",
    "bad CreateTime": b"<xml><FromUserName>a</FromUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>",
    "bad MsgId": b"<xml><FromUserName>a</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><MsgId>x</MsgId></xml>",
    "bad location": (
        b"<xml><FromUserName>a</FromUserName><CreateTime>1</CreateTime><MsgType>location</MsgType>"
        b"<Location_X>north</Location_X><Location_Y>1</Location_Y></xml>"
    ),
    "location off the earth": (
        b"<xml><FromUserName>a</FromUserName><CreateTime>1</CreateTime><MsgType>location</MsgType>"
        b"<Location_X>nan</Location_X><Location_Y>200</Location_Y></xml>"
    ),
    "xxe": (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<xml><FromUserName>a</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
        b"<Content>&xxe;</Content></xml>"
    ),
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b"<xml><Content>&lol3;</Content></xml>"
    ),
    "not utf-8": "<xml><Content>婆婆</Content></xml>".encode("gbk"),
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bodies_are_400_and_store_nothing(wechat, db, body):
    reply = wechat.post(body)
    assert reply.status == 400
    assert count(db, Message) == 0 and count(db, InboundReceipt) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><Encrypt>not base64 at all!!</Encrypt></xml>",
        b"<xml><Encrypt>QUJD</Encrypt></xml>",
        b"<xml><ToUserName>x</ToUserName></xml>",
        b"<xml><Encrypt><a>nested</a></Encrypt></xml>",
    ],
)
def test_hostile_encrypted_bodies_are_refused_without_5xx(client, wechat, db, body):
    params = wechat.params()
    encrypt = body.split(b"<Encrypt>")[1].split(b"</Encrypt>")[0].decode() if b"<Encrypt>" in body else ""
    msg_signature = signature(wechat.token, params["timestamp"], params["nonce"], encrypt)
    response = client.post("/wechat", query_string={**params, "encrypt_type": "aes", "msg_signature": msg_signature}, data=body)
    assert response.status_code in (400, 403)
    assert count(db, Message) == 0


def test_missing_parameters_are_403(client, db):
    response = client.post("/wechat", data=text_xml("o-x", GRIEVANCE))
    assert response.status_code == 403


def test_unknown_method_is_405(client):
    assert client.put("/wechat").status_code == 405
