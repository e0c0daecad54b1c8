"""A sustained mix of women's messages against `niangjia serve`: throughput, latency, stored.

    .venv/bin/python bench/load.py [--seconds 300] [--rate 200]                      # SQLite, one instance
    .venv/bin/python bench/load.py --instances 2 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/DBNAME

Open loop at RATE messages a second for SECONDS: new grievances from women never seen
before, her answers to the bot's questions (her place, 匿名, 确认; each only after the bot
answered her previous one), and exact retries of messages already answered (as WeChat
retries a late answer). With two instances (ports of their own, two gunicorn workers
each) the messages alternate between them and share PostgreSQL and Redis (db 2). Prints
what was sent and answered, the rate reached, p50/p99/max, and stored against sent: every
distinct message stored exactly once. A PostgreSQL database named here is emptied first:
use your own.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.outage import REGIONS, TOKEN, free_port, push  # noqa: E402

PROBLEMS = [
    "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下",
    "请问协议离婚需要准备什么材料？冷静期是多久？",
    "我想报名参加巾帼家政的育婴师培训，在哪里报名？",
    "怀孕五个月被公司辞退了，这合法吗？产假工资怎么算",
]
ANSWERS = ["幸福社区", "匿名", "确认"]


def start(args, workdir: Path) -> tuple[list[str], list[subprocess.Popen], str]:
    url = args.database_url or f"sqlite:///{workdir / 'load.db'}"
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    regions = workdir / "regions.csv"
    regions.write_text(REGIONS, encoding="utf-8")
    base_env = {
        **os.environ, "NIANGJIA_DATABASE_URL": url, "NIANGJIA_WECHAT_TOKEN": TOKEN, "NIANGJIA_WECHAT_ENCODING_AES_KEY": "",
        "NIANGJIA_LOG_LEVEL": "ERROR", "XDG_RUNTIME_DIR": str(workdir),
        "NIANGJIA_WECHAT_API_BASE_URL": "http://127.0.0.1:9/cgi-bin/",
    }
    if args.instances > 1:
        base_env["NIANGJIA_WECHAT_TOKEN_STORE"] = "redis://127.0.0.1:6379/2"
    niangjia = [sys.executable, "-m", "handlers"]
    subprocess.run([*niangjia, "init-db"], env=base_env, check=True, capture_output=True)
    subprocess.run([*niangjia, "regions", "import", str(regions)], env=base_env, check=True, capture_output=True)
    bases, processes = [], []
    for n in range(args.instances):
        port = free_port()
        env = {**base_env, "NIANGJIA_WEBHOOK_SPOOL_DIR": str(workdir / f"spool-{n}")}
        processes.append(subprocess.Popen(
            [*niangjia, "serve", "--port", str(port), "--workers", str(args.workers)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        bases.append(f"http://127.0.0.1:{port}")
    for base in bases:
        for _ in range(600):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
    return bases, processes, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=48)
    parser.add_argument("--database-url", default="", help="Default: SQLite in a temporary directory.")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="niangjia-load-"))
    bases, processes, url = start(args, workdir)
    try:
        drive(args, bases, url)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def drive(args, bases: list[str], url: str) -> None:
    rng = random.Random(13)
    lock = threading.Lock()
    ready: deque[tuple[str, int]] = deque()  # (woman, her next step) once answered
    answered: deque[tuple[str, str, int]] = deque(maxlen=500)  # for retries
    results: list[tuple[float, int, str]] = []
    distinct: set[int] = set()
    ids = iter(range(8_100_000_000_000_000_000, 9_000_000_000_000_000_000))
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=args.threads * 2))
    women = iter(range(10**9))

    def send(kind: str, woman: str, words: str, msg_id: int, step: int, slot: int) -> None:
        query, body = push(woman, words, msg_id)
        started = time.perf_counter()
        try:
            response = session.post(f"{bases[slot % len(bases)]}/wechat?{query}", data=body, timeout=30)
            status = response.status_code
        except requests.RequestException:
            status = 0
        with lock:
            results.append((time.perf_counter() - started, status, kind))
            if status == 200:
                answered.append((woman, words, msg_id))
                if kind != "retry" and step < len(ANSWERS):
                    ready.append((woman, step))

    total = int(args.seconds * args.rate)
    begin = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        for slot in range(total):
            time.sleep(max(begin + slot / args.rate - time.perf_counter(), 0))
            roll = rng.random()
            with lock:
                if roll < 0.10 and answered:
                    woman, words, msg_id = rng.choice(answered)
                    job = ("retry", woman, words, msg_id, 99)
                elif roll < 0.50 and ready:
                    woman, step = ready.popleft()
                    job = ("answer", woman, ANSWERS[step], next(ids), step + 1)
                else:
                    woman = f"o-load-{next(women):06d}"
                    job = ("grievance", woman, rng.choice(PROBLEMS), next(ids), 0)
                if job[0] != "retry":
                    distinct.add(job[3])
            pool.submit(send, *job, slot)
    elapsed = time.perf_counter() - begin

    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM inbound_receipt")).scalar()
        lines = connection.execute(text("SELECT count(*) FROM message WHERE direction = 'in'")).scalar()
        tickets = connection.execute(text("SELECT count(*) FROM ticket")).scalar()
    engine.dispose()
    latencies = sorted(r[0] for r in results)
    ok = sum(r[1] == 200 for r in results)
    kinds = {k: sum(r[2] == k for r in results) for k in ("grievance", "answer", "retry")}
    print(f"{'sqlite' if url.startswith('sqlite') else 'postgresql'}, {len(bases)} instance(s) x {args.workers} workers, "
          f"{args.rate:.0f}/s for {args.seconds:.0f} s")
    print(f"sent {len(results)} ({kinds}) in {elapsed:.1f} s = {len(results) / elapsed:.0f}/s; answered 200: {ok}")
    print(f"latency p50 / p99 / max: {statistics.median(latencies) * 1000:.1f} / "
          f"{latencies[int(0.99 * (len(latencies) - 1))] * 1000:.1f} / {latencies[-1] * 1000:.0f} ms")
    print(f"distinct messages sent {len(distinct)}, stored {stored} (her lines {lines}, tickets {tickets})")


if __name__ == "__main__":
    main()
