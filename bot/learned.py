"""A learned keyword-weight layer: multinomial naive Bayes over words and
character bigrams, trained from labelled messages.

Two models share one vocabulary: the category (consultation, mediation,
service, other) and urgency (urgent or not). The features of a message are
its words (for the router: its own normalised jieba tokens) and the character
bigrams of its normalised text, each counted once per message (binarised
naive Bayes: short messages rarely repeat a word, and when they do it is not
twice the evidence).

The weights are data: ``train(records)`` learns them from JSONL-style dicts
(``text`` or ``tokens``, ``category``, ``urgent``), ``LearnedModel.save`` and
``LearnedModel.load`` keep them as JSON. Nothing here knows the router or the
lexicon; the router passes its tokens in.

Every weight is a log-likelihood ratio, so a decision is a sum and can be
explained: ``LearnedModel.explain`` lists the features that pushed most
towards the chosen category and towards urgent.

Not yet part of routing: `bench/learned_cv.py` measures it across authors
(dev -> tune2: the pre-tune2 lexicon alone macro-F1 0.840 / urgent recall 59/80,
with this layer 0.911 / 73/80). Wiring it in still needs the lexicon's negation,
past and joke markers to overrule its urgency, and a faster scoring path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CLASSES", "FORMAT", "LearnedModel", "Prediction", "bigrams", "train"]

CLASSES = ("consultation", "mediation", "service", "other")
FORMAT = "niangjia-learned-nb/1"
_BIGRAM = "\x00"  # bigrams are kept apart from words of the same two characters


def bigrams(text: str) -> list[str]:
    """Overlapping character pairs of the text."""
    return [text[i:i + 2] for i in range(len(text) - 1)]


def _features(tokens: Sequence[str], text: str | None) -> set[str]:
    if text is None:
        text = "".join(tokens)
    feats = set(tokens)
    feats.update(_BIGRAM + b for b in bigrams(text))
    return feats


@dataclass(frozen=True)
class Prediction:
    category: str
    category_p: float  # posterior of that category
    posterior: dict[str, float]
    p_urgent: float


class LearnedModel:
    """Weights of the two naive Bayes models.

    ``weights[f]`` is a tuple: for each category in ``CLASSES`` the feature's
    log-likelihood minus its mean over the categories (adding the same number
    to every class changes no posterior), then log P(f|urgent)/P(f|not urgent).
    Features never seen in training carry no weight.
    """

    def __init__(self, weights: dict[str, tuple[float, ...]], cat_prior: Sequence[float],
                 urgent_prior: float, meta: dict | None = None) -> None:
        self.weights = {k: tuple(v) for k, v in weights.items()}
        self.cat_prior = tuple(cat_prior)
        self.urgent_prior = urgent_prior
        self.meta = dict(meta or {})

    # -- scoring -----------------------------------------------------------

    def _sums(self, tokens: Sequence[str], text: str | None) -> tuple[list[float], float, list]:
        w = self.weights
        hits = [w[f] for f in _features(tokens, text) if f in w]
        c0, c1, c2, c3 = self.cat_prior
        u = self.urgent_prior
        for h in hits:
            c0 += h[0]
            c1 += h[1]
            c2 += h[2]
            c3 += h[3]
            u += h[4]
        return [c0, c1, c2, c3], u, hits

    def predict(self, tokens: Sequence[str], text: str | None = None) -> Prediction:
        """Category posterior and P(urgent) of a message given as words (and its text)."""
        scores, u, _ = self._sums(tokens, text)
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        z = sum(exps)
        post = {c: e / z for c, e in zip(CLASSES, exps, strict=True)}
        best = max(post, key=post.__getitem__)
        p_urgent = 1.0 / (1.0 + math.exp(-u)) if u > -700 else 0.0
        return Prediction(best, post[best], post, p_urgent)

    def explain(self, tokens: Sequence[str], text: str | None = None, category: str | None = None,
                n: int = 5) -> dict:
        """The features that weighed most: towards ``category`` (default: the
        predicted one) against the runner-up, and towards urgent."""
        pred = self.predict(tokens, text)
        category = category or pred.category
        k = CLASSES.index(category)
        rival = max((c for c in CLASSES if c != category), key=pred.posterior.__getitem__)
        j = CLASSES.index(rival)
        w = self.weights
        feats = [f for f in _features(tokens, text) if f in w]
        show = lambda f: f[1:] if f.startswith(_BIGRAM) else f  # noqa: E731
        cat = sorted(((show(f), w[f][k] - w[f][j]) for f in feats), key=lambda t: -t[1])
        urg = sorted(((show(f), w[f][4]) for f in feats), key=lambda t: -t[1])
        return {
            "category": category,
            "rival": rival,
            "category_features": _dedupe([t for t in cat if t[1] > 0])[:n],
            "urgent_features": _dedupe([t for t in urg if t[1] > 0])[:n],
            "prediction": pred,
        }

    # -- persistence -------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "classes": list(CLASSES),
            "meta": self.meta,
            "cat_prior": [round(x, 5) for x in self.cat_prior],
            "urgent_prior": round(self.urgent_prior, 5),
            "weights": {f: [round(x, 4) for x in v] for f, v in sorted(self.weights.items())},
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n",
                              encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict) -> LearnedModel:
        if data.get("format") != FORMAT or tuple(data.get("classes", ())) != CLASSES:
            raise ValueError(f"not a {FORMAT} model with classes {', '.join(CLASSES)}")
        return cls(data["weights"], data["cat_prior"], data["urgent_prior"], data.get("meta"))

    @classmethod
    def load(cls, path: str | Path) -> LearnedModel:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _dedupe(items: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """A word and the same characters as a bigram are one feature to a reader."""
    out, seen = [], set()
    for f, x in items:
        if f not in seen:
            seen.add(f)
            out.append((f, round(x, 2)))
    return out


def train(records: Iterable[dict], *, tokenize: Callable[[str], tuple[Sequence[str], str]] | None = None,
          alpha: float = 0.1, min_df: int = 1, mu: float = 1000.0) -> LearnedModel:
    """Learn both models from labelled records.

    Each record has ``category`` (one of ``CLASSES``), ``urgent`` (bool) and
    either ``tokens`` (and optionally ``norm``, its normalised text) or
    ``text``, which ``tokenize`` turns into (tokens, normalised text); without
    a tokenizer the text's own characters are the words. Features seen in
    fewer than ``min_df`` messages are dropped.

    Smoothing is Dirichlet towards the feature's rate over all messages
    (``mu`` pseudo-counts), plus ``alpha`` additive: a feature the small
    class (urgent) never saw then weighs about nothing, instead of leaning
    towards it because that class has fewer words to share the smoothing.
    """
    docs = []
    for rec in records:
        if "tokens" in rec:
            toks, norm = rec["tokens"], rec.get("norm")
        elif tokenize is not None:
            toks, norm = tokenize(rec["text"])
        else:
            toks, norm = list(rec["text"]), rec["text"]
        if rec["category"] not in CLASSES:
            raise ValueError(f"unknown category {rec['category']!r}")
        docs.append((_features(toks, norm), CLASSES.index(rec["category"]), bool(rec["urgent"])))
    if not docs:
        raise ValueError("no records to train on")
    df: dict[str, int] = {}
    for feats, _, _ in docs:
        for f in feats:
            df[f] = df.get(f, 0) + 1
    vocab = sorted(f for f, n in df.items() if n >= min_df)
    index = {f: i for i, f in enumerate(vocab)}
    V = len(vocab)
    cat_counts = [[0] * V for _ in CLASSES]
    urg_counts = [[0] * V, [0] * V]  # not urgent, urgent
    n_cat = [0] * len(CLASSES)
    n_urg = [0, 0]
    for feats, c, u in docs:
        n_cat[c] += 1
        n_urg[u] += 1
        for f in feats:
            i = index.get(f)
            if i is not None:
                cat_counts[c][i] += 1
                urg_counts[u][i] += 1
    n = len(docs)
    # Priors are flattened a little: the corpora's class mix is not the inbox's.
    cat_prior = [math.log((n_cat[c] + 1) / (n + len(CLASSES))) for c in range(len(CLASSES))]
    urgent_prior = math.log((n_urg[1] + 1) / (n_urg[0] + 1))
    total = sum(urg_counts[0]) + sum(urg_counts[1]) + alpha * V
    bg = [(urg_counts[0][i] + urg_counts[1][i] + alpha) / total for i in range(V)]
    cat_tot = [sum(row) + mu for row in cat_counts]
    urg_tot = [sum(row) + mu for row in urg_counts]
    weights = {}
    for f, i in index.items():
        prior = mu * bg[i]
        ll = [math.log((cat_counts[c][i] + prior) / cat_tot[c]) for c in range(len(CLASSES))]
        mean = sum(ll) / len(ll)
        u = math.log((urg_counts[1][i] + prior) / urg_tot[1]) - math.log((urg_counts[0][i] + prior) / urg_tot[0])
        weights[f] = tuple(x - mean for x in ll) + (u,)
    meta = {"messages": n, "urgent": n_urg[1], "alpha": alpha, "min_df": min_df, "mu": mu, "features": V}
    return LearnedModel(weights, cat_prior, urgent_prior, meta)
