"""The lexicon's urgent rules as typed data: the kinds of danger and their words,
time and negation markers, and the harm, edge and victim rules (parsed by
bot/lexicon_urgent.py, read by bot/clauses.py, bot/harm.py and bot/victims.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class UrgentKind:
    key: str
    label: str
    category: str
    subcategory: str
    terms: Mapping[str, float]
    # Once its own words reach the trigger, this kind decides the route over
    # violence however much that scores: trafficking is told with the beating
    # and the locked door that come with it, and is still trafficking.
    decides: bool = False



@dataclass(frozen=True)
class VictimRule:
    """Violence against a child, not against her, goes where children are helped."""

    from_kind: str
    to_kind: str
    child_words: frozenset[str]
    self_words: frozenset[str]
    possessed_words: frozenset[str]
    # Grown-ups other than her (我妈, 王婶, 老人): a clause about one of them
    # counts on her side, whoever else it names.
    adult_words: frozenset[str] = frozenset()


@dataclass(frozen=True)
class HarmRule:
    """A harm verb with a person as its object is strong on its own."""

    verbs: frozenset[str]
    objects: tuple[str, ...]  # longest first
    particles: frozenset[str]
    passive: frozenset[str]
    disposal: frozenset[str]
    now: frozenset[str]
    strength: float
    reach: int


@dataclass(frozen=True)
class EdgeRule:
    """She says she is at a place to fall from: the place is strong on its own."""

    places: frozenset[str]
    at: frozenset[str]  # 在, 站在, 坐在: "be at" words before the place
    everyday: frozenset[str]  # 晒被子, 堵车: what is done there on an ordinary day
    strength: float
    reach: int


@dataclass(frozen=True)
class UrgentRules:
    threshold: float
    past_factor: float
    negation_window: int
    negators: frozenset[str]
    scope_breakers: frozenset[str]
    past_markers: frozenset[str]
    hypothetical_markers: frozenset[str]
    present_markers: frozenset[str]
    kinds: tuple[UrgentKind, ...]
    victim: VictimRule | None = None
    harm: HarmRule | None = None
    past_aspect: frozenset[str] = frozenset()
    safe_markers: frozenset[str] = frozenset()
    unreal_markers: frozenset[str] = frozenset()
    # A danger word that is harmless in a clause naming one of its contexts
    # and with no person as its object: 打 with 疫苗 or 字, 走丢 with 狗.
    harmless: Mapping[str, frozenset[str]] = field(default_factory=dict)
    edge: EdgeRule | None = None
