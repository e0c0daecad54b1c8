"""The queue bench: the workspace's pages with 100,000 tickets in the database.

    .venv/bin/python bench/staff_queue.py                          # SQLite in a temporary file
    .venv/bin/python bench/staff_queue.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/niangjia_queue_bench

The database is migrated to head (the real indexes), filled with a grid of 1,111 regions
(city → 10 counties → 10 towns each → 10 villages each), four staff at four levels and
`--tickets` tickets spread over the villages (5% new, 10% claimed, the rest resolved or
closed; 3% urgent), each with two transcript lines and its trail. Then every page is
requested `--repeat` times through the Flask test client (the full stack: login session,
CSRF, queries, templates) and p50 / p99 / max are printed per page and per user.

A PostgreSQL URL must name a scratch database: its public schema is dropped first.
The target is under 200 ms per page; tests never assert timings, this script reports them.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

# Run as a script, bench/ would be first on the path, and this file would shadow the
# standard library's `queue` for everything imported after it: put the project there instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from sqlalchemy import insert, select, text  # noqa: E402

import migrations  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.app import create_app  # noqa: E402
from models import Database, Message, Region, StaffUser, Ticket, TicketEvent  # noqa: E402
from models.ticket import OUTCOMES  # noqa: E402

PASSWORD = "bench-password"
CATEGORIES = [("consultation", "marriage_law"), ("mediation", "in_law_conflict"), ("service", "employment_training")]
WORDS = "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下"


def reset(url: str) -> None:
    db = Database(url)
    if db.dialect == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    db.dispose()


def build_grid(db: Database) -> dict[str, list[Region]]:
    levels: dict[str, list[Region]] = {"city": [], "county": [], "town": [], "village": []}
    with db.transaction() as session:
        city = Region.create(session, "B", "基准市", "city")
        levels["city"].append(city)
        for c in range(10):
            county = Region.create(session, f"B{c:02d}", f"第{c}县", "county", city)
            levels["county"].append(county)
            for t in range(10):
                town = Region.create(session, f"B{c:02d}{t:02d}", f"第{c}县{t}镇", "town", county)
                levels["town"].append(town)
                for v in range(10):
                    village = Region.create(session, f"B{c:02d}{t:02d}{v:02d}", f"{c}-{t}-{v}村", "village", town)
                    levels["village"].append(village)
        session.flush()
    return levels


def make_staff(db: Database, levels: dict[str, list[Region]]) -> dict[str, int]:
    who = {
        "admin": ("admin", levels["city"][0]),
        "supervisor": ("supervisor", levels["county"][0]),
        "caseworker": ("caseworker", levels["town"][0]),
        "gridworker": ("caseworker", levels["village"][0]),
    }
    ids = {}
    with db.transaction() as session:
        for username, (role, region) in who.items():
            user = StaffUser.create(session, username, PASSWORD, role, session.merge(region), username)
            session.flush()
            ids[username] = user.id
    return ids


def fill(db: Database, levels: dict[str, list[Region]], staff: dict[str, int], n: int, batch: int = 10_000) -> None:
    """`n` tickets, each with her message, the bot's reply and a creation event."""
    rng = random.Random(20261121)
    now = datetime.now(timezone.utc)
    villages = [r.id for r in levels["village"]]
    region_of = {r.id: r for r in levels["village"]}
    # Which staff can hold a ticket in a village: the caseworker's town, the gridworker's village.
    holders = {levels["village"][0].id: [staff["gridworker"], staff["caseworker"]]}
    for village in levels["village"][:10]:
        holders.setdefault(village.id, [staff["caseworker"]])
    tickets, messages, events = [], [], []

    def flush() -> None:
        with db.engine.begin() as connection:
            connection.execute(insert(Ticket), tickets)
            connection.execute(insert(Message), messages)
            connection.execute(insert(TicketEvent), events)
        tickets.clear(), messages.clear(), events.clear()

    for i in range(1, n + 1):
        created = now - timedelta(seconds=rng.randint(0, 2 * 365 * 86400))
        # The recent ones are the open ones: 5% new, 10% claimed, the rest done.
        roll = rng.random()
        region_id = rng.choice(villages) if rng.random() > 0.02 else villages[0]
        status = "new" if roll < 0.05 else "claimed" if roll < 0.15 else "resolved" if roll < 0.25 else "closed"
        if status in ("new", "claimed"):
            created = now - timedelta(seconds=rng.randint(0, 20 * 86400))
        category, subcategory = CATEGORIES[i % 3]
        urgent = rng.random() < 0.03
        assignee = None
        if status != "new":
            assignee = rng.choice(holders.get(region_id, [staff["supervisor"], staff["admin"]]))
            if assignee == staff["supervisor"] and not region_of[region_id].path.startswith(levels["county"][0].path):
                assignee = staff["admin"]
        reference = f"NJ-{created + timedelta(hours=8):%Y%m%d}-{i:06d}"
        user = f"obench{i:022d}"
        tickets.append(dict(
            id=i, reference=reference, channel="wechat", channel_user=user, category=category,
            subcategory=subcategory, urgent=urgent, confidence=0.9, route_keywords=["婆婆", "调解"],
            route_explanation=f"{category}/{subcategory} 3.0: 婆婆 2.5", status=status, region_id=region_id,
            assignee_id=assignee, contact_phone=None, created_at=created, updated_at=created,
            claim_due_at=created + (timedelta(minutes=30) if urgent else timedelta(hours=24)),
            first_reply_due_at=created + (timedelta(hours=2) if urgent else timedelta(days=2)),
            resolve_due_at=created + timedelta(days=15),
            # What Ticket.clocks_changed keeps: the nearest running clock (claim until claimed).
            next_due_at=(created + (timedelta(minutes=30) if urgent else timedelta(hours=24)) if status == "new"
                         else created + (timedelta(hours=2) if urgent else timedelta(days=2)) if status == "claimed"
                         else None),
            claimed_at=created + timedelta(hours=1) if assignee else None,
            first_response_at=None, resolved_at=created + timedelta(days=3) if status in ("resolved", "closed") else None,
            closed_at=created + timedelta(days=5) if status == "closed" else None, withdrawn_at=None,
            outcome=OUTCOMES[category][0] if status in ("resolved", "closed") else None, resolution_note="",
        ))
        messages.append(dict(ticket_id=i, channel="wechat", channel_user=user, direction="in", kind="text",
                             text=WORDS, created_at=created))
        messages.append(dict(ticket_id=i, channel="wechat", channel_user=user, direction="out", kind="text",
                             text="您好，收到。", created_at=created))
        events.append(dict(ticket_id=i, at=created, actor_type="woman", action="created", detail={}))
        if len(tickets) >= batch:
            flush()
    if tickets:
        flush()
    with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            for table in ("ticket", "message", "ticket_event"):
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                ))
            connection.execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))


def login(client, username: str) -> None:
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/staff/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.status_code


def measure(client, path: str, repeat: int, headers: dict | None = None) -> list[float]:
    client.get(path, headers=headers)  # warm: templates compiled, statements cached
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary directory")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="niangjia-queue-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    reset(url)
    db = Database(url)
    migrations.upgrade(db.engine)
    started = time.perf_counter()
    levels = build_grid(db)
    staff = make_staff(db, levels)
    fill(db, levels, staff, args.tickets)
    print(f"{db.dialect}: {args.tickets:,} tickets, {sum(len(v) for v in levels.values()):,} regions "
          f"filled in {time.perf_counter() - started:.1f}s")

    settings = Settings(env="testing", secret_key="bench", base_dir=tmp, log_level="WARNING")
    settings.database.url = url
    app = create_app(settings)

    with db.session() as session:
        sample_new = session.scalar(
            select(Ticket.reference).where(Ticket.status == "new", Ticket.region_id == levels["village"][0].id).limit(1)
        )
        open_count = session.scalar(select(text("count(*)")).select_from(Ticket).where(Ticket.status.in_(("new", "claimed"))))
    print(f"open tickets: {open_count:,}; sample ticket {sample_new}")

    pages = [
        ("queue 待认领", "/staff/"),
        ("queue 我的", "/staff/?tab=mine"),
        ("queue 未办结", "/staff/?tab=open"),
        ("queue 全部", "/staff/?tab=all"),
        ("queue 已办结 p20", "/staff/?tab=done&page=20"),
        ("filter 调解+紧急", "/staff/?tab=open&category=mediation&urgent=1"),
        ("filter 超期(red)", "/staff/?tab=open&light=red"),
        ("search 工单号", f"/staff/?tab=all&q={sample_new[-6:]}"),
        ("search 关键词", "/staff/?tab=all&q=婆婆"),
        ("ticket page", f"/staff/tickets/{sample_new}"),
    ]
    print(f"\n{'page':<20}{'user':<12}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    worst = 0.0
    for username in ("admin", "supervisor", "caseworker", "gridworker"):
        client = app.test_client()
        login(client, username)
        for label, path in pages:
            if path.startswith("/staff/tickets/") and username == "supervisor":
                continue  # the sample ticket lies in the first county: every level but one sees it
            times = measure(client, path, args.repeat)
            p99 = statistics.quantiles(times, n=100, method="inclusive")[98]
            worst = max(worst, p99)
            print(f"{label:<20}{username:<12}{statistics.median(times):>9.1f}{p99:>9.1f}{max(times):>9.1f}")
    # The API's list, for the same admin.
    from models import ApiToken, utcnow

    with db.transaction() as session:
        _, token = ApiToken.issue(session, StaffUser.by_username(session, "admin"), utcnow())
    client = app.test_client()
    for label, path in (("api /tickets open", "/api/v1/tickets?tab=open"), ("api /tickets/{ref}", f"/api/v1/tickets/{sample_new}")):
        times = measure(client, path, args.repeat, headers={"Authorization": f"Bearer {token}"})
        p99 = statistics.quantiles(times, n=100, method="inclusive")[98]
        worst = max(worst, p99)
        print(f"{label:<20}{'admin':<12}{statistics.median(times):>9.1f}{p99:>9.1f}{max(times):>9.1f}")
    print(f"\nworst p99: {worst:.1f} ms (target < 200 ms)")
    app.extensions["niangjia"].db.dispose()
    db.dispose()


if __name__ == "__main__":
    main()
