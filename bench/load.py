"""A sustained mix of women's messages against `niangjia serve`: throughput, latency, stored.

    .venv/bin/python bench/load.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/DBNAME
        # the issue's pair, 5 minutes each at 200/s: SQLite with one instance, then
        # PostgreSQL with two (DBNAME is emptied first: use a scratch database of your own)
    .venv/bin/python bench/load.py [--seconds 300] [--rate 200]           # SQLite, one instance
    .venv/bin/python bench/load.py --instances 2 --database-url postgresql+psycopg://...  # one run

Open loop at RATE messages a second for SECONDS: new grievances from women never seen
before, her answers to the bot's questions (her place, 匿名, 确认; each only after the bot
answered her previous one), and exact retries of messages already answered (as WeChat
retries a late answer). A push not answered within 5 s, or whose connection failed, is
sent again as WeChat sends it, three tries in all: what was sent is what WeChat would
have delivered, and such a message's latency runs to the answer of its last try. Each
instance is `niangjia serve --workers N` (gunicorn as deployed, on a port of its own);
with two, the messages alternate between them and they share the database and Redis
(db 7: rate-limit counters, webhook nonces, the access token), as two machines would.

Prints per run: what was sent and answered, the rate reached, latency p50/p95/p99/max
(from the moment the message was due to be sent, so a client falling behind counts
against the service too; the time on the wire of the answered try beside it), errors by
kind (the answers that were not 200 after every try, and the tries that got no answer),
the service's CPU per message (master and workers, from /proc) beside the CPU of the rest of
the machine (the database and Redis, this client, the whole machine: on one machine they
share the cores), and stored against sent:
every distinct message she sent has exactly one receipt and exactly one line in her
transcript (per woman), retries added none. The load average before and after is printed
beside the figures: on a shared machine it says how much they can be trusted.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
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
# Shared by the instances of a run; emptied before each run.
REDIS_URL = "redis://127.0.0.1:6379/7"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# WeChat drops a push not answered within 5 s and sends it again, three tries in all
# (../shared/PROTOCOLS.md).
WECHAT_TIMEOUT = 5
WECHAT_TRIES = 3
# Processes that share the machine's cores with the service in these runs.
OTHERS = {"postgres", "redis-server"}


def start(url: str, instances: int, workers: int, workdir: Path) -> tuple[list[str], list[subprocess.Popen]]:
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
        # Counters of this run's own (the repository's instance/ file would carry others' in).
        "NIANGJIA_LIMITS_STORE": str(workdir / "ratelimits.db"),
    }
    if instances > 1:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        base_env.update(NIANGJIA_WECHAT_TOKEN_STORE=REDIS_URL, NIANGJIA_REDIS_URL=REDIS_URL)
    niangjia = [sys.executable, "-m", "handlers"]
    subprocess.run([*niangjia, "init-db"], env=base_env, check=True, capture_output=True)
    subprocess.run([*niangjia, "regions", "import", str(regions)], env=base_env, check=True, capture_output=True)
    bases, processes = [], []
    for n in range(instances):
        port = free_port()
        env = {**base_env, "NIANGJIA_WEBHOOK_SPOOL_DIR": str(workdir / f"spool-{n}")}
        processes.append(subprocess.Popen(
            [*niangjia, "serve", "--port", str(port), "--workers", str(workers)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        bases.append(f"http://127.0.0.1:{port}")
    for base in bases:
        for _ in range(1200):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise SystemExit(f"{base} did not start in two minutes")
    return bases, processes


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their live children (gunicorn's workers)."""
    total = 0.0
    for pid in pids:
        family = [pid]
        try:
            family += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            pass
        total += sum(map(process_cpu_seconds, family))
    return total


def process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy, all cores (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS


def named_cpu_seconds(names: set[str]) -> float:
    """User + system CPU of every live process of this machine with one of these names (the
    database's backends, Redis): on one machine, the service's CPU is not the whole budget."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in names:
                    total += process_cpu_seconds(int(entry.name))
            except OSError:
                continue
    return total


def percentile(values: list[float], share: float) -> float:
    return values[min(int(share * len(values)), len(values) - 1)]


def root_cause(exc: BaseException) -> str:
    """The innermost exception under a failed try: which side gave up, and how."""
    while exc.__context__ is not None or exc.__cause__ is not None:
        exc = exc.__cause__ or exc.__context__
    return type(exc).__name__


def drive(args, bases: list[str], pids: list[int]) -> dict:
    rng = random.Random(13)
    lock = threading.Lock()
    ready: deque[tuple[str, int]] = deque()  # (woman, her next step) once answered
    answered: deque[tuple[str, str, int]] = deque(maxlen=500)  # for retries
    results: list[tuple[float, float, int | str, str]] = []  # (from due, on the wire, status, kind)
    sent_by: dict[str, set[int]] = {}  # woman -> her distinct MsgIds
    unanswered_tries: Counter[str] = Counter()  # tries that got no answer, by error
    ids = iter(range(8_100_000_000_000_000_000, 9_000_000_000_000_000_000))
    # A keep-alive connection per thread and instance, through http.client: the client
    # shares the machine's two cores with the service, and requests' Session cost about
    # three times the CPU a push (bench/README.md, "Session 12").
    local = threading.local()
    women = iter(range(10**9))

    def post(base: str, path: str, body: bytes) -> int:
        connections = local.__dict__.setdefault("connections", {})
        connection = connections.get(base)
        if connection is None:
            host, port = base.removeprefix("http://").split(":")
            connection = connections[base] = http.client.HTTPConnection(host, int(port), timeout=WECHAT_TIMEOUT)
        try:
            connection.request("POST", path, body=body, headers={"Content-Type": "text/xml"})
            response = connection.getresponse()
            response.read()
        except BaseException:
            connection.close()
            del connections[base]
            raise
        if response.will_close:
            connection.close()
            del connections[base]
        return response.status

    def send(kind: str, woman: str, words: str, msg_id: int, step: int, slot: int, due: float) -> None:
        query, body = push(woman, words, msg_id)
        # As WeChat does: a push not answered within 5 s (or whose connection failed) is
        # sent again, the same push, three tries in all.
        for _ in range(WECHAT_TRIES):
            started = time.perf_counter()
            try:
                status: int | str = post(bases[slot % len(bases)], f"/wechat?{query}", body)
                break
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                with lock:
                    unanswered_tries[f"{status} ({root_cause(exc)})"] += 1
        done = time.perf_counter()
        with lock:
            results.append((done - due, done - started, status, kind))
            if status == 200:
                answered.append((woman, words, msg_id))
                if kind != "retry" and step < len(ANSWERS):
                    ready.append((woman, step))

    total = int(args.seconds * args.rate)
    cpu_before, others_before, client_before = cpu_seconds(pids), named_cpu_seconds(OTHERS), time.process_time()
    busy_before = machine_busy_seconds()
    begin = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        for slot in range(total):
            due = begin + slot / args.rate
            time.sleep(max(due - time.perf_counter(), 0))
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
                    sent_by.setdefault(job[1], set()).add(job[3])
            pool.submit(send, *job, slot, due)
    elapsed = time.perf_counter() - begin
    cpu = cpu_seconds(pids) - cpu_before
    others = named_cpu_seconds(OTHERS) - others_before
    client = time.process_time() - client_before
    busy = machine_busy_seconds() - busy_before
    return {"results": results, "sent_by": sent_by, "elapsed": elapsed, "cpu": cpu, "others": others,
            "client": client, "busy": busy, "retried": unanswered_tries}


def read_back(url: str, sent_by: dict[str, set[int]]) -> dict:
    """Receipts and transcript lines against what was sent, once the journal has drained."""
    engine = create_engine(url)
    distinct = {str(m) for ids in sent_by.values() for m in ids}
    receipts: set[str] = set()
    last, steady_since = -1, time.monotonic()
    # Answers given from the journal are stored by the worker's replay: wait (bounded) until
    # the count holds still for 5 s or everything sent is there.
    for _ in range(1200):
        with engine.connect() as connection:
            receipts = set(connection.scalars(text("SELECT dedup_key FROM inbound_receipt WHERE channel = 'wechat'")))
        if receipts >= distinct:
            break
        if len(receipts) != last:
            last, steady_since = len(receipts), time.monotonic()
        elif time.monotonic() - steady_since > 5:
            break
        time.sleep(0.1)
    with engine.connect() as connection:
        lines = dict(connection.execute(text(
            "SELECT channel_user, count(*) FROM message WHERE direction = 'in' GROUP BY channel_user")).all())
        tickets = connection.execute(text("SELECT count(*) FROM ticket")).scalar()
    engine.dispose()
    over = sum(max(lines.get(w, 0) - len(ids), 0) for w, ids in sent_by.items())
    under = sum(max(len(ids) - lines.get(w, 0), 0) for w, ids in sent_by.items())
    return {
        "distinct": len(distinct), "receipts": len(receipts & distinct), "missing": sorted(distinct - receipts),
        "extra_receipts": len(receipts - distinct), "lines": sum(lines.values()), "lines_over": over,
        "lines_under": under, "tickets": tickets,
    }


def report(label: str, args, run: dict, stored: dict, load_before: tuple, load_after: tuple) -> str:
    results = run["results"]
    from_due = sorted(r[0] for r in results)
    wire = sorted(r[1] for r in results)
    ok = sum(r[2] == 200 for r in results)
    errors = Counter(str(r[2]) for r in results if r[2] != 200)
    kinds = Counter(r[3] for r in results)
    rate = len(results) / run["elapsed"]
    ms = [percentile(from_due, p) * 1000 for p in (0.50, 0.95, 0.99)] + [from_due[-1] * 1000]
    wire_ms = [percentile(wire, p) * 1000 for p in (0.50, 0.95, 0.99)]

    def ms_a_message(seconds: float) -> float:
        return seconds * 1000 / max(ok, 1)

    cpu_ms = ms_a_message(run["cpu"])
    held = (stored["receipts"] == stored["distinct"] and not stored["extra_receipts"]
            and stored["lines_over"] == 0 and stored["lines_under"] == 0)
    unanswered = Counter(r[2] != 200 for r in results)[True]
    print(f"== {label}: target {args.rate:.0f}/s for {args.seconds:.0f} s")
    print(f"   sent {len(results)} ({dict(kinds)}) in {run['elapsed']:.1f} s = {rate:.1f}/s; answered 200: {ok}")
    print(f"   errors: {dict(errors) or 0}; tries that got no answer: {dict(run['retried']) or 0}")
    print("   latency from due p50 / p95 / p99 / max: " + " / ".join(f"{v:.1f}" for v in ms) + " ms"
          f"  (on the wire p50 / p95 / p99: {' / '.join(f'{v:.1f}' for v in wire_ms)} ms)")
    print(f"   service CPU {cpu_ms:.2f} ms per answered message; beside it, on this machine: the database "
          f"and Redis {ms_a_message(run['others']):.2f} ms, this client {ms_a_message(run['client']):.2f} ms"
          f"; the whole machine {ms_a_message(run['busy']):.2f} ms ({os.cpu_count()} cores: "
          f"{os.cpu_count() * 1000 / args.rate:.1f} ms of CPU a message at the target rate)")
    print(f"   distinct messages sent {stored['distinct']}, receipts {stored['receipts']} "
          f"(missing {len(stored['missing'])}, extra {stored['extra_receipts']}); her transcript lines "
          f"{stored['lines']} (over {stored['lines_over']}, under {stored['lines_under']}); tickets {stored['tickets']}")
    if stored["missing"]:
        print(f"   missing (a request that got no 200 may be among them: {unanswered} unanswered): "
              f"{stored['missing'][:5]}{' ...' if len(stored['missing']) > 5 else ''}")
    print(f"   every message stored exactly once: {'yes' if held else 'NO'}")
    print(f"   load average before {' '.join(f'{v:.2f}' for v in load_before)}, after "
          f"{' '.join(f'{v:.2f}' for v in load_after)}")
    return (f"| {label} | {args.rate:.0f}/s × {args.seconds:.0f} s | {rate:.0f} | {ok:,}/{len(results):,} | "
            f"{wire_ms[0]:.0f} / {wire_ms[1]:.0f} / {wire_ms[2]:.0f} | {ms[2]:,.0f} | {sum(errors.values())} | {cpu_ms:.2f} | "
            f"{'yes' if held else 'no'}: {stored['receipts']:,}/{stored['distinct']:,} | "
            f"{load_before[0]:.2f} → {load_after[0]:.2f} |")


def one_run(args, url: str, instances: int, label: str) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="niangjia-load-"))
    url = url or f"sqlite:///{workdir / 'load.db'}"
    bases, processes = start(url, instances, args.workers, workdir)
    try:
        load_before = os.getloadavg()
        run = drive(args, bases, [p.pid for p in processes])
        load_after = os.getloadavg()
        stored = read_back(url, run["sent_by"])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    return report(label, args, run, stored, load_before, load_after)


def machine() -> str:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores {model}, Python {platform.python_version()}, Linux {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--threads", type=int, default=48, help="the client's concurrent requests at most")
    parser.add_argument("--pg", default="", metavar="URL",
                        help="Run the pair: SQLite with one instance, then PostgreSQL at URL with two.")
    parser.add_argument("--instances", type=int, default=1, help="For a single run (without --pg).")
    parser.add_argument("--database-url", default="", help="For a single run. Default: SQLite in a temporary directory.")
    args = parser.parse_args()
    if args.pg:
        runs = [("", 1), (args.pg, 2)]
    else:
        runs = [(args.database_url, args.instances)]
    print(f"machine: {machine()}; {args.workers} gunicorn workers per instance")
    rows = []
    for url, instances in runs:
        kind = "postgresql" if url.startswith("postgresql") else "sqlite"
        rows.append(one_run(args, url, instances, f"{kind}, {instances} instance{'s' if instances > 1 else ''}"))
    print("\n| run | offered | achieved/s | answered/sent | p50 / p95 / p99 ms on the wire | p99 ms from due | errors "
          "| CPU ms/msg | stored exactly once | load avg (1 min) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
