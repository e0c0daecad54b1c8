"""One sender floods the WeChat webhook; how do other women's answers fare?

    .venv/bin/python bench/flood.py [--workers 2] [--women 4] [--each 40] [--flooders 2]

Starts the real app under the settings of `niangjia serve` (bench/webhook_harness/
servers.py) on a fresh SQLite database in a temp dir, then:

1. baseline (after an untimed warm-up): `--women` threads, each a different woman sending `--each` messages one after
   another (new women writing, then adding to their tickets);
2. flood: the same, while `--flooders` threads push as fast as they can from ONE openid.

It prints the other women's latency (median, p95, p99, max) in both phases, how many of
their answers were the "slow down" notice (should be 0), and what the flooder got: how
many messages were taken and how many were answered with the notice. Figures, never
assertions; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "webhook_harness"))
sys.path.insert(0, str(HERE.parent))
from pushes import TOKEN, Mix  # noqa: E402
from run import Server, Target, niangjia_env, prepare_database  # noqa: E402

from bot import replies  # noqa: E402

SLOW_MARK = replies.SLOW_DOWN.split("\n")[0][:12]


def post(port: int, push) -> tuple[float, bool, int]:
    """Seconds taken, whether the answer was the slow-down notice, and the status."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/wechat?" + push.query, body=push.body.encode("utf-8"), headers={"Content-Type": "text/xml"})
    response = conn.getresponse()
    body = response.read().decode("utf-8", errors="replace")
    conn.close()
    return time.perf_counter() - started, SLOW_MARK in body, response.status


def women(port: int, count: int, each: int, mix: Mix, lock: threading.Lock) -> list[tuple[float, bool, int]]:
    results: list[tuple[float, bool, int]] = []

    def one_woman() -> None:
        with lock:
            user = mix.openid()
            pushes = [mix.push("follow_up", user, text, int(time.time())) for text in _texts(mix, each)]
        for push in pushes:
            outcome = post(port, push)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=one_woman) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _texts(mix: Mix, each: int) -> list[str]:
    from pushes import FOLLOW_UPS

    return [mix.rng.choice(mix.grievances)] + [FOLLOW_UPS[i % len(FOLLOW_UPS)] for i in range(each - 1)]


def summary(label: str, results: list[tuple[float, bool, int]]) -> str:
    times = sorted(r[0] * 1000 for r in results)
    q = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
    slowed = sum(1 for r in results if r[1])
    bad = sum(1 for r in results if r[2] != 200)
    return (f"{label:<28} n={len(times):>4}  median {statistics.median(times):6.1f} ms  p95 {q[94]:6.1f}  "
            f"p99 {q[98]:6.1f}  max {times[-1]:6.1f}  slowed {slowed}  non-200 {bad}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--women", type=int, default=4)
    parser.add_argument("--each", type=int, default=15)
    parser.add_argument("--flooders", type=int, default=2)
    args = parser.parse_args()
    mix, lock = Mix(token=TOKEN), threading.Lock()
    with tempfile.TemporaryDirectory(prefix="niangjia-flood-") as tmp:
        workdir = Path(tmp)
        url = prepare_database(Target("niangjia", "sqlite"), workdir, 0)
        os.environ.update(niangjia_env(url, workdir))
        server = Server(Target("niangjia", "sqlite"), args.workers, workdir, url)
        try:
            server.wait_ready()
            print(f"niangjia on SQLite, {args.workers} gunicorn workers; limit per sender: "
                  f"{os.environ.get('NIANGJIA_LIMITS_WEBHOOK_PER_SENDER', '20/minute;200/hour (default)')}")
            women(server.port, args.women, 5, mix, lock)  # warm-up, untimed
            print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            baseline = women(server.port, args.women, args.each, mix, lock)
            print(summary("others, no flood", baseline))

            stop = threading.Event()
            flood: list[tuple[float, bool, int]] = []
            flooder = mix.openid()

            def flood_loop() -> None:
                while not stop.is_set():
                    with lock:
                        push = mix.push("greeting", flooder, "在吗", int(time.time()))
                    outcome = post(server.port, push)
                    with lock:
                        flood.append(outcome)

            threads = [threading.Thread(target=flood_loop) for _ in range(args.flooders)]
            for t in threads:
                t.start()
            time.sleep(1)  # the flood is under way (load generation, not a test's timing)
            during = women(server.port, args.women, args.each, mix, lock)
            stop.set()
            for t in threads:
                t.join()
            print(summary("others, during the flood", during))
            print(summary("the flooding openid", flood))
            taken = sum(1 for r in flood if not r[1] and r[2] == 200)
            print(f"flooder: {len(flood)} pushes, {taken} taken, {len(flood) - taken} answered with the notice")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
