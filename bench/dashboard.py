"""The supervisor's numbers at a province's scale: seed, then time the dashboard page, the
stats API and the 月报 Excel for one county and for the whole tree.

    .venv/bin/python bench/dashboard.py --tickets 100000                  # SQLite in a temporary file
    .venv/bin/python bench/dashboard.py --tickets 1000000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/niangjia_dash_bench
    .venv/bin/python bench/dashboard.py --database-url URL --reuse         # measure an already seeded database

Seeding is `niangjia seed-load` (bot/seedload.py: COPY on PostgreSQL). Each request goes
through the Flask test client (session, templates, queries); after one warm-up request,
`--repeat` requests each, and p50 / p99 / max are printed. The window is the last full
month (China time). A PostgreSQL URL must name a scratch database: its public schema is
dropped first (unless --reuse). Tests never assert timings; this script reports them.

With stored reports (`stats.cache_seconds` 60) the stats refresher runs as in production:
a process of its own (bot/stats_refresh.py, as `niangjia serve` starts it), polling every
second, while the requests are made `--interval` seconds apart, so the measured loop spans
several of its recounts. Each row says how many reports the serving process counted
itself during its measured requests ("counted here"; 0 is the design), the serving
thread's own CPU time per request (p50 / p99; the database server's work aside: on a
shared machine the one figure wall-clock noise does not move), and the load average;
the end says how many reports the refresher counted meanwhile.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from sqlalchemy import select, text  # noqa: E402

import models.stats_store  # noqa: E402
from bot.seedload import load  # noqa: E402
from bot.stats_refresh import run_process  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.setup import init_database  # noqa: E402
from handlers.app import create_app  # noqa: E402
from handlers.server import preload  # noqa: E402
from models import ApiToken, Database, Region, StaffUser, utcnow  # noqa: E402
from models.stats import china_today  # noqa: E402

PASSWORD = "bench-password-1234"


def reset(url: str) -> None:
    db = Database(url)
    if db.dialect == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    db.dispose()


def staff(db: Database) -> dict[str, str]:
    """A supervisor at the city and one at the first county; their API tokens."""
    tokens = {}
    with db.transaction() as session:
        city = Region.root(session)
        county = session.scalar(select(Region).where(Region.parent_id == city.id).order_by(Region.code).limit(1))
        for name, region in (("bench-city", city), ("bench-county", county)):
            user = StaffUser.by_username(session, name) or StaffUser.create(session, name, PASSWORD, "supervisor", region, name)
            session.flush()
            _, tokens[name] = ApiToken.issue(session, user, utcnow())
        tokens["codes"] = f"{city.code} {county.code}"
    return tokens


def login(client, username: str) -> None:
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/staff/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.status_code


# The reports counted in this process (the serving one), by kind; and in the refresher's.
COUNTED_HERE: list[str] = []


def _counting(counter: list | None = None, shared=None):
    real = models.stats_store.count

    def count(session, kind, *args):
        if counter is not None:
            counter.append(kind)
        if shared is not None:
            with shared.get_lock():
                shared.value += 1
        return real(session, kind, *args)
    models.stats_store.count = count


def refresher(settings: Settings, shared) -> None:
    """The refresher process: bot/stats_refresh.run_process, its counts counted."""
    _counting(shared=shared)
    run_process(settings)


def measure(client, path: str, repeat: int, headers: dict | None = None,
            interval: float = 0) -> tuple[list[float], list[float]]:
    """Wall-clock ms of each request, and the serving thread's own CPU ms (the database's aside)."""
    assert client.get(path, headers=headers).status_code == 200, path  # warm
    times, cpu = [], []
    COUNTED_HERE.clear()
    for _ in range(repeat):
        time.sleep(interval)
        started, started_cpu = time.perf_counter(), time.thread_time()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary directory")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--regions", type=int, default=1111)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--uncached-repeat", type=int, default=5,
                        help="requests each with stats.cache_seconds 0 (every request counts afresh)")
    parser.add_argument("--reuse", action="store_true", help="measure the database as it is (already seeded)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between requests with stored reports (the refresher recounts past 30 s)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="niangjia-dash-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    db = Database(url)
    if not args.reuse:
        reset(url)
        init_database(db)
        started = time.perf_counter()
        counts = load(db, args.tickets, args.regions, args.years)
        print(f"{db.dialect}: seeded {', '.join(f'{k} {v:,}' for k, v in counts.items())} in {time.perf_counter() - started:.1f} s")
    tokens = staff(db)
    city_code, county_code = tokens.pop("codes").split()

    settings = Settings(env="testing", secret_key="bench", base_dir=tmp, log_level="WARNING")
    settings.database.url = url
    settings.worker.in_service = False
    today = china_today(utcnow())
    last = today.replace(day=1) - timedelta(days=1)
    first = last.replace(day=1)
    window = f"from={first}&to={last}"
    print(f"window {first} .. {last}; after one warm-up request each; load average {_load()}\n")
    print(f"{'what':<22}{'scope':<8}{'numbers':<16}{'n':>4}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'cpu p50':>9}{'cpu p99':>9}{'counted here':>14}{'load':>7}")
    _counting(COUNTED_HERE)
    settings.worker.poll_seconds = 1
    for cache, repeat in ((60, args.repeat), (0, args.uncached_repeat)):
        settings.stats.cache_seconds = cache
        process, shared = None, multiprocessing.get_context("fork").Value("i", 0)
        if cache:
            db.dispose()
            process = multiprocessing.get_context("fork").Process(target=refresher, args=(settings, shared), daemon=True)
            process.start()
        app = preload(create_app(settings))  # the router loaded and frozen before serving, as `niangjia serve` does
        run(app, tokens, window, repeat, city_code, county_code,
            "≤60 s stale" if cache else "exact, counted", args.interval if cache else 0)
        if process is not None:
            process.terminate()
            process.join()
            print(f"(the refresher process counted {shared.value} reports meanwhile)")
    print(f"\nload average after: {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(app, tokens, window, repeat, city_code, county_code, how, interval) -> None:
    for scope, username, code in (("county", "bench-county", county_code), ("tree", "bench-city", city_code)):
        client = app.test_client()
        login(client, username)
        api = {"Authorization": f"Bearer {tokens[username]}"}
        for label, path, headers in (
            ("dashboard page", f"/staff/dashboard?region={code}&{window}", None),
            ("GET /api/v1/stats", f"/api/v1/stats?region={code}&{window}", api),
            ("月报 Excel", f"/staff/dashboard/monthly.xlsx?region={code}&{window}", None),
        ):
            times, cpu = measure(client, path, repeat, headers, interval)
            print(f"{label:<22}{scope:<8}{how:<16}{repeat:>4}{statistics.median(times):>9.1f}{_p99(times):>9.1f}"
                  f"{max(times):>9.1f}{statistics.median(cpu):>9.1f}{_p99(cpu):>9.1f}{len(COUNTED_HERE):>14}"
                  f"{os.getloadavg()[0]:>7.1f}", flush=True)


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]


if __name__ == "__main__":
    main()
