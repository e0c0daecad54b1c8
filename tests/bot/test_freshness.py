"""The nonce stores: a signed pair admits one body, on every process."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.freshness import PRUNE_EVERY, DatabaseNonces, RedisNonces
from models import Database, WebhookNonce, utcnow

REDIS_URL = os.environ.get("NIANGJIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


def test_another_process_refuses_a_seen_pair_with_another_body(db, settings):
    now = utcnow()
    other_process = Database(settings.database_url)  # its own engine and connections
    try:
        here, there = DatabaseNonces(db, 300), DatabaseNonces(other_process, 300)
        assert here.admit("wechat", "1700000000", "42", b"<xml>first</xml>", now)
        assert there.admit("wechat", "1700000000", "42", b"<xml>first</xml>", now)
        assert not there.admit("wechat", "1700000000", "42", b"<xml>forged</xml>", now)
        assert there.admit("wechat", "1700000000", "43", b"<xml>forged</xml>", now)
    finally:
        other_process.dispose()


def test_pairs_older_than_the_window_are_forgotten(db):
    store = DatabaseNonces(db, 300)
    long_ago = utcnow() - timedelta(hours=1)
    for n in range(PRUNE_EVERY - 1):
        store.admit("wechat", "1", str(n), b"x", long_ago)
    store.admit("wechat", "2", "fresh", b"x", utcnow())  # the PRUNE_EVERY-th
    with db.session() as session:
        assert session.scalars(select(WebhookNonce.nonce)).all() == ["fresh"]
        assert session.scalar(select(func.count()).select_from(WebhookNonce)) == 1


def test_redis_refuses_a_seen_pair_with_another_body():
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    nonce = uuid.uuid4().hex  # keys of their own: nothing to flush, they expire
    one, two = RedisNonces(REDIS_URL, 300), RedisNonces(REDIS_URL, 300)
    assert one.admit("wechat", "1700000000", nonce, b"a", utcnow())
    assert two.admit("wechat", "1700000000", nonce, b"a", utcnow())
    assert not two.admit("wechat", "1700000000", nonce, b"b", utcnow())
    assert 0 < one.client.ttl(f"niangjia:nonce:wechat:1700000000:{nonce}") <= 600


def test_redis_down_falls_back_on_the_database(db):
    # Port 9 (discard) on loopback: nothing answers there.
    store = RedisNonces("redis://127.0.0.1:9/0", 300, fallback=DatabaseNonces(db, 300))
    assert store.admit("wechat", "1700000000", "7", b"a", utcnow())
    assert not store.admit("wechat", "1700000000", "7", b"b", utcnow())


def test_while_the_database_is_away_this_process_remembers_the_pairs(tmp_path):
    now = utcnow()
    away = Database(f"sqlite:///{tmp_path / 'no-such-dir' / 'niangjia.db'}")  # cannot be opened
    try:
        nonces = DatabaseNonces(away, 300)
        assert nonces.admit("wechat", "1700000000", "42", b"<xml>first</xml>", now)
        assert nonces.admit("wechat", "1700000000", "42", b"<xml>first</xml>", now)  # the platform's retry
        assert not nonces.admit("wechat", "1700000000", "42", b"<xml>forged</xml>", now)
    finally:
        away.dispose()
