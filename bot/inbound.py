"""The plain message every channel adapter produces, and the engine's answer to it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from models.message import InboundReceipt, Message

KINDS = ("text", "voice", "image", "location", "event", "unsupported")
# Events the engine understands: following the account (WeChat subscribe, Telegram /start),
# leaving it, and a menu button (click).
EVENTS = ("subscribe", "unsubscribe", "click", "start")

# The columns an inbound message is written to: checked here, at the edge, so that an
# over-long id is refused on SQLite (which would store it) exactly as on PostgreSQL
# (which would fail the delivery after it was acknowledged).
MAX_USER = Message.__table__.c.channel_user.type.length
MAX_MESSAGE_ID = InboundReceipt.__table__.c.dedup_key.type.length
MAX_MEDIA_ID = Message.__table__.c.media_id.type.length
# NUL (PostgreSQL refuses it in text) and lone surrogates (no encoding can write them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """True if `text` holds characters no database column can keep (NUL, lone surrogates)."""
    return _UNSTORABLE.search(text) is not None


@dataclass(frozen=True)
class Inbound:
    """One message from a woman, whatever channel it came by."""

    channel: str
    user: str
    kind: str
    # The channel's id for this delivery: the same on every retry of it.
    message_id: str
    sent_at: datetime
    text: str = ""
    media_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    label: str = ""
    event: str | None = None
    event_key: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown inbound kind {self.kind!r}")
        if self.kind == "event" and self.event not in EVENTS:
            raise ValueError(f"unknown event {self.event!r}")
        # A parser handing over an element where text belongs (XML <Content><a/></Content>).
        for name in ("user", "message_id", "text", "label", "event_key"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be text")
        if self.media_id is not None and not isinstance(self.media_id, str):
            raise ValueError("media_id must be text")
        if not 0 < len(self.user) <= MAX_USER:
            raise ValueError(f"sender id must be 1-{MAX_USER} characters")
        if not 0 < len(self.message_id) <= MAX_MESSAGE_ID:
            raise ValueError(f"message id must be 1-{MAX_MESSAGE_ID} characters")
        if self.media_id is not None and len(self.media_id) > MAX_MEDIA_ID:
            raise ValueError(f"media id longer than {MAX_MEDIA_ID} characters")
        if any(unstorable(value) for value in (self.user, self.message_id, self.text, self.label, self.event_key, self.media_id or "")):
            raise ValueError("text holds NUL or a lone surrogate")


@dataclass(frozen=True)
class Answer:
    """What the engine says back: `text` None means nothing to say."""

    text: str | None
    ticket_reference: str | None = None
    duplicate: bool = False
    # Journaled while the database was away: `text` is the acknowledgement, which the
    # channel must give in its HTTP answer (nothing was queued in the outbox).
    spooled: bool = False
