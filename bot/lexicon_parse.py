"""Parsing and validating the lexicon YAML: every error names the file and the line.

The urgent section is read by bot/lexicon_urgent.py."""

from __future__ import annotations

import math
from collections.abc import Mapping

import yaml

from .lexicon import (
    OTHER, ROUTED, Category, Lexicon, LexiconError, Subcategory,
)
from .lexicon_urgent import UrgentParsing
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
_NORM_KEYS = {"typos", "fillers", "pinyin", "english"}
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"

try:  # libyaml keeps marks too and composes several times faster
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


class LexiconParser(UrgentParsing):
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
