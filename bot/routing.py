"""Keyword routing of a woman's message to consultation, mediation or service,
and detection of danger that makes it urgent.

The taxonomy lives in ``bot/data/lexicon.yaml`` (edited by supervisors); this
module parses and validates it (every error names the file and line), compiles
it into a word index, segments messages with one jieba tokenizer per Router and
scores the words it finds. Keywords are matched on whole tokens, or on runs of
whole tokens, never on raw substrings: 打 inside 打工 or 打官司 is not violence.

Urgency is scored separately from the route: weighted danger terms add up per
message; a negator just before a term ("他没打我") cancels it, and a clause about
the past ("以前被打过") or a hypothetical ("如果他打我") scales it down unless a
present marker (现在, 又, 刚才, 今晚, 他说) puts it back into the present; what
comes before "现在已经搬出来了" is the past too; so is "十几年前" (a span of
years or months followed by 前). A joke, a film or the news ("开玩笑", "哈哈",
a laughing emoji, "电视剧", "新闻") puts its clause and the next one or two out
of the present even when they say 再 or 刚, and their route words count as
background. A harm verb with a person as
its object (泼我, 把我捆起来, 被他打了) counts as strong on its own. When the sum
reaches the trigger the message is urgent and goes where the kind of danger
says (violence → consultation/anti_dv_law, suicide → counselling, trafficking →
policy_other), and violence against a child more than against her goes to
children_in_difficulty: each clause with danger counts for whoever it names
(a bare passive or 她 for whoever was named last, her if nobody). A false alarm costs a phone call; a miss costs more, so
the weights lean towards urgent.

The category is its intent cues plus its best-matching subcategory; mediation
words count less when she does not ask for anyone to step in. A message that
names domestic violence is never routed to mediation. Confidence falls
when a rival category scores close and rises with the evidence; below the
lexicon's threshold the bot asks her to choose.

A learned layer (bot/learned.py, weights in bot/data/learned.json) adds
evidence on top: its category posterior to every category's score, and its
urgent log-odds to the danger sum, read clause by clause so the lexicon's
negation, past, joke and safety markers overrule it. It never takes away
danger the lexicon found, never counts the lexicon's danger words twice and
never raises the alarm on its own (it counts more once the lexicon saw some
present danger itself, and is heard sooner once that danger has some weight:
a lone 刀, the past or the negated never lower its bar); the explanation
shows its share and the
words that weighed most. Segmentation is jieba's, fused into one pass
(bot/segment.py) to pay for it.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .decide import LexicalRead, decide
from .explain import explain as explain_zh, readable_words
from .features import message_features
from .learned import CLASSES as LEARNED_CLASSES, LearnedModel
from .model import RouteModel, label_of
from .segment import FastCut
from .text import ConditionalTypo, Normaliser, blank_stickers, fold, fold_script, is_clause_break, is_content, nfkc

__all__ = [
    "CATEGORIES",
    "DEFAULT_LEARNED",
    "DEFAULT_LEXICON",
    "DEFAULT_MODEL",
    "DEFAULT_USERDICT",
    "Category",
    "Lexicon",
    "LexiconError",
    "Route",
    "Router",
    "Subcategory",
    "UrgentKind",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_LEXICON = DATA_DIR / "lexicon.yaml"
DEFAULT_USERDICT = DATA_DIR / "userdict.txt"
# Weights of the learned layer, built from the labelled corpora by
# bench/learned_cv.py --write (see data/corpus/README.md).
DEFAULT_LEARNED = DATA_DIR / "learned.json"
DEFAULT_MODEL = DATA_DIR / "model.json"

ROUTED = ("consultation", "mediation", "service")
OTHER = "other"
CATEGORIES = ROUTED + (OTHER,)

# The longest run of tokens joined to look a keyword up. Most keywords are added
# to the tokenizer's dictionary and come out as one token; joining catches the
# ones jieba still splits, and the phrases kept out of the dictionary because
# they are built on a marker word (see Lexicon.pivot_words).
_MAX_SPAN = 6
# Added words get this many times the least frequency that keeps them whole.
_FREQ_MARGIN = 3
# Clauses after a past marker that stay in the past unless they say otherwise.
_PAST_CARRY = 2
# A cue at least this strong routes to its category even with no topic word.
_STRONG_CUE = 2.0
# A keyword this heavy names its subcategory by itself (see lexicon.yaml).
_NAMES_IT = 3.0


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


# Roles a word can play in the compiled index.
_KW, _CUE, _URG, _OTH, _NEG, _PAST, _PRESENT, _BREAK = range(8)
_ROLE_NAMES = {
    _KW: "keyword",
    _CUE: "cue",
    _URG: "urgent",
    _OTH: "other",
    _NEG: "negator",
    _PAST: "past",
    _PRESENT: "present",
    _BREAK: "scope_breaker",
}


# Bits of the token-level markers (a word may be several at once).
_M_NEG, _M_PAST, _M_PRESENT, _M_BREAK, _M_HYPO, _M_SAFE, _M_UNREAL = 1, 2, 4, 8, 16, 32, 64

# Laughing emoji are read as the word 哈哈: "打断我的腿😂" is a joke.
_LAUGH_EMOJI = frozenset("😂🤣😄😆😁😅😹😝😜🙃")
_LAUGH_WORD = "哈哈"
# Pronouns that point back at whoever the message last named.
_THIRD_PERSON = frozenset(("她",))
# Units of time that make "…前" the past ("十几年前", "三个月前").
_AGO_UNITS = frozenset("年月")


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
        self.urgent_words = frozenset(w for w, hits in self.index.items() if any(h[0] == _URG for h in hits))
        u = urgent
        self.markers: dict[str, int] = {}
        for words, bit in (
            (u.negators, _M_NEG),
            (u.past_markers, _M_PAST),
            (u.hypothetical_markers, _M_HYPO),
            (u.present_markers, _M_PRESENT),
            (u.scope_breakers, _M_BREAK),
            (u.safe_markers, _M_SAFE),
            (u.unreal_markers, _M_UNREAL),
        ):
            for word in words:
                self.markers[word] = self.markers.get(word, 0) | bit
        # One-character scope breakers and present markers that jieba may glue
        # to the next word; the router splits them off again.
        self.split_first = frozenset(
            w for w, bits in self.markers.items() if len(w) == 1 and bits & (_M_BREAK | _M_PRESENT)
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
        return _LexiconParser(source).parse(text)

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

    def _compile(self) -> dict[str, tuple[tuple, ...]]:
        index: dict[str, list[tuple]] = {}

        def add(word: str, hit: tuple) -> None:
            index.setdefault(word, []).append(hit)

        for cat in self._categories:
            for word, weight in cat.cues.items():
                add(word, (_CUE, cat.key, None, weight))
            for sub in cat.subcategories:
                for word, weight in sub.keywords.items():
                    add(word, (_KW, cat.key, sub.key, weight))
        for word, weight in self.other_terms.items():
            add(word, (_OTH, OTHER, None, weight))
        u = self.urgent
        for kind in u.kinds:
            for word, weight in kind.terms.items():
                add(word, (_URG, kind.key, None, weight))
        for words, role in (
            (u.negators, _NEG),
            (u.past_markers, _PAST),
            (u.hypothetical_markers, _PAST),
            (u.present_markers, _PRESENT),
            (u.scope_breakers, _BREAK),
            (u.safe_markers, _PAST),
            (u.unreal_markers, _PAST),
        ):
            for word in words:
                add(word, (role, None, None, 0.0))
        return {w: tuple(h) for w, h in index.items()}


# ---------------------------------------------------------------------------
# Parsing with line numbers


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


_TOP_KEYS = {
    "version", "threshold", "evidence_scale", "min_evidence", "background_factor",
    "categories", "other", "urgent", "normalisation",
}
_CATEGORY_KEYS = {"label", "cues", "without_cue", "subcategories"}
_SUB_KEYS = {"label", "keywords"}
_OTHER_KEYS = {"label", "terms", "short_message_chars"}
_URGENT_KEYS = {
    "threshold",
    "past_factor",
    "negation_window",
    "negators",
    "scope_breakers",
    "past_markers",
    "hypothetical_markers",
    "present_markers",
    "kinds",
    "victim",
    "harm",
    "past_aspect",
    "safe_markers",
    "unreal_markers",
    "harmless_with",
    "edge",
}
_EDGE_KEYS = {"places", "at", "everyday", "strength", "reach"}
_HARM_KEYS = {"verbs", "objects", "particles", "passive", "disposal", "now", "strength", "reach"}
_VICTIM_KEYS = {"from", "to", "child_words", "self_words", "possessed_words", "adult_words"}
_KIND_KEYS = {"label", "route", "terms", "decides"}
_NORM_KEYS = {"typos", "fillers", "pinyin", "english"}
_INT_TAG = "tag:yaml.org,2002:int"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"

try:  # libyaml keeps marks too and composes several times faster
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


class _LexiconParser:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, node: yaml.Node | None, message: str, line: int | None = None) -> LexiconError:
        return LexiconError(f"{self.source} line {line or _line(node)}: {message}")

    # -- generic node helpers ----------------------------------------------

    def mapping(self, node: yaml.Node, what: str, allowed: set[str] | None = None) -> dict[str, tuple]:
        """Keys to (key_node, value_node), refusing duplicates and unknown keys."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        out: dict[str, tuple] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise self.error(knode, f"{what}: keys must be plain words")
            key = knode.value
            if key in out:
                first = _line(out[key][0])
                raise self.error(knode, f"duplicate key {key!r} in {what} (first at line {first})")
            if allowed is not None and key not in allowed:
                raise self.error(knode, f"unknown key {key!r} in {what}; expected one of {', '.join(sorted(allowed))}")
            out[key] = (knode, vnode)
        return out

    def require(self, items: dict, key: str, node: yaml.Node, what: str) -> yaml.Node:
        if key not in items:
            raise self.error(node, f"{what} needs {key!r}")
        return items[key][1]

    def string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR_TAG or not node.value.strip():
            raise self.error(node, f"{what} must be a non-empty string")
        return node.value.strip()

    def number(self, node: yaml.Node, what: str, lo: float, hi: float) -> float:
        value = None
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT_TAG, _FLOAT_TAG):
            try:
                value = float(node.value.replace("_", ""))
            except ValueError:
                value = None
        if value is None or not math.isfinite(value):
            raise self.error(node, f"{what} must be a number, not {getattr(node, 'value', '?')!r}")
        if not lo <= value <= hi:
            raise self.error(node, f"{what} must be between {lo:g} and {hi:g}, not {value:g}")
        return value

    def word(self, knode: yaml.Node, what: str) -> str:
        raw = knode.value if isinstance(knode, yaml.ScalarNode) else ""
        word = fold(str(raw).strip())
        if not word or any(ch.isspace() for ch in word) or not is_content(word):
            raise self.error(knode, f"{what}: {raw!r} is not a word (no spaces, at least one letter or character)")
        return word

    def weights(self, node: yaml.Node, what: str, typos: Mapping[str, str]) -> dict[str, float]:
        """A non-empty mapping of word to weight."""
        items = self.mapping(node, what)
        if not items:
            raise self.error(node, f"{what} is empty: list at least one word")
        out: dict[str, float] = {}
        seen_line: dict[str, int] = {}
        for raw, (knode, vnode) in items.items():
            word = self.word(knode, what)
            if word in out:
                raise self.error(knode, f"{what}: {raw!r} repeats {word!r} (line {seen_line[word]}) after normalisation")
            if word in typos:
                raise self.error(knode, f"{what}: {raw!r} is corrected to {typos[word]!r} by normalisation.typos; list {typos[word]!r} instead")
            out[word] = self.number(vnode, f"weight of {raw!r}", 0.0, 10.0)
            seen_line[word] = _line(knode)
        return out

    def words(self, node: yaml.Node, what: str, typos: Mapping[str, str]) -> frozenset[str]:
        """A non-empty list of words."""
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"{what} must be a list of words")
        if not node.value:
            raise self.error(node, f"{what} is empty: list at least one word")
        out = set()
        for item in node.value:
            if not isinstance(item, yaml.ScalarNode):
                raise self.error(item, f"{what}: each entry must be a word")
            word = self.word(item, what)
            if word in out:
                raise self.error(item, f"{what}: duplicate entry {item.value!r}")
            if word in typos:
                raise self.error(item, f"{what}: {item.value!r} is corrected to {typos[word]!r} by normalisation.typos; list {typos[word]!r} instead")
            out.add(word)
        return frozenset(out)

    # -- the document ------------------------------------------------------

    def parse(self, text: str) -> Lexicon:
        try:
            root = yaml.compose(text, Loader=_Loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            raise LexiconError(f"{self.source} line {line}: YAML syntax error: {exc.problem or exc}") from None
        except yaml.YAMLError as exc:
            raise LexiconError(f"{self.source} line 1: YAML error: {exc}") from None
        if root is None:
            raise LexiconError(f"{self.source} line 1: the lexicon is empty")
        top = self.mapping(root, "the lexicon", _TOP_KEYS)

        # Normalisation first: keywords are checked against its typo map.
        typos: dict[str, str] = {}
        conditional: dict[str, ConditionalTypo] = {}
        fillers: frozenset[str] = frozenset()
        pinyin: dict[str, str] = {}
        if "normalisation" in top:
            typos, conditional, fillers, pinyin = self.normalisation(top["normalisation"][1])
        all_typos = dict(typos)
        all_typos.update({k: c.to for k, c in conditional.items()})

        threshold = self.number(self.require(top, "threshold", root, "the lexicon"), "threshold", 0.0, 1.0)
        evidence_scale = 1.0
        if "evidence_scale" in top:
            evidence_scale = self.number(top["evidence_scale"][1], "evidence_scale", 0.01, 100.0)
        min_evidence = 0.0
        if "min_evidence" in top:
            min_evidence = self.number(top["min_evidence"][1], "min_evidence", 0.0, 100.0)
        background_factor = 1.0
        if "background_factor" in top:
            background_factor = self.number(top["background_factor"][1], "background_factor", 0.0, 1.0)

        cats_node = self.require(top, "categories", root, "the lexicon")
        cats = self.mapping(cats_node, "categories")
        categories = []
        for key, (knode, vnode) in cats.items():
            if key not in ROUTED:
                hint = " ('other' is its own top-level section)" if key == OTHER else ""
                raise self.error(knode, f"unknown category {key!r}; expected one of {', '.join(ROUTED)}{hint}")
            categories.append(self.category(key, vnode, all_typos))
        missing = [c for c in ROUTED if c not in cats]
        if missing:
            raise self.error(cats_node, f"categories is missing {', '.join(missing)}")

        other_node = self.require(top, "other", root, "the lexicon")
        other = self.mapping(other_node, "other", _OTHER_KEYS)
        other_label = self.string(self.require(other, "label", other_node, "other"), "other.label")
        other_terms = self.weights(self.require(other, "terms", other_node, "other"), "other.terms", all_typos)
        short_chars = 6
        if "short_message_chars" in other:
            short_chars = int(self.number(other["short_message_chars"][1], "other.short_message_chars", 0, 1000))

        urgent = self.urgent(self.require(top, "urgent", root, "the lexicon"), categories, all_typos)

        return Lexicon(
            source=self.source,
            threshold=threshold,
            evidence_scale=evidence_scale,
            categories=tuple(categories),
            other_label=other_label,
            other_terms=other_terms,
            short_message_chars=short_chars,
            urgent=urgent,
            normaliser=Normaliser(typos=typos, conditional=conditional, fillers=fillers, pinyin=pinyin),
            background_factor=background_factor,
            min_evidence=min_evidence,
        )

    def category(self, key: str, node: yaml.Node, typos: Mapping[str, str]) -> Category:
        where = f"categories.{key}"
        items = self.mapping(node, where, _CATEGORY_KEYS)
        label = self.string(self.require(items, "label", node, where), f"{where}.label")
        cues: dict[str, float] = {}
        if "cues" in items:
            cues = self.weights(items["cues"][1], f"{where}.cues", typos)
        subs_node = self.require(items, "subcategories", node, where)
        subs = self.mapping(subs_node, f"{where}.subcategories")
        if not subs:
            raise self.error(subs_node, f"{where}.subcategories is empty")
        subcategories = []
        for skey, (sknode, svnode) in subs.items():
            if not skey.replace("_", "").isalnum() or not skey.isascii() or not skey[0].isalpha():
                raise self.error(sknode, f"subcategory key {skey!r} must be a snake_case name")
            swhere = f"{where}.{skey}"
            sitems = self.mapping(svnode, swhere, _SUB_KEYS)
            slabel = self.string(self.require(sitems, "label", svnode, swhere), f"{swhere}.label")
            keywords = self.weights(self.require(sitems, "keywords", svnode, swhere), f"{swhere}.keywords", typos)
            subcategories.append(Subcategory(skey, slabel, keywords))
        without_cue = 1.0
        if "without_cue" in items:
            without_cue = self.number(items["without_cue"][1], f"{where}.without_cue", 0.0, 1.0)
        return Category(key, label, cues, tuple(subcategories), without_cue)

    def urgent(self, node: yaml.Node, categories: list[Category], typos: Mapping[str, str]) -> UrgentRules:
        items = self.mapping(node, "urgent", _URGENT_KEYS)
        req = lambda k: self.require(items, k, node, "urgent")  # noqa: E731
        threshold = self.number(req("threshold"), "urgent.threshold", 0.01, 100.0)
        past_factor = self.number(req("past_factor"), "urgent.past_factor", 0.0, 1.0)
        window = 3
        if "negation_window" in items:
            window = int(self.number(items["negation_window"][1], "urgent.negation_window", 0, 10))
        lists = {}
        for key in ("negators", "past_markers", "present_markers"):
            lists[key] = self.words(req(key), f"urgent.{key}", typos)
        for key in ("scope_breakers", "hypothetical_markers"):
            lists[key] = self.words(items[key][1], f"urgent.{key}", typos) if key in items else frozenset()
        by_key = {c.key: c for c in categories}
        kinds_node = req("kinds")
        kinds = []
        for kkey, (_, kvnode) in self.mapping(kinds_node, "urgent.kinds").items():
            where = f"urgent.kinds.{kkey}"
            kitems = self.mapping(kvnode, where, _KIND_KEYS)
            label = self.string(self.require(kitems, "label", kvnode, where), f"{where}.label")
            route_node = self.require(kitems, "route", kvnode, where)
            route = self.string(route_node, f"{where}.route")
            cat_key, _, sub_key = route.partition("/")
            cat = by_key.get(cat_key)
            if cat is None or cat.subcategory(sub_key) is None:
                raise self.error(route_node, f"{where}.route {route!r} is not a known category/subcategory")
            terms = self.weights(self.require(kitems, "terms", kvnode, where), f"{where}.terms", typos)
            decides = False
            if "decides" in kitems:
                dnode = kitems["decides"][1]
                if not (isinstance(dnode, yaml.ScalarNode) and dnode.tag == _BOOL_TAG):
                    raise self.error(dnode, f"{where}.decides must be true or false")
                decides = dnode.value.lower() == "true"
            kinds.append(UrgentKind(kkey, label, cat_key, sub_key, terms, decides))
        if not kinds:
            raise self.error(kinds_node, "urgent.kinds is empty")
        victim = None
        if "victim" in items:
            victim = self.victim(items["victim"][1], {k.key for k in kinds}, typos)
        harm = None
        if "harm" in items:
            harm = self.harm(items["harm"][1], kinds, threshold, typos)
        edge = None
        if "edge" in items:
            edge = self.edge(items["edge"][1], kinds, threshold, typos)
        return UrgentRules(
            threshold=threshold,
            past_factor=past_factor,
            negation_window=window,
            negators=lists["negators"],
            scope_breakers=lists["scope_breakers"],
            past_markers=lists["past_markers"],
            hypothetical_markers=lists["hypothetical_markers"],
            present_markers=lists["present_markers"],
            kinds=tuple(kinds),
            victim=victim,
            harm=harm,
            past_aspect=self.words(items["past_aspect"][1], "urgent.past_aspect", typos)
            if "past_aspect" in items else frozenset(),
            safe_markers=self.words(items["safe_markers"][1], "urgent.safe_markers", typos)
            if "safe_markers" in items else frozenset(),
            unreal_markers=self.words(items["unreal_markers"][1], "urgent.unreal_markers", typos)
            if "unreal_markers" in items else frozenset(),
            harmless=self.harmless(items["harmless_with"][1], kinds, typos) if "harmless_with" in items else {},
            edge=edge,
        )

    def harmless(self, node: yaml.Node, kinds: list[UrgentKind], typos: Mapping[str, str]) -> dict:
        terms = set().union(*(k.terms for k in kinds))
        out = {}
        for word, (knode, vnode) in self.mapping(node, "urgent.harmless_with").items():
            word = fold(typos.get(word, word))
            if word not in terms:
                raise self.error(knode, f"urgent.harmless_with: {word!r} is not a term of any urgent kind")
            out[word] = self.words(vnode, f"urgent.harmless_with.{word}", typos)
        return out

    def harm(self, node: yaml.Node, kinds: list[UrgentKind], trigger: float, typos: Mapping[str, str]) -> HarmRule:
        items = self.mapping(node, "urgent.harm", _HARM_KEYS)
        req = lambda k: self.require(items, k, node, "urgent.harm")  # noqa: E731
        verbs_node = req("verbs")
        verbs = self.words(verbs_node, "urgent.harm.verbs", typos)
        terms = set().union(*(k.terms for k in kinds))
        for item in verbs_node.value:
            if fold(item.value.strip()) not in terms:
                raise self.error(item, f"urgent.harm.verbs: {item.value!r} is not an urgent term; list it under a kind first")
        strength = trigger
        if "strength" in items:
            strength = self.number(items["strength"][1], "urgent.harm.strength", 0.0, 100.0)
        reach = 4
        if "reach" in items:
            reach = int(self.number(items["reach"][1], "urgent.harm.reach", 1, 10))
        return HarmRule(
            verbs=verbs,
            objects=tuple(sorted(self.words(req("objects"), "urgent.harm.objects", typos), key=len, reverse=True)),
            particles=self.words(req("particles"), "urgent.harm.particles", typos),
            passive=self.words(req("passive"), "urgent.harm.passive", typos),
            disposal=self.words(req("disposal"), "urgent.harm.disposal", typos),
            now=self.words(items["now"][1], "urgent.harm.now", typos) if "now" in items else frozenset(),
            strength=strength,
            reach=reach,
        )

    def edge(self, node: yaml.Node, kinds: list[UrgentKind], trigger: float, typos: Mapping[str, str]) -> EdgeRule:
        items = self.mapping(node, "urgent.edge", _EDGE_KEYS)
        req = lambda k: self.require(items, k, node, "urgent.edge")  # noqa: E731
        places_node = req("places")
        terms = set().union(*(k.terms for k in kinds))
        for item in places_node.value:
            if fold(item.value.strip()) not in terms:
                raise self.error(item, f"urgent.edge.places: {item.value!r} is not an urgent term; list it under a kind first")
        strength = trigger
        if "strength" in items:
            strength = self.number(items["strength"][1], "urgent.edge.strength", 0.0, 100.0)
        reach = 5
        if "reach" in items:
            reach = int(self.number(items["reach"][1], "urgent.edge.reach", 1, 10))
        return EdgeRule(
            places=self.words(places_node, "urgent.edge.places", typos),
            at=self.words(req("at"), "urgent.edge.at", typos),
            everyday=(self.words(items["everyday"][1], "urgent.edge.everyday", typos)
                      if "everyday" in items else frozenset()),
            strength=strength,
            reach=reach,
        )

    def victim(self, node: yaml.Node, kinds: set[str], typos: Mapping[str, str]) -> VictimRule:
        items = self.mapping(node, "urgent.victim", _VICTIM_KEYS)
        req = lambda k: self.require(items, k, node, "urgent.victim")  # noqa: E731
        ends = {}
        for key in ("from", "to"):
            vnode = req(key)
            ends[key] = self.string(vnode, f"urgent.victim.{key}")
            if ends[key] not in kinds:
                raise self.error(vnode, f"urgent.victim.{key} {ends[key]!r} is not one of urgent.kinds")
        return VictimRule(
            from_kind=ends["from"],
            to_kind=ends["to"],
            child_words=self.words(req("child_words"), "urgent.victim.child_words", typos),
            self_words=self.words(req("self_words"), "urgent.victim.self_words", typos),
            possessed_words=self.words(req("possessed_words"), "urgent.victim.possessed_words", typos),
            adult_words=(self.words(items["adult_words"][1], "urgent.victim.adult_words", typos)
                         if "adult_words" in items else frozenset()),
        )

    def normalisation(self, node: yaml.Node) -> tuple[dict, dict, frozenset, dict]:
        items = self.mapping(node, "normalisation", _NORM_KEYS)
        typos: dict[str, str] = {}
        conditional: dict[str, ConditionalTypo] = {}
        if "typos" in items:
            tnode = items["typos"][1]
            entries = self.mapping(tnode, "normalisation.typos")
            if not entries:
                raise self.error(tnode, "normalisation.typos is empty")
            for raw, (knode, vnode) in entries.items():
                wrong = self.word(knode, "normalisation.typos")
                if isinstance(vnode, yaml.MappingNode):
                    spec = self.mapping(vnode, f"typo {raw!r}", {"to", "when"})
                    to = self.word(self.require(spec, "to", vnode, f"typo {raw!r}"), f"typo {raw!r}")
                    when = self.words(self.require(spec, "when", vnode, f"typo {raw!r}"), f"typo {raw!r}.when", {})
                    conditional[wrong] = ConditionalTypo(to, when)
                else:
                    to = self.word(vnode, f"typo {raw!r}")
                    typos[wrong] = to
                if wrong == to:
                    raise self.error(knode, f"typo {raw!r} maps to itself")
            for wrong, to in typos.items():
                if to in typos:
                    raise self.error(tnode, f"typo {wrong!r} maps to {to!r}, which is itself a typo key")
        fillers: frozenset[str] = frozenset()
        if "fillers" in items:
            fillers = self.words(items["fillers"][1], "normalisation.fillers", {})
        # Toneless pinyin and plain English are read the same way: runs of
        # two or more Latin words, longest listed phrase first.
        pinyin: dict[str, str] = {}
        for table in ("pinyin", "english"):
            if table not in items:
                continue
            for raw, (knode, vnode) in self.mapping(items[table][1], f"normalisation.{table}").items():
                key = " ".join(fold(str(raw)).split())
                if not key or not key.isascii() or not all(s.isalpha() for s in key.split()):
                    raise self.error(knode, f"{table} {raw!r} must be Latin words separated by spaces")
                if key in pinyin:
                    raise self.error(knode, f"{table} {raw!r} is listed twice (pinyin and english share one table)")
                pinyin[key] = self.word(vnode, f"{table} {raw!r}")
        return typos, conditional, fillers, pinyin


# ---------------------------------------------------------------------------
# Routing


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


@dataclass
class _Match:
    word: str  # the normalised word looked up
    start: int  # index of the first content token
    end: int  # index after the last content token
    clause: int
    hits: tuple
    negated: bool = False
    past: bool = False  # past or hypothetical: urgent terms count less
    background: bool = False  # past only: route keywords count less
    boosted: bool = False  # a harm verb with a person as its object


@dataclass
class _Analysis:
    matches: list[_Match]
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
class _State:
    lexicon: Lexicon
    tokenizer: Any
    route_of_kind: dict[str, tuple[str, str]] = field(default_factory=dict)
    learned: LearnedModel | None = None
    cut: Any = None  # the tokenizer's cut(text, HMM=False), fused (bot/segment.py)
    model: RouteModel | None = None  # reads first when present (the naive Bayes layer is then off)


_tokenizer_lock = threading.Lock()
log = logging.getLogger(__name__)


def _new_tokenizer(userdict: Path | None, words: Iterable[str], pivots: set[str]):
    """A jieba tokenizer from jieba's own cache, with the domain words added."""
    import jieba

    # jieba logs its start-up to stderr at DEBUG; that is noise in a CLI.
    logging.getLogger("jieba").setLevel(logging.WARNING)
    with _tokenizer_lock:
        tk = jieba.Tokenizer()
        tk.initialize()
        if userdict is not None:
            tk.load_userdict(str(userdict))
        adding = []
        for word in sorted(words):
            if tk.FREQ.get(word, 0) > 0:
                continue  # jieba or the user dictionary already keeps it whole
            pieces = tk.lcut(word, HMM=False)
            if len(pieces) > 1 and any(p in pivots for p in pieces):
                continue  # matched as a run of tokens (see Lexicon.pivot_words)
            # suggest_freq gives the least frequency that keeps the word whole
            # on its own; the margin keeps it whole next to most neighbours.
            adding.append((word, max(tk.suggest_freq(word, False) * _FREQ_MARGIN, 10)))
        for word, freq in adding:
            tk.add_word(word, freq)
    return tk


_SHIPPED = object()  # "the learned weights in bot/data, if they are there"


def _load_learned(learned: LearnedModel | str | Path | None | object) -> LearnedModel | None:
    if learned is _SHIPPED:
        if not DEFAULT_LEARNED.is_file():
            log.warning("no learned weights at %s: routing on the lexicon alone", DEFAULT_LEARNED)
            return None
        return LearnedModel.load(DEFAULT_LEARNED)
    if learned is None or isinstance(learned, LearnedModel):
        return learned
    return LearnedModel.load(learned)


def _load_model(model: RouteModel | str | Path | None | object) -> RouteModel | None:
    if model is _SHIPPED:
        if not DEFAULT_MODEL.is_file():
            log.warning("no routing model at %s: routing on the lexicon", DEFAULT_MODEL)
            return None
        return RouteModel.load(DEFAULT_MODEL)
    if model is None or isinstance(model, RouteModel):
        return model
    return RouteModel.load(model)


class Router:
    """Routes messages: the learned model reads first, the lexicon guards; one jieba tokenizer per Router.

    ``model`` is a RouteModel, a path to one, or None; left out, the model
    shipped in bot/data is used when present. Without a model the lexicon
    routes, with ``learned`` (a naive Bayes LearnedModel, a path, or None)
    adding its evidence as before.
    """

    def __init__(self, lexicon: Lexicon, userdict: str | Path | None = None,
                 learned: LearnedModel | str | Path | None | object = _SHIPPED,
                 model: RouteModel | str | Path | None | object = _SHIPPED) -> None:
        self._userdict = Path(userdict) if userdict is not None else None
        if self._userdict is not None and not self._userdict.is_file():
            raise FileNotFoundError(f"user dictionary not found: {self._userdict}")
        fold_script("")  # build the character table and its pattern now, not on the first message
        loaded = _load_model(model)
        self._state = self._build(lexicon, None if loaded is not None else _load_learned(learned), loaded)

    @classmethod
    def from_files(cls, lexicon_path: str | Path, userdict_path: str | Path | None = None,
                   learned: LearnedModel | str | Path | None | object = _SHIPPED,
                   model: RouteModel | str | Path | None | object = _SHIPPED) -> Router:
        """A Router from a lexicon file, an optional jieba user dictionary, a model and learned weights."""
        return cls(Lexicon.load(lexicon_path), userdict_path, learned, model)

    @classmethod
    def default(cls) -> Router:
        """A Router from the lexicon, user dictionary and learned weights shipped in bot/data."""
        return cls.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT)

    @property
    def lexicon(self) -> Lexicon:
        return self._state.lexicon

    @property
    def learned(self) -> LearnedModel | None:
        return self._state.learned

    @property
    def model(self) -> RouteModel | None:
        return self._state.model

    def _build(self, lexicon: Lexicon, learned: LearnedModel | None, model: RouteModel | None = None) -> _State:
        tk = _new_tokenizer(self._userdict, lexicon.tokenizer_words(), lexicon.pivot_words())
        kinds = {k.key: (k.category, k.subcategory) for k in lexicon.urgent.kinds}
        return _State(lexicon, tk, kinds, learned, FastCut(tk).cut, model)

    def reload(self, lexicon: Lexicon) -> None:
        """Swap in a new lexicon; routing in flight finishes with the old one."""
        # A fresh tokenizer, so words removed from the lexicon stop being kept
        # whole; one attribute assignment makes the swap atomic. The learned
        # weights stay: most of their features are bigrams, which do not
        # depend on the tokenizer (rebuild them after a large lexicon change).
        self._state = self._build(lexicon, self._state.learned, self._state.model)

    def use_learned(self, learned: LearnedModel | None) -> None:
        """Swap the naive Bayes weights (None: the lexicon alone), keeping the tokenizer."""
        state = self._state
        self._state = _State(state.lexicon, state.tokenizer, state.route_of_kind, learned, state.cut, state.model)

    def use_model(self, model: RouteModel | None) -> None:
        """Swap the routing model (None: the lexicon routes); routing in flight finishes with the old one."""
        state = self._state
        learned = None if model is not None else state.learned
        self._state = _State(state.lexicon, state.tokenizer, state.route_of_kind, learned, state.cut, model)

    def with_model(self, model: RouteModel | None) -> Router:
        """A router sharing this one's lexicon and tokenizer that routes with another model."""
        other = Router.__new__(Router)
        other._userdict = self._userdict
        other._state = self._state
        other.use_model(model)
        return other

    def label(self, category: str, subcategory: str | None = None) -> str:
        """Chinese label of a route, e.g. "调解 · 婆媳/姻亲矛盾"."""
        return self._state.lexicon.label(category, subcategory)

    # -- analysis ----------------------------------------------------------

    def _analyse(self, state: _State, text: str, detail: bool = False) -> _Analysis:
        lex = state.lexicon
        norm = lex.normaliser
        index = lex.index
        nfkc_text = nfkc(text or "")
        folded = norm.from_pinyin(blank_stickers(fold_script(nfkc_text)).lower())
        aligned = len(folded) == len(nfkc_text)

        tokens: list[str] = []  # corrected content tokens
        clause_of: list[int] = []
        records: list[dict] | None = [] if detail else None
        rec_of_token: list[int] = []
        clause = 0
        asked: set[int] = set()  # clauses that end with a question mark
        content_chars = 0
        pos = 0
        broke = True
        fillers = norm.fillers
        typos = norm.typos
        conditional = norm.conditional
        split_first = lex.split_first
        split_last = lex.split_last
        for tok in state.cut(folded):
            start = pos
            pos += len(tok)
            # Fast path for the common case, an ideograph first.
            if "\u4e00" <= tok[0] <= "\u9fff" or is_content(tok):
                content_chars += len(tok)
                if tok in fillers:
                    if detail:
                        records.append(self._record(nfkc_text, folded, aligned, start, pos, tok, ["filler"], clause))
                    continue
                fixed = typos.get(tok, tok)
                if tok in conditional:
                    fixed = norm.correct(tok, folded)
                broke = False
                if fixed[0] in split_first and len(fixed) > 1 and fixed not in index:
                    # jieba glues some markers to the next word (就让, 还要):
                    # split them so 就 still ends a negation and 让我死 matches.
                    tokens.append(fixed[0])
                    clause_of.append(clause)
                    if detail:
                        rec_of_token.append(len(records))
                        records.append(self._record(nfkc_text, folded, aligned, start, start + 1, fixed[0], [], clause))
                    fixed = fixed[1:]
                    start += 1
                if fixed[-1] in split_last and len(fixed) > 1 and fixed not in index and fixed[:-1] in index:
                    # ... and some verbs to their particle (掐着, 推了): split
                    # so the verb is found and the particle read.
                    tokens.append(fixed[:-1])
                    clause_of.append(clause)
                    if detail:
                        rec_of_token.append(len(records))
                        records.append(self._record(nfkc_text, folded, aligned, start, pos - 1, fixed[:-1], [], clause))
                    fixed = fixed[-1]
                    start = pos - 1
                tokens.append(fixed)
                clause_of.append(clause)
                if detail:
                    rec_of_token.append(len(records))
                    records.append(self._record(nfkc_text, folded, aligned, start, pos, fixed, [], clause))
            else:
                if is_clause_break(tok) and not broke:
                    if "?" in tok:
                        asked.add(clause)
                    clause += 1
                    broke = True
                elif not broke and any(ch in _LAUGH_EMOJI for ch in tok):
                    tokens.append(_LAUGH_WORD)
                    clause_of.append(clause)
                    if detail:
                        rec_of_token.append(len(records))
                        records.append(self._record(nfkc_text, folded, aligned, start, pos, _LAUGH_WORD, [], clause))
                    continue
                if detail and not tok.isspace():
                    records.append(self._record(nfkc_text, folded, aligned, start, pos, tok, ["ignored"], clause))

        # Time, negation and scope markers are read on every token, so a
        # marker inside a longer keyword ("又打") still counts.
        markers = lex.markers
        marks = [markers.get(t, 0) for t in tokens]
        # "十几年前", "三个月前", "10年前": a time span followed by 前 is the past.
        for k, t in enumerate(tokens) if "前" in folded else ():
            if t[-1] == "前" and not marks[k]:
                prev = t[:-1] or (tokens[k - 1] if k > 0 and clause_of[k - 1] == clause_of[k] else "")
                if prev[-1:] in _AGO_UNITS:
                    marks[k] |= _M_PAST

        # Longest run of whole tokens (within a clause) that is a known word.
        # The words of the message for the learned layer are those runs and
        # the tokens between them: "离昏冷静期" (离昏 + 冷静期, corrected and
        # joined) then weighs what "离婚冷静期" does.
        matches: list[_Match] = []
        words: list[str] = []
        word_clause: list[int] = []
        prefixes = lex.prefixes
        n = len(tokens)
        unknown = 0
        i = 0
        while i < n:
            s = tokens[i]
            best_end = i + 1 if s in index else 0
            best = s
            c = clause_of[i]
            j = i + 1
            limit = min(n, i + _MAX_SPAN)
            while j < limit and clause_of[j] == c and s in prefixes:
                s += tokens[j]
                j += 1
                if s in index:
                    best_end, best = j, s
            if best_end:
                matches.append(_Match(best, i, best_end, c, index[best]))
                words.append(best)
                word_clause.append(c)
                if best_end - i > 1:
                    # A negator inside a listed phrase belongs to the phrase
                    # (不让我出门, 不在家); breakers and time words stay
                    # visible (又打 is still "again").
                    for k in range(i, best_end):
                        marks[k] &= ~_M_NEG
                    if best in markers:
                        marks[i] |= markers[best]
                i = best_end
            else:
                if len(tokens[i]) > 1:
                    unknown += 1
                words.append(tokens[i])
                word_clause.append(c)
                i += 1

        factors = None
        if matches or (state.learned is not None and any(marks)):
            factors = self._mark_time_and_negation(lex.urgent, matches, marks, tokens, clause_of, clause + 1,
                                                   lex.urgent_words, state.learned is not None, asked)

        if detail:
            for m in matches:
                for k in range(m.start, m.end):
                    rec = records[rec_of_token[k]]
                    rec["matched"] = _describe_hits(m.hits)
                    rec["match"] = m.word
                    rec["weight"] = _main_weight(m.hits)
                    rec["negated"] = m.negated
                    rec["past"] = m.past
                    rec["boosted"] = m.boosted
        return _Analysis(matches, tokens, unknown, content_chars, records, clause_of, factors, words, word_clause,
                         folded)

    @staticmethod
    def _record(original: str, folded: str, aligned: bool, start: int, end: int, norm: str,
                matched: list[str], clause: int) -> dict:
        surface = (original if aligned else folded)[start:end]
        return {
            "token": surface,
            "normalised": norm,
            "matched": matched,
            "match": None,
            "weight": None,
            "negated": False,
            "past": False,
            "boosted": False,
            "clause": clause,
        }

    @staticmethod
    def _mark_time_and_negation(
        rules: UrgentRules, matches: list[_Match], marks: list[int], tokens: list[str],
        clause_of: list[int], nclauses: int, lex_urgent_words: frozenset[str], want_factors: bool = False,
        asked: set[int] | frozenset[int] = frozenset(),
    ) -> list[float] | None:
        """Flag words in a past/hypothetical clause, and urgent terms that are negated.

        With ``want_factors``, also return how much each clause's danger counts
        for the learned layer (see _clause_factors)."""
        has_past = [0] * nclauses  # bits: _M_PAST and/or _M_HYPO
        has_present = [False] * nclauses
        unreal = [False] * nclauses
        any_past = False
        last_safe = -1
        plain = [False] * nclauses  # a clause with a word that is not a joke marker
        thanks = [False] * nclauses  # "谢谢你们以前帮过我": the past of that clause only
        for k, bits in enumerate(marks):
            if tokens[k].startswith(_THANKS):
                thanks[clause_of[k]] = True
            if bits & _M_SAFE:
                last_safe = max(last_safe, clause_of[k])
            if bits & _M_UNREAL:
                # A joke, a film, the news: not happening to her, even "now".
                unreal[clause_of[k]] = True
                any_past = True
            elif tokens[k] not in _PARTICLES:
                plain[clause_of[k]] = True
            if bits & (_M_PAST | _M_HYPO):
                has_past[clause_of[k]] |= bits & (_M_PAST | _M_HYPO)
                any_past = True
            if bits & _M_PRESENT and not (
                    k + 1 < len(tokens) and clause_of[k + 1] == clause_of[k] and tokens[k + 1] in rules.past_aspect):
                # "威胁过我" is a threat he once made, not one he makes now.
                has_present[clause_of[k]] = True
        past_clause = None
        for c in range(1, nclauses):
            if unreal[c] and not plain[c]:
                # Laughter on its own after a clause ("…就打死我 哈哈哈哈",
                # "吵得我想杀人（夸张哈哈）") makes that clause the joke.
                unreal[c - 1] = True
        if any_past:
            # A clause is in the past (or hypothetical) if it says so, or
            # closely follows one that did and says nothing itself; a present
            # marker in the clause wins.
            past_clause = [0] * nclauses
            state = 0
            age = 0
            for c in range(nclauses):
                if unreal[c]:
                    state, age = _M_HYPO | _M_UNREAL, 0
                elif has_present[c]:
                    state = 0
                elif has_past[c]:
                    # Thanks for help she had before frames no story: what
                    # follows it is said now ("…存款我都转给我妹了").
                    state, age = has_past[c], (_PAST_CARRY if thanks[c] else 0)
                elif state == _M_HYPO and c - 1 in asked and not _is_question(c, asked, tokens, clause_of):
                    # A "what if" ends with its question: "保护令一般几天能
                    # 下来？他说晚上回来要我好看" is a question, then now
                    # (another question after it is still asking).
                    state = 0
                elif state:
                    # A story about the past runs on for a clause or two, not
                    # for the rest of the message.
                    age += 1
                    if age > _PAST_CARRY:
                        state = 0
                past_clause[c] = state
            her_words = tuple(rules.victim.self_words) if rules.victim is not None else ()
            for m in matches:
                bits = past_clause[m.clause]
                if bits == _M_HYPO and m.word in lex_urgent_words and _after_then(tokens, clause_of, m):
                    # "你要是敢报警，我就弄死你": the danger after 就 is the
                    # threat he makes now, not a "what if" she asks about.
                    bits = 0
                elif bits == _M_HYPO and _own_death_imagined(m, tokens, clause_of, her_words):
                    # "要是我从五楼跳下去，大家是不是都清净了": her own death
                    # imagined is how the wish to die is told, not a question.
                    bits = 0
                m.past = bool(bits)
                m.background = bool(bits & (_M_PAST | _M_UNREAL))

        if last_safe > 0:
            # "…，现在已经搬出来了": what came before she says she is safe is
            # the past, unless its own clause says now — and not merely beside
            # a time in the past ("以前他拿刀威胁我，现在已经离婚了").
            for m in matches:
                if m.clause < last_safe and (not has_present[m.clause] or has_past[m.clause] & _M_PAST):
                    m.past = True

        window = rules.negation_window
        harm = rules.harm
        edge = rules.edge
        selves = rules.victim.self_words if rules.victim is not None else frozenset()
        urgent_words = lex_urgent_words
        for m in matches:
            if m.word not in urgent_words:
                continue
            if harm is not None and m.word in harm.verbs:
                m.boosted = _has_victim(harm, m, tokens, clause_of)
            elif edge is not None and m.word in edge.places:
                m.boosted = _she_is_there(edge, selves, rules.present_markers, m, tokens, clause_of)
            # 打过我: the experiential 过 right after the term puts it in the
            # past, unless the clause says it is happening now.
            if not m.past and rules.past_aspect and not has_present[m.clause]:
                k = m.end
                while k < len(tokens) and clause_of[k] == m.clause and k < m.end + 2:
                    if tokens[k] in rules.past_aspect:
                        m.past = True
                        break
                    k += 1
            # Look back from the term over at most `window` words between:
            # a negator negates it, a scope breaker ("就", "但是") stops the look.
            if any(marks[k] & _M_BREAK for k in range(m.start, m.end)):
                continue  # the term begins past a breaker: "就打", "又打"
            k = m.start - 1
            lowest = m.start - 1 - window
            while k >= 0 and k >= lowest and clause_of[k] == m.clause:
                bits = marks[k]
                if bits & _M_BREAK and not bits & _M_NEG:
                    break
                if bits & _M_NEG:
                    m.negated = True
                    break
                k -= 1
        if not want_factors:
            return None
        return _clause_factors(rules, matches, nclauses, past_clause, has_present, last_safe, urgent_words)

    # -- scoring -----------------------------------------------------------

    def route(self, text: str) -> Route:
        """Route one message."""
        state = self._state
        a = self._analyse(state, text)
        if state.model is None:
            return self._score(state, a)
        return self._model_route(state, a, self._score(state, a, explain=False))

    def lexical(self, text: str) -> tuple[set[str], LexicalRead]:
        """The model's features of a message and the lexicon's reading of it (for training)."""
        state = self._state
        if state.learned is not None:
            state = _State(state.lexicon, state.tokenizer, state.route_of_kind, None, state.cut, state.model)
        a = self._analyse(state, text)
        lex = self._score(state, a)
        return message_features(a, lex.category, lex.subcategory, lex.urgent), self._read(state, lex)

    @staticmethod
    def _read(state: _State, lex: Route) -> LexicalRead:
        kinds = state.route_of_kind
        lex_route = (lex.category, lex.subcategory)
        victim = state.lexicon.urgent.victim
        violence = kinds.get(victim.from_kind) if victim is not None else None
        return LexicalRead(lex.category, lex.subcategory, lex.urgent, lex_route == violence,
                           lex.urgent and lex_route == kinds.get(_SELF_HARM), lex.lexicon_cleared,
                           lex.confidence)

    def _model_route(self, state: _State, a: _Analysis, lex: Route) -> Route:
        """The model reads first; the lexicon's route is one of its features and its danger rule a safety net."""
        model = state.model
        pred = model.predict(message_features(a, lex.category, lex.subcategory, lex.urgent))
        d = decide(pred, self._read(state, lex), model.danger_threshold, state.lexicon.threshold)
        same = (d.category, d.subcategory) == (lex.category, lex.subcategory)
        column = model.index(label_of(d.category, d.subcategory)) if label_of(
            d.category, d.subcategory) in model.labels else None
        words = ["w:" + t for t in dict.fromkeys(a.tokens)]  # whole words, in her order
        model_words = readable_words(model, words, column) if column is not None else []
        lex_words = list(lex.keywords) if same or (d.category == lex.category and d.category != OTHER) else []
        keywords = tuple(dict.fromkeys([*lex_words, *model_words]))
        danger_words = list(lex.urgent_keywords) if d.urgent_by_rule else []
        model_danger = readable_words(model, words, -1, 3) if d.urgent_by_model else []
        urgent_keywords = tuple(dict.fromkeys([*danger_words, *model_danger])) if d.urgent else ()
        explanation = explain_zh(state.lexicon.label, d, pred, model.danger_threshold, lex_words, model_words,
                                 danger_words, model_danger)
        return Route(
            category=d.category,
            subcategory=d.subcategory,
            urgent=d.urgent,
            confidence=d.confidence,
            keywords=keywords,
            urgent_keywords=urgent_keywords,
            needs_choice=d.needs_choice,
            explanation=explanation,
            self_harm=d.self_harm,
            p_danger=pred.p_danger,
            policies=d.policies,
            lexicon_danger=lex.lexicon_danger,
            lexicon_cleared=lex.lexicon_cleared,
        )

    def explain(self, text: str) -> list[dict]:
        """Per token: surface, normalised form, what it matched, weight, negated/past.

        Each row: token (as she wrote it, width-folded), normalised (simplified,
        typo-corrected), matched (list: "mediation/in_law_conflict 2.5", "cue
        mediation 2.5", "urgent violence 0.7", "negator", "filler", "ignored"…),
        match (the listed word the token is part of), weight, negated, past,
        boosted (a harm verb with a person as its object) and clause.
        """
        state = self._state
        return self._analyse(state, text, detail=True).detail or []

    def _score(self, state: _State, a: _Analysis, explain: bool = True) -> Route:
        lex = state.lexicon
        rules = lex.urgent
        cue: dict[str, float] = {}
        cat_kw: dict[str, float] = {}
        sub_kw: dict[tuple[str, str], float] = {}
        named: dict[tuple[str, str], float] = {}  # each route's strongest word, at full weight
        # Evidence per category/subcategory as (word, weight) for explanation.
        sub_words: dict[tuple[str, str], dict[str, float]] = {}
        cue_words: dict[str, list] = {}
        other = 0.0
        other_words: list = []
        urgent_by_kind: dict[str, float] = {}
        urgent_words: list = []
        urgent_clauses: dict[str, set[int]] = {}
        clause_eff: dict[tuple[str, int], float] = {}
        seen: set[str] = set()

        # An urgent word said twice counts once, at its strongest: "他没打我，
        # 昨天打了" is the second 打. Route words also count once.
        best_urgent: dict[str, tuple] = {}
        harmless = rules.harmless
        for m in a.matches:
            first = m.word not in seen
            seen.add(m.word)
            for role, cat, sub, w in m.hits:
                if role == _URG:
                    if m.word in harmless and _in_clause(a, m.clause, harmless[m.word]) and not (
                            rules.harm is not None and m.word in rules.harm.verbs
                            and _object_after(rules.harm, m, a.tokens, a.clause_of)):
                        w = 0.0  # 疫苗在哪打, 字打得慢, 狗走丢了, 练拳击被陪练打了一拳
                    elif m.boosted:
                        edge = rules.edge
                        at_edge = edge is not None and m.word in edge.places
                        w = max(w, edge.strength if at_edge else rules.harm.strength)
                    eff = 0.0 if m.negated else w * (rules.past_factor if m.past else 1.0)
                    prev = best_urgent.get(m.word)
                    if prev is None or eff > prev[2]:
                        best_urgent[m.word] = (m.word, w, eff, m.negated, m.past, cat, m.clause)
                    continue
                if not first:
                    continue
                if role == _KW:
                    key = (cat, sub)
                    if w > named.get(key, 0.0):
                        named[key] = w
                    if m.background:
                        # Background ("以前受过家暴") says less about what she
                        # needs now than the rest of the message.
                        w *= lex.background_factor
                    sub_kw[key] = sub_kw.get(key, 0.0) + w
                    _add_word(sub_words, key, m.word, w)
                elif role == _CUE:
                    cue[cat] = cue.get(cat, 0.0) + w
                    cue_words.setdefault(cat, []).append((m.word, w))
                elif role == _OTH:
                    other += w
                    other_words.append((m.word, w))
        for word, w, eff, negated, past, kind, clause in best_urgent.values():
            urgent_words.append((word, w, eff, negated, past, kind))
            if eff > 0:
                urgent_clauses.setdefault(kind, set()).add(clause)
                clause_eff[(kind, clause)] = clause_eff.get((kind, clause), 0.0) + eff
                urgent_by_kind[kind] = urgent_by_kind.get(kind, 0.0) + eff
                # Danger words are also evidence for where the danger is
                # handled, even below the trigger.
                key = state.route_of_kind[kind]
                sub_kw[key] = sub_kw.get(key, 0.0) + eff
                _add_word(sub_words, key, word, eff)

        urgent_total = sum(urgent_by_kind.values())

        # A category scores its cues plus its best subcategory: words spread
        # over unrelated subcategories do not add up to a category.
        for (cat, _sub), w in sub_kw.items():
            if w > cat_kw.get(cat, 0.0):
                cat_kw[cat] = w
        for c in ROUTED:
            if c not in cue and c in cat_kw:
                # Mediation is asked for: a dispute told without a request
                # ("帮忙调解", "说说他") is more often a question or a need.
                cat_kw[c] *= lex.category(c).without_cue
        cat_score = {c: cue.get(c, 0.0) + cat_kw.get(c, 0.0) for c in ROUTED}
        scale = lex.evidence_scale

        # The learned layer adds evidence: its category posterior to every
        # category's score ("other" too), its urgent log-odds (read clause by
        # clause, so negated, past and joking clauses count as the lexicon
        # says) to the danger sum.
        learned = state.learned
        ev = None
        learned_urgent = 0.0
        learned_cat: dict[str, float] = {}
        if learned is not None and urgent_total < rules.threshold and a.words:
            # (Danger the lexicon found on its own is never taken away, and
            # its kind decides the route: the layer is not asked then.)
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
            seen = sum(eff for _w, _x, eff, _neg, past, _k, _c in best_urgent.values() if eff > 0 and not past)
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
        danger = urgent_total + learned_urgent
        urgent = danger >= rules.threshold - 1e-9
        urgent_kw = tuple(w for w, _, eff, _, _, _ in sorted(urgent_words, key=lambda x: -x[2]) if eff > 0)
        learned_urgent_words: list[tuple[str, float]] = []
        if ev is not None and learned_urgent >= 0.05:
            learned_urgent_words = ev.top(4, 3)
            if urgent:
                urgent_kw += tuple(w for w, _ in learned_urgent_words if w not in urgent_kw)

        def best_sub(cat: str) -> str | None:
            best, best_w = None, 0.0
            for sub in lex.category(cat).subcategories:
                w = sub_kw.get((cat, sub.key), 0.0)
                if w > best_w:
                    best, best_w = sub.key, w
            return best

        total = {c: cat_score[c] + learned_cat.get(c, 0.0) for c in ROUTED}
        other_total = other + learned_cat.get(OTHER, 0.0)
        kind = None
        if urgent:
            # The kind of danger decides where she is helped; ties go to the
            # kind listed first in the lexicon.
            if urgent_by_kind:
                order = {k.key: i for i, k in enumerate(rules.kinds)}
                kind = max(urgent_by_kind, key=lambda k: (urgent_by_kind[k], -order[k]))
                kind = self._victim_kind(rules.victim, kind, urgent_by_kind, clause_eff, a,
                                         rules.harm.passive if rules.harm else frozenset())
                # A deciding kind (trafficking) takes the route from the
                # violence told with it, never from her wish to die.
                beaten = rules.victim is None or kind in (rules.victim.from_kind, rules.victim.to_kind)
                deciding = [k.key for k in rules.kinds
                            if k.decides and urgent_by_kind.get(k.key, 0.0) >= rules.threshold - 1e-9]
                if deciding and beaten:
                    kind = deciding[0]
            else:
                kind = self._learned_kind(state, total, best_sub)
            said = a.text or "".join(a.tokens)
            if kind == _SELF_HARM and rules.victim is not None and _threat_by_him(said):
                # "他把煤气打开了，说大家一起死": the danger is his violence.
                kind = rules.victim.from_kind
            elif (kind != _SELF_HARM and urgent_by_kind.get(_SELF_HARM, 0.0) >= rules.threshold - 1e-9
                  and _OWN_INTENT_RE.search(said) is not None):
                # "她又打我…我就想往自己手上割一下": her own wish to hurt
                # herself is what she needs help with first.
                kind = _SELF_HARM
            category, subcategory = state.route_of_kind[kind]
            confidence = 1.0 - math.exp(-danger / max(rules.threshold, 1e-9) * 1.5)
            needs_choice = False  # a woman in danger is never asked to pick a menu item
        elif learned is not None:
            ranked = sorted(ROUTED, key=lambda c: -total[c])
            top = ranked[0]
            s1 = total[top]
            if other_total >= s1 or s1 < lex.min_evidence:
                category, subcategory = OTHER, None
                lex_s1 = max(cat_score.values())
                confidence = self._other_confidence(lex, other, lex_s1, a)
                if lex_s1 > 0.0 and not other:
                    confidence = min(confidence, lex.threshold - 0.05)  # a faint hint: ask her
            else:
                category = top
                subcategory = best_sub(top) if cat_score[top] > 0.0 else None
                s2 = max(total[ranked[1]], other_total)
                confidence = (s1 / (s1 + s2)) * (1.0 - math.exp(-s1 / scale))
                if subcategory is None:
                    # No topic word: the category is the learned layer's (or
                    # a cue's) guess; she confirms it.
                    confidence = min(confidence, 0.45)
            needs_choice = confidence < lex.threshold
        else:
            ranked = sorted(ROUTED, key=lambda c: -cat_score[c])
            top = ranked[0]
            s1 = cat_score[top]
            subcategory = best_sub(top) if s1 > 0.0 else None
            # Intent cues alone ("怎么办", "在哪") name no problem: unless the
            # cue is strong ("帮忙调解", "报名"), there is nothing to route.
            cue_only = subcategory is None and cue.get(top, 0.0) < _STRONG_CUE
            if s1 <= 0.0 or cue_only or s1 < lex.min_evidence or (other > 0 and other >= s1):
                category, subcategory = OTHER, None
                confidence = self._other_confidence(lex, other, 0.0 if cue_only else s1, a)
                if s1 > 0.0 and not other:
                    confidence = min(confidence, lex.threshold - 0.05)  # a faint hint: ask her
            else:
                category = top
                s2 = max(cat_score[ranked[1]], other)
                confidence = (s1 / (s1 + s2)) * (1.0 - math.exp(-s1 / scale))
                if subcategory is None:
                    # A strong cue but no topic: the category is a guess
                    # about what she will say next.
                    confidence = min(confidence, 0.45)
            needs_choice = confidence < lex.threshold
        if category == "mediation" and rules.victim is not None:
            # Domestic violence is a rights case, never mediated as if both
            # sides were equal: a message that names it (a word weighing
            # _NAMES_IT, e.g. 家暴) goes where violence is handled even when
            # she asks for mediation and the danger is not urgent.
            dv = state.route_of_kind.get(rules.victim.from_kind)
            # (Named in the past too: "上个月推了她一把…想请你们劝她回来".)
            if dv is not None and max(sub_kw.get(dv, 0.0), named.get(dv, 0.0)) >= _NAMES_IT:
                category, subcategory = dv
        confidence = round(max(0.0, min(1.0, confidence)), 3)

        learned_words: list[tuple[str, float]] = []
        if ev is not None and not urgent:
            # Its words are named where it weighed more than the lexicon.
            lex_share = other if category == OTHER else cat_score[category]
            if learned_cat[category] > lex_share:
                learned_words = ev.top(LEARNED_CLASSES.index(category), 3)

        keywords: list[tuple[str, float]] = []
        if category != OTHER:
            if subcategory is not None:
                keywords.extend(sub_words.get((category, subcategory), {}).items())
            keywords.extend(cue_words.get(category, []))
        else:
            keywords.extend(other_words)
        if not keywords and learned_words:
            # Nothing in the lexicon decided: the learned words did.
            keywords.extend((w, 0.0) for w, _ in learned_words)
        if urgent:
            keywords = [(w, eff) for w, _, eff, _, _, _ in urgent_words if eff > 0] + keywords
            if not urgent_by_kind:
                keywords = [(w, 0.0) for w, _ in learned_urgent_words] + keywords
        ordered: list[str] = []
        for w, _ in sorted(keywords, key=lambda x: -x[1]):
            if w not in ordered:
                ordered.append(w)

        learned_note = None
        if ev is not None:
            learned_note = (learned_cat.get(category, 0.0), learned_words, learned_urgent, learned_urgent_words)
        explanation = self._explanation(
            category, subcategory, confidence, sub_words, cue_words, other_words,
            kind, danger, rules.threshold, urgent_words, {**total, OTHER: other_total}, learned_note,
        ) if explain else ""  # the model's route explains itself (bot/explain.py)
        present = sum(eff for _w, _x, eff, _n, past, _k, _c in best_urgent.values() if eff > 0 and not past)
        return Route(
            category=category,
            subcategory=subcategory,
            urgent=urgent,
            confidence=confidence,
            keywords=tuple(ordered),
            urgent_keywords=urgent_kw,
            needs_choice=needs_choice,
            explanation=explanation,
            lexicon_danger=round(present, 3),
            lexicon_cleared=bool(best_urgent) and not present,
        )

    @staticmethod
    def _learned_kind(state: _State, total: dict[str, float], best_sub) -> str:
        """The kind of danger when only the learned layer saw it: the one
        handled where the message's best route is, violence if none is."""
        lex = state.lexicon
        top = max(ROUTED, key=lambda c: total[c])
        sub = best_sub(top)
        for kind in lex.urgent.kinds:
            if (kind.category, kind.subcategory) == (top, sub):
                return kind.key
        victim = lex.urgent.victim
        return victim.from_kind if victim is not None else lex.urgent.kinds[0].key

    @staticmethod
    def _victim_kind(rule: VictimRule | None, kind: str, by_kind: dict[str, float],
                     clause_eff: dict[tuple[str, int], float], a: _Analysis,
                     passive: frozenset[str]) -> str:
        """Violence against a child and not against her goes where children are helped.

        Each clause with danger in it counts for her if she is in it as a
        person ("打我", "俺和娃") and for a child if it names one; a bare
        passive ("被他扇得…") or pronoun ("她很害怕") is about whoever the
        message last named, her if nobody. The larger side wins, a tie goes to
        her. With no one named in those clauses, she decides if she tells it
        as one who is there ("我带着娃在卧室里"), else a child named anywhere
        in the message does. A married daughter or son is a grown-up.
        """
        if rule is None or kind not in (rule.from_kind, rule.to_kind):
            return kind
        if rule.from_kind not in by_kind and rule.to_kind not in by_kind:
            return kind
        ends = (rule.from_kind, rule.to_kind)
        per_clause: dict[int, float] = {}
        for (k, c), eff in clause_eff.items():
            if k in ends:
                per_clause[c] = per_clause.get(c, 0.0) + eff
        texts: dict[int, list[str]] = {}
        for tok, c in zip(a.tokens, a.clause_of, strict=True):
            texts.setdefault(c, []).append(tok)
        selves = tuple(sorted(rule.self_words, key=len, reverse=True))
        whole = "".join(a.tokens)
        # "我女儿今年二十六": the child she names is grown up. "我14岁": she
        # who writes is a child, so what happens to her happens to a child.
        said = a.text or whole
        child_age = _stated_age(said, _CHILD_AGE_RE)
        minor = 0 < _stated_age(said, _SELF_AGE_RE) < _ADULT_AGE or _SELF_SCHOOL_RE.search(said) is not None
        # "她才13岁", "堂妹才十四", "一名三岁男孩": the one she tells of is a child.
        other_age = _stated_age(said, _OTHER_AGE_RE) or _stated_age(said, _AGE_OF_CHILD_RE)
        other_minor = 0 < other_age < _ADULT_AGE
        # (A grown son named beside a little girl leaves her a child: "房东的儿子
        # 二十多岁，老叫…小女孩去他屋".)
        grown_by_age = child_age >= _ADULT_AGE and not any(w in said for w in _ALWAYS_YOUNG)
        # "我婆婆八十多了，小儿子…": an old mother's sons and daughters are grown.
        old_parent = _OLD_PARENT_RE.search(said) is not None and not any(
            w in said for w in (*_ALWAYS_YOUNG, *_GRANDCHILDREN))
        grown = grown_by_age or old_parent or _MARRIED_CHILD_RE.search(said) is not None or (
            not 0 < child_age < _ADULT_AGE and not minor and not other_minor and _GROWN_CHILD_RE.search(said) is not None)
        her = child = adult = unnamed = nobody = 0.0
        present = False  # she is in the story as a person somewhere ("我带着娃躲在卧室")
        last = None  # who the story was last about: a bare passive is about them
        for c in sorted(texts):
            toks = texts[c]
            text = "".join(toks)
            # A child who does the harm ("她儿子把她锁在…") is not its victim.
            # (A child's party is where it happened, not who was hurt: "在外甥满月酒上".)
            named = _OCCASION_RE.sub("", text) if "酒" in text or "宴" in text or "满月" in text else text
            is_child = (not grown and _any_of(rule.child_words).search(named) is not None
                        and not _CHILD_AGENT_RE.search(text)
                        ) or _PARENT_HITS_RE.search(text) is not None
            is_her = _mentions_self(text, selves, rule.possessed_words)
            # (she is there even when frightened: "我带着娃躲着，好害怕")
            present = present or is_her or _mentions_self(text, selves, rule.possessed_words, _OBSERVER_VERBS)
            # Nor is a grown-up who does it ("妈妈拿烧红的铁勺烫的").
            is_adult = (not is_her and not is_child and _any_of(rule.adult_words).search(text) is not None
                        and not _adult_agent(text, rule.adult_words))
            eff = per_clause.get(c, 0.0)
            if eff:
                if is_her:
                    her += eff
                if is_child:
                    child += eff
                if is_adult:
                    adult += eff
                elif not is_her and not is_child and any(t in passive or t in _THIRD_PERSON for t in toks):
                    if last == "child":
                        child += eff
                    elif last == "adult":
                        adult += eff
                    else:
                        unnamed += eff
                elif not is_her and not is_child:
                    nobody += eff  # "屋里没吃的，门从外面锁着": nobody named
            if is_child and not is_her:
                last = "child"
            elif is_her:
                last = "her"
            elif is_adult:
                last = "adult"
        if minor and not adult:
            child, her = child + her + unnamed, 0.0  # she is the child (unless she tells of a grown-up hurt)
        elif other_minor:
            # A child she tells of by age: danger in a clause that names nobody
            # is the child's too ("两个孩子，大的六岁…门从外面锁着").
            child, adult = child + adult + unnamed + nobody, 0.0
        else:
            her += unnamed
        her += adult
        if child > her:
            return rule.to_kind
        if her > 0.0 or grown:
            # (Even when only a child's word was used of her: "拿烟头烫我胳膊".)
            return rule.from_kind
        if present and not minor and not other_minor and child == 0.0:
            # Nobody named where the danger is, and she tells it as one who is
            # there ("他拿着菜刀在客厅转，我带着娃在卧室里"): violence in her
            # home, with the children beside her, is hers to report.
            return rule.from_kind if rule.from_kind in by_kind else kind
        # (A child who does the harm, or is brought along by the one who does,
        # is no victim named elsewhere: "带着他俩儿子来砸门".)
        if minor or other_minor or _any_of(rule.child_words).search(_CHILD_AGENT_RE.sub("", whole)) is not None:
            return rule.to_kind
        return kind

    @staticmethod
    def _other_confidence(lex: Lexicon, other: float, s1: float, a: _Analysis) -> float:
        """How sure "other" is: greetings and thanks yes, a long unknown message no."""
        if other > 0:
            # Unknown content words dilute a greeting: "你好" is other, "你好"
            # followed by three sentences of words we do not know is not.
            noise = s1 + 0.35 * a.unknown_words
            return (other / (other + noise)) * (1.0 - math.exp(-other / lex.evidence_scale * 1.5))
        if a.content_chars <= lex.short_message_chars and a.unknown_words <= 1:
            return 0.6  # "哈哈", "好的", an emoji: nothing to route, nothing missed
        return max(0.05, 0.4 - 0.05 * a.unknown_words)

    @staticmethod
    def _explanation(category, subcategory, confidence, sub_words, cue_words, other_words,
                     kind, urgent_total, trigger, urgent_words, cat_score, learned=None) -> str:
        """One line for a supervisor: the route, its words and weights, rivals, urgency.

        ``learned`` is (its share of the category's score, its top words, its
        urgent contribution, its top urgent words) when the learned layer is on."""
        fmt = lambda items: ", ".join(f"{w} {x:.1f}" for w, x in sorted(items, key=lambda t: -t[1]))  # noqa: E731
        head = category if subcategory is None else f"{category}/{subcategory}"
        parts = []
        if kind is not None:
            parts.append(f"danger ({kind})")
        elif category == OTHER:
            parts.append(fmt(other_words) if other_words else "no known words")
        else:
            if subcategory is not None:
                parts.append(fmt(sub_words.get((category, subcategory), {}).items()))
            if cue_words.get(category):
                parts.append("cues " + fmt(cue_words[category]))
        words = lambda items: ", ".join(w for w, _ in items)  # noqa: E731
        if learned is not None and kind is None and learned[0] >= 0.05:
            parts.append(f"learned {learned[0]:.1f}" + (f" ({words(learned[1])})" if learned[1] else ""))
        if kind is not None:
            out = f"{head}: {parts[0]} (conf {confidence:.2f})"
        else:
            score = cat_score.get(category, 0.0)
            out = f"{head} {score:.1f}: {'; '.join(p for p in parts if p) or '-'} (conf {confidence:.2f})"
        rivals = [f"{c} {s:.1f}" for c, s in sorted(cat_score.items(), key=lambda t: -t[1]) if s > 0 and c != category]
        if rivals and kind is None:
            out += " vs " + ", ".join(rivals[:2])
        learned_urgent = learned[2] if learned is not None else 0.0
        if urgent_words or abs(learned_urgent) >= 0.05:
            terms = []
            for w, _weight, eff, neg, past, _kind in urgent_words:
                note = " negated" if neg else (" past" if past else "")
                terms.append(f"{w} {eff:.1f}{note}")
            if abs(learned_urgent) >= 0.05:
                # The learned layer's share, with the words that weighed most.
                said = f" ({words(learned[3])})" if learned_urgent > 0 and learned[3] else ""
                terms.append(f"learned {learned_urgent:+.1f}{said}")
            verdict = "URGENT" if kind is not None else "not urgent"
            op = ">=" if kind is not None else "<"
            out += f" | {verdict}: {' + '.join(terms)} = {urgent_total:.1f} {op} {trigger:g}"
        return out


def _clause_factors(rules: UrgentRules, matches: list[_Match], nclauses: int, past_clause: list[int] | None,
                    has_present: list[bool], last_safe: int, urgent_words: frozenset[str]) -> list[float] | None:
    """How much each clause's danger counts for the learned layer.

    The lexicon's reading of time and negation overrules the learned words: a
    joke, a film or the news counts nothing; the past, a "what if" and what
    came before "现在已经搬出来了" count past_factor; a clause whose danger
    words are all negated ("他没打我") counts nothing.
    """
    factors = [1.0] * nclauses
    if past_clause is not None:
        for c, bits in enumerate(past_clause):
            if bits & _M_UNREAL:
                factors[c] = 0.0
            elif bits:
                factors[c] = rules.past_factor
    if last_safe >= 0:
        for c in range(last_safe + 1):
            if c == last_safe or not has_present[c]:
                factors[c] = min(factors[c], rules.past_factor)
    negated: set[int] = set()
    live: set[int] = set()
    for m in matches:
        if m.word in urgent_words:
            if m.negated:
                negated.add(m.clause)
            elif not m.past and any(h[0] == _URG and h[3] > 0 for h in m.hits):
                live.add(m.clause)
    for c in negated - live:
        factors[c] = 0.0
    if factors.count(1.0) == nclauses:
        return None  # all of it is now: the layer's fast path
    return factors


# Particles that leave a clause a joke marker alone ("开玩笑的啦", "哈哈哈啊").
_PARTICLES = frozenset(("的", "啦", "了", "呢", "嘛", "哦", "呀", "吧", "啊", "哈", "嘿"))
# Thanks: a past said in thanks ("谢谢你们以前帮过我") does not run on.
_THANKS = ("谢谢", "感谢", "多谢")
# The consequent of a condition: "要是…，他就杀了我", "敢报警就弄死你".
_THEN = "就"
_THEN_REACH = 8


# Particles that end a question said without a question mark.
_QUESTION_ENDS = ("吗", "呢", "么", "嘛")


def _is_question(c: int, asked: set[int] | frozenset[int], tokens: list[str], clause_of: list[int]) -> bool:
    """True if clause ``c`` ends with a question mark or a question particle."""
    if c in asked:
        return True
    last = max((k for k, cl in enumerate(clause_of) if cl == c), default=None)
    return last is not None and tokens[last].endswith(_QUESTION_ENDS)


def _own_death_imagined(m: _Match, tokens: list[str], clause_of: list[int], selves: tuple[str, ...]) -> bool:
    """True if ``m`` is a self-harm term in a clause where she is the subject ("要是我死了")."""
    if not any(h[0] == _URG and h[1] == _SELF_HARM for h in m.hits):
        return False
    return any(tokens[k].startswith(selves) and clause_of[k] == m.clause for k in range(m.end))


def _after_then(tokens: list[str], clause_of: list[int], m: _Match) -> bool:
    """True if 就 comes at most _THEN_REACH words before the term, in its clause."""
    k = m.start - 1
    while k >= 0 and k >= m.start - _THEN_REACH and clause_of[k] == m.clause:
        if tokens[k] == _THEN:
            return True
        k -= 1
    return m.word.startswith(_THEN)


def _object_after(harm: HarmRule, m: _Match, tokens: list[str], clause_of: list[int]) -> bool:
    """Does a person follow the verb at ``m`` as its object (打我, 泼了我一身)?"""
    c = m.clause
    n = len(tokens)
    k = m.end
    while k < n and clause_of[k] == c and tokens[k] in harm.particles:
        k += 1
    return k < n and clause_of[k] == c and tokens[k].startswith(harm.objects)


def _has_victim(harm: HarmRule, m: _Match, tokens: list[str], clause_of: list[int]) -> bool:
    """Does the harm verb at ``m`` have a person as its object?

    打我 / 泼了我一身 (the object follows), 我被他打了 / 挨打 (passive before
    the verb), 把我捆起来 (disposal: 把 + person before the verb). A "now"
    word just before it counts too: 他又开始打了, 正在打.
    """
    c = m.clause
    if _object_after(harm, m, tokens, clause_of):
        return True
    k = m.start - 1
    lowest = m.start - harm.reach
    while k >= 0 and k >= lowest and clause_of[k] == c:
        tok = tokens[k]
        if tok in harm.passive:
            return True
        if tok in harm.now and (m.start - k == 1 or (m.start - k == 2 and tok != _AT)):
            return True  # 又打, 正在打, 又开始打: happening again, now (not 在学校打)
        if tok in harm.disposal and k + 1 < m.start and tokens[k + 1].startswith(harm.objects):
            return True
        k -= 1
    # 把 + person further back in the clause: "把我的头往墙上撞".
    k = lowest
    while k >= 0 and clause_of[k] == c:
        if tokens[k] in harm.disposal and k + 1 < m.start and tokens[k + 1].startswith(harm.objects):
            return True
        k -= 1
    return False


# 在 is "now" right before a verb (在打) and "at" before a place (在学校打).
_AT = "在"
# Words that may open her clause before "在" when she leaves out 我: "现在在
# 高架桥上", "一个人坐在江边".
_NO_SUBJECT = frozenset(("已经", "一个人", "一个", "人", "独自", "自己", "正", "还", "就"))


def _she_is_there(edge: EdgeRule, selves: frozenset[str], present: frozenset[str], m: _Match,
                  tokens: list[str], clause_of: list[int]) -> bool:
    """Does she say she is at the place at ``m``?

    "我现在在高架桥上", "我站在19楼窗边", "一个人坐在江边" (no subject: her):
    a "be at" word at most ``reach`` words before the place, and before it in
    the clause a self word or nothing but time words. "他站在楼顶" is not her,
    and "我在天台晒被子" is an ordinary day.
    """
    c = m.clause
    start = m.start
    while start > 0 and clause_of[start - 1] == c:
        start -= 1
    end = m.end
    while end < len(tokens) and clause_of[end] == c:
        end += 1
    clause = "".join(tokens[start:end])
    if any(w in clause for w in edge.everyday):
        return False
    k = m.start - 1
    while k >= start and k >= m.start - edge.reach:
        if tokens[k] in edge.at:
            before = tokens[start:k]
            if any(t in selves for t in before):
                return True
            return all(t in present or t in _NO_SUBJECT or t in edge.at for t in before)
        k -= 1
    return False


_ADULT_AGE = 18
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_AGE = r"(\d{1,2}|[一二两三四五六七八九]?十[一二三四五六七八九]?|[一二两三四五六七八九])"
# An age said of the child she names: "女儿今年二十六", "儿子都三十了".
_CHILD_AGE_RE = re.compile(r"(?:女儿|儿子|闺女|孩子)(?:今年|都|已经|快|才|刚|[,，])*" + _AGE + r"(?![个块元万斤天年月次分号楼层口])")
# An age she gives of herself: "我14岁", "我才十四", "我今年十三岁"; the young
# leave 岁 out ("我14 继父…", "我今年十五 我爸…"): 10 to 17 (十一 to 十七) that no
# unit follows ("我12点下班", "我15号去" are no age).
_SELF_AGE_RE = re.compile(r"(?:^|[^的])我(?:今年|才|只有|刚|刚满|已经|[,，])*(?:" + _AGE + r"(?:岁|周岁)"
                          r"|(1[0-7]|十[一二三四五六七])(?![\d个块元万斤天年月次分号楼层口点多岁周:：.]))")
# ... or her school year: "我初二", "我才高一", "我读五年级" (not "我是初二学生的家长").
_SELF_SCHOOL_RE = re.compile(r"(?:^|[^的])我(?:今年|才|只有|刚|还|在|是|上|读|正在读|刚上)*"
                             r"(?:初[一二三]|高[一二三]|[一二三四五六]年级|小学生|初中生|高中生|中学生|初中|小学)"
                             r"(?![^。！？!?\n]{0,6}?(?:家长|的妈妈|的爸爸|的孩子|老师))")
# An age said of someone else she tells of: "她才13岁", "堂妹才十四".
# A lone digit needs 岁: "孩子一直在哭" is no age.
_OTHER_AGE_RE = re.compile(r"(?:她|他|堂妹|表妹|妹妹|侄女|外甥女|孙女|同学|学生|孩子|男孩|女孩|小孩|娃|妹|弟弟|弟|大的|小的)"
                           r"(?:今年|才|只有|刚|刚满|都|[,，])*"
                           r"(?:(\d{1,2}|[一二两三四五六七八九]?十[一二三四五六七八九]?)(?:岁|周岁)?"
                           r"|([一二两三四五六七八九])[一二两三四五六七八九]?(?:岁|周岁))(?![个块元万斤天年月次分号楼层口点多])")
# ... or before the child named, with 岁: "一名三岁男孩", "一个六岁的小女孩".
_AGE_OF_CHILD_RE = re.compile(r"(\d{1,2}|[一二两三四五六七八九]?十[一二三四五六七八九]?|[一二两三四五六七八九])(?:岁|周岁)(?:半)?的?"
                              r"(?:小男孩|小女孩|男孩|女孩|孩子|小孩|娃|宝宝|男童|女童|儿童|小姑娘|女儿|儿子|闺女)")
# A daughter or son told of at work, at university or with a partner of her
# own is a grown-up too (unless an age under 18 is said): "女儿在深圳上班，
# 男朋友在打她"; so is a girl who works nights in a factory ("女工宿舍",
# "下夜班的路上").
_GROWN_CHILD_RE = re.compile(r"(?:女儿|闺女|儿子)[^。！？!?\n]{0,12}?(?:上班|工作|打工|上大学|读大学|读研|男朋友|男友|女朋友|对象)"
                             r"|女工|下夜班|上夜班|夜班|车间|工友")
# A daughter or son told of as married is a grown-up: "闺女嫁到外地",
# "女儿被她婆家锁在屋里", "女婿拿皮带抽她".
_MARRIED_CHILD_RE = re.compile(r"(?:女儿|闺女|儿子)[^。！？!?\n]{0,30}?(?:嫁到|嫁给|嫁了|嫁过去|出嫁|婆家|女婿|她老公|她丈夫|她男人|儿媳|媳妇)"
                               r"|(?:女婿|亲家|孙媳妇|孙女婿)")
# Verbs right after a self word that make her the one who sees or helps, not
# the one hurt: "我帮她卷袖子", "我看他腿上全是血道子", "我问她怎么弄的"; or
# who introduces herself: "我是村调解员".
_OBSERVER_VERBS = ("帮", "问", "看", "发现", "听到", "听见", "注意到", "给她", "给他", "去敲", "陪", "是")
# Her fear right after a self word is how she feels, not who is hurt: "我吓坏了"
# beside "老板摸小女孩" leaves the child the victim.
_FEAR_WORDS = ("吓坏", "吓得", "吓死", "好怕", "害怕", "很害怕", "好害怕", "担心", "很担心", "好担心")
# Seeing a little further on makes her a witness too: "我在小区楼下看到一个小男孩…".
_WITNESS_VERBS = ("看到", "看见", "发现", "听到", "听见", "注意到", "陪床", "陪护")
_WITNESS_REACH = 8
# What a grown-up does when she is the one doing the harm.
_AGENT_ACTS = ("拿", "用", "把", "将", "对", "打", "抽", "掐", "踢", "烫", "弄", "逼", "不让", "又", "总", "老是", "天天",
               "经常", "就")
# The kind of danger that is her own suicidal intent.
_SELF_HARM = "self_harm"
# He threatens to kill her, or all of them and himself: "他把煤气打开了，说大家
# 一起死", "前夫…留话说我敢再找人就一起死", "他说要拉着我和娃一起喝农药",
# "他说下次就彻底了结我". That is his violence, not her suicidal intent.
_THREAT_BY_HIM_RE = re.compile(
    r"(?:(?<!抱着)(?<!带着)他|前夫|老公|丈夫|男人|对象|男朋友|孩子他爸|那个男的)[^。！？!?\n]{0,40}?"
    r"(?:一起死|一块死|一起走|一起喝|一起跳|一起下去|同归于尽|全家一起|煤气|烧炭|了结我|了结了我|陪葬|谁也别想活)"
    # ... or said with him left out: "拿着农药瓶子在我跟前晃，说要死一起死".
    r"|(?:说|扬言|威胁)要?死一起死"
)
# Her own intent, said by her: then it stays with counselling.
_OWN_INTENT_RE = re.compile(
    r"我(?:真的|也|就|都|只|是|一直)?(?:想|要|打算|准备)(?:带着?(?:孩子|娃)|跟他)?(?:一起)?"
    r"(?:死|自杀|走了|跳|割|喝农药|吃药|了结|一了百了)|我不想活|我活不下去|我就不打算活"
    r"|想往自己(?:身上|手上|胳膊上)?(?:割|划|扎|砍)"
)


def _threat_by_him(text: str) -> bool:
    """True if the self-harm words are his threat against her, not her intent."""
    return _THREAT_BY_HIM_RE.search(text) is not None and _OWN_INTENT_RE.search(text) is None


# A father or a step-parent hitting "him" or "her" is told of a child: "孩子
# 偷偷打电话说爸爸用衣架打她", "爸爸用衣架打的", "他爸把他关在阳台上".
_PARENT_HITS_RE = re.compile(r"(?:爸爸|他爸|她爸|继父|后爸|后妈|继母)[^，。！？,.!?]{0,6}?"
                             r"(?:(?:打|抽|踢|掐|烫)(?:他|她|的)|把(?:他|她)(?:打|抽|踢|掐|烫|关|锁|吊))")
# An old parent: "八十多了", "七十岁", "老太太"; her sons and daughters are grown.
_OLD_PARENT_RE = re.compile(r"(?:[六七八九]十|[6-9]\d)多?(?:岁|了)|老太太|老母亲|老娘|老父亲|老爷子")
_GRANDCHILDREN = ("孙子", "孙女", "外孙", "重孙")
# A child's party or feast, a place and a time rather than a person hurt.
_OCCASION_RE = re.compile(r"(?:外甥女?|外孙女?|孙子|孙女|儿子|女儿|孩子|娃|宝宝)的?(?:满月酒|满月宴|满月|百天宴|周岁宴|"
                          r"生日宴|婚礼|婚宴|喜酒|升学宴)")
# Words that name a young child whoever else is named.
_ALWAYS_YOUNG = ("小女孩", "小男孩", "小孩", "小姑娘", "婴儿", "宝宝", "幼儿", "小学生", "小娃", "女娃", "男娃",
                 "小弟弟", "小妹妹", "幼儿园")
# A child named as the one who does the harm: "儿子把她锁在", "儿子对我动手";
# or brought along by the one who does it: "带着他俩儿子来砸门".
_CHILD_AGENT_RE = re.compile(r"(?:儿子|女儿|闺女|孩子)(?:又|总|老|天天|经常|已经)?[把对将](?:她|我|他|老人|老娘|妈)"
                             r"|带着(?:他|她)?(?:俩|两个|几个|三个)?(?:儿子|女儿|闺女|孩子)来")


def _stated_age(text: str, pattern: re.Pattern) -> int:
    """The first age ``pattern`` finds in ``text`` (Arabic or Chinese numerals), 0 if none."""
    m = pattern.search(text)
    if m is None:
        return 0
    raw = next(g for g in m.groups() if g)
    if raw.isdigit():
        return int(raw)
    if "十" in raw:
        tens, _, ones = raw.partition("十")
        return _CN_DIGITS.get(tens, 1) * 10 + _CN_DIGITS.get(ones, 0)
    return _CN_DIGITS.get(raw, 0)


def _in_clause(a: _Analysis, clause: int, words: frozenset[str]) -> bool:
    """True if the clause, the two before it or the one after hold one of
    ``words`` (inside a token too: 狗 in 小狗): "我家狗丢了，白色泰迪，在小区附近
    走丢的", "救命啊，明天就要交材料了"."""
    if len(a.clause_of) != len(a.tokens):
        return any(w in "".join(a.tokens) for w in words)
    text = "".join(t for t, c in zip(a.tokens, a.clause_of, strict=True) if clause - 2 <= c <= clause + 1)
    return any(w in text for w in words)


def _adult_agent(text: str, adults: frozenset[str]) -> bool:
    """True if every grown-up named in the clause is the one acting
    ("妈妈拿烧红的铁勺烫的", "他妈天天打她"), so none of them is its victim."""
    found = False
    for w in adults:
        i = text.find(w)
        while i >= 0:
            rest = text[i + len(w): i + len(w) + 4]
            if not rest.startswith(_AGENT_ACTS) and not rest.startswith("的男朋友"):
                return False
            found = True
            i = text.find(w, i + 1)
    return found


def _mentions_self(text: str, selves: tuple[str, ...], possessed: frozenset[str],
                   observers: tuple[str, ...] = _OBSERVER_VERBS + _FEAR_WORDS) -> bool:
    """True if she is in the clause as a person ("打我", "我和孩子"), not only
    as an owner ("我老公", "我女儿"), as the one who sees or helps
    ("我帮她卷袖子", "我看他腿上…", "我在楼下看到…") or who is frightened
    ("我吓坏了"). ``selves`` longest first."""
    pattern, owned, longest = _self_scan(selves, possessed)
    for m in pattern.finditer(text):
        end = m.end()
        rest = text[end: end + longest]
        if (not rest.startswith(owned) and not rest.startswith(observers)
                and not any(v in text[end: end + _WITNESS_REACH] for v in _WITNESS_VERBS)):
            return True
    return False


@lru_cache(maxsize=16)
def _any_of(words: frozenset[str]) -> re.Pattern:
    """One pattern that finds any of ``words`` (a frozenset hashes once)."""
    return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))) or "(?!)")


@lru_cache(maxsize=8)
def _self_scan(selves: tuple[str, ...], possessed: frozenset[str]) -> tuple[re.Pattern, tuple[str, ...], int]:
    """The self words as one pattern (longest first), the owned words as a
    tuple for str.startswith, and the longest owned word's length."""
    pattern = re.compile("|".join(map(re.escape, selves)) or "(?!)")
    return pattern, tuple(possessed), max((len(w) for w in possessed), default=0)


def _add_word(table: dict, key: tuple, word: str, weight: float) -> None:
    words = table.setdefault(key, {})
    words[word] = words.get(word, 0.0) + weight


def _describe_hits(hits: tuple) -> list[str]:
    out = []
    for role, a, b, w in hits:
        name = _ROLE_NAMES[role]
        if role == _KW:
            out.append(f"{a}/{b} {w:g}")
        elif role == _CUE:
            out.append(f"cue {a} {w:g}")
        elif role == _URG:
            out.append(f"urgent {a} {w:g}")
        elif role == _OTH:
            out.append(f"other {w:g}")
        else:
            out.append(name)
    return out


def _main_weight(hits: tuple) -> float | None:
    weights = [h[3] for h in hits if h[0] in (_KW, _CUE, _URG, _OTH)]
    return max(weights) if weights else None
