"""The lexicon's score: keywords and cues add up, danger reaches the trigger, confidence asks."""

from __future__ import annotations

from bot.score import score

from .stage_router import lexicon_state, read


def route(text: str):
    return score(lexicon_state(), read(text))


def test_keywords_and_cues_decide_the_category_and_subcategory():
    r = route("婆婆天天骂我，老公也不管，能不能帮忙调解一下")
    assert r.category == "mediation" and r.subcategory is not None and not r.urgent


def test_weak_danger_words_add_up_to_the_trigger_but_not_alone():
    assert not route("他又喝多了").urgent
    assert route("他又喝多了拿着刀").urgent


def test_named_domestic_violence_is_never_mediated():
    r = route("他家暴我好几年了，我还是想请你们帮忙调解一下")
    assert r.category != "mediation"


def test_nothing_known_asks_her_to_choose():
    r = route("我想问问关于那个事情后来怎么样了他们说的那个东西")
    assert r.needs_choice


def test_the_explanation_names_the_words_and_the_trigger():
    r = route("他又喝多了拿着刀")
    assert "URGENT" in r.explanation and "拿着刀" in r.urgent_keywords
