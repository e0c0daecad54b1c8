"""The plain message every channel adapter produces, and the engine's answer to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

KINDS = ("text", "voice", "image", "location", "event", "unsupported")
# Events the engine understands: following the account (WeChat subscribe, Telegram /start),
# leaving it, and a menu button (click).
EVENTS = ("subscribe", "unsubscribe", "click", "start")


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


@dataclass(frozen=True)
class Answer:
    """What the engine says back: `text` None means nothing to say."""

    text: str | None
    ticket_reference: str | None = None
    duplicate: bool = False
