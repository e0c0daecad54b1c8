"""The lexicon supervisors edit, as typed data: categories, danger kinds and
their rules, compiled into one word index (bot/data/lexicon.yaml; parsed and
validated by bot/lexicon_parse.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .text import Normaliser
from .urgent_rules import EdgeRule, HarmRule, UrgentKind, UrgentRules, VictimRule

__all__ = [
    "CATEGORIES", "OTHER", "ROUTED", "SELF_HARM", "Category", "EdgeRule", "HarmRule", "Hit", "Lexicon", "LexiconError",
    "Subcategory", "UrgentKind", "UrgentRules", "VictimRule",
]

ROUTED = ("consultation", "mediation", "service")
OTHER = "other"
CATEGORIES = ROUTED + (OTHER,)
# The kind of danger that is her own suicidal intent.
SELF_HARM = "self_harm"

class LexiconError(ValueError):
    """A lexicon that cannot be used; the message names the file and the line."""


# ---------------------------------------------------------------------------
# The lexicon as data


@dataclass(frozen=True)
class Subcategory:
    key: str
    label: str
    keywords: Mapping[str, float]


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    cues: Mapping[str, float]
    subcategories: tuple[Subcategory, ...]
    without_cue: float = 1.0  # topic words count this much when no cue is present

    def subcategory(self, key: str | None) -> Subcategory | None:
        for sub in self.subcategories:
            if sub.key == key:
                return sub
        return None


# Roles a word can play in the compiled index.
KW, CUE, URG, OTH, NEG, PAST, PRESENT, BREAK = range(8)
ROLE_NAMES = {
    KW: "keyword",
    CUE: "cue",
    URG: "urgent",
    OTH: "other",
    NEG: "negator",
    PAST: "past",
    PRESENT: "present",
    BREAK: "scope_breaker",
}


class Hit(NamedTuple):
    """What a word of the index means: its role, the category (or danger
    kind) and subcategory it speaks for, and its weight."""

    role: int
    key: str | None
    sub: str | None
    weight: float


# Bits of the token-level markers (a word may be several at once).
M_NEG, M_PAST, M_PRESENT, M_BREAK, M_HYPO, M_SAFE, M_UNREAL = 1, 2, 4, 8, 16, 32, 64


class Lexicon:
    """The parsed, validated and compiled taxonomy."""

    def __init__(
        self,
        *,
        source: str,
        threshold: float,
        evidence_scale: float,
        categories: tuple[Category, ...],
        other_label: str,
        other_terms: Mapping[str, float],
        short_message_chars: int,
        urgent: UrgentRules,
        normaliser: Normaliser,
        background_factor: float = 1.0,
        min_evidence: float = 0.0,
    ) -> None:
        self.source = source
        self.threshold = threshold
        self.evidence_scale = evidence_scale
        self._categories = categories
        self._by_key = {c.key: c for c in categories}
        self.other_label = other_label
        self.other_terms = dict(other_terms)
        self.short_message_chars = short_message_chars
        self.urgent = urgent
        self.normaliser = normaliser
        self.background_factor = background_factor
        self.min_evidence = min_evidence
        self.index = self._compile()
        # Every proper prefix of a listed word: extending a run of tokens
        # stops as soon as it cannot become a word.
        self.prefixes = frozenset(w[:i] for w in self.index for i in range(1, len(w)))
        self.urgent_words = frozenset(w for w, hits in self.index.items() if any(h[0] == URG for h in hits))
        u = urgent
        self.markers: dict[str, int] = {}
        for words, bit in (
            (u.negators, M_NEG),
            (u.past_markers, M_PAST),
            (u.hypothetical_markers, M_HYPO),
            (u.present_markers, M_PRESENT),
            (u.scope_breakers, M_BREAK),
            (u.safe_markers, M_SAFE),
            (u.unreal_markers, M_UNREAL),
        ):
            for word in words:
                self.markers[word] = self.markers.get(word, 0) | bit
        # One-character scope breakers and present markers that jieba may glue
        # to the next word; the router splits them off again.
        self.split_first = frozenset(
            w for w, bits in self.markers.items() if len(w) == 1 and bits & (M_BREAK | M_PRESENT)
        )
        # Aspect particles jieba may glue to the verb before them (掐着).
        self.split_last = frozenset(p for p in (urgent.harm.particles if urgent.harm else ()) if len(p) == 1)

    # -- construction ------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Lexicon:
        """Read and validate a lexicon file; raises LexiconError naming the line."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise LexiconError(f"{path}: cannot read lexicon: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise LexiconError(f"{path}: lexicon must be UTF-8 ({exc.reason})") from exc
        return cls.parse(text, source=str(path))

    @classmethod
    def parse(cls, text: str, source: str = "<lexicon>") -> Lexicon:
        """Validate lexicon YAML text; raises LexiconError naming the line."""
        from .lexicon_parse import LexiconParser

        return LexiconParser(source).parse(text)


    # -- queries -----------------------------------------------------------

    def categories(self) -> tuple[Category, ...]:
        """The routed categories in lexicon order, then "other" (no subcategories)."""
        other = Category(OTHER, self.other_label, {}, ())
        return self._categories + (other,)

    def category(self, key: str) -> Category | None:
        if key == OTHER:
            return Category(OTHER, self.other_label, {}, ())
        return self._by_key.get(key)

    def label(self, category: str, subcategory: str | None = None) -> str:
        """Chinese label for replies, e.g. "调解 · 婆媳/姻亲矛盾"."""
        cat = self.category(category)
        if cat is None:
            raise KeyError(f"unknown category {category!r}")
        if subcategory is None:
            return cat.label
        sub = cat.subcategory(subcategory)
        if sub is None:
            raise KeyError(f"unknown subcategory {category}/{subcategory}")
        return f"{cat.label} · {sub.label}"

    def tokenizer_words(self) -> set[str]:
        """Every multi-character word the tokenizer should keep whole."""
        words = {w for w in self.index if len(w) > 1}
        words |= {w for w in self.normaliser.words() if len(w) > 1}
        return words

    def pivot_words(self) -> set[str]:
        """Single words that must stay visible as tokens: markers, one-character
        terms, harm-rule words. A phrase built on one of them ("就打", "被打",
        "打我") is matched as a run of tokens instead of being added to the
        tokenizer: added, it would hide the 就 that ends a negation, or swallow
        a neighbour ("打我们")."""
        pivots = set(self.markers) | {w for w in self.index if len(w) == 1}
        h = self.urgent.harm
        if h is not None:
            pivots |= set(h.verbs) | set(h.objects) | set(h.passive) | set(h.disposal) | set(h.particles)
        v = self.urgent.victim
        if v is not None:
            pivots |= set(v.self_words)
        return pivots

    # -- compilation -------------------------------------------------------

    def _compile(self) -> dict[str, tuple[Hit, ...]]:
        index: dict[str, list[Hit]] = {}

        def add(word: str, hit: Hit) -> None:
            index.setdefault(word, []).append(hit)

        for cat in self._categories:
            for word, weight in cat.cues.items():
                add(word, Hit(CUE, cat.key, None, weight))
            for sub in cat.subcategories:
                for word, weight in sub.keywords.items():
                    add(word, Hit(KW, cat.key, sub.key, weight))
        for word, weight in self.other_terms.items():
            add(word, Hit(OTH, OTHER, None, weight))
        u = self.urgent
        for kind in u.kinds:
            for word, weight in kind.terms.items():
                add(word, Hit(URG, kind.key, None, weight))
        for words, role in (
            (u.negators, NEG),
            (u.past_markers, PAST),
            (u.hypothetical_markers, PAST),
            (u.present_markers, PRESENT),
            (u.scope_breakers, BREAK),
            (u.safe_markers, PAST),
            (u.unreal_markers, PAST),
        ):
            for word in words:
                add(word, Hit(role, None, None, 0.0))
        return {w: tuple(h) for w, h in index.items()}


# ---------------------------------------------------------------------------
# Parsing with line numbers
