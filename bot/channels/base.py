"""What every channel adapter provides: an HTTP endpoint that yields `Inbound` messages,
and a sender for messages that go out later (staff replies, follow-ups)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.inbound import Inbound
from bot.settings import Settings


class Refused(Exception):
    """A request the webhook will not act on; `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class DeliveryError(Exception):
    """A send that failed; `permanent` means trying again cannot help; `unknown` means the
    request went out and no answer came, so it may have arrived: never send it blindly again."""

    def __init__(
        self, message: str, permanent: bool = False, retry_after: float | None = None, unknown: bool = False
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.unknown = unknown


def may_have_arrived(exc: BaseException) -> bool:
    """Whether a failed HTTP request may still have reached the platform.

    A refused or timed-out connection never carried the request; a read timeout or a
    connection dropped while waiting for the answer did.
    """
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ReadTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
        return not isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


@dataclass(frozen=True)
class HttpRequest:
    method: str
    args: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: str | bytes
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Opened:
    """An authenticated request: the message in it (None: nothing for the engine) and
    whatever the endpoint needs to answer it."""

    inbound: Inbound | None
    context: Any = None
    # An answer that needs no engine (e.g. WeChat's URL check).
    immediate: HttpResponse | None = None
    # The signed (timestamp, nonce) pair and the content it came with: a pair is let in
    # with one content only (bot.freshness). None: nothing to remember.
    freshness: tuple[str, str, bytes] | None = None


class Endpoint(Protocol):
    def open(self, request: HttpRequest, now: datetime) -> Opened:
        """Authenticate and parse, or raise Refused."""

    def respond(self, text: str | None, opened: Opened, direct: bool = False) -> HttpResponse:
        """The HTTP answer to the platform, carrying `text` if replies are passive, or
        if `direct` (the database was away, so no outbox could carry it)."""

    def notice(self, text: str, opened: Opened) -> HttpResponse:
        """An answer carrying `text` in the HTTP response itself, for a message the
        engine does not see (nothing is stored, so nothing can go through the outbox)."""


class Sender(Protocol):
    def send(self, user: str, text: str) -> None:
        """Deliver `text` to `user` now, or raise DeliveryError."""


@dataclass(frozen=True)
class Channel:
    name: str
    # URL path of the webhook and the HTTP methods it accepts.
    path: str
    methods: tuple[str, ...]
    # True: the engine's answer goes back in the HTTP response (WeChat's passive reply).
    # False: it is queued in the outbox and sent by the worker.
    passive_replies: bool
    enabled: Callable[[Settings], bool]
    endpoint: Callable[[Settings], Endpoint]
    sender: Callable[[Settings], Sender]
    # The longest text one message may carry; longer texts are split.
    max_text: int = 2000
    extra: dict[str, Any] = field(default_factory=dict)
