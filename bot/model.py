"""The learned routing model, scored in pure Python: a linear model over the
features of bot/features.py that predicts the route (a subcategory, or
"other") and, separately, the probability of danger.

Trained by bot/training.py with scikit-learn (a dev dependency); shipped as
JSON (``bot/data/model.json``) holding, per feature, its weights for every
label and for danger packed into one hexadecimal integer: scoring a message
is one dictionary look-up per feature and one C-level sum of Python ints,
then the labels' fields are read back once. Loading is one ``int(x, 16)``
per feature, which keeps the cold start within its target.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FORMAT", "ModelError", "Prediction", "RouteModel", "best_route", "label_of", "split_label"]

FORMAT = "niangjia-route-model/1"

# Fixed point: weights in units of 1/2**12, each biased by 2**18 so a field
# stays positive; 34-bit fields hold the sum of up to 2**15 features.
_SCALE = float(1 << 12)
_BIAS = 1 << 18
_FIELD = 34
_MASK = (1 << _FIELD) - 1
_LIMIT = (_BIAS - 1) / _SCALE


class ModelError(ValueError):
    """A model file that cannot be used; the message says why."""


def label_of(category: str, subcategory: str | None) -> str:
    """The model's label of a route: "consultation/anti_dv_law", or "other"."""
    return category if category == "other" or not subcategory else f"{category}/{subcategory}"


def split_label(label: str) -> tuple[str, str | None]:
    """(category, subcategory) of a model label."""
    category, _, sub = label.partition("/")
    return category, sub or None


def best_route(label_p: dict[str, float], category_p: dict[str, float] | None = None) -> tuple[str, str | None, float]:
    """The category with the highest summed probability, its likeliest subcategory, and that sum."""
    if category_p:
        category = max(category_p, key=category_p.__getitem__)
        prefix = category + "/"
        subs = [lb for lb in label_p if lb.startswith(prefix)]
        sub = max(subs, key=label_p.__getitem__)[len(prefix):] if subs else None
        return category, sub, category_p[category]
    by_cat: dict[str, float] = {}
    best: dict[str, tuple[float, str | None]] = {}
    for label, p in label_p.items():
        cat, _, sub = label.partition("/")
        by_cat[cat] = by_cat.get(cat, 0.0) + p
        if p > best.get(cat, (-1.0, None))[0]:
            best[cat] = (p, sub or None)
    category = max(by_cat, key=by_cat.__getitem__)
    return category, best[category][1], by_cat[category]


def pack(weights: Sequence[float]) -> int:
    """Weights as one int of biased fixed-point fields, the first lowest."""
    packed = 0
    for k, w in enumerate(weights):
        w = max(-_LIMIT, min(_LIMIT, w))
        packed |= (round(w * _SCALE) + _BIAS) << (_FIELD * k)
    return packed


def unpack(total: int, count: int, fields: int) -> list[float]:
    """The fields of a sum of ``count`` packed ints, biases taken away."""
    bias = count * _BIAS
    return [(((total >> (_FIELD * k)) & _MASK) - bias) / _SCALE for k in range(fields)]


@dataclass(frozen=True)
class Prediction:
    """What the model says of one message."""

    label_p: dict[str, float]  # probability of every label
    category_p: dict[str, float]  # summed over each category's labels
    p_danger: float
    features: Set[str] = field(default_factory=frozenset)


class RouteModel:
    """Label and danger weights of the linear model, and the settings it ships with."""

    def __init__(self, labels: Sequence[str], packed: dict[str, int], bias: Sequence[float],
                 danger_bias: float, settings: dict | None = None, meta: dict | None = None) -> None:
        self.labels = tuple(labels)
        self.packed = packed
        self.bias = tuple(bias)
        self.danger_bias = danger_bias
        self.settings = {"danger_threshold": 0.5, **(settings or {})}
        self.meta = dict(meta or {})
        self._fields = len(self.labels) + 1
        self._packed_bias = pack([*self.bias, self.danger_bias])
        self._ovr = self.settings.get("link") == "ovr"
        self._cat_index: dict[str, list[int]] = {}
        for i, label in enumerate(self.labels):
            self._cat_index.setdefault(split_label(label)[0], []).append(i)

    @property
    def danger_threshold(self) -> float:
        return float(self.settings["danger_threshold"])

    @property
    def rule_veto(self) -> float:
        """Below this danger the model overrules the lexicon's alarm (0: never; bot/decide.py)."""
        return float(self.settings.get("rule_veto", 0.0))

    @classmethod
    def from_weights(cls, labels: Sequence[str], weights: dict[str, Sequence[float]], bias: Sequence[float],
                     danger_bias: float, settings: dict | None = None, meta: dict | None = None) -> RouteModel:
        """A model from per-feature rows: one weight per label, then the danger weight."""
        if any(len(row) != len(labels) + 1 for row in weights.values()):
            raise ModelError("every feature needs one weight per label and one for danger")
        return cls(labels, {f: pack(row) for f, row in weights.items()}, bias, danger_bias, settings, meta)

    def weights(self, feature: str) -> list[float] | None:
        """A feature's weights (labels, then danger), or None if it has none."""
        h = self.packed.get(feature)
        return None if h is None else unpack(h, 1, self._fields)

    def predict(self, feats: Iterable[str]) -> Prediction:
        """Label probabilities and P(danger) of a message's features."""
        if not isinstance(feats, (set, frozenset)):
            feats = frozenset(feats)
        hits = list(filter(None, map(self.packed.get, feats)))
        hits.append(self._packed_bias)  # the biases ride along as one more feature
        sums = unpack(sum(hits), len(hits), self._fields)
        danger = sums.pop()
        exp = math.exp
        if self._ovr:
            # One label against the rest: each label's own probability, shared out.
            exps = [1.0 / (1.0 + exp(min(-s, 700.0))) for s in sums]
        else:
            top = max(sums)
            exps = [exp(s - top) for s in sums]
        z = sum(exps) or 1.0
        label_p = dict(zip(self.labels, [e / z for e in exps], strict=True))
        category_p = {c: sum([exps[i] for i in idx]) / z for c, idx in self._cat_index.items()}
        p_danger = 1.0 / (1.0 + exp(min(-danger, 700.0)))
        return Prediction(label_p, category_p, p_danger, feats)

    def column(self, feature: str, column: int) -> float:
        """One weight of a feature (a label's index, -1 for danger); 0 if it has none."""
        h = self.packed.get(feature)
        if h is None:
            return 0.0
        k = column % self._fields
        return (((h >> (_FIELD * k)) & _MASK) - _BIAS) / _SCALE

    def index(self, label: str) -> int:
        return self.labels.index(label)

    def top_features(self, feats: Iterable[str], column: int, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` features pushing most towards ``column`` (a label's index, -1 for danger)."""
        rows = []
        for f in feats:
            w = self.weights(f)
            if w is not None and w[column] > 0:
                rows.append((f, w[column]))
        rows.sort(key=lambda x: -x[1])
        return rows[:n]

    # -- persistence -------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "labels": list(self.labels),
            "bias": [round(b, 5) for b in self.bias],
            "danger_bias": round(self.danger_bias, 5),
            "settings": self.settings,
            "meta": self.meta,
            "weights": {f: format(h, "x") for f, h in sorted(self.packed.items())},
        }

    def dumps(self) -> str:
        """The model as JSON text, one feature a line (rebuilds diff readably)."""
        data = self.to_dict()
        weights = data.pop("weights")
        head = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        body = ",\n".join(f"{json.dumps(f, ensure_ascii=False)}:\"{h}\"" for f, h in weights.items())
        return head[:-1] + ',"weights":{\n' + body + "\n}}\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.dumps(), encoding="utf-8")

    @classmethod
    def loads(cls, text: str) -> RouteModel:
        """A model from its JSON text; ModelError says what is wrong."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"not JSON: {exc.msg} (line {exc.lineno})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(f"not a {FORMAT} model")
        try:
            labels = [str(x) for x in data["labels"]]
            bias = [float(x) for x in data["bias"]]
            packed = {str(f): int(h, 16) for f, h in data["weights"].items()}
            danger_bias = float(data["danger_bias"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"malformed model: {type(exc).__name__} {exc}") from None
        if len(bias) != len(labels) or "other" not in labels:
            raise ModelError("the model's labels and biases do not agree, or it has no 'other'")
        return cls(labels, packed, bias, danger_bias, data.get("settings"), data.get("meta"))

    @classmethod
    def load(cls, path: str | Path) -> RouteModel:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"{path}: cannot read: {exc}") from None
        return cls.loads(text)
