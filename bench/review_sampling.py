"""What sampling messages for review (bot/review.py) costs a delivery.

    .venv/bin/python bench/review_sampling.py [--messages 400] [--rounds 3]

Delivers MESSAGES messages through `Intake.receive` (each its own transaction, SQLite in a
temporary directory, the conversation engine as the webhook runs it): women who write a
greeting and one who tells her problem and answers the questions. Once with
`learning.review_sample_rate` 0 (sampling off: not even the stored conversation is read),
then 0.1 (the shipped share) and 1.0 (every eligible message kept). Prints the time per
delivery (CPU time of this process, less shaken by a busy machine than the clock), best of ROUNDS, and each rate's ratio to 0. Run it on a quiet machine and write
`uptime`'s load average beside the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bot.inbound import Inbound  # noqa: E402
from bot.intake import Intake  # noqa: E402
from bot.routing import Router  # noqa: E402
from bot.settings import PACKAGE_DATA, Settings  # noqa: E402
from models import Base, Database, Region, ReviewSample  # noqa: E402

SAID = ["你好", "在吗", "今天天气怎么样", "取消", "婆婆天天跟我吵架，想请妇联来调解一下", "跳过", "匿名", "确认", "查询", "谢谢"]


def run(router: Router, rate: float, messages: int) -> tuple[float, int]:
    workdir = Path(tempfile.mkdtemp(prefix="niangjia-review-"))
    settings = Settings(env="testing", secret_key="bench", base_dir=workdir)
    settings.database.url = f"sqlite:///{workdir}/bench.db"
    settings.learning.review_sample_rate = rate
    db = Database(settings.database_url)
    Base.metadata.create_all(db.engine)
    with db.transaction() as session:
        Region.create(session, "B", "示范市", "city")
    intake = Intake(router, settings)
    now = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
    inbound = [Inbound("wechat", f"o-{n // len(SAID)}", "text", f"m{n}", now, text=SAID[n % len(SAID)])
               for n in range(messages)]
    started = time.process_time()
    for n, message in enumerate(inbound):
        with db.engine.begin() as connection:
            intake.receive(connection, message, now=now + timedelta(seconds=n))
    spent = (time.process_time() - started) / messages
    with db.session() as session:
        kept = session.scalar(select(func.count()).select_from(ReviewSample))
    db.dispose()
    return spent, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    router = Router.from_files(PACKAGE_DATA / "lexicon.yaml", PACKAGE_DATA / "userdict.txt")
    router.route("热身")  # jieba's dictionary loads before anything is timed
    best: dict[float, tuple[float, int]] = {}
    rates = [0.0, 0.1, 1.0]
    for _ in range(args.rounds):
        rates.append(rates.pop(0))  # each rate takes each place in the order in turn
        for rate in rates:
            spent, kept = run(router, rate, args.messages)
            if rate not in best or spent < best[rate][0]:
                best[rate] = (spent, kept)
    base = best[0.0][0]
    for rate, (spent, kept) in best.items():
        print(f"rate {rate:>4}: {spent * 1000:7.2f} ms per delivery, {kept:4d} samples kept, "
              f"{spent / base:5.2f}x sampling off")


if __name__ == "__main__":
    main()
