"""Leave one author out with the learned routing model, and (with --write) the shipped model.

Run from the repository root (needs the dev extra: scikit-learn):

    .venv/bin/python bench/model_cv.py            # each author's figures when held out, pooled
    .venv/bin/python bench/model_cv.py --write    # and write bot/data/model.json trained on every author

Every corpus file is one author; the fixed evaluation files (holdout, fresh21,
fresh22) are never trained on, and only their figures are printed, by
`niangjia model evaluate`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    from bot.routing import DEFAULT_LEXICON, DEFAULT_MODEL, DEFAULT_USERDICT, Router
    from bot.training import TrainSettings, corpus_examples, train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT / "data" / "corpus"))
    parser.add_argument("--folds", type=int, default=None, help="groups of authors instead of one author at a time")
    parser.add_argument("--write", action="store_true", help=f"write the model to {DEFAULT_MODEL}")
    parser.add_argument("--out", default=None, help="write the model here instead")
    parser.add_argument("--dump", default=None, help="pickle the held-out predictions here (to compare thresholds)")
    args = parser.parse_args()

    started = time.perf_counter()
    router = Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, learned=None, model=None)
    examples = corpus_examples(args.corpus)
    cvs: list = []
    model, figures = train(examples, router.lexical, TrainSettings(), args.folds,
                           menu_threshold=router.lexicon.threshold, cv_out=cvs)
    if args.dump:
        import pickle

        Path(args.dump).write_bytes(pickle.dumps(cvs[0]))
    print(f"{'author':<10}{'macro-F1':>10}{'urgent':>10}{'precision':>11}   (held out, not urgent for F1)")
    for author, f in figures.per_author.items():
        print(f"{author:<10}{f['macro_f1']:>10.3f}{f['caught']:>6}/{f['urgent']:<3}{f['urgent_precision']:>11.3f}")
    print(f"pooled: {figures.line()}")
    print(f"danger threshold chosen: {model.danger_threshold:.2f}; features kept: {len(model.packed)}; "
          f"{time.perf_counter() - started:.0f} s")
    if args.write or args.out:
        out = Path(args.out) if args.out else DEFAULT_MODEL
        model.save(out)
        print(f"written to {out}")


if __name__ == "__main__":
    main()
