"""The naive Bayes layer's share of the lexicon's score."""

from __future__ import annotations

from functools import lru_cache

from bot.analyse import analyse
from bot.layer import layer_share
from bot.learned import LearnedModel
from bot.routing import DEFAULT_LEARNED, DEFAULT_LEXICON, DEFAULT_USERDICT, Router


@lru_cache(maxsize=1)
def layered():
    """A router's state with the lexicon and its naive Bayes layer (no model)."""
    return Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, learned=LearnedModel.load(DEFAULT_LEARNED),
                             model=None)._state


def share(text: str, urgent_total: float = 0.0):
    state = layered()
    return layer_share(state.learned, analyse(state, text), urgent_total, state.lexicon.urgent.threshold, {})


def test_the_layer_is_not_asked_when_the_lexicon_already_found_the_danger():
    s = share("他拿刀砍我", urgent_total=5.0)
    assert s.evidence is None and s.urgent == 0.0 and s.category == {}


def test_the_layer_is_not_asked_without_a_layer():
    state = layered()
    s = layer_share(None, analyse(state, "离婚冷静期多久"), 0.0, 1.0, {})
    assert s.evidence is None and s.urgent == 0.0


def test_the_layer_gives_every_category_its_share_and_leans_to_the_topic():
    s = share("离婚冷静期是多久，协议离婚要带什么材料")
    assert set(s.category) == {"consultation", "mediation", "service", "other"}
    assert max(s.category, key=s.category.get) == "consultation"


def test_a_negated_danger_adds_nothing_and_the_same_danger_now_adds_to_the_sum():
    assert share("他没有拿刀威胁我").urgent == 0.0
    assert share("他拿刀威胁我").urgent > 0.0


def test_danger_told_in_the_past_before_she_is_safe_adds_less_than_danger_now():
    assert 0.0 < share("以前他说要收拾我，现在离婚了").urgent < share("他说今晚回来收拾我，我好怕").urgent
