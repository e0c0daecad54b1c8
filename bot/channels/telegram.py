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

from bot.channels.base import Channel, DeliveryError, HttpRequest, HttpResponse, Opened, Refused
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
        except (UnicodeDecodeError, ValueError):
            raise Refused(400, "body is not JSON") from None
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            raise Refused(400, "not a Telegram update: update_id missing")
        try:
            return Opened(to_inbound(update))
        except (KeyError, TypeError, ValueError):
            raise Refused(400, "malformed message in update") from None

    def respond(self, text: str | None, opened: Opened) -> HttpResponse:
        # Answers travel by sendMessage; Telegram only needs to hear 200.
        return HttpResponse(200, "", "text/plain; charset=utf-8")

    def notice(self, text: str, opened: Opened) -> HttpResponse:
        # Telegram takes one Bot API call in the webhook's answer (unconfirmed, which is
        # enough for a notice that nothing was stored).
        body = {"method": "sendMessage", "chat_id": int(opened.inbound.user), "text": text}
        return HttpResponse(200, json.dumps(body, ensure_ascii=False), "application/json")


def to_inbound(update: dict[str, Any]) -> Inbound | None:
    """The update as an Inbound, or None for kinds the bot ignores (edits, callbacks...)."""
    message = update.get("message")
    if message is None:
        return None
    if not isinstance(message, dict):
        raise TypeError("message is not an object")
    chat_id = message["chat"]["id"]
    if not isinstance(chat_id, int):
        raise TypeError("chat id is not a number")
    sent_at = datetime.fromtimestamp(int(message["date"]), tz=timezone.utc)
    # update_id is what Telegram repeats on a retry; after a week of silence new ids are
    # random, so repeats are found by the ids seen, never by "greater than the last".
    common = {"channel": CHANNEL_NAME, "user": str(chat_id), "message_id": str(update["update_id"]), "sent_at": sent_at}
    text = message.get("text")
    if isinstance(text, str):
        words = text.split()
        if words and words[0].split("@")[0] == "/start":  # also "/start@bot" and "/start payload"
            return Inbound(kind="event", event="start", **common)
        return Inbound(kind="text", text=text, **common)
    if isinstance(message.get("photo"), list) and message["photo"]:
        largest = max(message["photo"], key=lambda p: p.get("file_size") or p.get("width", 0))
        return Inbound(kind="image", media_id=str(largest["file_id"]), text=str(message.get("caption") or ""), **common)
    if isinstance(message.get("location"), dict):
        latitude, longitude = float(message["location"]["latitude"]), float(message["location"]["longitude"])
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise ValueError("coordinates out of range")
        return Inbound(kind="location", latitude=latitude, longitude=longitude, **common)
    if isinstance(message.get("voice"), dict):
        # Telegram sends no transcript: the engine asks her to type.
        return Inbound(kind="voice", media_id=str(message["voice"].get("file_id", "")), **common)
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
    sender=lambda settings: TelegramSender(settings.telegram.bot_token, settings.telegram.api_base_url),
    max_text=MAX_TEXT,
)
