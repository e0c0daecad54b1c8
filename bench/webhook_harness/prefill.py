"""Bulk history for the webhook bench: N past women, each with one ticket and its rows.

A federation that has served N women has, besides N tickets, their conversations, the
inbound receipts, the transcript (one message in, one reply out) and the ticket's
"created" event; every one of those tables is written by the webhook, so all of them
grow. Rows go in with the database's fast paths (one executemany transaction on SQLite,
COPY on PostgreSQL), behind the ORM's back: the point is a big table, quickly.

The history is dated over the past years (references NJ-YYYYMMDD-NNNN of past days, so
today's counter is untouched), 95% of tickets closed, the rest still open.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

PER_DAY = 1000  # tickets a day in the made-up history
CATEGORIES = [("consultation", "marriage_law"), ("mediation", "in_law_conflict"), ("service", "employment_training")]
HISTORY_USER = "ohist{:023d}"  # 28 characters, like a WeChat openid; never a bench user


def _rows(n: int, region_id: int, start_id: int) -> Iterator[tuple]:
    rng = random.Random(n)
    first_day = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=n // PER_DAY + 2
    )
    for i in range(n):
        created = first_day + timedelta(days=i // PER_DAY, seconds=(i % PER_DAY) * 80)
        category, subcategory = CATEGORIES[i % 3]
        status = "closed" if rng.random() < 0.95 else "new"
        yield (
            start_id + i,
            f"NJ-{created + timedelta(hours=8):%Y%m%d}-{i % PER_DAY + 1:04d}",
            HISTORY_USER.format(start_id + i),
            category,
            subcategory,
            status,
            region_id,
            created,
        )


def prefill(engine: Engine, n: int, batch: int = 50_000) -> None:
    """Add `n` past women's tickets (and their conversation, receipt, messages, event)."""
    if n <= 0:
        return
    with engine.begin() as conn:
        region_id = conn.execute(text("SELECT min(id) FROM region")).scalar_one()
        start_id = (conn.execute(text("SELECT coalesce(max(id), 0) FROM ticket")).scalar_one() or 0) + 1_000_000
    if make_url(str(engine.url)).get_backend_name() == "sqlite":
        _prefill_sqlite(engine, n, region_id, start_id, batch)
    else:
        _prefill_postgres(engine, n, region_id, start_id)


def _iso(value: datetime) -> str:
    # How SQLAlchemy's SQLite DateTime stores a UTC timestamp.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _prefill_sqlite(engine: Engine, n: int, region_id: int, start_id: int, batch: int) -> None:
    raw = engine.raw_connection()
    try:
        db = raw.driver_connection
        db.isolation_level = None
        cur = db.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("BEGIN")
        chunk: list[tuple] = []

        def flush() -> None:
            tickets, events, convs, receipts, messages = [], [], [], [], []
            for tid, ref, user, cat, sub, status, region, created in chunk:
                c = _iso(created)
                later = _iso(created + timedelta(days=1))
                tickets.append((tid, ref, "wechat", user, cat, sub, 0, 0.9, '["历史"]', "history", status, region,
                                c, later, _iso(created + timedelta(hours=24)), _iso(created + timedelta(days=15)),
                                later if status == "closed" else None))
                events.append((tid, tid, c, "woman", "created", json.dumps({"category": cat})))
                convs.append((tid, "wechat", user, "idle", "{}", c))
                receipts.append((tid, "wechat", str(10**16 + tid), "我们收到了", tid, c))
                messages.append((2 * tid, tid, "wechat", user, "in", "text", "以前的一条消息", c))
                messages.append((2 * tid + 1, tid, "wechat", user, "out", "text", "我们收到了", c))
            cur.executemany(
                "INSERT INTO ticket (id, reference, channel, channel_user, category, subcategory, urgent, confidence,"
                " route_keywords, route_explanation, status, region_id, created_at, updated_at, claim_due_at,"
                " resolve_due_at, closed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                tickets,
            )
            cur.executemany(
                "INSERT INTO ticket_event (id, ticket_id, at, actor_type, action, detail) VALUES (?,?,?,?,?,?)", events
            )
            cur.executemany(
                "INSERT INTO conversation (id, channel, channel_user, state, data, updated_at) VALUES (?,?,?,?,?,?)",
                convs,
            )
            cur.executemany(
                "INSERT INTO inbound_receipt (id, channel, dedup_key, reply, ticket_id, created_at) VALUES (?,?,?,?,?,?)",
                receipts,
            )
            cur.executemany(
                "INSERT INTO message (id, ticket_id, channel, channel_user, direction, kind, text, created_at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                messages,
            )
            chunk.clear()

        for row in _rows(n, region_id, start_id):
            chunk.append(row)
            if len(chunk) >= batch:
                flush()
        flush()
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cur.close()
    finally:
        raw.close()


def _prefill_postgres(engine: Engine, n: int, region_id: int, start_id: int) -> None:
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection  # psycopg 3
        with conn.cursor() as cur:
            def rows() -> Iterator[tuple]:
                return _rows(n, region_id, start_id)

            with cur.copy(
                "COPY ticket (id, reference, channel, channel_user, category, subcategory, urgent, confidence,"
                " route_keywords, route_explanation, status, region_id, created_at, updated_at, claim_due_at,"
                " resolve_due_at, closed_at) FROM STDIN"
            ) as copy:
                for tid, ref, user, cat, sub, status, region, created in rows():
                    later = created + timedelta(days=1)
                    copy.write_row((tid, ref, "wechat", user, cat, sub, False, 0.9, '["历史"]', "history", status,
                                    region, created, later, created + timedelta(hours=24),
                                    created + timedelta(days=15), later if status == "closed" else None))
            with cur.copy("COPY ticket_event (id, ticket_id, at, actor_type, action, detail) FROM STDIN") as copy:
                for tid, _ref, _user, cat, _sub, _status, _region, created in rows():
                    copy.write_row((tid, tid, created, "woman", "created", json.dumps({"category": cat})))
            with cur.copy("COPY conversation (id, channel, channel_user, state, data, updated_at) FROM STDIN") as copy:
                for tid, _ref, user, *_rest, created in rows():
                    copy.write_row((tid, "wechat", user, "idle", "{}", created))
            with cur.copy(
                "COPY inbound_receipt (id, channel, dedup_key, reply, ticket_id, created_at) FROM STDIN"
            ) as copy:
                for tid, *_rest, created in rows():
                    copy.write_row((tid, "wechat", str(10**16 + tid), "我们收到了", tid, created))
            with cur.copy(
                "COPY message (id, ticket_id, channel, channel_user, direction, kind, text, created_at) FROM STDIN"
            ) as copy:
                for tid, _ref, user, *_rest, created in rows():
                    copy.write_row((2 * tid, tid, "wechat", user, "in", "text", "以前的一条消息", created))
                    copy.write_row((2 * tid + 1, tid, "wechat", user, "out", "text", "我们收到了", created))
            # The sequences must start past the copied ids, or the webhook's inserts collide.
            for table, top in (("ticket", start_id + n), ("ticket_event", start_id + n), ("conversation", start_id + n),
                               ("inbound_receipt", start_id + n), ("message", 2 * (start_id + n) + 2)):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", (top,))
        conn.commit()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        conn.autocommit = False
    finally:
        raw.close()
