"""The lexicon stages alone (no model, no naive Bayes layer), built once for the stage tests."""

from __future__ import annotations

from functools import lru_cache

from bot.analyse import analyse
from bot.lexicon import URG
from bot.routing import DEFAULT_LEXICON, DEFAULT_USERDICT, Router
from bot.stages import Analysis, RouterState


@lru_cache(maxsize=1)
def lexicon_state() -> RouterState:
    """The state of a router that reads with the lexicon only (jieba's dictionary loads once)."""
    return Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, learned=None, model=None)._state


def read(text: str) -> Analysis:
    """The analysis stages of one message, on the lexicon only."""
    return analyse(lexicon_state(), text)


def danger(a: Analysis) -> list:
    """The matches of an analysis that are danger words."""
    return [m for m in a.matches if any(h.role == URG for h in m.hits)]


def match(a: Analysis, word: str):
    """The match of ``word`` in an analysis (the first, if said twice)."""
    return next(m for m in a.matches if m.word == word)
