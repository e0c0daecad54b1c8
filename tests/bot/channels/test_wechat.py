"""The WeChat protocol layer against samples typed in from WeChat's public documentation
(消息管理 / 接收普通消息, 接收事件推送) and the encryption vector published with wechatpy."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.channels.base import Refused
from bot.channels.wechat import WeChatEndpoint, sign, to_inbound

DOCS_TOKEN = "token"


def endpoint(token: str = DOCS_TOKEN, key: str = "", appid: str = "") -> WeChatEndpoint:
    return WeChatEndpoint(token, key, appid, timestamp_window=300)


def params_at(ts: int, token: str = DOCS_TOKEN, nonce: str = "nonce") -> dict[str, str]:
    return {"timestamp": str(ts), "nonce": nonce, "signature": sign(token, str(ts), nonce)}


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def parse(xml: str):
    ts = 1348831860
    push = endpoint().open_push(params_at(ts), xml.encode("utf-8"), at(ts))
    return to_inbound(push.message)


DOCS_TEXT = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[fromUser]]></FromUserName>
  <CreateTime>1348831860</CreateTime>
  <MsgType><![CDATA[text]]></MsgType>
  <Content><![CDATA[this is a test]]></Content>
  <MsgId>1234567890123456</MsgId>
</xml>"""

DOCS_IMAGE = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[fromUser]]></FromUserName>
  <CreateTime>1348831860</CreateTime>
  <MsgType><![CDATA[image]]></MsgType>
  <PicUrl><![CDATA[this is a url]]></PicUrl>
  <MediaId><![CDATA[media_id]]></MediaId>
  <MsgId>1234567890123456</MsgId>
</xml>"""

DOCS_VOICE = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[fromUser]]></FromUserName>
  <CreateTime>1357290913</CreateTime>
  <MsgType><![CDATA[voice]]></MsgType>
  <MediaId><![CDATA[media_id]]></MediaId>
  <Format><![CDATA[Format]]></Format>
  <Recognition><![CDATA[腾讯微信团队]]></Recognition>
  <MsgId>1234567890123456</MsgId>
</xml>"""

DOCS_LOCATION = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[fromUser]]></FromUserName>
  <CreateTime>1351776360</CreateTime>
  <MsgType><![CDATA[location]]></MsgType>
  <Location_X>23.134521</Location_X>
  <Location_Y>113.358803</Location_Y>
  <Scale>20</Scale>
  <Label><![CDATA[位置信息]]></Label>
  <MsgId>1234567890123456</MsgId>
</xml>"""

DOCS_LINK = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[fromUser]]></FromUserName>
  <CreateTime>1351776360</CreateTime>
  <MsgType><![CDATA[link]]></MsgType>
  <Title><![CDATA[公众平台官网链接]]></Title>
  <Description><![CDATA[公众平台官网链接]]></Description>
  <Url><![CDATA[url]]></Url>
  <MsgId>1234567890123456</MsgId>
</xml>"""

DOCS_SUBSCRIBE = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[FromUser]]></FromUserName>
  <CreateTime>123456789</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[subscribe]]></Event>
</xml>"""

DOCS_SCAN_SUBSCRIBE = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[FromUser]]></FromUserName>
  <CreateTime>123456789</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[subscribe]]></Event>
  <EventKey><![CDATA[qrscene_123123]]></EventKey>
  <Ticket><![CDATA[TICKET]]></Ticket>
</xml>"""

DOCS_CLICK = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[FromUser]]></FromUserName>
  <CreateTime>123456789</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[CLICK]]></Event>
  <EventKey><![CDATA[EVENTKEY]]></EventKey>
</xml>"""

DOCS_VIEW = """<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[FromUser]]></FromUserName>
  <CreateTime>123456789</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[VIEW]]></Event>
  <EventKey><![CDATA[www.qq.com]]></EventKey>
</xml>"""


def test_docs_text_message():
    inbound = parse(DOCS_TEXT)
    assert (inbound.kind, inbound.user, inbound.text) == ("text", "fromUser", "this is a test")
    assert inbound.message_id == "1234567890123456"
    assert inbound.sent_at == at(1348831860)


def test_docs_image_message():
    inbound = parse(DOCS_IMAGE)
    assert (inbound.kind, inbound.media_id) == ("image", "media_id")


def test_docs_voice_message_uses_recognition():
    inbound = parse(DOCS_VOICE)
    assert (inbound.kind, inbound.text, inbound.media_id) == ("voice", "腾讯微信团队", "media_id")


def test_docs_location_message():
    inbound = parse(DOCS_LOCATION)
    assert inbound.kind == "location"
    assert (inbound.latitude, inbound.longitude, inbound.label) == (23.134521, 113.358803, "位置信息")


def test_docs_link_message_is_unsupported():
    assert parse(DOCS_LINK).kind == "unsupported"


@pytest.mark.parametrize("xml", [DOCS_SUBSCRIBE, DOCS_SCAN_SUBSCRIBE])
def test_docs_subscribe_events(xml):
    inbound = parse(xml)
    assert (inbound.kind, inbound.event, inbound.user) == ("event", "subscribe", "FromUser")
    # Events carry no MsgId: sender and time identify a retry.
    assert inbound.message_id == "event:FromUser:123456789:" + ("subscribe" if xml is DOCS_SUBSCRIBE else "subscribe_scan")


def test_docs_click_event():
    inbound = parse(DOCS_CLICK)
    assert (inbound.kind, inbound.event, inbound.event_key) == ("event", "click", "EVENTKEY")


def test_docs_view_event_is_unsupported():
    assert parse(DOCS_VIEW).kind == "unsupported"


# wechatpy's tests/test_crypto.py: a push encrypted by WeChat's servers.
VECTOR_TOKEN = "123456"
VECTOR_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
VECTOR_APPID = "wx49f0ab532d5d035a"
VECTOR_XML = """<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>
<Encrypt><![CDATA[RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=]]></Encrypt>
<AgentID><![CDATA[1]]></AgentID>
</xml>"""
VECTOR_PARAMS = {
    "timestamp": "1411525903",
    "nonce": "461056294",
    "encrypt_type": "aes",
    "msg_signature": "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
}


def test_published_encryption_vector_decrypts():
    ep = endpoint(VECTOR_TOKEN, VECTOR_KEY, VECTOR_APPID)
    push = ep.open_push(VECTOR_PARAMS, VECTOR_XML.encode(), at(1411525903))
    inbound = to_inbound(push.message)
    assert (inbound.user, inbound.text, inbound.message_id) == ("messense", "test", "4363689963896700987")
    assert push.encrypted


def test_published_vector_with_a_tampered_signature_is_403():
    ep = endpoint(VECTOR_TOKEN, VECTOR_KEY, VECTOR_APPID)
    params = {**VECTOR_PARAMS, "msg_signature": "74d92dfeb87ba7c714f89d98870ae5eb62dff26e"}
    with pytest.raises(Refused) as refused:
        ep.open_push(params, VECTOR_XML.encode(), at(1411525903))
    assert refused.value.status == 403


def test_published_vector_for_another_appid_is_400():
    ep = endpoint(VECTOR_TOKEN, VECTOR_KEY, "wx-someone-else")
    with pytest.raises(Refused) as refused:
        ep.open_push(VECTOR_PARAMS, VECTOR_XML.encode(), at(1411525903))
    assert refused.value.status == 400


def test_published_vector_replayed_a_day_later_is_403():
    ep = endpoint(VECTOR_TOKEN, VECTOR_KEY, VECTOR_APPID)
    with pytest.raises(Refused) as refused:
        ep.open_push(VECTOR_PARAMS, VECTOR_XML.encode(), at(1411525903 + 86400))
    assert refused.value.status == 403


def test_encrypted_reply_decrypts_with_wechatpy():
    from wechatpy.crypto import WeChatCrypto
    import xmltodict

    ep = endpoint(VECTOR_TOKEN, VECTOR_KEY, VECTOR_APPID)
    push = ep.open_push(VECTOR_PARAMS, VECTOR_XML.encode(), at(1411525903))
    body, content_type = ep.render("您好", push)
    envelope = xmltodict.parse(body)["xml"]
    plain = WeChatCrypto(VECTOR_TOKEN, VECTOR_KEY, VECTOR_APPID).decrypt_message(
        body, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
    )
    reply = xmltodict.parse(plain)["xml"]
    assert (reply["ToUserName"], reply["Content"], reply["MsgType"]) == ("messense", "您好", "text")
    assert content_type.startswith("application/xml")


@pytest.mark.parametrize("xml", [DOCS_TEXT, DOCS_IMAGE, DOCS_VOICE, DOCS_LOCATION, DOCS_SUBSCRIBE, DOCS_CLICK])
@pytest.mark.parametrize("text", ["您好", "工单 NJ-20261207-0001 已登记。\n请问您住在哪里？", "a & b < c > d \"'"])
def test_the_reply_is_wechatpys_character_for_character(xml, text, monkeypatch):
    from wechatpy.replies import create_reply

    from bot.channels.wechat import text_reply

    monkeypatch.setattr("time.time", lambda: 1700000000.75)
    ts = 1348831860
    push = endpoint().open_push(params_at(ts), xml.encode("utf-8"), at(ts))
    assert text_reply(text, push.message) == create_reply(text, message=push.message, render=True)


def test_nothing_to_say_renders_success():
    ts = 1348831860
    push = endpoint().open_push(params_at(ts), DOCS_TEXT.encode(), at(ts))
    assert endpoint().render(None, push) == ("success", "text/plain; charset=utf-8")


def test_signature_is_compared_for_non_ascii_input_without_error():
    ts = 1348831860
    params = {**params_at(ts), "signature": "签名"}
    with pytest.raises(Refused) as refused:
        endpoint().open_push(params, DOCS_TEXT.encode(), at(ts))
    assert refused.value.status == 403


def test_an_aes_key_makes_safe_mode_the_default():
    from bot.channels.wechat import WeChatEndpoint

    assert WeChatEndpoint("t", "k" * 43, "wx1", 300).mode == "safe"
    assert WeChatEndpoint("t", "", "wx1", 300).mode == "plaintext"
    assert WeChatEndpoint("t", "k" * 43, "wx1", 300, mode="plaintext").crypto is None
