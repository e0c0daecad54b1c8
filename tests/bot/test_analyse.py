"""The first stages: fold, cut with the lexicon's words whole, clauses, the lexicon's words found."""

from __future__ import annotations

from .stage_router import match, read


def test_da_inside_a_longer_word_is_not_the_violence_word():
    a = read("他打工去了，晚上给我打电话")
    assert "打工" in a.tokens and "打电话" in a.tokens
    assert not any(m.word == "打" for m in a.matches)


def test_punctuation_starts_a_new_clause_and_tokens_know_theirs():
    a = read("他没打我，但是把我锁在屋里了")
    assert a.clause_of[a.tokens.index("没")] == 0
    assert a.clause_of[a.tokens.index("锁")] == 1


def test_a_laughing_emoji_is_read_as_laughter():
    a = read("我妈说再不找对象就打断我的腿😂")
    assert "哈哈" in a.tokens


def test_traditional_and_typos_are_folded_before_the_lexicon_reads():
    a = read("我想離昏")
    assert "离婚" in a.tokens


def test_explain_rows_name_what_each_token_matched():
    from bot.analyse import analyse

    from .stage_router import lexicon_state

    rows = analyse(lexicon_state(), "他打我", detail=True).detail
    hit = next(r for r in rows if r["normalised"] == "打")
    assert hit["match"] and any(s.startswith("urgent") for s in hit["matched"])


def test_each_danger_word_is_found_with_its_hits_named():
    m = match(read("他拿刀砍我"), "砍")
    assert m.hits and all(h.weight >= 0 for h in m.hits)
