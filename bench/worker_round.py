"""What one round of the background worker costs on a database a bench left behind.

    bench/webhook --only niangjia --workers 2 --rows 0 --duration 30 --keep
    .venv/bin/python bench/worker_round.py /tmp/bench-niangjia-XXXX/niangjia.db [--rounds 4]

The database is copied first (SQLite's backup API; the bench's own file is left as it
was), then `Worker.run_once` runs on the copy, in this process, `--rounds` times. The first
round sweeps whatever the bench's traffic left due (bot/sla.py); the later ones show an
idle round. The rounds' clock (follow-ups, the sweep) stands a minute after the last
ticket was opened, as the service's own worker would have swept after the bench's traffic,
however long after the bench this runs (`--now` for the real time: the bench's urgent
tickets are then past their 30-minute claim clock, and the sweep raises what is due).
Per round: wall and CPU time, and how often and how long it held SQLite's writer turn
(models/db.WriterTurn), which every delivery of every process waits for. Outbound sends
go to a closed port (nothing is delivered).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def copy(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as original, sqlite3.connect(target) as duplicate:
        original.backup(duplicate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database", type=Path, help="an SQLite file a bench kept (--keep)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--now", action="store_true", help="run the rounds at the real time")
    args = parser.parse_args()
    if not args.database.is_file():
        parser.error(f"{args.database}: no such file")

    workdir = Path(tempfile.mkdtemp(prefix="worker-round-"))
    database = workdir / "niangjia.db"
    copy(args.database, database)
    os.environ.update(
        NIANGJIA_DATABASE_URL=f"sqlite:///{database}", NIANGJIA_WORKER_IN_SERVICE="false",
        NIANGJIA_WECHAT_API_BASE_URL="http://127.0.0.1:9/cgi-bin/", NIANGJIA_LOG_LEVEL="ERROR",
        NIANGJIA_LIMITS_STORE=str(workdir / "ratelimits.db"), NIANGJIA_WEBHOOK_SPOOL_DIR=str(workdir / "spool"),
    )
    import bot.worker
    from bot.worker import Worker
    from handlers.app import create_app
    from models.db import WriterTurn

    held: list[float] = []
    enter, leave = WriterTurn.__enter__, WriterTurn.__exit__
    taken_at: list[float] = []

    def timed_enter(turn: WriterTurn) -> WriterTurn:
        result = enter(turn)
        if turn._depth == 1:
            taken_at.append(time.perf_counter())
        return result

    def timed_exit(turn: WriterTurn, *exc_info: object) -> None:
        if turn._depth == 1:
            held.append(time.perf_counter() - taken_at.pop())
        leave(turn, *exc_info)

    WriterTurn.__enter__, WriterTurn.__exit__ = timed_enter, timed_exit  # type: ignore[method-assign]
    if not args.now:
        with sqlite3.connect(database) as connection:
            (last,) = connection.execute("SELECT max(created_at) FROM ticket").fetchone()
        if last is None:
            parser.error(f"{args.database}: no tickets (give --now to run at the real time)")
        at = datetime.fromisoformat(last).replace(tzinfo=timezone.utc) + timedelta(minutes=1)
        bot.worker.utcnow = lambda: at  # type: ignore[attr-defined]
        print(f"the rounds' clock: {at:%Y-%m-%d %H:%M:%S} UTC, a minute after the last ticket opened")
    worker = Worker(create_app().extensions["niangjia"])
    worker.runtime.refresh_lexicon()  # the router's first load, done by a service at start, is not a round's
    print(f"{args.database} (copied to {database})")
    print("| round | wall ms | CPU ms | writer turns | turn held ms (sum) | longest turn ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    for number in range(1, args.rounds + 1):
        held.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        worker.run_once()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"| {number} | {wall * 1000:,.1f} | {cpu * 1000:,.1f} | {len(held):,} | {sum(held) * 1000:,.1f} "
              f"| {max(held, default=0) * 1000:,.1f} |")


if __name__ == "__main__":
    main()
