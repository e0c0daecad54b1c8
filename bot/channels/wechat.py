"""The WeChat official account: authenticate, decrypt and parse a push, render the reply.

Everything WeChat-specific lives here, built on wechatpy (never hand-written XML or
crypto); the Flask view only hands over the query string and the body.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import BaseEvent
from wechatpy.messages import (
    BaseMessage,
    ImageMessage,
    LocationMessage,
    TextMessage,
    VoiceMessage,
)
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.channels.base import Channel, DeliveryError, HttpRequest, HttpResponse, Opened, Refused, may_have_arrived
from bot.inbound import Inbound

log = logging.getLogger(__name__)

CHANNEL_NAME = "wechat"
# WeChat's nonces are about ten digits; anything much longer is not WeChat's.
NONCE_MAX = 128
# A DTD has no business in a push: refuse it before any parser sees it (XXE, billion laughs).
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# Later than any real push (2106-02-07), early enough for datetime.
MAX_TIME = 2**32
_EVENTS = {
    "subscribe": "subscribe",
    "subscribe_scan": "subscribe",
    "unsubscribe": "unsubscribe",
    "click": "click",
}


def sign(token: str, timestamp: str, nonce: str, encrypt: str | None = None) -> str:
    """WeChat's signature: sha1 of the sorted parts."""
    parts = [token, timestamp, nonce] + ([encrypt] if encrypt is not None else [])
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


@dataclass(frozen=True)
class Push:
    """An authenticated, parsed push and how to answer it."""

    message: BaseMessage
    encrypted: bool
    nonce: str
    timestamp: str
    # The message as signed: the body, or in safe mode the decrypted XML.
    content: bytes = b""


class WeChatEndpoint:
    """The protocol of one official account's server URL."""

    def __init__(
        self, token: str, encoding_aes_key: str, appid: str, timestamp_window: int, mode: str = ""
    ) -> None:
        self.token = token
        self.window = timestamp_window
        self.mode = mode or ("safe" if encoding_aes_key else "plaintext")
        use_key = encoding_aes_key and self.mode != "plaintext"
        self.crypto = WeChatCrypto(token, encoding_aes_key, appid) if use_key else None

    def _authenticate(
        self, params: Mapping[str, str], now: datetime, require_signature: bool = True
    ) -> tuple[str, str]:
        timestamp, nonce = params.get("timestamp", ""), params.get("nonce", "")
        signature = params.get("signature", "")
        if not timestamp or not nonce:
            raise Refused(403, "missing timestamp or nonce")
        if len(nonce) > NONCE_MAX:
            raise Refused(403, "nonce too long")
        # Ten digits reach the year 2286; more cannot be in the window (and a 300-digit
        # number must not reach the float arithmetic below).
        # ASCII digits only: "²" is a digit to isdigit() but not to int().
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 10) or abs(now.timestamp() - int(timestamp)) > self.window:
            raise Refused(403, "timestamp outside the accepted window")
        # In safe mode msg_signature (which also covers the ciphertext) authenticates the
        # push; WeChat sends `signature` too, and when present it must match as well.
        if signature or require_signature:
            if not _same(sign(self.token, timestamp, nonce), signature):
                raise Refused(403, "invalid signature")
        return timestamp, nonce

    def verify(self, params: Mapping[str, str], now: datetime) -> str:
        """Answer WeChat's GET check of the server URL: echo `echostr` when signed."""
        self._authenticate(params, now)
        return params.get("echostr", "")

    def open(self, request: HttpRequest, now: datetime) -> Opened:
        """The Endpoint protocol: GET is WeChat's URL check, POST a push."""
        if request.method == "GET":
            return Opened(None, immediate=HttpResponse(200, self.verify(request.args, now)))
        push = self.open_push(request.args, request.body, now)
        try:
            inbound = to_inbound(push.message)
        except ValueError as exc:  # a field the database could not hold: refused, not dropped
            raise Refused(400, f"message refused: {exc}") from None
        # The plaintext signature covers no part of the body, so the pair is remembered
        # with the body. An encrypted push needs no memory: its msg_signature covers the
        # ciphertext, which only WeChat can sign, so another body cannot ride on it (and
        # a retry, re-encrypted or not, is answered from its receipt).
        freshness = None if push.encrypted else (push.timestamp, push.nonce, push.content)
        return Opened(inbound, context=push, freshness=freshness)

    def respond(self, text: str | None, opened: Opened, direct: bool = False) -> HttpResponse:
        body, content_type = self.render(text, opened.context)
        return HttpResponse(200, body, content_type)

    def notice(self, text: str, opened: Opened) -> HttpResponse:
        return self.respond(text, opened)

    def open_push(self, params: Mapping[str, str], body: bytes, now: datetime) -> Push:
        """Authenticate, decrypt if needed and parse a POSTed push, or raise Refused."""
        encrypted = params.get("encrypt_type") == "aes"
        if not encrypted and self.mode == "safe":
            # In safe mode an unencrypted push can only be a forgery or a replay: the
            # plaintext signature covers no part of the body.
            raise Refused(403, "this server accepts only encrypted pushes (safe mode)")
        timestamp, nonce = self._authenticate(params, now, require_signature=not encrypted)
        if _DTD.search(body):
            raise Refused(400, "document type declarations are not accepted")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "body is not UTF-8") from None
        if encrypted:
            text = self._decrypt(text, params.get("msg_signature", ""), timestamp, nonce)
        try:
            message = parse_message(text)
            if message is None:
                raise ValueError("empty body")
            _validate(message)
        except Exception as exc:  # any parser failure is the sender's: a 400, never a 500
            log.debug("unparseable WeChat push: %s", type(exc).__name__)
            raise Refused(400, "malformed message XML") from None
        content = text.encode("utf-8") if encrypted else body
        return Push(message=message, encrypted=encrypted, nonce=nonce, timestamp=timestamp, content=content)

    def _decrypt(self, text: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        if self.crypto is None:
            raise Refused(400, "safe mode is not configured on this server")
        try:
            envelope = xmltodict.parse(text)["xml"]
            encrypt = envelope["Encrypt"]
            if not isinstance(encrypt, str):
                raise ValueError("Encrypt is not text")
        except Exception:
            raise Refused(400, "malformed encrypted envelope") from None
        if not msg_signature or not _same(sign(self.token, timestamp, nonce, encrypt), msg_signature):
            raise Refused(403, "invalid msg_signature")
        try:
            return self.crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
        except Exception as exc:
            log.debug("undecryptable WeChat push: %s", type(exc).__name__)
            raise Refused(400, "cannot decrypt message") from None

    def render(self, text: str | None, push: Push) -> tuple[str, str]:
        """The HTTP body and content type answering `push`: a passive reply, or `success`."""
        if not text:
            return "success", "text/plain; charset=utf-8"
        xml = text_reply(text, push.message)
        if push.encrypted and self.crypto is not None:
            xml = self.crypto.encrypt_message(xml, push.nonce, push.timestamp)
        return xml, "application/xml; charset=utf-8"


def text_reply(text: str, message: BaseMessage, now: float | None = None) -> str:
    """wechatpy's passive text reply to `message` (`create_reply(text, message=message,
    render=True)`), character for character, without building its reply object: that
    cost about 1% of a delivery (bench/README.md; tests/bot/channels/test_wechat.py
    holds the two side by side)."""
    return (
        "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n"
        f"<Content><![CDATA[{text}]]></Content>\n"
        f"<FromUserName><![CDATA[{message.target or ''}]]></FromUserName>\n"
        f"<ToUserName><![CDATA[{message.source or ''}]]></ToUserName>\n"
        f"<CreateTime>{int(time.time() if now is None else now)}</CreateTime>\n</xml>"
    )


def _validate(message: BaseMessage) -> None:
    """Touch the fields the engine reads so that a malformed value fails here, as a 400."""
    _ = (message.source, message.target, message.create_time, message.time, message.id)
    if not 0 <= message.time < MAX_TIME:
        raise ValueError("CreateTime out of range")
    if not 0 <= message.id < 2**64:  # WeChat's MsgId is a 64-bit number
        raise ValueError("MsgId out of range")
    if isinstance(message, LocationMessage):
        _coordinates(message)
    if not message.source:
        raise ValueError("FromUserName is empty")


def _coordinates(message: LocationMessage) -> tuple[float, float]:
    """Latitude and longitude, or ValueError when they are not a place on Earth."""
    latitude, longitude = float(message.location_x), float(message.location_y)
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):  # also false for NaN
        raise ValueError("coordinates out of range")
    return latitude, longitude


def to_inbound(message: BaseMessage) -> Inbound:
    """The plain inbound message the engine reads."""
    sent_at = datetime.fromtimestamp(message.time, tz=timezone.utc)
    common = {"channel": CHANNEL_NAME, "user": message.source, "sent_at": sent_at}
    if isinstance(message, BaseEvent):
        event = _EVENTS.get(message.event)
        key = f"event:{message.source}:{message.time}:{message.event}"
        if event is None:
            return Inbound(kind="unsupported", message_id=key, **common)
        return Inbound(
            kind="event", message_id=key, event=event, event_key=str(getattr(message, "key", "") or ""), **common
        )
    # A message without a MsgId is keyed like an event, so a retry still matches.
    message_id = str(message.id) if message.id else f"msg:{message.source}:{message.time}"
    if isinstance(message, TextMessage):
        return Inbound(kind="text", message_id=message_id, text=message.content or "", **common)
    if isinstance(message, VoiceMessage):
        return Inbound(
            kind="voice", message_id=message_id, text=message.recognition or "", media_id=message.media_id, **common
        )
    if isinstance(message, ImageMessage):
        return Inbound(kind="image", message_id=message_id, media_id=message.media_id, **common)
    if isinstance(message, LocationMessage):
        latitude, longitude = _coordinates(message)
        return Inbound(
            kind="location",
            message_id=message_id,
            latitude=latitude,
            longitude=longitude,
            label=message.label or "",
            **common,
        )
    return Inbound(kind="unsupported", message_id=message_id, **common)


# Errors after which sending the same message again cannot succeed.
PERMANENT_ERRCODES = {
    40003: "openid 无效",
    43004: "对方已取消关注",
    45015: "已超过48小时客服消息窗口，无法再主动发送，请通过电话等方式联系",
    45047: "客服消息条数已达上限（对方回复前最多发送5条）",
    48001: "公众号没有客服消息接口权限",
}


class _Client(WeChatClient):
    """WeChatClient whose access-token request also goes to the configured base URL
    (wechatpy hard-codes api.weixin.qq.com for it)."""

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def _token_storage(url: str):
    """wechatpy's access-token storage: shared in Redis when configured, else in memory."""
    if not url:
        return None
    import redis
    from wechatpy.session.redisstorage import RedisStorage

    return RedisStorage(redis.Redis.from_url(url), prefix="niangjia:wechat")


def api_base(url: str) -> str:
    """WeChat's API lives under /cgi-bin/; accept the host alone too (a proxy or a fake)."""
    url = url if url.endswith("/") else url + "/"
    return url if url.endswith("cgi-bin/") else url + "cgi-bin/"


class WeChatSender:
    """Customer-service messages (message/custom/send), allowed for 48 hours after her last message."""

    def __init__(self, appid: str, secret: str, api_base_url: str, token_store: str = "", timeout: float = 10) -> None:
        self.client = _Client(appid, secret, session=_token_storage(token_store), timeout=timeout)
        self.client.API_BASE_URL = api_base(api_base_url)

    def send(self, user: str, text: str) -> None:
        try:
            # The access token first, apart: a token request that times out sent her nothing.
            self.client.access_token
        except Exception as exc:
            raise DeliveryError(f"无法取得微信接口凭证（{type(exc).__name__}）") from None
        try:
            self.client.message.send_text(user, text)
        except WeChatClientException as exc:
            errcode = exc.errcode
            if errcode in PERMANENT_ERRCODES:
                raise DeliveryError(f"微信 errcode {errcode}：{PERMANENT_ERRCODES[errcode]}", permanent=True) from None
            raise DeliveryError(f"微信接口错误 errcode {errcode}") from None
        except Exception as exc:  # network errors and the like: try again later, unless it went out
            if may_have_arrived(exc):
                raise DeliveryError(f"微信接口没有应答（{type(exc).__name__}）", unknown=True) from None
            raise DeliveryError(f"无法连接微信接口（{type(exc).__name__}）") from None


CHANNEL = Channel(
    name=CHANNEL_NAME,
    path="/wechat",
    methods=("GET", "POST"),
    passive_replies=True,
    enabled=lambda settings: settings.wechat.enabled,
    endpoint=lambda settings: WeChatEndpoint(
        settings.wechat.token,
        settings.wechat.encoding_aes_key,
        settings.wechat.appid,
        settings.webhook.timestamp_window,
        settings.wechat.mode,
    ),
    sender=lambda settings: WeChatSender(
        settings.wechat.appid, settings.wechat.secret, settings.wechat.api_base_url, settings.wechat.token_store,
        timeout=settings.worker.send_timeout_seconds,
    ),
    max_text=600,
)
