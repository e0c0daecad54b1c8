"""One hanging API, many women waiting: how long the outbox takes to reach them.

    .venv/bin/python bench/outbox.py [--messages 200] [--hang 5]

Queues MESSAGES Telegram answers to 50 chats plus 3 to one chat whose API call hangs for
HANG seconds (the fake Bot API on 127.0.0.1 receives the request, then answers late),
and delivers them with the courier, first one send at a time (the old way), then with
`worker.send_concurrency` sends at once. Prints when the last of the other women's
messages arrived, and what became of the hanging chat's (a send that timed out after it
went out is marked unknown, never resent). SQLite in a temporary directory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

import migrations  # noqa: E402
from bot.delivery import Courier  # noqa: E402
from bot.settings import Settings  # noqa: E402
from models import Base, Database, OutboxMessage, utcnow  # noqa: E402
from tests import fakes  # noqa: E402

BOT_TOKEN = "123:bench"
HANGING = 999


def run(concurrency: int, messages: int, hang: float, timeout: int) -> None:
    apis = fakes.start(BOT_TOKEN)
    apis.hang[str(HANGING)] = hang
    workdir = Path(tempfile.mkdtemp(prefix="niangjia-outbox-"))
    settings = Settings(env="testing", base_dir=workdir)
    settings.database.url = f"sqlite:///{workdir / 'bench.db'}"
    settings.telegram.bot_token, settings.telegram.api_base_url = BOT_TOKEN, apis.base
    settings.worker.send_concurrency, settings.worker.send_timeout_seconds = concurrency, timeout
    db = Database(settings.database_url)
    Base.metadata.create_all(db.engine)
    migrations.stamp(db.engine)
    now = utcnow()
    with db.transaction() as session:
        for n in range(3):
            OutboxMessage.enqueue(session, channel="telegram", channel_user=str(HANGING), text=f"第{n}条", now=now, ticket=None, author_id=None)
        for n in range(messages):
            OutboxMessage.enqueue(session, channel="telegram", channel_user=str(1000 + n % 50), text=f"消息{n}", now=now, ticket=None, author_id=None)
    courier = Courier(db, settings)
    started = time.perf_counter()
    others_done: list[float] = []

    def watch() -> None:
        # When the fake API had received every other woman's message.
        while time.perf_counter() - started < 120:
            if sum(1 for m in list(apis.telegram_sent) if m["chat_id"] != HANGING) >= messages:
                others_done.append(time.perf_counter() - started)
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    while True:
        courier.deliver_due()
        with db.session() as session:
            left = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending"))
        if not left:
            break
    total = time.perf_counter() - started
    watcher.join()
    with db.session() as session:
        states = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    hanging_received = sum(1 for m in apis.telegram_sent if m["chat_id"] == HANGING)
    print(f"send_concurrency {concurrency:>2}: other women's {messages} messages all sent after {others_done[0]:6.2f} s; "
          f"all settled after {total:6.2f} s; hanging chat received {hanging_received} of 3, rows {states}")
    apis.server.shutdown()
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--hang", type=float, default=5)
    parser.add_argument("--timeout", type=int, default=3, help="worker.send_timeout_seconds")
    args = parser.parse_args()
    for concurrency in (1, 8):
        run(concurrency, args.messages, args.hang, args.timeout)


if __name__ == "__main__":
    main()
