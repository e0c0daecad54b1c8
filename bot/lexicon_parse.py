"""Parsing and validating the lexicon YAML: every error names the file and the line."""

from __future__ import annotations

import math
from collections.abc import Mapping

import yaml

from .lexicon import (
    OTHER, ROUTED, Category, EdgeRule, HarmRule, Lexicon, LexiconError, Subcategory, UrgentKind, UrgentRules, VictimRule,
)
from .text import ConditionalTypo, Normaliser, fold, is_content

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


class LexiconParser:
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
