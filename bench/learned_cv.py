"""Cross-corpus validation of the learned layer (bot/learned.py): train on one
author's corpus, evaluate on the other's. The holdout corpus is never read.

Run from the repository root:

    .venv/bin/python bench/learned_cv.py [--old-lexicon DIR] [--write]

``--write`` then trains on dev + tune2 and writes bot/data/learned.json.

Prints, for dev -> tune2 and tune2 -> dev: the learned layer alone, the
lexicon router alone and their combination (urgent = lexicon OR learned
P(urgent) >= t; category = lexicon when confident, else learned when
confident, else needs_choice), over a few thresholds.

The shipped lexicon was tuned on both corpora, so "lexicon alone" here is
optimistic. ``--old-lexicon DIR`` names a checkout of an earlier bot/ (e.g.
``git archive f9bd66d bot | tar -x -C DIR``, before tune2 was tuned on): its
routes on tune2 are a fair dev -> tune2 baseline, and the combination is also
measured on top of it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.evaluation import load_labelled  # noqa: E402
from bot.learned import CLASSES, train  # noqa: E402
from bot.routing import Router  # noqa: E402

DEFAULT_LEARNED = ROOT / "bot" / "data" / "learned.json"
# The combination's rule as it would be wired: the learned layer flags danger
# at this P(urgent) and settles the category when the lexicon would ask her to
# choose (confidence < its threshold, 0.5) and its own posterior reaches this.
LEARNED_URGENT = 0.5
LEARNED_CATEGORY = 0.9

CORPUS = ROOT / "data" / "corpus"

OLD_ROUTES = """
import json, sys
sys.path.insert(0, sys.argv[1])
from bot.routing import Router
from bot.routing import Lexicon
r = Router(Lexicon.load(sys.argv[1] + "/bot/data/lexicon.yaml"), sys.argv[1] + "/bot/data/userdict.txt")
out = []
for line in open(sys.argv[2], encoding="utf-8"):
    if line.strip():
        x = r.route(json.loads(line)["text"])
        out.append([x.category, x.subcategory, x.urgent, x.confidence, x.needs_choice])
print(json.dumps(out))
"""


def figures(gold: list[dict], got: list[tuple[str, bool, bool]]) -> dict:
    """macro-F1 over the 4 categories, urgent recall/precision, needs_choice count."""
    f1s = []
    for c in CLASSES:
        tp = sum(1 for g, p in zip(gold, got, strict=True) if g["category"] == c and p[0] == c)
        npred = sum(1 for p in got if p[0] == c)
        ngold = sum(1 for g in gold if g["category"] == c)
        pr = tp / npred if npred else 0.0
        rc = tp / ngold if ngold else 0.0
        f1s.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    tp = sum(1 for g, p in zip(gold, got, strict=True) if g["urgent"] and p[1])
    fp = sum(1 for g, p in zip(gold, got, strict=True) if not g["urgent"] and p[1])
    fn = sum(1 for g, p in zip(gold, got, strict=True) if g["urgent"] and not p[1])
    return {
        "macro_f1": sum(f1s) / len(f1s),
        "acc": sum(1 for g, p in zip(gold, got, strict=True) if g["category"] == p[0]) / len(gold),
        "u_recall": tp / (tp + fn) if tp + fn else 1.0,
        "u_caught": f"{tp}/{tp + fn}",
        "u_precision": tp / (tp + fp) if tp + fp else 1.0,
        "u_flagged": tp + fp,
        "choice": sum(1 for p in got if p[2]),
    }


def show(name: str, f: dict) -> None:
    print(f"  {name:<46} macro-F1 {f['macro_f1']:.3f}  acc {f['acc']:.3f}  urgent recall {f['u_recall']:.3f} "
          f"({f['u_caught']})  precision {f['u_precision']:.3f} ({f['u_flagged']} flagged)  choice {f['choice']}")


def combine(lex: tuple, pred, t: float, lex_conf: float, learned_conf: float) -> tuple[str, bool, bool]:
    """lex = (category, urgent, confidence, needs_choice); the rule wired into Router."""
    category, urgent, confidence, needs_choice = lex
    if urgent:
        return category, True, False
    if pred.p_urgent >= t:
        # Danger the lexicon missed: routed where the learned layer says,
        # among the routed categories (danger is never "other").
        routed = max(CLASSES[:3], key=pred.posterior.__getitem__)
        return routed, True, False
    if confidence >= lex_conf:
        return category, False, needs_choice
    if pred.category_p >= learned_conf:
        return pred.category, False, False
    return category, False, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-lexicon", type=Path, help="a checkout of an earlier bot/ (dev-only lexicon)")
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--min-df", type=int, default=1)
    parser.add_argument("--mu", type=float, default=1000.0)
    parser.add_argument("--write", action="store_true", help=f"train on dev + tune2, write {DEFAULT_LEARNED}")
    args = parser.parse_args(argv)

    router = Router.from_files(ROOT / "bot/data/lexicon.yaml", ROOT / "bot/data/userdict.txt")
    state = router._state

    def tokenize(text: str):
        return router._analyse(state, text).tokens, None

    data = {name: load_labelled(CORPUS / f"{name}.jsonl") for name in ("dev", "tune2")}
    toks = {name: [tokenize(r["text"]) for r in recs] for name, recs in data.items()}
    lex = {name: [router.route(r["text"]) for r in recs] for name, recs in data.items()}
    lex = {name: [(x.category, x.urgent, x.confidence, x.needs_choice) for x in routes] for name, routes in lex.items()}
    old = None
    if args.old_lexicon:
        out = subprocess.run([sys.executable, "-c", OLD_ROUTES, str(args.old_lexicon), str(CORPUS / "tune2.jsonl")],
                             capture_output=True, text=True, check=True, cwd="/")
        old = [(c, u, conf, nc) for c, _s, u, conf, nc in json.loads(out.stdout)]

    print(f"alpha {args.alpha}, min_df {args.min_df}, mu {args.mu}; combination rule as it would be wired: P(urgent) >= {LEARNED_URGENT}, "
          f"learned category when the lexicon asks her to choose and P >= {LEARNED_CATEGORY}")
    thresholds = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
    for src, dst in (("dev", "tune2"), ("tune2", "dev")):
        recs = [{"tokens": t, "norm": n, "category": r["category"], "urgent": r["urgent"]}
                for (t, n), r in zip(toks[src], data[src], strict=True)]
        model = train(recs, alpha=args.alpha, min_df=args.min_df, mu=args.mu)
        preds = [model.predict(t, n) for t, n in toks[dst]]
        gold = data[dst]
        print(f"\ntrain {src} ({len(recs)}, {model.meta['features']} features) -> evaluate {dst} ({len(gold)})")
        for t in (0.5,):
            show(f"learned alone (P(urgent) >= {t})", figures(gold, [(p.category, p.p_urgent >= t, False) for p in preds]))
        # The urgent threshold for full recall on the other author's corpus.
        urgent_ps = sorted(p.p_urgent for p, g in zip(preds, gold, strict=True) if g["urgent"])
        t_full = urgent_ps[0]
        show(f"learned alone (t for full recall = {t_full:.3g})",
             figures(gold, [(p.category, p.p_urgent >= t_full, False) for p in preds]))
        for c in (0.5, 0.7, 0.9):
            got = [(p.category if p.category_p >= c else "other", p.p_urgent >= 0.5, p.category_p < c) for p in preds]
            show(f"learned alone, category only if p >= {c}", figures(gold, got))
        bases = [("lexicon (shipped, tuned on both)", lex[dst])]
        if old is not None and dst == "tune2":
            bases.append(("lexicon at --old-lexicon (dev only)", old))
        for name, base in bases:
            show(name, figures(gold, [(c, u, nc) for c, u, _conf, nc in base]))
            missed = [p.p_urgent for p, g, b in zip(preds, gold, base, strict=True) if g["urgent"] and not b[1]]
            if missed:
                print(f"    learned P(urgent) of the {len(missed)} urgent messages it misses: "
                      + ", ".join(f"{x:.2g}" for x in sorted(missed)))
            for t in thresholds:
                for lc, cc in ((0.5, 0.9), (0.7, 0.9), (0.7, 0.7)):
                    got = [combine(b, p, t, lc, cc) for b, p in zip(base, preds, strict=True)]
                    show(f" + learned t={t} lex>={lc} learned>={cc}", figures(gold, got))
    if args.write:
        recs = [{"tokens": t, "norm": n, "category": r["category"], "urgent": r["urgent"]}
                for name in ("dev", "tune2") for (t, n), r in zip(toks[name], data[name], strict=True)]
        model = train(recs, alpha=args.alpha, min_df=args.min_df, mu=args.mu)
        model.meta["trained_on"] = ["dev.jsonl", "tune2.jsonl"]
        model.save(DEFAULT_LEARNED)
        print(f"\nwrote {DEFAULT_LEARNED} ({model.meta['features']} features, {len(recs)} messages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
