"""A Telegram bot: updates POSTed to /telegram, messages sent with the Bot API's sendMessage.

Telegram has no passive reply worth trusting (an answer in the webhook response is
fire-and-forget), so every answer goes through the outbox and sendMessage.
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import datetime, timezone
from typing import Any

import requests

from bot.channels.base import Channel, DeliveryError, HttpRequest, HttpResponse, Opened, Refused, may_have_arrived
from bot.inbound import Inbound

log = logging.getLogger(__name__)

CHANNEL_NAME = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = 4096


class TelegramEndpoint:
    def __init__(self, secret_token: str) -> None:
        self.secret = secret_token.encode("utf-8")

    def open(self, request: HttpRequest, now: datetime) -> Opened:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8")
        if not self.secret or not hmac.compare_digest(given, self.secret):
            raise Refused(403, "missing or wrong secret token")
        try:
            update = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: [[[[... nested too deep
            raise Refused(400, "body is not JSON") from None
        if not isinstance(update, dict):
            raise Refused(400, "not a Telegram update: not an object")
        try:
            _integer(update.get("update_id"), "update_id", 0, MAX_ID)
            return Opened(to_inbound(update))
        except (KeyError, TypeError, ValueError) as exc:
            raise Refused(400, f"malformed update: {exc}") from None

    def respond(self, text: str | None, opened: Opened, direct: bool = False) -> HttpResponse:
        # Answers travel by sendMessage from the outbox; Telegram only needs to hear 200.
        # With the database away there is no outbox: the acknowledgement rides in the
        # answer itself, as a Bot API method call (Telegram's "reply to the webhook"),
        # which needs neither the database nor a connection out.
        if direct and text and opened.inbound is not None:
            body = json.dumps({"method": "sendMessage", "chat_id": int(opened.inbound.user), "text": text}, ensure_ascii=False)
            return HttpResponse(200, body, "application/json; charset=utf-8")
        return HttpResponse(200, "", "text/plain; charset=utf-8")

    def notice(self, text: str, opened: Opened) -> HttpResponse:
        # Telegram takes one Bot API call in the webhook's answer (unconfirmed, which is
        # enough for a notice that nothing was stored).
        body = {"method": "sendMessage", "chat_id": int(opened.inbound.user), "text": text}
        return HttpResponse(200, json.dumps(body, ensure_ascii=False), "application/json")


# Telegram's ids fit in 52 bits ("at most 52 significant bits"); dates are Unix seconds.
MAX_ID = 2**53
MAX_DATE = 2**32


def _integer(value: Any, name: str, low: int, high: int) -> int:
    """`value` if it is a whole JSON number in [low, high), else ValueError naming it."""
    # bool is an int in Python; 1.0 or 1e309 is a float: neither is what Telegram sends.
    if type(value) is not int or not low <= value < high:
        raise ValueError(f"{name} must be an integer in [{low}, {high})")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def _coordinate(value: Any, name: str, limit: float) -> float:
    if type(value) not in (int, float) or not -limit <= value <= limit:  # also false for NaN, inf
        raise ValueError(f"{name} must be a number within ±{limit:g}")
    return float(value)


def to_inbound(update: dict[str, Any]) -> Inbound | None:
    """The update as an Inbound, or None for kinds the bot ignores (edits, callbacks...).

    Every field read is checked for its JSON type and range: a malformed update raises
    ValueError (a 400), never reaches the database.
    """
    message = update.get("message")
    if message is None:
        return None
    if not isinstance(message, dict):
        raise ValueError("message is not an object")
    chat = message.get("chat")
    if not isinstance(chat, dict):
        raise ValueError("message.chat is not an object")
    chat_id = _integer(chat.get("id"), "chat.id", -MAX_ID, MAX_ID)
    sent_at = datetime.fromtimestamp(_integer(message.get("date"), "date", 0, MAX_DATE), tz=timezone.utc)
    # update_id is what Telegram repeats on a retry; after a week of silence new ids are
    # random, so repeats are found by the ids seen, never by "greater than the last".
    common = {"channel": CHANNEL_NAME, "user": str(chat_id), "message_id": str(update["update_id"]), "sent_at": sent_at}
    text = message.get("text")
    if text is not None:
        words = _text(text, "text").split()
        if words and words[0].split("@")[0] == "/start":  # also "/start@bot" and "/start payload"
            return Inbound(kind="event", event="start", **common)
        return Inbound(kind="text", text=text, **common)
    photo = message.get("photo")
    if photo is not None:
        if not isinstance(photo, list) or not photo or not all(isinstance(p, dict) for p in photo):
            raise ValueError("photo must be a non-empty array of objects")
        sizes = [(_integer(p.get("file_size", p.get("width", 0)), "photo size", 0, MAX_ID), p) for p in photo]
        largest = max(sizes, key=lambda pair: pair[0])[1]
        caption = message.get("caption")
        return Inbound(
            kind="image", media_id=_text(largest.get("file_id"), "photo.file_id"),
            text=_text(caption, "caption") if caption is not None else "", **common,
        )
    document = message.get("document")
    if isinstance(document, dict) and str(document.get("mime_type", "")).startswith("image/"):
        # A photo sent "as a file" (uncompressed): an image like any other.
        caption = message.get("caption")
        return Inbound(
            kind="image", media_id=_text(document.get("file_id"), "document.file_id"),
            text=_text(caption, "caption") if caption is not None else "", **common,
        )
    location = message.get("location")
    if location is not None:
        if not isinstance(location, dict):
            raise ValueError("location is not an object")
        latitude = _coordinate(location.get("latitude"), "latitude", 90)
        longitude = _coordinate(location.get("longitude"), "longitude", 180)
        return Inbound(kind="location", latitude=latitude, longitude=longitude, **common)
    voice = message.get("voice")
    if isinstance(voice, dict):
        # Telegram sends no transcript: the engine asks her to type.
        return Inbound(kind="voice", media_id=_text(voice.get("file_id", ""), "voice.file_id"), **common)
    return Inbound(kind="unsupported", **common)


class TelegramSender:
    def __init__(self, bot_token: str, api_base_url: str, timeout: float = 10) -> None:
        self.url = f"{api_base_url.rstrip('/')}/bot{bot_token}/sendMessage"
        self.timeout = timeout
        self.http = requests.Session()

    def send(self, user: str, text: str) -> None:
        try:
            response = self.http.post(self.url, json={"chat_id": int(user), "text": text}, timeout=self.timeout)
        except requests.RequestException as exc:
            if may_have_arrived(exc):
                raise DeliveryError(f"Telegram 接口没有应答（{type(exc).__name__}）", unknown=True) from None
            raise DeliveryError(f"无法连接 Telegram 接口（{type(exc).__name__}）") from None
        try:
            result = response.json()
        except ValueError:
            result = {}
        if response.status_code == 200 and result.get("ok"):
            return
        description = str(result.get("description") or response.reason)
        if response.status_code == 429:
            retry_after = (result.get("parameters") or {}).get("retry_after")
            raise DeliveryError(f"Telegram 限流：{description}", retry_after=retry_after)
        if response.status_code in (400, 401, 403, 404):
            # Blocked by the user, chat not found, bad token: sending again cannot help.
            raise DeliveryError(f"Telegram 拒绝发送（{response.status_code}）：{description}", permanent=True)
        raise DeliveryError(f"Telegram 接口错误（{response.status_code}）：{description}")


CHANNEL = Channel(
    name=CHANNEL_NAME,
    path="/telegram",
    methods=("POST",),
    passive_replies=False,
    enabled=lambda settings: bool(settings.telegram.bot_token),
    endpoint=lambda settings: TelegramEndpoint(settings.telegram.secret_token),
    sender=lambda settings: TelegramSender(
        settings.telegram.bot_token, settings.telegram.api_base_url, timeout=settings.worker.send_timeout_seconds
    ),
    max_text=MAX_TEXT,
)
