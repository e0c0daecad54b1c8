"""Abuse limits: Flask-Limiter, on a store every process of the service shares.

With `redis.url` set the counters live in Redis (every process, every machine). Without
it they live in a small SQLite file of their own beside the config (`instance/
ratelimits.db`): shared by all of gunicorn's workers and the processes of one machine,
and apart from the main database so that counting never waits for its writer. Several
machines need Redis.

Limits: per sender on the webhooks (after the push is authenticated, so only a real
sender is counted; she is told kindly to slow down in a valid reply), per token and per
address on the JSON API (429 in the API's JSON error shape).
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import Storage
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.settings import Settings, SettingsError

SCHEME = "niangjia+sqlite"
# Expired counters are swept once every this many increments.
SWEEP_EVERY = 1000


class SQLiteCounters(Storage):
    """A `limits` storage (fixed windows) in an SQLite file shared by processes.

    One UPSERT per hit; WAL so readers never wait, and synchronous=OFF: a counter lost
    to a power cut costs nothing worth an fsync per request.
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, clock: Callable[[], float] = time.time, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = uri.split("://", 1)[1]
        self.clock = clock
        self._local = threading.local()
        self._hits = 0
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS counter (key TEXT PRIMARY KEY, value INTEGER NOT NULL, "
                "expires_at REAL NOT NULL)"
            )

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and per process (a forked worker opens its own).
        connection = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.clock()
        connection = self._connection()
        value = connection.execute(
            "INSERT INTO counter (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
            "value = CASE WHEN expires_at <= ? THEN excluded.value ELSE value + excluded.value END, "
            "expires_at = CASE WHEN expires_at <= ? THEN excluded.expires_at ELSE expires_at END "
            "RETURNING value",
            (key, amount, now + expiry, now, now),
        ).fetchone()[0]
        self._hits += 1
        if self._hits % SWEEP_EVERY == 0:
            connection.execute("DELETE FROM counter WHERE expires_at <= ?", (now,))
        return value

    def get(self, key: str) -> int:
        row = self._connection().execute(
            "SELECT value FROM counter WHERE key = ? AND expires_at > ?", (key, self.clock())
        ).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._connection().execute(
            "SELECT expires_at FROM counter WHERE key = ? AND expires_at > ?", (key, self.clock())
        ).fetchone()
        return row[0] if row else self.clock()

    def check(self) -> bool:
        try:
            self._connection().execute("SELECT 1")
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        return self._connection().execute("DELETE FROM counter").rowcount

    def clear(self, key: str) -> None:
        self._connection().execute("DELETE FROM counter WHERE key = ?", (key,))


def storage_uri(settings: Settings) -> str:
    """Redis when configured, else the counters file beside the config."""
    if settings.redis.url:
        return settings.redis.url
    return f"{SCHEME}://{settings.resolve_path(settings.limits.store, settings.base_dir / 'instance' / 'ratelimits.db')}"


def _limit(settings: Settings, key: str) -> str:
    value = getattr(settings.limits, key)
    try:
        parse_many(value)
    except ValueError:
        raise SettingsError(f"limits.{key}: expected a rate such as 20/minute, got {value!r}") from None
    return value


def _token_key() -> str:
    # A digest of the presented token, never the secret itself, names the counter.
    header = request.headers.get("Authorization", "")
    return "token:" + hashlib.sha256(header.encode("utf-8")).hexdigest()[:32]


def init_app(app: Flask) -> None:
    """Put the limiter on the app: the API's limits, and the webhooks' per-sender one."""
    from handlers.api.views import bp as api_bp

    settings = app.extensions["niangjia"].settings
    if settings.server.trusted_proxies:
        # Behind nginx every request comes from the proxy: take the client's address from
        # X-Forwarded-For, trusting only as many hops as there are proxies of ours.
        hops = settings.server.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=storage_uri(settings),
        strategy="fixed-window",
        headers_enabled=True,
        # A counter store that is down must not take the service down with it.
        swallow_errors=True,
        key_prefix="niangjia",
        enabled=settings.limits.enabled,
    )
    # The webhooks count per sender themselves (SenderLimit), after authentication; a
    # request filter spares them Flask-Limiter's lookup of limits on the hot path, and
    # its request hooks are not run for them at all (they would find no limit anyway).
    limiter.request_filter(lambda: request.blueprint == "webhooks")
    _spare_webhooks(app, limiter)
    # Shared limits: one count per address (per token) across every route of the API. A plain
    # `limit` on a blueprint counts each route apart, so an address could call each route
    # that many times.
    limiter.shared_limit(_limit(settings, "api_per_address"), key_func=get_remote_address, scope="api-address")(api_bp)
    limiter.shared_limit(_limit(settings, "api_per_token"), key_func=_token_key, scope="api-token")(api_bp)
    app.extensions["niangjia_limits"] = SenderLimit(limiter, parse_many(_limit(settings, "webhook_per_sender")))


def _spare_webhooks(app: Flask, limiter: Limiter) -> None:
    """Flask-Limiter's before- and after-request hooks, skipped for the webhooks' requests.

    With no limit of its own on them, the hooks found nothing to count and no header to
    add, at about 2% of a delivery's instructions (bench/README.md). Hooks this version of
    Flask-Limiter does not register as expected are left as they are.
    """
    def unless_webhook(hook: Callable, passthrough: bool) -> Callable:
        @functools.wraps(hook)
        def hook_unless_webhook(*args):
            if request.blueprint == "webhooks":
                return args[0] if passthrough else None
            return hook(*args)

        return hook_unless_webhook

    before = app.before_request_funcs.get(None, [])
    for i, hook in enumerate(before):
        if hook == limiter._check_request_limit:
            before[i] = unless_webhook(hook, passthrough=False)
    after = app.after_request_funcs.get(None, [])
    for i, hook in enumerate(after):
        if isinstance(hook, functools.partial) and hook.args == (limiter,):
            after[i] = unless_webhook(hook, passthrough=True)


class SenderLimit:
    """The webhooks' limit per sender, counted in the limiter's shared store."""

    def __init__(self, limiter: Limiter, items: list[RateLimitItem]) -> None:
        self.limiter = limiter
        self.items = items

    def allows(self, channel: str, user: str) -> bool:
        """Count one message from `user`; False once she is over the limit."""
        if not self.limiter.enabled:
            return True
        try:
            # Every window is counted, even once one is exceeded, as Flask-Limiter does.
            results = [self.limiter.limiter.hit(item, "webhook", channel, user) for item in self.items]
        except Exception:  # the store is down: let her through rather than lose her
            current_app.logger.warning("rate-limit store unavailable; webhook not limited")
            return True
        return all(results)


def sender_limit() -> SenderLimit:
    """The per-sender limit of the app serving this request."""
    return current_app.extensions["niangjia_limits"]
