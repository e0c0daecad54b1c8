"""What the learned model reads of a message: its words, its characters, and
what the lexicon found in it read in context.

Four families of features, each a short string (binary: present or not):

- ``w:`` a jieba token of the router's segmentation (lexicon words are kept
  whole by its tokenizer, typos corrected, fillers dropped);
- ``c:`` a character 1-, 2- or 3-gram of the folded text (simplified script,
  pinyin and English read, stickers blanked): a new author's spelling of a
  known word still shares most of its characters;
- ``h:`` a lexicon hit crossed with its context: the role and route of the
  word (``h:u:violence:now``, ``h:k:mediation/in_law_conflict:past``) and, for
  danger words, the word itself (``d:打:neg``); the contexts are ``now``,
  ``neg`` (negated), ``past`` (past or a "what if"), ``unreal`` (a joke, a
  film, the news) and ``obj`` (a harm verb with a person as its object);
- ``r:`` the lexicon's own route (``r:consultation/anti_dv_law``), its
  danger flag and the danger's kind (who is hurt: a child's harm routes to
  children_in_difficulty, hers to anti_dv_law).

(Steps of the lexicon's present danger sum as features were tried: on the
fixed evaluation files they caught three fewer urgent messages, so
``niangjia model apply``'s rule would have refused them.)

The model (bot/model.py) weighs them; the lexicon no longer decides alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import add
from typing import Protocol

__all__ = ["NGRAM", "message_features"]

NGRAM = 3  # the longest character n-gram read

_ROLE = ("k", "c", "u", "o")
_W, _C = "w:", "c:"  # keyword, cue, urgent, other: the lexicon index's first four roles


class _Match(Protocol):
    word: str
    clause: int
    hits: tuple
    negated: bool
    past: bool
    boosted: bool


class _Lexical(Protocol):
    """The parts of the router's analysis this module reads."""

    matches: list
    tokens: list[str]
    clause_factor: list[float] | None
    text: str


def _context(m: _Match, factors: list[float] | None) -> str:
    if m.negated:
        return "neg"
    if factors is not None and factors[m.clause] == 0.0:
        return "unreal"
    if m.past:
        return "past"
    return "obj" if m.boosted else "now"


def message_features(a: _Lexical, route_category: str, route_subcategory: str | None,
                     route_urgent: bool) -> set[str]:
    """The features of one analysed message and the lexicon's route of it."""
    feats = set(map(_W.__add__, a.tokens))
    text = "".join(a.text.split())
    # The n-grams built by C-level maps: this runs on every message.
    pairs = list(map(add, text, text[1:]))
    feats.update(map(_C.__add__, text))
    feats.update(map(_C.__add__, pairs))
    feats.update(map(_C.__add__, map(add, pairs, text[2:])))
    factors = a.clause_factor
    for m in a.matches:
        ctx = _context(m, factors)
        for hit in m.hits:
            role = hit[0]
            if role > 3:
                continue  # markers (negators, time words): read through the context
            where = hit[1] if hit[2] is None else f"{hit[1]}/{hit[2]}"
            feats.add(f"h:{_ROLE[role]}:{where}:{ctx}")
            if role == 2:
                feats.add(f"d:{m.word}:{ctx}")
    route = route_category if route_subcategory is None else f"{route_category}/{route_subcategory}"
    feats.add("r:" + route)
    if route_urgent:
        feats.add("r:urgent")
        feats.add("r:urgent:" + route)
    return feats


def ngrams(text: str, n: int = NGRAM) -> Iterable[str]:
    """Character n-grams of ``text`` up to length ``n`` (for explanations and tests)."""
    text = "".join(text.split())
    for k in range(1, n + 1):
        for i in range(len(text) - k + 1):
            yield text[i:i + k]
