"""Routing of a woman's message to consultation, mediation or service, and
whether her danger makes it urgent: the public entry (Router, Route).

The router is a pipeline of stages, each in its own module:

1. normalise, segment, find the lexicon's words (bot/text.py, bot/segment.py,
   bot/analyse.py);
2. each clause's context: negated, past, hypothetical, a joke; a harm verb with
   a person as its object (bot/clauses.py, bot/harm.py);
3. features of the message for the learned model (bot/features.py);
4. score: the model's (bot/model.py) and the lexicon's (bot/score.py; who is
   hurt: bot/victims.py);
5. decide: urgency as its own decision, three policies in code (bot/decide.py);
6. explain, in Chinese (bot/explain.py).

The taxonomy lives in ``bot/data/lexicon.yaml`` (edited by supervisors; typed in
bot/lexicon.py, validated by bot/lexicon_parse.py with every error naming the
file and line). Segmentation is jieba's, with one tokenizer per Router.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .analyse import analyse
from .decide import LexicalRead, decide
from .explain import explain as explain_zh, readable_words
from .features import message_features
from .learned import LearnedModel
from .lexicon import (
    CATEGORIES, OTHER, ROUTED, SELF_HARM, URG, Category, Lexicon, LexiconError, Subcategory, UrgentKind,
)
from .model import RouteModel, label_of
from .score import score
from .segment import FastCut, new_tokenizer
from .stages import Analysis, Route, RouterState
from .text import fold_script

__all__ = [
    "CATEGORIES",
    "DEFAULT_LEARNED",
    "DEFAULT_LEXICON",
    "DEFAULT_MODEL",
    "DEFAULT_USERDICT",
    "OTHER",
    "ROUTED",
    "URG",
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
log = logging.getLogger(__name__)


_SHIPPED = object()  # "the learned weights in bot/data, if they are there"


def _load(given: Any, kind: type, shipped: Path, what: str) -> Any:
    """`given` as a loaded `kind`: itself, None, a file to load, or _SHIPPED (the shipped file
    of the `what`, if it is there; the lexicon routes alone without it)."""
    if given is _SHIPPED:
        if not shipped.is_file():
            log.warning("no %s at %s: routing on the lexicon alone", what, shipped)
            return None
        return kind.load(shipped)
    if given is None or isinstance(given, kind):
        return given
    return kind.load(given)



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
        loaded = _load(model, RouteModel, DEFAULT_MODEL, "routing model")
        learned = None if loaded is not None else _load(learned, LearnedModel, DEFAULT_LEARNED, "learned weights")
        self._state = self._build(lexicon, learned, loaded)

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

    def _build(self, lexicon: Lexicon, learned: LearnedModel | None, model: RouteModel | None = None) -> RouterState:
        tk = new_tokenizer(self._userdict, lexicon.tokenizer_words(), lexicon.pivot_words())
        kinds = {k.key: (k.category, k.subcategory) for k in lexicon.urgent.kinds}
        return RouterState(lexicon, tk, kinds, learned, FastCut(tk).cut, model)

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
        self._state = RouterState(state.lexicon, state.tokenizer, state.route_of_kind, learned, state.cut, state.model)

    def use_model(self, model: RouteModel | None) -> None:
        """Swap the routing model (None: the lexicon routes); routing in flight finishes with the old one."""
        state = self._state
        learned = None if model is not None else state.learned
        self._state = RouterState(state.lexicon, state.tokenizer, state.route_of_kind, learned, state.cut, model)

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

    def _analyse(self, state: RouterState, text: str, detail: bool = False) -> Analysis:
        """The analysis stages of one message (kept for the benches and tests that read it)."""
        return analyse(state, text, detail)

    # -- the pipeline ------------------------------------------------------

    def route(self, text: str) -> Route:
        """Route one message."""
        state = self._state
        a = analyse(state, text)
        if state.model is None:
            return score(state, a)
        return self._model_route(state, a, score(state, a, explain=False))

    def lexical(self, text: str) -> tuple[set[str], LexicalRead]:
        """The model's features of a message and the lexicon's reading of it (for training)."""
        state = self._state
        if state.learned is not None:
            state = RouterState(state.lexicon, state.tokenizer, state.route_of_kind, None, state.cut, state.model)
        a = analyse(state, text)
        lex = score(state, a)
        return message_features(a, lex.category, lex.subcategory, lex.urgent), self._read(state, lex)

    @staticmethod
    def _read(state: RouterState, lex: Route) -> LexicalRead:
        kinds = state.route_of_kind
        lex_route = (lex.category, lex.subcategory)
        victim = state.lexicon.urgent.victim
        violence = kinds.get(victim.from_kind) if victim is not None else None
        return LexicalRead(lex.category, lex.subcategory, lex.urgent, lex_route == violence,
                           lex.urgent and lex_route == kinds.get(SELF_HARM), lex.lexicon_cleared,
                           lex.confidence)

    def _model_route(self, state: RouterState, a: Analysis, lex: Route) -> Route:
        """The model reads first; the lexicon's route is one of its features and its danger rule a safety net."""
        model = state.model
        pred = model.predict(message_features(a, lex.category, lex.subcategory, lex.urgent))
        d = decide(pred, self._read(state, lex), model.danger_threshold, state.lexicon.threshold, model.rule_veto)
        same = (d.category, d.subcategory) == (lex.category, lex.subcategory)
        column = model.index(label_of(d.category, d.subcategory)) if label_of(
            d.category, d.subcategory) in model.labels else None
        # Whole words, in her order; only those readable_words may name (two
        # characters or more, letters only), so the rest are not looked up.
        words = ["w:" + t for t in dict.fromkeys(a.tokens) if len(t) > 1 and t.isalnum()]
        model_words = readable_words(model, words, column) if column is not None else []
        lex_words = list(lex.keywords) if same or (d.category == lex.category and d.category != OTHER) else []
        keywords = tuple(dict.fromkeys([*lex_words, *model_words]))
        danger_words = list(lex.urgent_keywords) if d.urgent_by_rule or d.rule_vetoed else []
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
        return analyse(state, text, detail=True).detail or []
