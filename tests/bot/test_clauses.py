"""Each clause's context: negated, past, a "what if", a joke; the danger after 就 is now."""

from __future__ import annotations

import pytest

from bot.clauses import clause_factors

from .stage_router import danger, lexicon_state, read


def test_a_negator_before_the_danger_word_negates_it_within_its_clause():
    a = read("他没打我，但是把我锁在屋里了")
    assert [(m.clause, m.negated) for m in danger(a)] == [(0, True), (1, False)]


def test_a_scope_breaker_ends_the_negation():
    assert [m.negated for m in danger(read("他没喝酒就打我"))] == [False]


def test_the_past_is_past_unless_a_present_marker_brings_it_back():
    assert [m.past for m in danger(read("以前他打过我"))] == [True]
    assert [m.past for m in danger(read("以前他打过我，昨天又打了"))] == [True, False]


def test_years_ago_is_the_past():
    a = read("十几年前被拐卖到外省")
    assert danger(a) and all(m.past for m in danger(a))


def test_a_threat_after_then_in_a_condition_is_now():
    a = read("老公说我要是敢去报警，他就捅死我")
    assert [m.past for m in danger(a) if m.clause == 1] == [False]


@pytest.mark.parametrize("text", ["我跟闺蜜开玩笑说再不还钱就砍死她哈哈", "刚看了个电视剧，女主被老公打得好惨"])
def test_a_joke_or_a_film_puts_its_danger_out_of_the_present(text):
    a = read(text)
    assert danger(a) and all(m.past for m in danger(a))


def test_clause_factors_zero_a_negated_clause_and_scale_the_past():
    rules = lexicon_state().lexicon.urgent
    a = read("他没打我，以前骂过我")
    factors = clause_factors(rules, a.matches, max(a.clause_of) + 1, None, [False, False], -1,
                             lexicon_state().lexicon.urgent_words)
    assert factors is not None and factors[0] == 0.0
