"""The naive Bayes layer's share of the lexicon's score (bot/learned.py), when
no routing model reads first: its category posterior for every category, and
its urgent log-odds, read clause by clause so the lexicon's negation, past,
joke and safety markers overrule it, for the danger sum. It never takes away
danger the lexicon found, never counts the lexicon's danger words twice and
never raises the alarm on its own."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

from .learned import CLASSES as LEARNED_CLASSES, Evidence, LearnedModel
from .stages import Analysis, DangerWord


class LayerShare(NamedTuple):
    """What the layer adds: its evidence (None: not asked), to the danger sum, to each category."""

    evidence: Evidence | None
    urgent: float
    category: dict[str, float]


def layer_share(learned: LearnedModel | None, a: Analysis, urgent_total: float, threshold: float,
                best_urgent: Mapping[str, DangerWord]) -> LayerShare:
    """The layer's share of one message's score."""
    if learned is None or urgent_total >= threshold or not a.words:
        # (Danger the lexicon found on its own is never taken away, and
        # its kind decides the route: the layer is not asked then.)
        return LayerShare(None, 0.0, {})
    learned_urgent = 0.0
    p = learned.combine
    ev = learned.evidence(a.words, a.word_clause, a.clause_factor, best_urgent)
    # Naive Bayes adds up every word as if each were news: past
    # ``urgent_words`` words, the evidence grows with the square
    # root of the length, not the length.
    n = len(a.words)
    spread = math.sqrt(p["urgent_words"] / n) if p["urgent_words"] and n > p["urgent_words"] else 1.0
    logodds = learned.urgent_prior + (ev.urgent_logodds - learned.urgent_prior) * spread
    # Danger the lexicon saw in the present (not negated, not past)
    # lets the layer's words weigh ``urgent_weight_seen``: a faint
    # danger word plus a confident layer is how a new author's
    # danger told indirectly looks.
    seen = sum(d.effective for d in best_urgent.values() if d.effective > 0 and not d.past)
    offset = p["urgent_offset"]
    # The guard of the eager offset: only present danger of some
    # weight lowers the bar. The layer alone, a lone weak word
    # ("家里有把刀") or danger that is all past, negated or
    # hypothetical ("十几年前被拐…现在找回来了") keeps the shipped one.
    eager = p.get("urgent_offset_eager", offset)
    if eager < offset and seen > 0.0 and seen >= p.get("urgent_eager_min", 0.0):
        offset = eager
    raw = logodds - offset
    if raw > 0.0:
        cap = p["urgent_cap"]
        learned_urgent = min(cap, p["urgent_weight"] * raw)
        if learned_urgent < cap and p["urgent_weight_seen"] > p["urgent_weight"] and seen > 0.0 and (
                seen >= p.get("urgent_seen_min", 0.0)):
            learned_urgent = min(cap, p["urgent_weight_seen"] * raw)
    learned_cat = {c: p["category_weight"] * ev.posterior[c] for c in LEARNED_CLASSES}
    return LayerShare(ev, learned_urgent, learned_cat)
