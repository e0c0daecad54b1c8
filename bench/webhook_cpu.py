"""CPU per webhook delivery of one checkout, in process: for before/after comparisons of a change.

    .venv/bin/python bench/webhook_cpu.py CHECKOUT [N]
    CALLGRIND=1 valgrind --tool=callgrind --instr-atstart=no \
        .venv/bin/python bench/webhook_cpu.py CHECKOUT [N]     # instruction counts ("I refs")

CHECKOUT is the tree to measure (e.g. `git archive REV | tar -x -C /tmp/before`); it is
imported ahead of the installed project. Like `bench/webhook --profile`: the real app on a
fresh SQLite database (or on the empty PostgreSQL database that BENCH_DATABASE_URL names),
the bench's message mix (webhook_harness/pushes.py, its fixed seed),
1,000 women seeded with an open ticket, 300 deliveries to warm up, then N (500) measured
through Flask's test client in one thread. Prints CPU ms per delivery (time.process_time),
how much of it was spent holding SQLite's writer turn (time.thread_time), and how often
the process waited (voluntary context switches: on PostgreSQL, mostly round trips);
under callgrind only the measured deliveries are instrumented, so "I refs" / N is the
instruction count per delivery, which a loaded machine does not disturb. The timestamp
window is widened: under valgrind the pre-signed pushes would otherwise go stale.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time

root = os.path.abspath(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
sys.path[:0] = [root, os.path.join(root, "bench", "webhook_harness")]
os.chdir(root)

from pushes import TOKEN, Mix  # noqa: E402

# An empty PostgreSQL database may be named instead (BENCH_DATABASE_URL): its tables are made.
url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp(prefix='webhook-cpu-')}/niangjia.db"
os.environ.update(
    NIANGJIA_DATABASE_URL=url, NIANGJIA_WECHAT_TOKEN=TOKEN, NIANGJIA_WEBHOOK_TIMESTAMP_WINDOW="1000000"
)

from bot.setup import init_database  # noqa: E402
from handlers.app import create_app  # noqa: E402
from models import Database  # noqa: E402

if not create_app.__code__.co_filename.startswith(root):
    raise SystemExit(f"measuring {create_app.__code__.co_filename}, not {root}")
db = Database(url)
init_database(db)
db.dispose()
app = create_app()
app.extensions["niangjia"].router  # noqa: B018 - loaded once, as before gunicorn forks
for handler in logging.getLogger().handlers:
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(open(os.devnull, "w"))
client = app.test_client()


class TimedTurn:
    """The runtime's writer turn, the CPU spent while holding it summed: on SQLite every
    delivery of every process waits for the turn, so its share bounds the rate."""

    def __init__(self, turn) -> None:
        self.turn, self.held, self._at = turn, 0.0, 0.0

    def __enter__(self):
        self.turn.__enter__()
        self._at = time.thread_time()
        return self

    def __exit__(self, *exc_info) -> None:
        self.held += time.thread_time() - self._at
        self.turn.__exit__(*exc_info)


turn = app.extensions["niangjia"].write_lock = TimedTurn(app.extensions["niangjia"].write_lock)
mix = Mix(TOKEN)
# A delivery the database refused is journaled and still answered 200: the figures would
# measure the spool. So the spool must be empty before and after (a leftover of an earlier
# run would journal every later message of its senders).
spool = app.extensions["niangjia"].spool
if spool.pending():
    raise SystemExit(f"{spool.directory} holds journaled messages of an earlier run: remove it first")


def voluntary_switches() -> int:
    """How often this process gave up the CPU to wait (Linux): on PostgreSQL, mostly the
    round trips to the server."""
    try:
        with open("/proc/self/status") as status:
            return sum(int(line.split()[1]) for line in status if line.startswith("voluntary_ctxt_switches"))
    except OSError:
        return 0


def deliver(push) -> None:
    response = client.post("/wechat?" + push.query, data=push.body, content_type="text/xml")
    if response.status_code != 200:
        raise SystemExit(f"delivery answered {response.status_code}: {response.get_data(as_text=True)[:200]}")


for push in mix.seed(1000):
    deliver(push)
for push in mix.stream(300):
    deliver(push)
pushes = mix.stream(n)
callgrind = os.environ.get("CALLGRIND")
if callgrind:
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
switched = voluntary_switches()
started, turn.held = time.process_time(), 0.0
for push in pushes:
    deliver(push)
spent = time.process_time() - started
switched = voluntary_switches() - switched
if callgrind:
    subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True)
if spool.pending():
    raise SystemExit(f"{len(spool.pending())} deliveries were journaled in the spool, not stored: see the log")
print(f"{n} deliveries: {spent / n * 1000:.3f} ms CPU per delivery, "
      f"{turn.held / n * 1000:.3f} ms of it in the writer's turn ({turn.held / spent:.1%}); "
      f"{switched / n:.1f} waits (voluntary context switches) per delivery")
