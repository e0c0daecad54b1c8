"""Training the routing model (bot/model.py) from the labelled corpus and
caseworkers' corrections, and measuring it honestly.

Needs scikit-learn (the ``dev`` extra): only training imports it; routing
reads the weights file in pure Python.

Each corpus file is one author. A model is measured on authors it never saw:
``cross_validate`` leaves one author (or, with ``folds``, one group of
authors) out at a time and trains on the rest, corrections included. The
files in ``EVALUATION_FILES`` are never trained on: they are the fixed
evaluation set that ``niangjia model apply`` compares models on.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .decide import LexicalRead, decide
from .model import Prediction, RouteModel, label_of

__all__ = [
    "EVALUATION_FILES", "Example", "Figures", "TrainSettings", "corpus_examples", "cross_validate", "fit",
    "measure", "train",
]

# Held out from every training run: the fixed evaluation set (figures only).
EVALUATION_FILES = ("holdout", "fresh21", "fresh22")

CATEGORIES = ("consultation", "mediation", "service", "other")


@dataclass(frozen=True)
class Example:
    """One labelled message."""

    text: str
    category: str
    subcategory: str | None
    urgent: bool
    author: str  # the corpus file's name, or "corrections"
    weight: float = 1.0

    @property
    def label(self) -> str:
        return label_of(self.category, self.subcategory)


@dataclass(frozen=True)
class TrainSettings:
    """How a model is trained (kept in its meta, so it can be trained again)."""

    alpha: float = 1e-4  # L2 strength of the route model (SGD, log loss, one label against the rest)
    epochs: int = 10
    danger_c: float = 1.0  # inverse L2 strength of the danger model (logistic regression)
    danger_urgent_weight: float = 2.0  # an urgent example counts this much more: a miss costs more
    min_df: int = 2  # features in fewer messages are dropped
    keep: int = 20000  # the features kept, by their largest weight (speed and file size)
    correction_weight: float = 3.0  # a caseworker's correction counts this much more than a corpus line
    recall_target: float = 0.99  # the danger threshold: highest with this pooled recall on unseen authors
    rule_veto: float = 0.08  # the model overrules the lexicon's alarm below this danger (bot/decide.py; 0: never)


@dataclass
class Figures:
    """Category and urgency figures of a set of predictions."""

    messages: int
    macro_f1: float  # over the four categories, on messages not labelled urgent
    urgent: int
    caught: int
    flagged: int
    per_author: dict[str, dict] = field(default_factory=dict)

    @property
    def urgent_recall(self) -> float:
        return self.caught / self.urgent if self.urgent else 1.0

    @property
    def urgent_precision(self) -> float:
        return self.caught / self.flagged if self.flagged else 1.0

    def line(self) -> str:
        """The figures on one line (no message text)."""
        return (f"{self.messages} messages: macro-F1 (not urgent) {self.macro_f1:.3f}; urgent recall "
                f"{self.urgent_recall:.3f} ({self.caught}/{self.urgent}), precision {self.urgent_precision:.3f} "
                f"({self.flagged} flagged)")

    def to_dict(self) -> dict:
        return {**asdict(self), "urgent_recall": round(self.urgent_recall, 4),
                "urgent_precision": round(self.urgent_precision, 4), "macro_f1": round(self.macro_f1, 4)}


def corpus_examples(corpus_dir: str | Path, exclude: Iterable[str] = EVALUATION_FILES,
                    only: Iterable[str] | None = None) -> list[Example]:
    """The labelled corpus files of ``corpus_dir``, each one author (``exclude``d files left out)."""
    from .evaluation import load_labelled

    skip, wanted = set(exclude), set(only) if only is not None else None
    out = []
    for path in sorted(Path(corpus_dir).glob("*.jsonl")):
        if path.stem in skip or (wanted is not None and path.stem not in wanted):
            continue
        for rec in load_labelled(path):
            out.append(Example(rec["text"], rec["category"], rec.get("subcategory"), rec["urgent"], path.stem))
    return out


def macro_f1(gold: Sequence[str], got: Sequence[str]) -> float:
    """Macro-F1 over the four categories."""
    total = 0.0
    for c in CATEGORIES:
        tp = sum(1 for g, p in zip(gold, got, strict=True) if g == c and p == c)
        pred = sum(1 for p in got if p == c)
        sup = sum(1 for g in gold if g == c)
        prec = tp / pred if pred else 0.0
        rec = tp / sup if sup else 0.0
        total += 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return total / len(CATEGORIES)


def measure(examples: Sequence[Example], categories: Sequence[str], urgent: Sequence[bool]) -> Figures:
    """Figures of predicted ``categories`` and ``urgent`` flags against the examples' labels."""
    def one(idx: list[int]) -> Figures:
        calm = [i for i in idx if not examples[i].urgent]
        return Figures(
            messages=len(idx),
            macro_f1=macro_f1([examples[i].category for i in calm], [categories[i] for i in calm]),
            urgent=sum(examples[i].urgent for i in idx),
            caught=sum(examples[i].urgent and urgent[i] for i in idx),
            flagged=sum(bool(urgent[i]) for i in idx),
        )

    everything = one(list(range(len(examples))))
    authors: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        authors.setdefault(ex.author, []).append(i)
    if len(authors) > 1:
        everything.per_author = {a: one(idx).to_dict() for a, idx in sorted(authors.items())}
    return everything


# -- fitting ---------------------------------------------------------------------


def _matrix(rows: Sequence[set[str]], vocab: dict[str, int]):
    import numpy as np
    from scipy.sparse import csr_matrix

    indptr, indices = [0], []
    for feats in rows:
        indices.extend(sorted(vocab[f] for f in feats if f in vocab))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float64)
    return csr_matrix((data, np.array(indices, dtype=np.int32), np.array(indptr, dtype=np.int32)),
                      shape=(len(rows), len(vocab)))


def fit(feats: Sequence[set[str]], examples: Sequence[Example], settings: TrainSettings,
        threshold: float = 0.5, meta: dict | None = None) -> RouteModel:
    """A model fitted to the examples' features (scikit-learn), pruned to ``settings.keep`` features."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    df = Counter(f for row in feats for f in row)
    vocab = {f: i for i, f in enumerate(sorted(f for f, n in df.items() if n >= settings.min_df))}
    X = _matrix(feats, vocab)
    weights = np.array([ex.weight for ex in examples])
    labels = np.array([ex.label for ex in examples])
    route = SGDClassifier(loss="log_loss", alpha=settings.alpha, max_iter=settings.epochs, tol=None, random_state=0)
    route.fit(X, labels, sample_weight=weights)
    urgent = np.array([ex.urgent for ex in examples], dtype=int)
    danger = LogisticRegression(C=settings.danger_c, solver="liblinear",
                                class_weight={0: 1.0, 1: settings.danger_urgent_weight})
    danger.fit(X, urgent, sample_weight=weights)
    coef = np.vstack([route.coef_, danger.coef_])  # labels, then danger
    strength = np.abs(coef).max(axis=0)
    keep = np.argsort(-strength)[:settings.keep]
    names = sorted(vocab, key=vocab.get)
    rows = {names[j]: coef[:, j].tolist() for j in keep if strength[j] > 0}
    return RouteModel.from_weights(
        [str(c) for c in route.classes_], rows, route.intercept_.tolist(), float(danger.intercept_[0]),
        {"danger_threshold": threshold, "rule_veto": settings.rule_veto, "link": "ovr"}, meta,
    )


Lexical = Callable[[str], tuple[set[str], LexicalRead]]  # Router.lexical


def _groups(examples: Sequence[Example], folds: int | None) -> dict[str, list[int]]:
    """Held-out groups: one per corpus author, or ``folds`` groups of authors (corrections always trained on)."""
    authors = sorted({ex.author for ex in examples if ex.author != "corrections"})
    if folds:
        group_of = {a: f"group{k % folds + 1}" for k, a in enumerate(authors)}
    else:
        group_of = {a: a for a in authors}
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        if ex.author in group_of:
            groups.setdefault(group_of[ex.author], []).append(i)
    return groups


@dataclass
class CrossValidation:
    """Predictions for every held-out corpus example, and the threshold they choose."""

    examples: list[Example]
    label_p: list[dict[str, float]]
    p_danger: list[float]

    reads: list[LexicalRead]
    scheme: str
    rule_veto: float = 0.0

    def figures(self, threshold: float, menu_threshold: float = 0.5) -> Figures:
        """The held-out figures when routed by bot/decide.py at this danger threshold."""
        cats, urg = [], []
        for lp, pd, read in zip(self.label_p, self.p_danger, self.reads, strict=True):
            d = decide(Prediction(lp, {}, pd), read, threshold, menu_threshold, self.rule_veto)
            cats.append(d.category)
            urg.append(d.urgent)
        return measure(self.examples, cats, urg)

    def threshold(self, target: float) -> float:
        """The highest danger threshold whose pooled recall (as bot/decide.py decides) reaches ``target``."""
        urgent = [(p, read) for ex, p, read in zip(self.examples, self.p_danger, self.reads, strict=True) if ex.urgent]
        need = target * len(urgent)
        for t in [x / 100 for x in range(60, 1, -1)]:
            caught = sum(decide(Prediction({"other": 1.0}, {}, p), read, t, 0.0, self.rule_veto).urgent
                         for p, read in urgent)
            if caught >= need - 1e-9:
                return t
        return 0.02


def cross_validate(examples: Sequence[Example], feats: Sequence[set[str]], reads: Sequence[LexicalRead],
                   settings: TrainSettings, folds: int | None = None,
                   progress: Callable[[str], None] | None = None) -> CrossValidation:
    """Each group of authors routed by a model trained without it (corrections always trained on)."""
    held, lp, pd, rules = [], [], [], []  # rules: the lexicon's reading of each held-out message
    for name, idx in sorted(_groups(examples, folds).items()):
        out = set(idx)
        train_idx = [i for i in range(len(examples)) if i not in out]
        model = fit([feats[i] for i in train_idx], [examples[i] for i in train_idx], settings)
        for i in idx:
            pred = model.predict(feats[i])
            held.append(examples[i])
            lp.append(pred.label_p)
            pd.append(pred.p_danger)
            rules.append(reads[i])
        if progress:
            progress(name)
    return CrossValidation(held, lp, pd, rules, f"groups of {folds}" if folds else "one author at a time",
                           settings.rule_veto)


def fingerprint(examples: Sequence[Example]) -> str:
    """A short hash of the training data (to tell whether two models saw the same)."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.text, ex.label, ex.urgent, ex.author, ex.weight], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def train(examples: Sequence[Example], lexical: Lexical, settings: TrainSettings | None = None,
          folds: int | None = None, progress: Callable[[str], None] | None = None,
          menu_threshold: float = 0.5, cv_out: list | None = None) -> tuple[RouteModel, Figures]:
    """Cross-validate (choosing the danger threshold on unseen authors), then fit on everything."""
    settings = settings or TrainSettings()
    feats, reads = [], []
    for ex in examples:
        f, r = lexical(ex.text)
        feats.append(f)
        reads.append(r)
    cv = cross_validate(examples, feats, reads, settings, folds, progress)
    if cv_out is not None:
        cv_out.append(cv)  # for bench/model_cv.py's comparisons
    threshold = cv.threshold(settings.recall_target)
    figures = cv.figures(threshold, menu_threshold)
    meta = {
        "settings": asdict(settings),
        "messages": len(examples),
        "corrections": sum(ex.author == "corrections" for ex in examples),
        "data": fingerprint(examples),
        "cv": {"scheme": cv.scheme, "threshold": threshold, **figures.to_dict()},
    }
    model = fit(feats, examples, settings, threshold, meta)
    return model, figures
