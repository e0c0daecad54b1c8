"""A learned keyword-weight layer: multinomial naive Bayes over the router's
words, trained from labelled messages.

Two models share one vocabulary: the category (consultation, mediation,
service, other) and urgency (urgent or not). The features of a message are
its words (for the router: its own normalised jieba tokens, so fillers and
punctuation are already gone), each counted once per message (binarised
naive Bayes: short messages rarely repeat a word, and when they do it is not
twice the evidence).

The weights are data: ``train(records)`` learns them from JSONL-style dicts
(``text`` or ``tokens``, ``category``, ``urgent``),
``LearnedModel.save`` and ``LearnedModel.load`` keep them as JSON
(``bot/data/learned.json``, built by ``bench/learned_cv.py --write`` from the
labelled corpora). Nothing here knows the lexicon; the router passes its own
tokens in, so there is no second segmentation, and decides how much the
evidence counts (``LearnedModel.combine``, see ``bot/routing.py``).

Every weight is a log-likelihood ratio, so a decision is a sum and can be
explained: ``LearnedModel.explain`` lists the features that pushed most
towards the chosen category and towards urgent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import add, itemgetter
from pathlib import Path

__all__ = [
    "CLASSES", "COMBINE_DEFAULTS", "FORMAT", "Evidence", "LearnedModel", "Prediction", "bigrams", "features", "train",
]

CLASSES = ("consultation", "mediation", "service", "other")
FORMAT = "niangjia-learned-nb/2"

# How the router weighs this layer against the lexicon (bot/routing.py reads
# them; bench/learned_cv.py --grid chose them on leave-one-author-out folds,
# and --write puts them into the model file):
# - category: ``category_weight`` times the learned posterior (at
#   ``temperature``: naive Bayes is overconfident) is added to each category's
#   lexicon score, "other" included;
# - urgent: ``urgent_weight`` times (log-odds - ``urgent_offset``), at most
#   ``urgent_cap``, is added to the lexicon's danger sum when positive. It
#   never takes danger away: a false alarm costs a phone call, a miss costs
#   more. The log-odds is read clause by clause: a clause the lexicon finds
#   negated, past, hypothetical, joking or safe counts as the lexicon says;
#   past ``urgent_words`` words the log-odds grows with the square root of
#   the length (naive Bayes counts every word as news); the danger words the
#   lexicon weighed itself are left out (not counted twice).
COMBINE_DEFAULTS = {
    "category_weight": 3.0,
    "temperature": 3.0,
    "urgent_weight": 0.25,
    "urgent_offset": -1.0,
    # Below the lexicon's trigger (1.0): the layer adds to danger the lexicon
    # saw, however faintly, but never raises the alarm on its words alone
    # ("路上", "久", "昨天" in a long chat about a market day).
    "urgent_cap": 0.9,
    "urgent_words": 10,
    # The weight when the lexicon saw some present danger itself (not
    # negated, not past), still under ``urgent_cap``: a faint danger word and
    # a confident layer together raise the alarm, the layer alone never. At
    # or below ``urgent_weight`` it changes nothing (bench/learned_cv.py
    # --urgent chose the shipped value).
    "urgent_weight_seen": 0.0,
    # How much present danger the lexicon must have seen (the sum of its
    # words' weights, not negated, not past) before ``urgent_weight_seen``
    # applies: a lone faint word (推 in 推文, 痛 in 脑壳痛) then does not
    # unlock the layer. 0 keeps the old behaviour (any present word).
    "urgent_seen_min": 0.0,
    # A lower (more eager) offset, taken only behind a guard: when the
    # lexicon's present danger (the sum above: not negated, not past, not
    # hypothetical) reaches ``urgent_eager_min``. The layer alone, a lone weak
    # word (刀 0.7 in "家里有把刀") or danger that is all past ("十几年前被拐…
    # 现在找回来了") keeps ``urgent_offset``. At or above ``urgent_offset`` it
    # changes nothing (bench/learned_cv.py --urgent chose the shipped values).
    "urgent_offset_eager": 0.0,
    "urgent_eager_min": 0.0,
}


def bigrams(text: str) -> list[str]:
    """Overlapping character pairs of the text."""
    return list(map(add, text, text[1:]))


def features(tokens: Sequence[str]) -> set[str]:
    """The distinct words of a message (the router's normalised tokens:
    fillers, numbers and punctuation are already gone).

    Word pairs and character bigrams were tried too: across the authors
    (bench/learned_cv.py) they were no better, and they cost as much again
    as the rest of the layer."""
    return set(tokens)


def _features(tokens: Sequence[str], text: str | None) -> set[str]:
    if text is not None:
        return set(tokens).union(bigrams(text))
    return features(tokens)


@dataclass(frozen=True)
class Prediction:
    category: str
    category_p: float  # posterior of that category
    posterior: dict[str, float]
    p_urgent: float


# The router's fast path adds the five weights of every feature found as one
# Python int: each weight in fixed point (1/2**16) plus a bias, in its own
# 40-bit field. One dictionary look-up and one C-level sum per message, no
# float objects to chase; the fields are read back after subtracting the
# bias once per feature found. |weight| < 2**5 and < 2**18 features per
# message keep every field in range.
_SCALE = float(1 << 16)
_BIAS = 1 << 21
_FIELD = 40
_MASK = (1 << _FIELD) - 1
_LIMIT = float(_BIAS - 1) / _SCALE


def _pack(weights: Sequence[float]) -> int:
    packed = 0
    for k, w in enumerate(weights):
        w = max(-_LIMIT, min(_LIMIT, w))
        packed |= (round(w * _SCALE) + _BIAS) << (_FIELD * k)
    return packed


def _unpack(total: int, count: int) -> tuple[float, float, float, float, float]:
    # Every field of the sum is the sum of its biased (so positive) parts:
    # read it, then take the biases away.
    bias = count * _BIAS
    return (
        ((total & _MASK) - bias) / _SCALE,
        (((total >> 40) & _MASK) - bias) / _SCALE,
        (((total >> 80) & _MASK) - bias) / _SCALE,
        (((total >> 120) & _MASK) - bias) / _SCALE,
        (((total >> 160) & _MASK) - bias) / _SCALE,
    )


class Evidence:
    """What the layer says about one message, for the router to add up."""

    # A plain class with slots: the router makes one per message, and a
    # frozen dataclass costs more to build (bench/micro.py; see bench/README.md).
    __slots__ = ("posterior", "urgent_logodds", "_feats", "_table")

    def __init__(self, posterior: dict[str, float], urgent_logodds: float, feats: set[str],
                 table: dict[str, tuple]) -> None:
        self.posterior = posterior  # category posterior at the model's temperature
        self.urgent_logodds = urgent_logodds  # log P(urgent)/P(not), clause factors applied
        self._feats = feats
        self._table = table

    def top(self, index: int, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` features pushing most towards column ``index`` (a category
        in ``CLASSES`` order, 4 for urgent), a word and a longer one holding it once."""
        w = self._table
        pairs = sorted(((f, w[f][index]) for f in self._feats if f in w), key=itemgetter(1), reverse=True)
        out: list[tuple[str, float]] = []
        for f, x in pairs[:2 * n]:
            if x <= 0 or len(out) >= n:
                break
            if all(f not in g and g not in f for g, _ in out):  # 婆婆 and 婆婆骂 say one thing
                out.append((f, x))
        return out


class LearnedModel:
    """Weights of the two naive Bayes models.

    ``weights[f]`` is a tuple: for each category in ``CLASSES`` the feature's
    log-likelihood minus its mean over the categories (adding the same number
    to every class changes no posterior), then log P(f|urgent)/P(f|not urgent).
    Features never seen in training carry no weight.
    """

    def __init__(self, weights: dict[str, tuple[float, ...]], cat_prior: Sequence[float],
                 urgent_prior: float, meta: dict | None = None, combine: dict | None = None) -> None:
        self.weights = {k: tuple(v) for k, v in weights.items()}
        self.cat_prior = tuple(cat_prior)
        self.urgent_prior = urgent_prior
        self.meta = dict(meta or {})
        self.combine = combine or {}
        self._packed = {k: _pack(v) for k, v in self.weights.items()}

    @property
    def combine(self) -> dict:
        return self._combine

    @combine.setter
    def combine(self, settings: dict) -> None:
        self._combine = {**COMBINE_DEFAULTS, **settings}
        self._temperature = self._combine["temperature"]

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
        post = _softmax(scores, 1.0)
        best = max(post, key=post.__getitem__)
        p_urgent = 1.0 / (1.0 + math.exp(-u)) if u > -700 else 0.0
        return Prediction(best, post[best], post, p_urgent)

    def evidence(self, tokens: Sequence[str], clause_of: Sequence[int] | None = None,
                 clause_factor: Sequence[float] | None = None, known: Iterable[str] = ()) -> Evidence:
        """The router's fast path: category posterior and urgent log-odds of a
        tokenised message. ``clause_factor[c]`` scales the urgent weight of
        features in clause ``c`` (a feature in several clauses takes the
        largest: when unsure, urgent wins); None means 1 everywhere.
        Words in ``known`` (the danger words the lexicon already weighed)
        add nothing to the urgent log-odds: they are not counted twice."""
        feats = features(tokens)
        hits = list(filter(None, map(self._packed.get, feats)))
        c0, c1, c2, c3 = self.cat_prior
        u = self.urgent_prior
        if hits:
            w0, w1, w2, w3, w4 = _unpack(sum(hits), len(hits))
            c0 += w0
            c1 += w1
            c2 += w2
            c3 += w3
            if clause_factor is not None:
                u += self._scaled_urgent(tokens, clause_of, clause_factor, known)
            else:
                u += w4
                for word in known:
                    h = self._packed.get(word)
                    if h is not None:
                        u -= _unpack(h, 1)[4]
        t = self._temperature
        top = max(c0, c1, c2, c3)
        e0 = math.exp((c0 - top) / t)
        e1 = math.exp((c1 - top) / t)
        e2 = math.exp((c2 - top) / t)
        e3 = math.exp((c3 - top) / t)
        z = e0 + e1 + e2 + e3
        post = {"consultation": e0 / z, "mediation": e1 / z, "service": e2 / z, "other": e3 / z}
        return Evidence(post, u, feats, self.weights)

    def _scaled_urgent(self, tokens, clause_of, clause_factor, known) -> float:
        """The urgent sum with each word at the largest factor of the clauses
        it occurs in (``known`` words left out)."""
        factor: dict[str, float] = dict.fromkeys(known, 0.0)
        skip = set(factor)
        for tok, cl in zip(tokens, clause_of, strict=True):
            f = clause_factor[cl]
            if tok not in skip and f > factor.get(tok, -1.0):
                factor[tok] = f
        packed = self._packed
        u = 0.0
        for tok, f in factor.items():
            if f:
                h = packed.get(tok)
                if h is not None:
                    u += f * _unpack(h, 1)[4]
        return u

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
        cat = sorted(((f, w[f][k] - w[f][j]) for f in feats), key=lambda t: -t[1])
        urg = sorted(((f, w[f][4]) for f in feats), key=lambda t: -t[1])
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
            "combine": self.combine,
            "cat_prior": [round(x, 5) for x in self.cat_prior],
            "urgent_prior": round(self.urgent_prior, 5),
            "weights": {f: [round(x, 4) for x in v] for f, v in sorted(self.weights.items())},
        }

    def save(self, path: str | Path) -> None:
        """Write the model as JSON, one feature a line in sorted order, so a
        rebuild after a lexicon or corpus change diffs readably."""
        data = self.to_dict()
        weights = data.pop("weights")
        head = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        lines = [f"{json.dumps(f, ensure_ascii=False)}:{json.dumps(w, separators=(',', ':'))}"
                 for f, w in weights.items()]
        body = ",\n".join(lines)
        Path(path).write_text(head[:-1] + ',"weights":{\n' + body + "\n}}\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict) -> LearnedModel:
        if data.get("format") != FORMAT or tuple(data.get("classes", ())) != CLASSES:
            raise ValueError(f"not a {FORMAT} model with classes {', '.join(CLASSES)}")
        combine = data.get("combine") or {}
        unknown = set(combine) - set(COMBINE_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown combine setting(s): {', '.join(sorted(unknown))}")
        return cls(data["weights"], data["cat_prior"], data["urgent_prior"], data.get("meta"), combine)

    @classmethod
    def load(cls, path: str | Path) -> LearnedModel:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _softmax(scores: Sequence[float], temperature: float) -> dict[str, float]:
    top = max(scores)
    exps = [math.exp((s - top) / temperature) for s in scores]
    z = sum(exps)
    return {c: e / z for c, e in zip(CLASSES, exps, strict=True)}


def _dedupe(items: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Each feature once, weights rounded for a reader."""
    out, seen = [], set()
    for f, x in items:
        if f not in seen:
            seen.add(f)
            out.append((f, round(x, 2)))
    return out


def train(records: Iterable[dict], *, tokenize: Callable[[str], tuple[Sequence[str], str]] | None = None,
          alpha: float = 0.1, min_df: int = 1, mu: float = 1000.0, beta: float = 0.0,
          combine: dict | None = None) -> LearnedModel:
    """Learn both models from labelled records.

    Each record has ``category`` (one of ``CLASSES``), ``urgent`` (bool) and
    either ``tokens`` (and optionally ``norm``, its normalised text, whose
    character pairs then stand in for the word pairs) or ``text``, which
    ``tokenize`` turns
    into (tokens, normalised text or None); without a tokenizer the text's
    own characters are the words. Features seen in fewer than ``min_df``
    messages are dropped.

    Smoothing is Dirichlet towards the feature's rate over all messages
    (``mu`` pseudo-counts), plus ``alpha`` additive: a feature the small
    class (urgent) never saw then weighs about nothing, instead of leaning
    towards it because that class has fewer words to share the smoothing.
    ``beta`` more pseudo-counts in every class keep a word seen once or
    twice from weighing like a word seen fifty times.
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
        prior = mu * bg[i] + beta
        ll = [math.log((cat_counts[c][i] + prior) / cat_tot[c]) for c in range(len(CLASSES))]
        mean = sum(ll) / len(ll)
        u = math.log((urg_counts[1][i] + prior) / urg_tot[1]) - math.log((urg_counts[0][i] + prior) / urg_tot[0])
        weights[f] = tuple(x - mean for x in ll) + (u,)
    meta = {"messages": n, "urgent": n_urg[1], "alpha": alpha, "min_df": min_df, "mu": mu, "beta": beta,
            "features": V}
    return LearnedModel(weights, cat_prior, urgent_prior, meta, combine)
