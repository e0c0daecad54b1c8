"""Replays refused: each signed (timestamp, nonce) pair is let in with one body only.

A platform that signs only token, timestamp and nonce (WeChat's plaintext mode) leaves
the body unsigned, so a captured query string could carry any body for the whole
timestamp window. Every pair seen is remembered, across processes, with a digest of its
body: the platform's retry brings the same body again and goes on to the receipts that
answer it as before; a different body under a seen pair is a replay.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from bot.settings import Settings
from models import Database, WebhookNonce

log = logging.getLogger(__name__)

# The database forgets old pairs once every this many new ones (their timestamps are
# outside the window by then and refused before this store is asked).
PRUNE_EVERY = 256


def body_digest(body: bytes) -> str:
    """The hex SHA-256 of a request body."""
    return hashlib.sha256(body).hexdigest()


class NonceStore(Protocol):
    # True: the pair can be remembered in the delivery's own transaction (`connection`).
    joins_delivery: bool

    def admit(
        self, channel: str, timestamp: str, nonce: str, body: bytes, now: datetime,
        connection: Connection | None = None,
    ) -> bool:
        """True for a pair seen first or with this very body again; False for a replay.

        With `connection` (a store that `joins_delivery`), the pair is written in that
        transaction and errors are the caller's; without it, in a transaction of its own.
        """


class ProcessNonces:
    """Pairs kept in this process's memory: the stand-in while the database is away."""

    joins_delivery = False

    def __init__(self, window_seconds: int) -> None:
        self.keep = timedelta(seconds=2 * window_seconds)
        self._seen: dict[tuple[str, str, str], tuple[str, datetime]] = {}

    def admit(
        self, channel: str, timestamp: str, nonce: str, body: bytes, now: datetime,
        connection: Connection | None = None,
    ) -> bool:
        if len(self._seen) >= PRUNE_EVERY:
            self._seen = {key: seen for key, seen in self._seen.items() if now - seen[1] < self.keep}
        digest, _ = self._seen.setdefault((channel, timestamp, nonce), (body_digest(body), now))
        return digest == body_digest(body)


class DatabaseNonces:
    """Pairs kept in the `webhook_nonce` table: shared by every process on the database.

    While the database does not answer, the pair is remembered in this process instead
    and the push goes on to the spool (bot/spool.py): losing her message to an outage
    would be worse than a replay window narrowed to one process for those seconds.

    A webhook remembers the pair in the delivery's own transaction (`connection`): a
    transaction of its own was, on SQLite, a second writer's turn and commit per push
    (bench/README.md). If the delivery fails, the pair is remembered on its own before
    the push goes to the spool (Runtime.deliver).
    """

    joins_delivery = True

    def __init__(self, db: Database, window_seconds: int) -> None:
        self.db = db
        # A pair stays refusable while its timestamp can still pass the window check:
        # the window on either side of our clock.
        self.keep = timedelta(seconds=2 * window_seconds)
        self._count = 0
        self.outage = ProcessNonces(window_seconds)

    def admit(
        self, channel: str, timestamp: str, nonce: str, body: bytes, now: datetime,
        connection: Connection | None = None,
    ) -> bool:
        digest = body_digest(body)
        if connection is not None:
            return self._remember(connection, channel, timestamp, nonce, digest, now) == digest
        try:
            with self.db.writing() as connection:
                first = self._remember(connection, channel, timestamp, nonce, digest, now)
        except DBAPIError as exc:
            log.warning("webhook nonces kept in this process: database unavailable (%s)", type(exc.orig).__name__)
            return self.outage.admit(channel, timestamp, nonce, body, now)
        return first == digest

    def _remember(
        self, connection: Connection, channel: str, timestamp: str, nonce: str, digest: str, now: datetime
    ) -> str:
        first = WebhookNonce.remember(connection, channel, timestamp, nonce, digest, now)
        self._count += 1
        if self._count % PRUNE_EVERY == 0:
            WebhookNonce.forget_before(connection, now - self.keep)
        return first


class RedisNonces:
    """Pairs kept in Redis (SET NX with an expiry), when `redis.url` is configured; the
    database's table when Redis does not answer (a refused push is worse than a slower one).
    Kept apart from the delivery's transaction: no round trip to Redis while it is open."""

    joins_delivery = False

    def __init__(self, url: str, window_seconds: int, fallback: NonceStore | None = None) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.errors = redis.RedisError
        self.keep = 2 * window_seconds
        self.fallback = fallback

    def admit(
        self, channel: str, timestamp: str, nonce: str, body: bytes, now: datetime,
        connection: Connection | None = None,
    ) -> bool:
        digest = body_digest(body).encode()
        key = f"niangjia:nonce:{channel}:{timestamp}:{nonce}"
        try:
            if self.client.set(key, digest, nx=True, ex=self.keep):
                return True
            return self.client.get(key) == digest
        except self.errors as exc:
            if self.fallback is None:
                raise
            log.warning("Redis unavailable for webhook nonces (%s); using the database", type(exc).__name__)
            return self.fallback.admit(channel, timestamp, nonce, body, now)


def nonce_store(settings: Settings, db: Database) -> NonceStore:
    """Redis when configured, else the database (which every process shares too)."""
    window = settings.webhook.timestamp_window
    if settings.redis.url:
        return RedisNonces(settings.redis.url, window, fallback=DatabaseNonces(db, window))
    return DatabaseNonces(db, window)
