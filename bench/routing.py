"""Routing throughput against plain jieba.lcut, and the router's cold start.

Run from the repository root:

    .venv/bin/python bench/routing.py [--corpus data/corpus/dev.jsonl] [--rounds 15]
    .venv/bin/python bench/routing.py --instructions   # needs valgrind; about 5 minutes

Targets: routing (the learned model reading first, bot/model.py) costs at
most 2x jieba.lcut on the same texts (1.5x before the model, issue 17); a
fresh process (interpreter start, imports, dictionary, model, first route)
takes < 1.5 s. `--lexicon` measures the router without the model.
Only the dev corpus is read: the holdout corpus is never used for tuning.

On a loaded machine wall time is noisy: the rounds are timed in CPU time of
this process (time.process_time), and `--instructions` counts the machine
instructions of one warm pass instead (valgrind --tool=callgrind in one fresh
process: everything loaded and warmed on the texts, then one pass of the
router, of jieba.lcut and of nothing, counted apart; the ratio is of the
passes less the empty one). Instruction counts do not move with the load of
the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script from anywhere: the repository root holds the bot package.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_CORPUS = ROOT / "data" / "corpus" / "dev.jsonl"

# Used when the corpus is missing, so the bench still runs on a fresh clone.
FALLBACK = [
    "你好，请问离婚冷静期是多久",
    "婆婆天天骂我，老公也不管，能不能帮忙调解一下",
    "他又喝多了拿着刀在门口，我和孩子躲在卫生间",
    "我想报名巾帼家政的育婴师培训，在哪里报名",
    "前夫不给抚养费已经半年了，能不能找他谈谈",
    "两癌筛查今年什么时候开始，我们村的妇女可以免费做吗",
    "谢谢你们",
    "我不想活了",
]

COLD = """
import time
t0 = time.perf_counter()
from bot.routing import Router
router = Router.default()
router.route("他又喝多了拿着刀在门口")
print(time.perf_counter() - t0)
"""


# Under callgrind with instrumentation off (the start-up runs at full speed):
# load both, warm both on the texts, then count one pass of nothing, of the
# router and of jieba.lcut, each between a zeroing and a dump of the counters
# (callgrind_control); the empty pass is the cost of asking, taken off both.
PASSES = """
import json, os, subprocess, sys
import jieba
from bot.routing import Router
jieba.setLogLevel(60)
texts = [json.loads(l)["text"] for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
router = Router.default()
for t in texts:
    router.route(t)
    jieba.lcut(t)
def control(*args):
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)
control("-i", "on")
for name, fn in (("none", None), ("router", router.route), ("jieba", jieba.lcut)):
    control("-z")
    if fn is not None:
        for t in texts:
            fn(t)
    control("-d", name)
control("-i", "off")
"""


def instructions(corpus: Path) -> tuple[int, int]:
    """Instructions of one warm pass of the router and of jieba.lcut (callgrind)."""
    import re
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", sys.executable,
             "-c", PASSES, str(corpus)], cwd=ROOT, capture_output=True, text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"})
        if run.returncode != 0:
            raise SystemExit(f"valgrind failed: {run.stderr[-800:]}")
        totals = {}
        for dump in Path(tmp).glob("callgrind.out.*"):
            text = dump.read_text(errors="replace")
            trigger = re.search(r"^desc: Trigger: (.*)$", text, re.M)
            total = re.search(r"^totals: (\d+)", text, re.M)
            if trigger and total:
                totals[trigger.group(1).split()[-1]] = int(total.group(1))
    missing = {"none", "router", "jieba"} - set(totals)
    if missing:
        raise SystemExit(f"callgrind dumps missing for {sorted(missing)} (found {sorted(totals)})")
    return totals["router"] - totals["none"], totals["jieba"] - totals["none"]


def load_texts(path: Path) -> list[str]:
    if not path.is_file():
        print(f"(corpus {path} not found: using {len(FALLBACK)} built-in messages)")
        return list(FALLBACK)
    texts = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts


def throughput(fns: list, texts: list[str], rounds: int) -> list[float]:
    """Best-of-rounds messages per second of each function (best: least
    disturbed by the machine). The functions take turns round by round, so a
    busy spell on the machine slows all of them alike."""
    for fn in fns:
        for text in texts:  # warm caches and lazy initialisation
            fn(text)
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            start = time.process_time()
            for text in texts:
                fn(text)
            best[k] = min(best[k], time.process_time() - start)
    return [len(texts) / b for b in best]


def cold_start(runs: int) -> tuple[float, float, float, float]:
    """Wall time of a fresh process to its first route (best, median), the in-process
    part, and the process's CPU time (best)."""
    import resource

    walls, inner, cpus = [], [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", COLD], cwd=ROOT, capture_output=True, text=True, check=True
        )
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        inner.append(float(out.stdout.strip().splitlines()[-1]))
    return min(walls), statistics.median(walls), min(inner), min(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--lexicon", action="store_true", help="the router without the learned model")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions with valgrind's callgrind instead of timing (the model on)")
    args = parser.parse_args(argv)

    if args.instructions:
        routed, plain = instructions(args.corpus)
        print(f"messages: {len(load_texts(args.corpus))} from {args.corpus.name} (one warm pass, callgrind)")
        print(f"router.route   {routed:14,d} instructions")
        print(f"jieba.lcut     {plain:14,d} instructions")
        verdict = "ok" if routed <= 2.0 * plain else "OVER TARGET"
        print(f"routing cost   {routed / plain:10.2f} x jieba.lcut   (target <= 2: {verdict})")
        return 0

    import jieba

    from bot.learned import LearnedModel
    from bot.routing import DEFAULT_LEARNED, Router

    texts = load_texts(args.corpus)
    router = Router.default()
    if args.lexicon:
        router.use_model(None)
        router.use_learned(LearnedModel.load(DEFAULT_LEARNED))
    target = 1.5 if args.lexicon else 2.0
    jieba.setLogLevel(60)
    jieba.initialize()

    routed, plain = throughput([router.route, jieba.lcut], texts, args.rounds)
    ratio = plain / routed  # cost ratio: time per message, router over jieba
    print(f"messages: {len(texts)} from {args.corpus.name if args.corpus.is_file() else 'built-in list'}")
    print(f"router.route   {routed:10.0f} msg/s")
    print(f"jieba.lcut     {plain:10.0f} msg/s")
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(f"routing cost   {ratio:10.2f} x jieba.lcut   (target <= {target:g}: {verdict}; CPU time, best of "
          f"{args.rounds} rounds)")

    best, median, inner, cpu = cold_start(args.cold_runs)
    verdict = "ok" if best < 1.5 else "OVER TARGET"
    print(
        f"cold start     {best:10.3f} s best of {args.cold_runs} (median {median:.3f} s; "
        f"{inner:.3f} s after interpreter start)   (target < 1.5 s: {verdict})"
    )
    # On a loaded machine the wall time waits for a core; the CPU time does not.
    verdict = "ok" if cpu < 1.5 else "OVER TARGET"
    print(f"cold start CPU {cpu:10.3f} s best of {args.cold_runs} (user + system of the fresh process)   "
          f"(target < 1.5 s: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
