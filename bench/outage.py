"""The database down for ten seconds under 1,000 messages: nothing lost, nothing twice.

    .venv/bin/python bench/outage.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/DBNAME

Starts `niangjia serve --workers 2` on a free port with PostgreSQL behind a TCP proxy on
127.0.0.1 (tests/outage.py), sends 1,000 distinct signed WeChat pushes (250 women, four
messages each, in order: her problem, her place, 匿名, 确认) from 16 threads at 60/s, cuts the
proxy for ten seconds a second into the run (every open connection closed, new ones
closed on arrival; the PostgreSQL server itself is never touched), waits for the spool
to drain, then resends every push. Prints what was answered, how fast, and what was
stored. The database named is emptied first: use your own, never a shared one.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.outage import TcpProxy  # noqa: E402

TOKEN = "niangjia-outage-bench"
ACCOUNT = "gh_0123456789ab"
PROBLEMS = [
    "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下",
    "请问协议离婚需要准备什么材料？冷静期是多久？",
    "我想报名参加巾帼家政的育婴师培训，在哪里报名？",
    "他又喝多了拿着刀在门口骂，我和孩子锁在卧室里",
]
REGIONS = "code,name,level,parent_code\nB,测试市,city,\nB01,测试县,county,B\nB0101,城关街道,town,B01\nB010101,幸福社区,village,B0101\n"


def push(user: str, content: str, msg_id: int) -> tuple[str, bytes]:
    """A signed plaintext WeChat text push: (query string, body)."""
    ts, nonce = str(int(time.time())), f"n{msg_id}"
    signature = hashlib.sha1("".join(sorted([TOKEN, ts, nonce])).encode()).hexdigest()
    body = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()
    return urlencode({"timestamp": ts, "nonce": nonce, "signature": signature}), body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="A PostgreSQL database of your own (it is emptied).")
    parser.add_argument("--women", type=int, default=250)
    parser.add_argument("--outage-seconds", type=float, default=10)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rate", type=float, default=60, help="Messages per second (so the run spans the outage).")
    args = parser.parse_args()

    url = make_url(args.database_url)
    direct = create_engine(args.database_url)
    with direct.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    work = Path(tempfile.mkdtemp(prefix="niangjia-outage-"))
    regions = work / "regions.csv"
    regions.write_text(REGIONS, encoding="utf-8")
    port = free_port()
    env = {
        **os.environ, "NIANGJIA_DATABASE_URL": proxied, "NIANGJIA_WECHAT_TOKEN": TOKEN,
        "NIANGJIA_WECHAT_ENCODING_AES_KEY": "", "NIANGJIA_WEBHOOK_SPOOL_DIR": str(work / "spool"),
        "NIANGJIA_LOG_LEVEL": "ERROR", "NIANGJIA_WORKER_POLL_SECONDS": "1",
        # Her answers after the replay go to a WeChat API nobody runs: they stay in the outbox.
        "NIANGJIA_WECHAT_API_BASE_URL": "http://127.0.0.1:9/cgi-bin/",
    }
    niangjia = [sys.executable, "-m", "handlers"]
    subprocess.run([*niangjia, "init-db"], env=env, check=True, capture_output=True)
    subprocess.run([*niangjia, "regions", "import", str(regions)], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [*niangjia, "serve", "--port", str(port), "--workers", "2"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        run(base, args, proxy, direct)
    finally:
        server.terminate()
        server.wait(timeout=30)
        proxy.close()
        direct.dispose()


def run(base: str, args, proxy: TcpProxy, direct) -> None:
    conversations = []
    for woman in range(args.women):
        user = f"o-outage-{woman:04d}"
        words = [PROBLEMS[woman % len(PROBLEMS)], "幸福社区", "匿名", "确认"]
        conversations.append([(user, w, 8_000_000_000_000_000 + woman * 10 + i) for i, w in enumerate(words)])
    answers: list[tuple[float, int, str]] = []
    lock = threading.Lock()
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=args.threads * 2))

    slots = iter(range(10**9))
    begin = time.perf_counter()

    def talk(conversation) -> None:
        for user, words, msg_id in conversation:
            with lock:
                slot = next(slots)
            time.sleep(max(begin + slot / args.rate - time.perf_counter(), 0))
            query, body = push(user, words, msg_id)
            started = time.perf_counter()
            try:
                response = session.post(f"{base}/wechat?{query}", data=body, timeout=30)
                status, reply = response.status_code, response.text
            except requests.RequestException as exc:
                status, reply = 0, type(exc).__name__
            with lock:
                answers.append((time.perf_counter() - started, status, reply))

    def outage() -> None:
        time.sleep(1)
        proxy.cut()
        time.sleep(args.outage_seconds)
        proxy.restore()

    cutter = threading.Thread(target=outage)
    started = time.perf_counter()
    cutter.start()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(talk, conversations))
    sent_in = time.perf_counter() - started
    cutter.join()

    drain_started = time.perf_counter()
    depth = None
    while time.perf_counter() - drain_started < 120:
        ready = requests.get(f"{base}/readyz", timeout=5).json()
        depth = ready["spool"]["depth"]
        if depth == 0 and ready["status"] == "ok":
            break
        time.sleep(0.5)
    drained_in = time.perf_counter() - drain_started

    with direct.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM inbound_receipt")).scalar()
        tickets = connection.execute(text("SELECT count(*) FROM ticket")).scalar()
        inbound_lines = connection.execute(text("SELECT count(*) FROM message WHERE direction = 'in'")).scalar()
        placed = connection.execute(
            text("SELECT count(*) FROM ticket t JOIN region r ON r.id = t.region_id WHERE r.code = 'B010101'")
        ).scalar()

    # The full resend: every push again, as WeChat would retry it.
    resent: list[tuple[float, int, str]] = []
    with ThreadPoolExecutor(args.threads) as pool:
        def again(conversation) -> None:
            for user, words, msg_id in conversation:
                query, body = push(user, words, msg_id)
                t0 = time.perf_counter()
                response = session.post(f"{base}/wechat?{query}", data=body, timeout=30)
                with lock:
                    resent.append((time.perf_counter() - t0, response.status_code, response.text))
        list(pool.map(again, conversations))
    with direct.connect() as connection:
        stored_after = connection.execute(text("SELECT count(*) FROM inbound_receipt")).scalar()
        tickets_after = connection.execute(text("SELECT count(*) FROM ticket")).scalar()
        lines_after = connection.execute(text("SELECT count(*) FROM message WHERE direction = 'in'")).scalar()

    latencies = sorted(a[0] for a in answers)
    sent = len(answers)
    journaled = sum("正在登记" in a[2] or "已列为紧急" in a[2] for a in answers)
    print(f"messages sent                 {sent} ({args.women} women x 4) in {sent_in:.1f} s, "
          f"database cut for {args.outage_seconds:.0f} s")
    print(f"answered 200                  {sum(a[1] == 200 for a in answers)}")
    print(f"answered 'send again'         {sum('请稍后再发一次' in a[2] for a in answers)}")
    print(f"acknowledged from the spool   {journaled}")
    print(f"answer time p50 / p99 / max   {statistics.median(latencies) * 1000:.0f} / "
          f"{latencies[int(0.99 * (sent - 1))] * 1000:.0f} / {latencies[-1] * 1000:.0f} ms")
    print(f"answered inside 5 s           {sum(t < 5 for t in latencies)} of {sent}")
    print(f"spool drained in              {drained_in:.1f} s (depth {depth})")
    print(f"stored (receipts)             {stored} of {sent}; her lines {inbound_lines}; tickets {tickets}, "
          f"{placed} in her community")
    print(f"after a full resend           receipts {stored_after}, lines {lines_after}, tickets {tickets_after} "
          f"(duplicates: {stored_after - stored + lines_after - inbound_lines + tickets_after - tickets}); "
          f"resend answered 200: {sum(r[1] == 200 for r in resent)}")


if __name__ == "__main__":
    main()
