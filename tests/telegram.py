"""A stand-in for Telegram's servers: POSTs updates to /telegram with the secret header."""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.conftest import TELEGRAM_SECRET

_update_ids = itertools.count(500_000_001)


def update(chat_id: int, text: str | None = None, update_id: int | None = None, **message: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": 1,
        "from": {"id": chat_id, "is_bot": False, "first_name": "测试"},
        "chat": {"id": chat_id, "type": "private", "first_name": "测试"},
        "date": int(time.time()),
        **message,
    }
    if text is not None:
        body["text"] = text
    return {"update_id": update_id if update_id is not None else next(_update_ids), "message": body}


class FakeTelegram:
    def __init__(self, client) -> None:
        self.client = client

    def post(self, payload: Any, secret: str | None = TELEGRAM_SECRET, raw: bytes | None = None):
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        if raw is not None:
            return self.client.post("/telegram", data=raw, headers=headers, content_type="application/json")
        return self.client.post("/telegram", json=payload, headers=headers)

    def send_text(self, chat_id: int, text: str, **kwargs: Any):
        return self.post(update(chat_id, text, **kwargs))
