"""The webhook's latency while staff logins flood in with wrong passwords.

    .venv/bin/python bench/login_flood.py [--code DIR] [--logins 200] [--concurrency 32] [--rate 10]

Starts `niangjia serve --workers 2` on 127.0.0.1 (a free port, a fresh SQLite database in
a temp dir, plaintext WeChat mode), gives 100 women an open ticket, then:

1. quiet: signed WeChat pushes (bench/webhook_harness/pushes.py: new grievances,
   follow-ups, greetings, retries) at --rate a second for --quiet seconds;
2. flood: the same pushes at the same rate while --logins logins with wrong passwords
   arrive --concurrency at a time, each from its own loopback address (127.0.0.2 …) and
   for its own username, so neither the per-address nor the per-account delays stop them
   before the password is hashed: what is left to protect the webhook is how hashing is
   done (Argon2 parameters, the hashing slots). `--same-address` sends them all from one
   address instead. Each login is a browser's: GET the form, POST it with the CSRF token.

It prints the webhook's p50/p95/p99/max in both phases, how many pushes took over 1 s and
over WeChat's 5 s, the logins' answers (401 wrong, 429 busy or delayed), and what a
caseworker's own login (right password, her usual browser) got 1 s into the flood. `--code DIR`
serves another checkout (e.g. the code before this bench: `git worktree add /tmp/old main`)
with this machine's Python, to compare. Figures: bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "webhook_harness"))
from pushes import TOKEN, Mix, Push  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class Server:
    """`niangjia serve --workers 2` from a checkout, on a fresh database, until stopped."""

    def __init__(self, code: Path, workers: int) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="niangjia-login-flood-")
        self.port = free_port()
        self.env = {
            **os.environ,
            "PYTHONPATH": str(code),
            "NIANGJIA_CONFIG": str(code / "config.yaml"),
            "NIANGJIA_DATABASE_URL": f"sqlite:///{self.dir.name}/niangjia.db",
            "NIANGJIA_SECRET_KEY": secrets.token_urlsafe(32),
            "NIANGJIA_WECHAT_TOKEN": TOKEN,
            "NIANGJIA_WECHAT_ENCODING_AES_KEY": "",
            "NIANGJIA_LOG_LEVEL": "WARNING",
        }
        self.code = code
        self.workers = workers
        self.process: subprocess.Popen | None = None

    def niangjia(self, *args: str, stdin: str = "") -> None:
        subprocess.run([sys.executable, "-m", "handlers", *args], cwd=self.code, env=self.env, input=stdin,
                       text=True, check=True, capture_output=True)

    def start(self) -> None:
        self.niangjia("init-db")
        self.niangjia("create-user", STAFF, "--role", "caseworker", "--region", "ROOT", stdin=STAFF_PASSWORD + "\n")
        self.log = open(Path(self.dir.name) / "server.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "handlers", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(self.workers)],
            cwd=self.code, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if request("127.0.0.1", self.port, "GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"the server did not start: see {self.log.name}")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        self.dir.cleanup()


def request(host: str, port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            source: str | None = None, timeout: float = 30) -> tuple[int, str, http.client.HTTPMessage]:
    connection = http.client.HTTPConnection(host, port, timeout=timeout,
                                            source_address=(source, 0) if source else None)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), response.headers
    finally:
        connection.close()


def push_latency(port: int, push: Push) -> float:
    started = time.perf_counter()
    status, _, _ = request("127.0.0.1", port, "POST", f"/wechat?{push.query}", push.body.encode("utf-8"),
                           {"Content-Type": "text/xml"})
    elapsed = time.perf_counter() - started
    return elapsed if status == 200 else float("inf")


def send_pushes(port: int, pushes: list[Push], rate: float, until: threading.Event | None, minimum: float) -> list[float]:
    """Pushes at a steady rate (an open loop: a slow answer does not slow the arrivals)."""
    latencies: list[float] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64) as pool:
        futures = []
        for i, push in enumerate(pushes):
            due = started + i / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            futures.append(pool.submit(push_latency, port, push))
            elapsed = time.perf_counter() - started
            if elapsed >= minimum and (until is None or until.is_set()):
                break
        latencies = [f.result() for f in futures]
    return latencies


def login(port: int, n: int, same_address: bool = False) -> int:
    """One wrong-password login as a browser makes it, for user n, from 127.0.0.(2+n)
    (or, with same_address, always from 127.0.0.2)."""
    source = "127.0.0.2" if same_address else f"127.0.{(n // 250) % 250}.{2 + n % 250}"
    status, html, headers = request("127.0.0.1", port, "GET", "/staff/login", source=source)
    cookie = (headers.get("Set-Cookie") or "").split(";")[0]
    token = CSRF.search(html)
    if status != 200 or not token:
        return status
    form = urlencode({"username": f"guess{n}", "password": f"wrong-password-{n}", "csrf_token": token.group(1)})
    status, _, _ = request("127.0.0.1", port, "POST", "/staff/login", form.encode(),
                           {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}, source=source)
    return status


STAFF, STAFF_PASSWORD = "wangjie", "风筝飞过小河边-2026"


def her_login(port: int, known: str = "") -> tuple[int, float, str]:
    """A caseworker's login with her right password, from her usual browser (its cookie
    from an earlier login in `known`); the answer, its time, and the cookie it set."""
    started = time.perf_counter()
    status, html, headers = request("127.0.0.1", port, "GET", "/staff/login", source="127.0.0.1")
    cookies = [(headers.get("Set-Cookie") or "").split(";")[0]] + ([known] if known else [])
    token = CSRF.search(html)
    form = urlencode({"username": STAFF, "password": STAFF_PASSWORD, "csrf_token": token.group(1) if token else ""})
    status, _, headers = request("127.0.0.1", port, "POST", "/staff/login", form.encode(),
                                 {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "; ".join(cookies)},
                                 source="127.0.0.1")
    remembered = [c.split(";")[0] for c in headers.get_all("Set-Cookie") or [] if c.startswith("nj_known=")]
    return status, time.perf_counter() - started, remembered[0] if remembered else known


def flood(port: int, logins: int, concurrency: int, same_address: bool, done: threading.Event, results: list) -> None:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results.extend(pool.map(lambda n: login(port, n, same_address), range(logins)))
    results.append(time.perf_counter() - started)
    done.set()


def summary(name: str, latencies: list[float]) -> str:
    ok = [x for x in latencies if x != float("inf")]
    failed = len(latencies) - len(ok)
    ms = lambda x: f"{x * 1000:7.0f}"  # noqa: E731
    return (f"{name:<6} n={len(latencies):4d}  p50 {ms(percentile(ok, 50))} ms  p95 {ms(percentile(ok, 95))} ms  "
            f"p99 {ms(percentile(ok, 99))} ms  max {ms(max(ok))} ms  >1s {sum(x > 1 for x in ok):3d}  "
            f">5s {sum(x > 5 for x in ok):3d}  failed {failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="The checkout to serve (default: this one).")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=10.0, help="Webhook pushes a second.")
    parser.add_argument("--quiet", type=float, default=10.0, help="Seconds of the quiet phase.")
    parser.add_argument("--same-address", action="store_true",
                        help="Every login from one address (the per-address delays then answer most).")
    args = parser.parse_args()

    server = Server(args.code.resolve(), args.workers)
    print(f"serving {server.code} with --workers {args.workers} on 127.0.0.1:{server.port}; {os.cpu_count()} cores")
    server.start()
    try:
        mix = Mix(TOKEN, seed=int(time.time()))
        for push in mix.seed(100):
            push_latency(server.port, push)
        count = int(args.rate * 600)
        quiet = send_pushes(server.port, mix.stream(count), args.rate, None, args.quiet)
        _, _, known = her_login(server.port)
        done, results = threading.Event(), []
        flooding = threading.Thread(target=flood, args=(server.port, args.logins, args.concurrency, args.same_address, done, results))
        flooding.start()
        hers: list = []
        meanwhile = threading.Timer(1.0, lambda: hers.append(her_login(server.port, known)))
        meanwhile.start()
        during = send_pushes(server.port, mix.stream(count), args.rate, done, 3.0)
        flooding.join()
        meanwhile.join()
    finally:
        server.stop()
    seconds, answers = results[-1], Counter(results[:-1])
    print(summary("quiet", quiet))
    print(summary("flood", during))
    print(f"logins: {args.logins} wrong passwords, {args.concurrency} at a time, in {seconds:.1f} s; answers "
          + ", ".join(f"{status}: {n}" for status, n in sorted(answers.items())))
    if hers:
        print(f"her own login from her usual browser 1 s into the flood: {hers[0][0]} in {hers[0][1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
