"""Parsing the lexicon's urgent section: danger kinds and their words, time and
negation markers, the harm, edge and victim rules (a part of LexiconParser,
bot/lexicon_parse.py, whose helpers it uses)."""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from .lexicon import Category, EdgeRule, HarmRule, UrgentKind, UrgentRules, VictimRule
from .text import fold

_BOOL_TAG = "tag:yaml.org,2002:bool"

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


class UrgentParsing:
    """The urgent section's readers; the node helpers (mapping, require, words…) are LexiconParser's."""

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
