"""`niangjia seed-load`: a province's worth of realistic, synthetic cases for measuring.

A four-level grid (city → counties → towns → villages, ten below each by default) and N
tickets spread over Y years, each with what a real case leaves behind: her message and
our answer, the trail (created, claimed, replied, resolved, follow-up, closed; some
reopened, returned, extended, escalated), follow-up answers (solved or not, satisfaction)
and the clock columns as the desk keeps them. Nothing in it is anyone's data: openids are
`oseed…`, texts are one stock sentence.

Rows go in by the thousand: COPY on PostgreSQL (chunks generated and copied by two
processes at once, indexes built after), executemany on SQLite, one transaction per
chunk. Deadlines are plain spans from her message (the `sla:` durations without
working days), which is enough for counting.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select

from models import Database, FollowUp, Message, Region, Ticket, TicketEvent
from models.followup import SATISFACTION
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


# Column order of the rows the generator yields (COPY and the SQLite inserts follow it).
TICKET_COLUMNS = (
    "id", "reference", "channel", "channel_user", "category", "subcategory", "urgent", "confidence", "route_keywords",
    "route_explanation", "status", "region_id", "outcome", "resolution_note", "created_at", "updated_at",
    "claim_due_at", "first_reply_due_at", "resolve_due_at", "claimed_at", "first_response_at", "resolved_at",
    "closed_at", "next_due_at", "swept_until", "escalation_level", "extensions", "returns",
)
MESSAGE_COLUMNS = ("ticket_id", "channel", "channel_user", "direction", "kind", "text", "created_at")
EVENT_COLUMNS = ("ticket_id", "at", "actor_type", "action", "detail")
FOLLOW_UP_COLUMNS = ("ticket_id", "asked_at", "answered_at", "solved", "satisfaction", "expired")
COLUMNS = {"ticket": TICKET_COLUMNS, "message": MESSAGE_COLUMNS, "ticket_event": EVENT_COLUMNS,
           "follow_up": FOLLOW_UP_COLUMNS}
# Which columns hold a moment (seconds since the epoch in the generator's rows).
MOMENTS = {table: frozenset(i for i, c in enumerate(columns) if c.endswith("_at") or c in ("at", "swept_until"))
           for table, columns in COLUMNS.items()}
MINUTE, HOUR, DAY = 60, 3600, 86400
REPLY = "您好，我们已收到。"


def tickets(villages: list[int], n: int, years: float, now: datetime, seed: int = 20261207,
            first_id: int = 1, part: tuple[float, float] = (0.0, 1.0),
            ) -> Iterator[tuple[tuple, list[tuple], list[tuple], list[tuple]]]:
    """(ticket, messages, events, follow-ups) rows for `n` synthetic cases, oldest first,
    born in the `part` (fractions) of the `years` before `now`.

    Rows are tuples in the order of COLUMNS, moments as whole seconds since the epoch
    (plain integer arithmetic, no datetime objects: that is most of the speed).
    """
    end = int(now.timestamp())
    span = int(years * 365 * DAY)
    # Busier villages and quiet ones, as in life: a few take many cases (the same ones in every part).
    weights = [w.paretovariate(1.5) for w in [random.Random(len(villages))] for _ in villages]
    rng = random.Random(seed)
    rand, expo, choices = rng.random, rng.expovariate, rng.choices
    picks = choices(villages, weights=weights, k=n)
    low, high = int(part[0] * span), int(part[1] * span)
    births = sorted(end - span + rng.randint(low, high) for _ in range(n))
    categories = choices(("consultation", "mediation", "service"), (5, 3, 2), k=n)
    routes = {c: [(c, s) for s in subs] for c, subs in SUBCATEGORIES.items()}
    for i, region_id, created, category in zip(range(first_id, first_id + n), picks, births, categories):
        urgent = rand() < 0.03
        claim_due = created + (30 * MINUTE if urgent else DAY)
        reply_due = created + (2 * HOUR if urgent else 2 * DAY)
        resolve_due = created + (3 * DAY if urgent or category == "consultation" else 15 * DAY)
        age = end - created
        events = [(created, "woman", "created", "{}")]
        claimed = replied = resolved = closed = None
        # How fast the grid works: mostly in time, sometimes late, rarely never.
        claim_after = int(expo(1 / (10 if urgent else 300)) * MINUTE)
        if rand() < 0.08:
            claim_after += claim_due - created  # late
        if claim_after < age and rand() > 0.01:
            claimed = created + claim_after
            events.append((claimed, "staff", "claimed", "{}"))
            reply_after = claim_after + int(expo(1 / 240) * MINUTE)
            if rand() < 0.1:
                reply_after += reply_due - created
            if reply_after < age:
                replied = created + reply_after
                events.append((replied, "staff", "replied", "{}"))
            resolve_after = reply_after + int(expo(1 / (20 if category == "consultation" else 100)) * HOUR)
            if rand() < 0.1:
                resolve_after += resolve_due - created
            if resolve_after < age:
                resolved = created + resolve_after
                events.append((resolved, "staff", "resolved", "{}"))
        follow_ups, outcome, status = [], None, "new" if claimed is None else "claimed"
        if resolved is not None:
            outcome = choices(OUTCOMES[category], (7, 2, 1) if len(OUTCOMES[category]) == 3 else (9, 1))[0]
            status = "resolved"
            asked = resolved + 5 * MINUTE
            if asked < end:
                events.append((asked, "system", "follow_up_asked", "{}"))
                answered = asked + int(expo(1 / 6) * HOUR)
                if answered < end and rand() < 0.7:
                    solved = rand() < 0.9
                    satisfaction = choices(SATISFACTION, (6, 3, 1))[0] if solved else None
                    follow_ups.append((i, asked, answered, solved, satisfaction, False))
                    if solved:
                        closed, status = answered, "closed"
                        events.append((answered, "woman", "closed", f'{{"satisfaction": "{satisfaction}"}}'))
                    else:
                        # She says not solved: back to work, and resolved again later.
                        events.append((answered, "woman", "reopened", '{"reason": "follow-up: not solved"}'))
                        again = answered + int(expo(1 / 48) * HOUR)
                        if again < end:
                            resolved, status = again, "resolved"
                            events.append((again, "staff", "resolved", "{}"))
                        else:
                            resolved, status, outcome = None, "claimed", None
                elif asked + 3 * DAY < end:
                    closed, status = asked + 3 * DAY, "closed"
                    follow_ups.append((i, asked, None, None, None, True))
                    events.append((closed, "system", "closed", '{"reason": "follow-up unanswered"}'))
        # Missed clocks were escalated by the sweep, a level a day, up to three.
        escalation = 0
        first_miss = min((d for d, stop in ((claim_due, claimed), (reply_due, replied), (resolve_due, resolved))
                          if (stop or end) > d), default=None)
        if first_miss is not None:
            since = min(claimed or end, end) if first_miss == claim_due else end
            escalation = max(1, min(3, 1 + (since - first_miss) // DAY))
            for level in range(1, escalation + 1):
                at = first_miss + (level - 1) * DAY
                if at < end:
                    events.append((at, "system", "escalated", f'{{"level": {level}}}'))
        returns = 1 if rand() < 0.02 else 0
        extensions = 1 if status != "new" and rand() < 0.03 else 0
        if extensions:
            resolve_due += 7 * DAY
        open_ = status in ("new", "claimed")
        running = [d for d, stop in ((claim_due, claimed), (reply_due, replied), (resolve_due, resolved)) if stop is None]
        channel = "wechat" if i % 9 else "telegram"
        user = f"oseed{i:023d}"
        category, subcategory = rng.choice(routes[category])
        ticket = (
            i, f"NJ-{_china_day(created)}-{i:07d}", channel, user, category, subcategory, urgent, 0.9, "[]", "",
            status, region_id, outcome, "", created, closed or resolved or created,
            claim_due, reply_due, resolve_due, claimed, replied, resolved, closed,
            min(running) if open_ and running else None, end if open_ else None, escalation, extensions, returns,
        )
        messages = [(i, channel, user, "in", "text", WORDS, created)]
        if replied is not None:
            messages.append((i, channel, user, "out", "text", REPLY, replied))
        trail = [(i, at, actor, action, detail) for at, actor, action, detail in events]
        yield ticket, messages, trail, follow_ups


_CHINA_DAYS: dict[int, str] = {}


def _china_day(moment: int) -> str:
    """YYYYMMDD of a moment in China time (the reference's date)."""
    day = (moment + 8 * HOUR) // DAY
    text = _CHINA_DAYS.get(day)
    if text is None:
        text = _CHINA_DAYS[day] = (EPOCH + timedelta(days=day)).strftime("%Y%m%d")
    return text


def copy_moment(moment: int) -> str:
    """A moment as PostgreSQL's COPY reads a timestamptz ('2026-12-07 04:00:00+00'): the
    hour's text from a cache, minutes and seconds from a table (no datetime objects)."""
    hour, rest = divmod(moment, HOUR)
    prefix = _HOURS.get(hour)
    if prefix is None:
        prefix = _HOURS[hour] = (EPOCH + timedelta(hours=hour)).strftime("%Y-%m-%d %H:")
    return prefix + _MINUTES_SECONDS[rest]


_HOURS: dict[int, str] = {}
_MINUTES_SECONDS = [f"{m:02d}:{s:02d}+00" for m in range(60) for s in range(60)]
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _m(moment: int | None) -> str:
    return "\\N" if moment is None else copy_moment(moment)


def _v(value: object) -> str:
    return "\\N" if value is None else ("t" if value else "f") if isinstance(value, bool) else str(value)


def copy_lines(table: str, rows: list[tuple]) -> str:
    """Rows as COPY text: tab-separated, \\N for NULL, t/f for booleans (our values hold no tab,
    newline or backslash). One f-string a row: the generic way took longer than generating."""
    m, v = _m, _v
    if table == "ticket":
        lines = [
            f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{r[5]}\t{v(r[6])}\t{r[7]}\t{r[8]}\t{r[9]}\t{r[10]}\t{r[11]}\t"
            f"{v(r[12])}\t{r[13]}\t{m(r[14])}\t{m(r[15])}\t{m(r[16])}\t{m(r[17])}\t{m(r[18])}\t{m(r[19])}\t"
            f"{m(r[20])}\t{m(r[21])}\t{m(r[22])}\t{m(r[23])}\t{m(r[24])}\t{r[25]}\t{r[26]}\t{r[27]}\n"
            for r in rows]
    elif table == "message":
        lines = [f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{r[5]}\t{copy_moment(r[6])}\n" for r in rows]
    elif table == "ticket_event":
        lines = [f"{r[0]}\t{copy_moment(r[1])}\t{r[2]}\t{r[3]}\t{r[4]}\n" for r in rows]
    elif table == "follow_up":
        lines = [f"{r[0]}\t{copy_moment(r[1])}\t{m(r[2])}\t{v(r[3])}\t{v(r[4])}\t{v(r[5])}\n" for r in rows]
    else:
        raise ValueError(table)
    return "".join(lines)


def as_records(table: str, rows: list[tuple]) -> list[dict]:
    """Rows as dicts of Python values (moments as aware datetimes), for SQLAlchemy's inserts."""
    columns, moments = COLUMNS[table], MOMENTS[table]
    records = []
    for row in rows:
        record = {}
        for k, (column, v) in enumerate(zip(columns, row)):
            if v is not None and k in moments:
                v = EPOCH + timedelta(seconds=v)
            elif column in ("route_keywords", "detail"):
                v = json.loads(v)
            record[column] = v
        records.append(record)
    return records


def load(db: Database, n: int, regions: int = 1111, years: float = 2.0, now: datetime | None = None,
         progress: Callable[[int], None] | None = None, workers: int = 2) -> dict[str, int]:
    """Fill `db` with the grid and `n` cases; counts of the rows written.

    On PostgreSQL the cases are generated and COPied in chunks by `workers` processes at
    once, each chunk in its own transaction with synchronous_commit off; the four tables'
    secondary indexes and foreign keys are dropped first and built again at the end (one
    build is much cheaper than a million updates of each index, and adding a foreign key
    back checks every row). On SQLite: executemany, one transaction per batch.
    """
    now = now or datetime.now(timezone.utc)
    if db_scalar(db, select(func.count()).select_from(Ticket)):
        raise ValueError("seed-load fills an empty database: this one has tickets")
    villages = build_grid(db, regions)
    first_id = (db_scalar(db, select(func.max(Ticket.id))) or 0) + 1
    counts = {"regions": db_scalar(db, select(func.count()).select_from(Region)) or 0,
              "tickets": 0, "messages": 0, "events": 0, "follow_ups": 0}
    starts = range(0, n, CHUNK)
    chunks = [(villages, min(CHUNK, n - start), years, now, SEED + k, first_id + start, (start / n, min(n, start + CHUNK) / n))
              for k, start in enumerate(starts)]
    if db.dialect == "postgresql":
        _load_postgresql(db, chunks, counts, progress, workers)
    else:
        writer = _insert_writer(db)
        for chunk in chunks:
            batch = _generate(*chunk)
            writer(batch)
            _count(counts, {table: len(rows) for table, rows in batch.items()}, progress)
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return counts


SEED = 20261207
CHUNK = 25_000
TABLE_COUNTS = {"ticket": "tickets", "message": "messages", "ticket_event": "events", "follow_up": "follow_ups"}


def _count(counts: dict[str, int], written: dict[str, int], progress: Callable[[int], None] | None) -> None:
    for table, rows in written.items():
        counts[TABLE_COUNTS[table]] += rows
    if progress:
        progress(counts["tickets"])


def _generate(villages, n, years, now, seed, first_id, part) -> dict[str, list[tuple]]:
    """One chunk of cases as rows by table (its own random stream and stretch of time: chunks are independent)."""
    batch: dict[str, list[tuple]] = {table: [] for table in COLUMNS}
    for ticket, messages, trail, follow_ups in tickets(villages, n, years, now, seed, first_id, part):
        batch["ticket"].append(ticket)
        batch["message"].extend(messages)
        batch["ticket_event"].extend(trail)
        batch["follow_up"].extend(follow_ups)
    return batch


def _insert_writer(db: Database):
    def write(batch: dict[str, list[tuple]]) -> None:
        with db.engine.begin() as connection:
            for table, rows in batch.items():
                if rows:
                    connection.execute(insert(TABLES[table]), as_records(table, rows))
    return write


TABLES = {"ticket": Ticket, "message": Message, "ticket_event": TicketEvent, "follow_up": FollowUp}


def _libpq_url(db: Database) -> str:
    return db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _copy_chunk(args: tuple) -> dict[str, int]:
    """Generate one chunk and COPY it (in a worker process, on its own connection)."""
    import psycopg

    url, chunk = args
    batch = _generate(*chunk)
    with psycopg.connect(url) as connection:
        connection.execute("SET synchronous_commit = off")
        with connection.cursor() as cursor:
            for table, rows in batch.items():
                if rows:
                    with cursor.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                        copy.write(copy_lines(table, rows))
    return {table: len(rows) for table, rows in batch.items()}


def _load_postgresql(db: Database, chunks: list[tuple], counts: dict[str, int],
                     progress: Callable[[int], None] | None, workers: int) -> None:
    import multiprocessing

    tables = tuple(COLUMNS)
    with db.engine.begin() as connection:
        # Secondary indexes (not those behind a primary key or unique constraint) and foreign keys.
        indexes = connection.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ANY(%(t)s)"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
            {"t": list(tables)}).all()
        foreign = connection.exec_driver_sql(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%(t)s)", {"t": list(tables)}).all()
        for table, name, _ in foreign:
            connection.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
    url = _libpq_url(db)
    db.engine.dispose()  # no pooled connection crosses the fork
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for written in pool.imap_unordered(_copy_chunk, [(url, chunk) for chunk in chunks]):
                _count(counts, written, progress)
    finally:
        # Indexes and constraints back, two builds at a time; then the planner's statistics.
        statements = [definition for _, definition in indexes]
        statements += [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in foreign]
        statements += [f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                       for table in (*tables, "region")]
        statements += [f"ANALYZE {table}" for table in (*tables, "region")]
        _run_parallel(url, statements, workers)


def _run_parallel(url: str, statements: list[str], workers: int) -> None:
    """Each statement in autocommit on one of `workers` connections (index builds run side by side)."""
    import queue
    import threading

    import psycopg

    todo: queue.Queue[str] = queue.Queue()
    for statement in statements:
        todo.put(statement)
    failures: list[BaseException] = []

    def work() -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("SET maintenance_work_mem = '256MB'")
            while True:
                try:
                    statement = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    connection.execute(statement)
                except Exception as exc:  # noqa: BLE001 - reported after the others finish
                    failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
