"""Today's lexicon router beside the learned model reading first, file by file (figures only).

Run from the repository root:

    .venv/bin/python bench/compare_routers.py                      # every data/corpus file
    .venv/bin/python bench/compare_routers.py new_author.jsonl ... # any labelled files

For each file: macro-F1 over the four categories (all messages, as `niangjia eval`
prints it, and on messages not labelled urgent), urgent messages caught and urgent
precision, with the lexicon and its naive Bayes layer (the router before issue 17)
and with the shipped model (bot/data/model.json). No message text is printed, so it
is safe on held-out files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def figures(router, records) -> tuple[float, float, int, int, float]:
    from bot.training import macro_f1

    routes = [router.route(r["text"]) for r in records]
    calm = [i for i, r in enumerate(records) if not r["urgent"]]
    all_f1 = macro_f1([r["category"] for r in records], [x.category for x in routes])
    calm_f1 = macro_f1([records[i]["category"] for i in calm], [routes[i].category for i in calm])
    urgent = sum(r["urgent"] for r in records)
    caught = sum(r["urgent"] and x.urgent for r, x in zip(records, routes, strict=True))
    flagged = sum(x.urgent for x in routes)
    return all_f1, calm_f1, caught, urgent, caught / flagged if flagged else 1.0


def main() -> None:
    from bot.evaluation import load_labelled
    from bot.learned import LearnedModel
    from bot.routing import DEFAULT_LEARNED, Router

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    files = args.files or sorted((ROOT / "data" / "corpus").glob("*.jsonl"))
    new = Router.default()
    old = new.with_model(None)
    old.use_learned(LearnedModel.load(DEFAULT_LEARNED))
    print(f"{'file':<14}| {'before: F1 all / not urgent, urgent, precision':<46}| after (learned model reads first)")
    caught_old = caught_new = urgent = 0
    for path in files:
        records = load_labelled(path)
        a = figures(old, records)
        b = figures(new, records)
        caught_old, caught_new, urgent = caught_old + a[2], caught_new + b[2], urgent + a[3]
        fmt = lambda f: f"{f[0]:.3f} / {f[1]:.3f}, {f[2]:>3}/{f[3]:<3} p {f[4]:.2f}"  # noqa: E731
        flag = "  urgent recall LOWER" if b[2] < a[2] else ""
        print(f"{path.stem:<14}| {fmt(a):<46}| {fmt(b)}{flag}")
    print(f"urgent caught in all: before {caught_old}, after {caught_new} of {urgent}")


if __name__ == "__main__":
    main()
