"""The named types the routing stages hand each other (bot/analyse.py →
bot/clauses.py → bot/score.py → bot/decide.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .learned import LearnedModel
from .lexicon import Hit, Lexicon
from .model import RouteModel

@dataclass
class Match:
    word: str  # the normalised word looked up
    start: int  # index of the first content token
    end: int  # index after the last content token
    clause: int
    hits: tuple[Hit, ...]
    negated: bool = False
    past: bool = False  # past or hypothetical: urgent terms count less
    background: bool = False  # past only: route keywords count less
    boosted: bool = False  # a harm verb with a person as its object


@dataclass
class Analysis:
    matches: list[Match]
    tokens: list[str]
    unknown_words: int
    content_chars: int
    detail: list[dict] | None = None
    clause_of: list[int] = field(default_factory=list)
    # How much each clause's danger counts for the learned layer: 0 for a
    # joke or a negated danger word, past_factor for the past or a "what if";
    # None when every clause counts in full.
    clause_factor: list[float] | None = None
    words: list[str] = field(default_factory=list)  # what the learned layer reads
    word_clause: list[int] = field(default_factory=list)
    text: str = ""  # the folded message, numbers and all ("我14岁")


@dataclass
class RouterState:
    lexicon: Lexicon
    tokenizer: Any
    route_of_kind: dict[str, tuple[str, str]] = field(default_factory=dict)
    learned: LearnedModel | None = None
    cut: Any = None  # the tokenizer's cut(text, HMM=False), fused (bot/segment.py)
    model: RouteModel | None = None  # reads first when present (the naive Bayes layer is then off)




@dataclass(frozen=True)
class Route:
    """Where a message goes, and why."""

    category: str
    subcategory: str | None
    urgent: bool
    confidence: float
    keywords: tuple[str, ...]
    urgent_keywords: tuple[str, ...]
    needs_choice: bool
    explanation: str
    # Her own intent to harm herself: her first reply gives 12356 beside 110.
    self_harm: bool = False
    p_danger: float | None = None  # the model's probability of danger (None: no model)
    policies: tuple[str, ...] = ()  # the policies in code that changed this route (bot/decide.py)
    # The lexicon's reading of its danger words: the sum of those that count
    # now (not negated, not past, not unreal, not harmless), and whether it
    # found some and read every one out of the present.
    lexicon_danger: float = 0.0
    lexicon_cleared: bool = False

    def to_dict(self) -> dict:
        """Plain dict, the deciding fields first."""
        return {
            "category": self.category,
            "subcategory": self.subcategory,
            "urgent": self.urgent,
            "confidence": self.confidence,
            "keywords": list(self.keywords),
            "urgent_keywords": list(self.urgent_keywords),
            "needs_choice": self.needs_choice,
            "explanation": self.explanation,
            "self_harm": self.self_harm,
            "p_danger": None if self.p_danger is None else round(self.p_danger, 3),
            "policies": list(self.policies),
            "lexicon_danger": self.lexicon_danger,
            "lexicon_cleared": self.lexicon_cleared,
        }


class DangerWord(NamedTuple):
    """A danger word of the message, read once at its strongest."""

    word: str
    weight: float  # its weight in the lexicon (or the harm rule's, when boosted)
    effective: float  # what it counts now: 0 negated, scaled down in the past
    negated: bool
    past: bool
    kind: str  # the kind of danger (violence, self_harm, ...)
    clause: int
