"""Leave-one-author-out validation of the router with and without the learned
layer (bot/learned.py), and the build of its shipped weights.

Each labelled corpus but the holdout was written by a different author:
dev, tune2, tune3a (elderly, rural, voice input), tune3b (young, urban,
internet slang), tune3c (formal, proxies, long stories, traditional script),
tune4a (fragments, relatives, dialect, pinyin), tune4b (boundary cases),
fresh5 (an ordinary week of traffic), fresh6 (a hotline volunteer's range;
danger told indirectly), fresh7 (coercive control, the digital age), fresh8
(the people around her, particular lives), fresh9 (a crisis line's night
shift: fragments, covert requests, women who play it down), fresh10 (the
young: girls of 13-17, students, young mothers), fresh11 (work and public
places), fresh12 (the countryside and older women), fresh13 (a county
inbox's ordinary month), fresh14 (voice input and cheap phones), fresh15
(mediation in villages and towns), fresh16 (danger told obliquely), fresh17
(second-language Chinese and English), fresh18 (men, third parties, referral
notes), fresh19 (family occasions), fresh20 (the legal process, the body).
Each is a fold: the learned weights that route it are trained on the other
folds only. The held-out corpora (holdout, fresh21, fresh22) are never read.

Run from the repository root:

    .venv/bin/python bench/learned_cv.py            # per-fold figures
    .venv/bin/python bench/learned_cv.py --grid     # also search the combine settings
    .venv/bin/python bench/learned_cv.py --write    # train on all folds, write bot/data/learned.json
    .venv/bin/python bench/learned_cv.py --urgent   # compare the learned layer's urgent settings
                                                    # (with --write: write the one the rule picks)

Prints, per fold: the lexicon alone and lexicon + learned (macro-F1,
accuracy, urgent recall and precision, how often she is asked to choose).
The lexicon itself was tuned on the folds, so its own figures are optimistic
on the folds it was tuned on; the learned layer's gain is honest.

Rerun ``--write`` after changing the lexicon or a corpus: the learned
features are the router's own tokens (which the lexicon shapes) and the
clause bigrams.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.evaluation import load_labelled  # noqa: E402
from bot.learned import CLASSES, COMBINE_DEFAULTS, LearnedModel, train  # noqa: E402
from bot.routing import DEFAULT_LEARNED, DEFAULT_LEXICON, DEFAULT_USERDICT, Router  # noqa: E402

CORPUS = ROOT / "data" / "corpus"
# Never "holdout", "fresh21" or "fresh22": the held-out measures.
FOLDS = ("dev", "tune2", "tune3a", "tune3b", "tune3c", "tune4a", "tune4b", "fresh5", "fresh6", "fresh7", "fresh8",
         "fresh9", "fresh10", "fresh11", "fresh12", "fresh13", "fresh14", "fresh15", "fresh16",
         "fresh17", "fresh18", "fresh19", "fresh20")
# Training settings of the naive Bayes (see bot.learned.train).
ALPHA, MIN_DF, MU, BETA = 0.1, 1, 1000.0, 2.0
# Urgent precision below this makes a setting useless, whatever its recall
# (the floor, data/corpus/README.md).
MIN_PRECISION = 0.7


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
        "tp": tp, "fp": fp, "fn": fn,
        "u_recall": tp / (tp + fn) if tp + fn else 1.0,
        "u_precision": tp / (tp + fp) if tp + fp else 1.0,
        "choice": sum(1 for p in got if p[2]),
    }


def line(name: str, f: dict) -> str:
    return (f"  {name:<22} macro-F1 {f['macro_f1']:.3f}  acc {f['acc']:.3f}  urgent recall {f['u_recall']:.3f} "
            f"({f['tp']}/{f['tp'] + f['fn']})  precision {f['u_precision']:.3f} ({f['tp'] + f['fp']} flagged)  "
            f"choice {f['choice']}")


def pooled(fs: list[dict]) -> dict:
    """Mean macro-F1 and accuracy over folds; urgent counts summed."""
    tp, fp, fn = (sum(f[k] for f in fs) for k in ("tp", "fp", "fn"))
    return {
        "macro_f1": sum(f["macro_f1"] for f in fs) / len(fs),
        "acc": sum(f["acc"] for f in fs) / len(fs),
        "tp": tp, "fp": fp, "fn": fn,
        "u_recall": tp / (tp + fn) if tp + fn else 1.0,
        "u_precision": tp / (tp + fp) if tp + fp else 1.0,
        "choice": sum(f["choice"] for f in fs),
    }


class Folds:
    """The corpora, tokenised once by the router, and models trained per fold."""

    def __init__(self, router: Router, names: tuple[str, ...]) -> None:
        self.router = router
        self.data = {n: load_labelled(CORPUS / f"{n}.jsonl") for n in names if (CORPUS / f"{n}.jsonl").is_file()}
        self.names = tuple(self.data)
        saved = router.learned
        router.use_learned(None)
        state = router._state
        self.records = {}
        for n, recs in self.data.items():
            rows = []
            for r in recs:
                a = router._analyse(state, r["text"])
                rows.append({"tokens": a.words, "category": r["category"],
                             "urgent": r["urgent"]})
            self.records[n] = rows
        router.use_learned(saved)
        self.models = {}

    def model_without(self, held: str | None, combine: dict):
        """The learned weights trained on every fold but ``held`` (None: on all)."""
        key = held
        if key not in self.models:
            recs = [r for n in self.names if n != held for r in self.records[n]]
            self.models[key] = train(recs, alpha=ALPHA, min_df=MIN_DF, mu=MU, beta=BETA)
        model = self.models[key]
        model.combine = {**COMBINE_DEFAULTS, **combine}
        return model

    def run(self, name: str, learned) -> dict:
        self.router.use_learned(learned)
        got = []
        for r in self.data[name]:
            x = self.router.route(r["text"])
            got.append((x.category, x.urgent, x.needs_choice))
        return figures(self.data[name], got)


def evaluate_all(folds: Folds, combine: dict | None) -> dict[str, dict]:
    """Per-fold figures: lexicon alone if ``combine`` is None, else with the fold's learned weights."""
    out = {}
    for n in folds.names:
        out[n] = folds.run(n, None if combine is None else folds.model_without(n, combine))
    return out


# The urgent trigger's settings compared by --urgent. In-sample the lexicon
# catches every urgent message of every fold, so leave-one-author-out recall
# is 1.0 for all of them and cannot choose; the "thinned" run scales every
# danger weight of the lexicon by THIN (an author whose words it knows only
# faintly, as on a new author's file) and shows how many the learned layer
# then still brings over the trigger.
THIN = 0.5
# Rows compared by earlier rounds (their figures are in data/corpus/README.md);
# --urgent compares URGENT_SETTINGS below.
EARLIER_URGENT_SETTINGS = (
    ("seen off", {}),
    ("weight 0.5", {"urgent_weight": 0.5}),
    ("weight 0.6", {"urgent_weight": 0.6}),
    ("offset -0.5", {"urgent_offset": -0.5}),
    ("cap 1.0", {"urgent_cap": 1.0}),
    ("cap 1.2", {"urgent_cap": 1.2}),
    ("cap 1.5", {"urgent_cap": 1.5}),
    ("weight 0.6 cap 1.2", {"urgent_weight": 0.6, "urgent_cap": 1.2}),
    ("seen 0.45", {"urgent_weight_seen": 0.45}),
    ("seen 0.5", {"urgent_weight_seen": 0.5}),
    ("seen 0.6", {"urgent_weight_seen": 0.6}),
    ("seen 0.8", {"urgent_weight_seen": 0.8}),
    ("seen 1.0", {"urgent_weight_seen": 1.0}),
    ("seen 1.5", {"urgent_weight_seen": 1.5}),
    ("seen 2.0", {"urgent_weight_seen": 2.0}),
    ("weight 0.5 seen 1.0", {"urgent_weight": 0.5, "urgent_weight_seen": 1.0}),
    # round 5: the layer's larger weight only once the lexicon saw enough
    ("w0.5 seen 1.0 min 0.5", {"urgent_weight": 0.5, "urgent_weight_seen": 1.0, "urgent_seen_min": 0.5}),
    ("w0.5 seen 1.5 min 0.5", {"urgent_weight": 0.5, "urgent_weight_seen": 1.5, "urgent_seen_min": 0.5}),
    ("w0.5 seen 2.0 min 0.5", {"urgent_weight": 0.5, "urgent_weight_seen": 2.0, "urgent_seen_min": 0.5}),
    ("w0.5 seen 1.5 min 0.3", {"urgent_weight": 0.5, "urgent_weight_seen": 1.5, "urgent_seen_min": 0.3}),
    ("w0.5 off -0.5 seen 1.0", {"urgent_weight": 0.5, "urgent_offset": -0.5, "urgent_weight_seen": 1.0}),
    ("w0.5 off -0.5 seen 1.0 min 0.5", {"urgent_weight": 0.5, "urgent_offset": -0.5, "urgent_weight_seen": 1.0,
                                        "urgent_seen_min": 0.5}),
    # round 6: the shipped setting with the larger weight reached sooner, or larger
    ("w0.5 off -0.5 seen 1.0 min 0.3", {"urgent_weight": 0.5, "urgent_offset": -0.5, "urgent_weight_seen": 1.0,
                                        "urgent_seen_min": 0.3}),
    ("w0.5 off -0.5 seen 1.5 min 0.5", {"urgent_weight": 0.5, "urgent_offset": -0.5, "urgent_weight_seen": 1.5,
                                        "urgent_seen_min": 0.5}),
    ("w0.5 off -1.0 seen 1.0 min 0.5", {"urgent_weight": 0.5, "urgent_offset": -1.0, "urgent_weight_seen": 1.0,
                                        "urgent_seen_min": 0.5}),
)
# Round 7: the shipped setting, and a more eager offset taken only behind the
# guard (present danger of at least ``urgent_eager_min``, see bot/learned.py)
# at three strengths: 0.5 (the guard of urgent_seen_min: only past, negated
# and hypothetical danger and the layer alone are kept out), 0.8 (one real
# danger word, or faint ones adding up; a lone 刀 or 打 at 0.7 is kept out)
# and 0.9.
SHIPPED = {"urgent_weight": 0.5, "urgent_offset": -0.5, "urgent_weight_seen": 1.0, "urgent_seen_min": 0.5}
URGENT_SETTINGS = (
    ("off -0.5 (shipped)", SHIPPED),
    *((f"eager {eager:g} guard {guard:g}", {**SHIPPED, "urgent_offset_eager": eager, "urgent_eager_min": guard})
      for eager in (-0.75, -1.0, -1.5) for guard in (0.5, 0.8, 0.9)),
)
# Chosen in advance: the highest pooled thinned recall with, in every fold,
# recall 1.0 and precision >= URGENT_PRECISION as shipped (lexicon at full
# weight) and precision >= URGENT_PRECISION thinned; ties by mean macro-F1.
# Round 5 (written before its figures were seen) lowered the floor from 0.8
# to the 0.75: false alarms are accepted over misses.
# Round 6 (written before its figures were seen): the same rule and floors,
# over eleven folds, and if no setting passes the floors the shipped one is
# kept (before, the best failing setting would have been picked).
# Round 7 (written before its figures were seen): the same floors, plus every
# test in tests/bot (but the held-out one) must pass with the setting's
# weights trained on all folds (designed_tests_pass); then the highest pooled
# thinned recall, ties by mean macro-F1; if nothing passes, the shipped one.
# Round 8: the same rule, over thirteen folds (fresh9 and fresh10 added).
URGENT_PRECISION = 0.75


def designed_tests_pass(folds: Folds, combine: dict) -> bool:
    """Run tests/bot (never the held-out test) with the weights ``--write``
    would ship for ``combine``; True if every test passes."""
    import subprocess
    import tempfile

    model = folds.model_without(None, combine)
    model.meta["trained_on"] = [f"{n}.jsonl" for n in folds.names]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "learned.json"
        model.save(path)
        # The tests load the shipped weights through bot.routing.DEFAULT_LEARNED.
        code = ("import sys, pathlib, pytest, bot.routing as r; r.DEFAULT_LEARNED = pathlib.Path(sys.argv[1]); "
                "sys.exit(pytest.main(['-q', '-x', '-p', 'no:cacheprovider', 'tests/bot', '-k', 'not held_out']))")
        done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
                              check=False)
    if done.returncode != 0:
        failed = [ln for ln in done.stdout.splitlines() if ln.startswith("FAILED")]
        print(f"    designed tests fail: {'; '.join(failed) or done.stdout.strip().splitlines()[-1:]}")
    return done.returncode == 0


def thinned(router: Router, factor: float):
    """Scale the lexicon's danger weights (and the harm and edge rules' strength) by
    ``factor`` in place; returns a function that puts them back."""
    from dataclasses import replace

    from bot.lexicon import URG, Hit

    lex = router._state.lexicon
    index, rules = lex.index, lex.urgent
    lex.index = {w: tuple(Hit(r, a, b, x * factor) if r == URG else Hit(r, a, b, x) for r, a, b, x in hits)
                 for w, hits in index.items()}
    thin = rules
    if rules.harm is not None:
        thin = replace(thin, harm=replace(rules.harm, strength=rules.harm.strength * factor))
    if rules.edge is not None:
        thin = replace(thin, edge=replace(rules.edge, strength=rules.edge.strength * factor))
    lex.urgent = thin

    def restore() -> None:
        lex.index, lex.urgent = index, rules

    return restore


def compare_urgent(folds: Folds, base: dict) -> dict:
    """Per fold urgent recall/precision for each of URGENT_SETTINGS (changes
    to ``base`` with urgent_weight_seen off), with the lexicon at full weight
    and thinned; returns the settings the rule picks."""
    rows = []
    for name, change in URGENT_SETTINGS:
        combine = {**base, "urgent_weight_seen": 0.0, "urgent_seen_min": 0.0, "urgent_offset_eager": 0.0,
                   "urgent_eager_min": 0.0, **change}
        full = evaluate_all(folds, combine)
        restore = thinned(folds.router, THIN)
        try:
            thin = evaluate_all(folds, combine)
        finally:
            restore()
        print(f"  {name}: running tests/bot")
        tests = designed_tests_pass(folds, combine)
        rows.append((name, combine, full, thin, tests))
    lex_thin_restore = thinned(folds.router, THIN)
    try:
        lex_thin = pooled(list(evaluate_all(folds, None).values()))
    finally:
        lex_thin_restore()
    print(f"\nurgent settings (lexicon thinned x{THIN}: lexicon alone catches {lex_thin['tp']}/"
          f"{lex_thin['tp'] + lex_thin['fn']})")
    short = lambda f: f"{f['tp']}/{f['tp'] + f['fn']} p{f['u_precision']:.2f}"  # noqa: E731
    print("  " + " " * 20 + "".join(f"{n:>14}" for n in folds.names) + "        pooled  mF1")
    best = None
    summary = []
    for name, combine, full, thin, tests in rows:
        pf, pt = pooled(list(full.values())), pooled(list(thin.values()))
        ok = tests and all(f["u_recall"] == 1.0 and f["u_precision"] >= URGENT_PRECISION for f in full.values()) and all(
            f["u_precision"] >= URGENT_PRECISION for f in thin.values())
        low = min(f["u_precision"] for f in (*full.values(), *thin.values()))
        summary.append(f"  {name:<22} {pf['tp']}/{pf['tp'] + pf['fn']} p{pf['u_precision']:.3f}  thinned {pt['tp']}/"
                       f"{pt['tp'] + pt['fn']}  lowest fold p {low:.2f}  mF1 {pf['macro_f1']:.3f}  "
                       f"tests {'pass' if tests else 'FAIL'}  {'ok' if ok else 'x'}")
        key = (ok, pt["tp"], round(pf["macro_f1"], 3))
        if best is None or key > best[0]:
            best = (key, name, combine)
        print(f"  {name:<18}  " + "".join(f"{short(full[n]):>14}" for n in folds.names)
              + f"  {short(pf):>12}  {pf['macro_f1']:.3f}")
        print(f"  {'  thinned':<18}{' ' if ok else 'x'} " + "".join(f"{short(thin[n]):>14}" for n in folds.names)
              + f"  {short(pt):>12}  {pt['macro_f1']:.3f}")
    print("\nsummary (full weight pooled, thinned pooled, lowest fold precision full or thinned, mean macro-F1):")
    print("\n".join(summary))
    if not best[0][0]:
        # Round 6: no setting passes the floors, so none is chosen: keep the
        # shipped one rather than the best of the failing ones.
        print("\nno setting passes the floors: keeping the shipped settings")
        return base
    print(f"\nchosen by the rule: {best[1]}")
    return best[2]


def grid(folds: Folds) -> dict:
    """Search the combine settings; the best catches every urgent message in
    every fold with every fold's precision >= MIN_PRECISION (failing that,
    the most urgent messages), then has the highest mean macro-F1, then the
    highest urgent precision."""
    space = {
        "category_weight": (2.0, 3.0, 4.0, 5.0),
        "temperature": (1.5, 2.0, 3.0),
        "urgent_weight": (0.25, 0.4),
        "urgent_offset": (-1.0, 0.0),
        "urgent_cap": (0.9,),  # never the alarm on its own (see bot/learned.py)
        "urgent_words": (0, 10),
    }
    keys = list(space)
    results = []
    start = time.perf_counter()
    for values in itertools.product(*(space[k] for k in keys)):
        combine = dict(zip(keys, values, strict=True))
        per = evaluate_all(folds, combine)
        p = pooled(list(per.values()))
        ok = all(f["u_recall"] == 1.0 and f["u_precision"] >= MIN_PRECISION for f in per.values())
        results.append((ok, p["tp"], round(p["macro_f1"], 3), round(p["u_precision"], 3), combine, p))
    results.sort(key=lambda t: t[:4], reverse=True)
    print(f"\ngrid: {len(results)} settings in {time.perf_counter() - start:.0f} s; best 10 "
          f"(recall 1.0 and precision >= {MIN_PRECISION} in every fold first, then urgent caught, "
          f"then mean macro-F1, then precision):")
    for ok, _tp, _f1, _pr, combine, p in results[:10]:
        print(("   " if ok else " x ") + " ".join(f"{k}={v:g}" for k, v in combine.items()))
        print("   " + line("pooled", p).strip())
    return results[0][4]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true", help="search the combine settings on the folds")
    parser.add_argument("--urgent", action="store_true", help="compare the urgent settings (see URGENT_SETTINGS)")
    parser.add_argument("--write", action="store_true", help=f"train on every fold and write {DEFAULT_LEARNED}")
    args = parser.parse_args(argv)

    router = Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, learned=None)
    folds = Folds(router, FOLDS)
    print(f"folds: {', '.join(f'{n} ({len(folds.data[n])})' for n in folds.names)}; "
          "holdout, fresh21 and fresh22 never read")
    # The shipped settings (chosen by an earlier --grid), so that --write
    # without --grid keeps them rather than falling back to the defaults.
    combine = {**COMBINE_DEFAULTS, **(LearnedModel.load(DEFAULT_LEARNED).combine if DEFAULT_LEARNED.is_file() else {})}
    if args.grid:
        combine = grid(folds)
    if args.urgent:
        combine = compare_urgent(folds, combine)
    print("\ncombine: " + " ".join(f"{k}={v:g}" for k, v in combine.items()))

    lex = evaluate_all(folds, None)
    both = evaluate_all(folds, combine)
    for n in folds.names:
        print(f"\nfold {n} (learned weights trained on the other {len(folds.names) - 1} folds)")
        print(line("lexicon alone", lex[n]))
        print(line("lexicon + learned", both[n]))
    print("\nall folds (macro-F1 and accuracy averaged, urgent counts summed)")
    print(line("lexicon alone", pooled(list(lex.values()))))
    print(line("lexicon + learned", pooled(list(both.values()))))

    if args.write:
        model = folds.model_without(None, combine)
        model.meta["trained_on"] = [f"{n}.jsonl" for n in folds.names]
        model.save(DEFAULT_LEARNED)
        print(f"\nwrote {DEFAULT_LEARNED} ({model.meta['features']} features, {model.meta['messages']} messages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
