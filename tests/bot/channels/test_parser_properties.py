"""Property tests for the channels' parsers: whatever arrives, a message the engine can
store or a Refused with a 4xx, never another exception; and what she wrote arrives intact."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.channels.base import HttpRequest, Refused
from bot.channels.telegram import SECRET_HEADER, TelegramEndpoint
from bot.channels.wechat import WeChatEndpoint, sign
from bot.inbound import MAX_USER, Inbound, unstorable

TOKEN, SECRET, TS = "token", "secret", 1_700_000_000
NOW = datetime.fromtimestamp(TS, tz=timezone.utc)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

wechat = WeChatEndpoint(TOKEN, "", "", timestamp_window=300)
telegram = TelegramEndpoint(SECRET)


def wechat_post(body: bytes, timestamp: str = str(TS)):
    params = {"timestamp": timestamp, "nonce": "n", "signature": sign(TOKEN, timestamp, "n")}
    return wechat.open(HttpRequest("POST", params, {}, body), NOW)


def telegram_post(body: bytes):
    return telegram.open(HttpRequest("POST", {}, {SECRET_HEADER: SECRET}, body), NOW)


def storable(inbound: Inbound | None) -> None:
    """What the engine will write fits every column on every database."""
    if inbound is None:
        return
    assert 0 < len(inbound.user) <= MAX_USER
    for value in (inbound.user, inbound.message_id, inbound.text, inbound.label, inbound.event_key):
        assert isinstance(value, str) and not unstorable(value)


def opens_or_refuses(open_request) -> None:
    try:
        opened = open_request()
    except Refused as refused:
        assert 400 <= refused.status < 500 and refused.reason
        return
    storable(opened.inbound)


# -- WeChat ------------------------------------------------------------------------

xml_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60)
field_value = st.one_of(xml_text, st.integers().map(str), st.floats().map(str), st.just(""))


@st.composite
def wechat_pushes(draw) -> bytes:
    fields = {
        "ToUserName": draw(field_value), "FromUserName": draw(field_value), "CreateTime": draw(field_value),
        "MsgType": draw(st.sampled_from(["text", "image", "voice", "location", "event", "link", "", "x"])),
        "Content": draw(field_value), "MsgId": draw(field_value), "Event": draw(st.sampled_from(["subscribe", "CLICK", "x"])),
        "EventKey": draw(field_value), "Location_X": draw(field_value), "Location_Y": draw(field_value),
        "Label": draw(field_value), "MediaId": draw(field_value), "Recognition": draw(field_value),
    }
    keep = draw(st.sets(st.sampled_from(sorted(fields))))
    inner = "".join(f"<{k}>{_escape(v)}</{k}>" for k, v in fields.items() if k in keep)
    return f"<xml>{inner}</xml>".encode("utf-8", "surrogatepass")


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@SETTINGS
@given(body=st.binary(max_size=300))
def test_wechat_any_bytes_open_or_are_refused(body):
    opens_or_refuses(lambda: wechat_post(body))


@SETTINGS
@given(body=wechat_pushes())
def test_wechat_any_push_shaped_xml_opens_storable_or_is_refused(body):
    opens_or_refuses(lambda: wechat_post(body))


@SETTINGS
@given(timestamp=st.text(max_size=400))
@example(timestamp="²")  # a digit to str.isdigit, not to int(): found by this test
@example(timestamp="١٦٠٠٠٠٠٠٠٠")  # Arabic-Indic digits, which int() does read
@example(timestamp="1" * 310)
def test_wechat_any_timestamp_is_checked_without_crashing(timestamp):
    try:
        wechat_post(b"<xml/>", timestamp=timestamp)
    except Refused as refused:
        assert refused.status in (400, 403)


@SETTINGS
@given(content=xml_text.filter(lambda t: t.strip()))
def test_wechat_her_words_arrive_intact(content):
    body = (
        "<xml><ToUserName>gh</ToUserName><FromUserName>o-1</FromUserName>"
        f"<CreateTime>{TS}</CreateTime><MsgType>text</MsgType><Content>{_escape(content)}</Content>"
        "<MsgId>42</MsgId></xml>"
    ).encode()
    try:
        inbound = wechat_post(body).inbound
    except Refused:
        # Only characters XML 1.0 forbids (control characters) may be refused.
        assert any(ord(c) < 32 and c not in "\t\n\r" or c in "\ufffe\uffff" for c in content)
        return
    # XML normalises line ends and wechatpy's parser trims the ends; everything else is
    # hers, character for character.
    assert inbound.text == content.replace("\r\n", "\n").replace("\r", "\n").strip()


# -- Telegram ----------------------------------------------------------------------

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30)
)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
message_keys = st.sampled_from(["chat", "date", "text", "photo", "location", "voice", "caption", "message_id"])


@st.composite
def telegram_updates(draw) -> dict:
    message = {"chat": {"id": draw(st.one_of(st.integers(), json_value))}, "date": draw(st.one_of(st.integers(), json_value))}
    for key in draw(st.sets(message_keys)):
        message[key] = draw(json_value)
    return {"update_id": draw(st.one_of(st.integers(min_value=-5, max_value=2**60), json_value)), "message": message}


@SETTINGS
@given(body=st.binary(max_size=300))
def test_telegram_any_bytes_open_or_are_refused(body):
    opens_or_refuses(lambda: telegram_post(body))


@SETTINGS
@given(update=telegram_updates())
def test_telegram_any_update_shaped_json_opens_storable_or_is_refused(update):
    opens_or_refuses(lambda: telegram_post(json.dumps(update).encode()))


@SETTINGS
@given(text=st.text(max_size=200), chat_id=st.integers(min_value=-(2**52), max_value=2**52))
def test_telegram_her_words_arrive_intact_or_are_refused_for_unstorable_characters(text, chat_id):
    update = {"update_id": 1, "message": {"chat": {"id": chat_id}, "date": TS, "text": text}}
    try:
        inbound = telegram_post(json.dumps(update).encode()).inbound
    except Refused:
        assert unstorable(text)
        return
    assert inbound.user == str(chat_id)
    assert inbound.kind == "event" or inbound.text == text
