"""`niangjia seed-load`: a province's worth of realistic, synthetic cases for measuring.

A four-level grid (city → counties → towns → villages, ten below each by default) and N
tickets spread over Y years, each with what a real case leaves behind: her message and
our answer, the trail (created, claimed, replied, resolved, follow-up, closed; some
reopened, returned, extended, escalated), follow-up answers (solved or not, satisfaction)
and the clock columns as the desk keeps them. Nothing in it is anyone's data: openids are
`oseed…`, texts are one stock sentence.

Rows go in by the thousand: COPY on PostgreSQL, executemany on SQLite, one transaction
per batch. Deadlines are plain spans from her message (the `sla:` durations without
working days), which is enough for counting.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select

from models import Database, FollowUp, Message, Region, Ticket, TicketEvent
from models.ticket import OUTCOMES

SUBCATEGORIES = {
    "consultation": ("marriage_law", "custody_support", "anti_dv_law", "maternity_rights"),
    "mediation": ("in_law_conflict", "marital_conflict", "elder_support", "neighbour_dispute"),
    "service": ("employment_training", "family_education", "legal_aid", "psychological_support"),
}
WORDS = "（演示数据）我想请妇联帮忙"
BATCH = 20_000


def build_grid(db: Database, regions: int, prefix: str = "S") -> list[int]:
    """A city with enough counties (ten towns each, ten villages each) for about `regions` regions; village ids."""
    counties = max(1, round((regions - 1) / 111))
    rows, villages = [], []
    with db.transaction() as session:
        root = Region.root(session)
        if root is not None and not root.is_placeholder:
            raise ValueError("seed-load fills an empty database (niangjia init-db, nothing imported yet)")
        if root is not None:
            root.adopt(session, prefix, "省级演示市", "city")
            city = root
        else:
            city = Region.create(session, prefix, "省级演示市", "city")
        session.flush()
        city_id, city_path = city.id, city.path
    next_id = (db_scalar(db, select(func.max(Region.id))) or 0) + 1

    def add(code: str, name: str, level: str, parent: int, parent_path: str) -> tuple[int, str]:
        nonlocal next_id
        path = f"{parent_path}{code}/"
        rows.append({"id": next_id, "code": code, "name": name, "level": level, "parent_id": parent, "path": path})
        next_id += 1
        return next_id - 1, path

    for c in range(counties):
        county, county_path = add(f"{prefix}{c:03d}", f"第{c + 1}县", "county", city_id, city_path)
        for t in range(10):
            town, town_path = add(f"{prefix}{c:03d}{t:02d}", f"第{c + 1}县{t + 1}镇", "town", county, county_path)
            for v in range(10):
                village, _ = add(f"{prefix}{c:03d}{t:02d}{v:02d}", f"{c + 1}-{t + 1}-{v + 1}村", "village", town, town_path)
                villages.append(village)
    with db.engine.begin() as connection:
        connection.execute(insert(Region), rows)
    return villages


def db_scalar(db: Database, query) -> int | None:
    with db.session() as session:
        return session.scalar(query)


def tickets(villages: list[int], n: int, years: float, now: datetime, seed: int = 20261207,
            first_id: int = 1) -> Iterator[tuple[dict, list[dict], list[dict], list[dict]]]:
    """(ticket, messages, events, follow-ups) for `n` synthetic cases, oldest first."""
    rng = random.Random(seed)
    span = int(years * 365 * 86400)
    # Busier villages and quiet ones, as in life: a few take many cases.
    weights = [rng.paretovariate(1.5) for _ in villages]
    picks = rng.choices(villages, weights=weights, k=n)
    births = sorted(now - timedelta(seconds=rng.randint(0, span)) for _ in range(n))
    for i, (region_id, created) in enumerate(zip(picks, births), start=first_id):
        category = rng.choices(("consultation", "mediation", "service"), (5, 3, 2))[0]
        urgent = rng.random() < 0.03
        h = timedelta(hours=1)
        claim_due = created + (30 * timedelta(minutes=1) if urgent else 24 * h)
        reply_due = created + (2 * h if urgent else 48 * h)
        resolve_due = created + (72 * h if urgent else (72 * h if category == "consultation" else 15 * 24 * h))
        age = now - created
        events = [("created", created, "woman", {})]
        claimed = replied = resolved = closed = None
        # How fast the grid works: mostly in time, sometimes late, rarely never.
        claim_after = timedelta(minutes=rng.expovariate(1 / (10 if urgent else 300)))
        if rng.random() < 0.08:
            claim_after += claim_due - created  # late
        if claim_after < age and rng.random() > 0.01:
            claimed = created + claim_after
            events.append(("claimed", claimed, "staff", {}))
            reply_after = claim_after + timedelta(minutes=rng.expovariate(1 / 240))
            if rng.random() < 0.1:
                reply_after += reply_due - created
            if reply_after < age:
                replied = created + reply_after
                events.append(("replied", replied, "staff", {}))
            resolve_after = reply_after + timedelta(hours=rng.expovariate(1 / (20 if category == "consultation" else 100)))
            if rng.random() < 0.1:
                resolve_after += resolve_due - created
            if resolve_after < age:
                resolved = created + resolve_after
                events.append(("resolved", resolved, "staff", {}))
        follow_ups, outcome, status = [], None, "new" if claimed is None else "claimed"
        escalation = 0
        if resolved is not None:
            outcome = rng.choices(OUTCOMES[category], (7, 2, 1) if len(OUTCOMES[category]) == 3 else (9, 1))[0]
            status = "resolved"
            asked = resolved + timedelta(minutes=5)
            if asked < now:
                events.append(("follow_up_asked", asked, "system", {}))
                answered = asked + timedelta(hours=rng.expovariate(1 / 6))
                if answered < now and rng.random() < 0.7:
                    solved = rng.random() < 0.9
                    satisfaction = rng.choices(("satisfied", "basically_satisfied", "dissatisfied"), (6, 3, 1))[0] if solved else None
                    follow_ups.append({"ticket_id": i, "asked_at": asked, "answered_at": answered, "solved": solved,
                                       "satisfaction": satisfaction, "expired": False})
                    if solved:
                        closed, status = answered, "closed"
                        events.append(("closed", answered, "woman", {"satisfaction": satisfaction}))
                    else:
                        # She says not solved: back to work, and resolved again later.
                        events.append(("reopened", answered, "woman", {"reason": "follow-up: not solved"}))
                        again = answered + timedelta(hours=rng.expovariate(1 / 48))
                        if again < now:
                            resolved, status = again, "resolved"
                            events.append(("resolved", again, "staff", {}))
                        else:
                            resolved, status, outcome = None, "claimed", None
                elif asked + timedelta(hours=72) < now:
                    closed, status = asked + timedelta(hours=72), "closed"
                    follow_ups.append({"ticket_id": i, "asked_at": asked, "answered_at": None, "solved": None,
                                       "satisfaction": None, "expired": True})
                    events.append(("closed", closed, "system", {"reason": "follow-up unanswered"}))
        # Missed clocks were escalated by the sweep, a level a day, up to three.
        first_miss = min((d for d, stop in ((claim_due, claimed), (reply_due, replied), (resolve_due, resolved))
                          if (stop or now) > d), default=None)
        if first_miss is not None:
            escalation = min(3, 1 + int(((min(claimed or now, now) if first_miss == claim_due else now) - first_miss) / (24 * h)))
            escalation = max(1, escalation)
            for level in range(1, escalation + 1):
                at = first_miss + (level - 1) * 24 * h
                if at < now:
                    events.append(("escalated", at, "system", {"level": level}))
        returns = 1 if rng.random() < 0.02 else 0
        extensions = 1 if status != "new" and rng.random() < 0.03 else 0
        if extensions:
            resolve_due += timedelta(days=7)
        open_ = status in ("new", "claimed")
        running = [d for d, stop in ((claim_due, claimed), (reply_due, replied), (resolve_due, resolved)) if stop is None]
        user = f"oseed{i:023d}"
        ticket = {
            "id": i, "reference": f"NJ-{created + timedelta(hours=8):%Y%m%d}-{i:07d}", "channel": "wechat" if i % 9 else "telegram",
            "channel_user": user, "category": category, "subcategory": rng.choice(SUBCATEGORIES[category]),
            "urgent": urgent, "confidence": 0.9, "route_keywords": [], "route_explanation": "",
            "status": status, "region_id": region_id, "assignee_id": None, "contact_phone": None,
            "outcome": outcome, "resolution_note": "", "created_at": created, "updated_at": closed or resolved or created,
            "claim_due_at": claim_due, "first_reply_due_at": reply_due, "resolve_due_at": resolve_due,
            "claimed_at": claimed, "first_response_at": replied, "resolved_at": resolved, "closed_at": closed,
            "withdrawn_at": None, "anonymised_at": None, "paused_at": None, "pause_until": None, "pause_reason": None,
            "next_due_at": min(running) if open_ and running else None, "yellow_at": None,
            "sweep_at": None, "swept_until": now if open_ else None, "escalation_level": escalation,
            "extension_until": None, "extension_reason": None, "extension_by_id": None,
            "extensions": extensions, "returns": returns, "redo_of_id": None,
        }
        messages = [
            {"ticket_id": i, "channel": ticket["channel"], "channel_user": user, "direction": "in", "kind": "text",
             "text": WORDS, "created_at": created},
        ]
        if replied is not None:
            messages.append({"ticket_id": i, "channel": ticket["channel"], "channel_user": user, "direction": "out",
                             "kind": "text", "text": "您好，我们已收到。", "created_at": replied})
        trail = [{"ticket_id": i, "at": at, "actor_type": actor, "action": action, "detail": detail}
                 for action, at, actor, detail in events]
        yield ticket, messages, trail, follow_ups


def load(db: Database, n: int, regions: int = 1111, years: float = 2.0, now: datetime | None = None,
         progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Fill `db` with the grid and `n` cases; counts of the rows written."""
    now = now or datetime.now(timezone.utc)
    if db_scalar(db, select(func.count()).select_from(Ticket)):
        raise ValueError("seed-load fills an empty database: this one has tickets")
    villages = build_grid(db, regions)
    first_id = (db_scalar(db, select(func.max(Ticket.id))) or 0) + 1
    counts = {"regions": db_scalar(db, select(func.count()).select_from(Region)) or 0, "tickets": 0, "messages": 0, "events": 0, "follow_ups": 0}
    batch: dict[str, list[dict]] = {"ticket": [], "message": [], "ticket_event": [], "follow_up": []}
    writer = _copy_writer(db) if db.dialect == "postgresql" else _insert_writer(db)
    for ticket, messages, trail, follow_ups in tickets(villages, n, years, now, first_id=first_id):
        batch["ticket"].append(ticket)
        batch["message"].extend(messages)
        batch["ticket_event"].extend(trail)
        batch["follow_up"].extend(follow_ups)
        if len(batch["ticket"]) >= BATCH:
            _flush(writer, batch, counts)
            if progress:
                progress(counts["tickets"])
    _flush(writer, batch, counts)
    if db.dialect == "postgresql":
        with db.engine.begin() as connection:
            for table in ("ticket", "message", "ticket_event", "follow_up", "region"):
                connection.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                connection.exec_driver_sql(f"ANALYZE {table}")
    else:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return counts


def _flush(writer, batch: dict[str, list[dict]], counts: dict[str, int]) -> None:
    if not batch["ticket"]:
        return
    writer(batch)
    counts["tickets"] += len(batch["ticket"])
    counts["messages"] += len(batch["message"])
    counts["events"] += len(batch["ticket_event"])
    counts["follow_ups"] += len(batch["follow_up"])
    for rows in batch.values():
        rows.clear()


TABLES = {"ticket": Ticket, "message": Message, "ticket_event": TicketEvent, "follow_up": FollowUp}


def _insert_writer(db: Database):
    def write(batch: dict[str, list[dict]]) -> None:
        with db.engine.begin() as connection:
            for table, rows in batch.items():
                if rows:
                    connection.execute(insert(TABLES[table]), rows)
    return write


def _copy_writer(db: Database):
    """COPY ... FROM STDIN through psycopg: an order of magnitude faster than INSERTs."""
    def write(batch: dict[str, list[dict]]) -> None:
        raw = db.engine.raw_connection()
        try:
            with raw.cursor() as cursor:
                for table, rows in batch.items():
                    if not rows:
                        continue
                    columns = list(rows[0])
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row([json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
                                            for v in (row[c] for c in columns)])
            raw.commit()
        finally:
            raw.close()
    return write
