"""Small measurements the code's comments refer to, as ratios on this machine.

    .venv/bin/python bench/micro.py [--repeat 5]

1. segment: `bot.segment.FastCut.cut` against jieba's own `Tokenizer.cut(HMM=False)`
   over every text of data/corpus (the same words come out: tests/bot/test_segment.py).
2. evidence: building `bot.learned.Evidence` (a plain class with slots) against a frozen
   dataclass with the same fields.
3. yaml: composing the shipped lexicon (bot/data/lexicon.yaml) with libyaml's
   `CSafeLoader` against the pure-Python `SafeLoader` (bot/routing.py uses the first).

Each is the best of --repeat runs; the load average is printed beside the figures, since
anything timed on a shared machine is noisy (ratios hold better than times).
Figures: bench/README.md, "Figures the code refers to".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.learned import Evidence  # noqa: E402
from bot.routing import DEFAULT_LEXICON, DEFAULT_USERDICT, Router  # noqa: E402
from bot.text import fold  # noqa: E402


@dataclasses.dataclass(frozen=True)
class FrozenEvidence:
    posterior: dict
    urgent_logodds: float
    _feats: set
    _table: dict


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def corpus_texts() -> list[str]:
    texts = []
    for path in sorted((ROOT / "data" / "corpus").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(fold(json.loads(line)["text"]))
    return texts


def row(name: str, ours: float, theirs: float, unit_count: int, what: str) -> None:
    print(f"{name:<9} {ours / unit_count * 1e6:8.2f} µs  against {theirs / unit_count * 1e6:8.2f} µs  "
          f"= {theirs / ours:4.1f}× ({what})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    router = Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, learned=None, model=None)
    state = router._state
    texts = corpus_texts()
    fast = best(lambda: [list(state.cut(t)) for t in texts], args.repeat)
    slow = best(lambda: [list(state.tokenizer.cut(t, HMM=False)) for t in texts], args.repeat)
    row("segment", fast, slow, len(texts), f"a message, {len(texts)} corpus texts; jieba / FastCut")

    n = 200_000
    posterior, feats, table = {"consultation": 0.5}, {"a"}, {}
    plain = best(lambda: [Evidence(posterior, 0.0, feats, table) for _ in range(n)], args.repeat)
    frozen = best(lambda: [FrozenEvidence(posterior, 0.0, feats, table) for _ in range(n)], args.repeat)
    row("evidence", plain, frozen, n, "a build; frozen dataclass / slots class")

    text = DEFAULT_LEXICON.read_text(encoding="utf-8")
    c = best(lambda: yaml.compose(text, Loader=yaml.CSafeLoader), args.repeat)
    py = best(lambda: yaml.compose(text, Loader=yaml.SafeLoader), args.repeat)
    row("yaml", c, py, 1, "composing lexicon.yaml; SafeLoader / CSafeLoader")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
