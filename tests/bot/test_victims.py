"""Who is hurt: a child or her; his threat to kill them all or her own intent to die."""

from __future__ import annotations

import pytest

from bot.score import score
from bot.victims import threat_by_him

from .stage_router import lexicon_state, read


def lexical_route(text: str) -> tuple[str, str | None, bool]:
    r = score(lexicon_state(), read(text))
    return r.category, r.subcategory, r.urgent


@pytest.mark.parametrize(
    "text,subcategory",
    [
        ("我弟才八岁，我爸拿皮带抽他，现在还在抽", "children_in_difficulty"),  # a child by age
        ("我女儿嫁过去三年，昨晚她老公又打她", "anti_dv_law"),  # a married daughter is a grown-up
        ("他打我，还打孩子", "anti_dv_law"),  # her as victim wins over the child
        ("我14 继父老是半夜进我房间 打我", "children_in_difficulty"),  # she who writes is a child
        ("我12点下班 他又打我了", "anti_dv_law"),  # a time is no age
    ],
)
def test_who_is_hurt_decides_where_violence_goes(text, subcategory):
    category, sub, urgent = lexical_route(text)
    assert urgent and sub == subcategory


@pytest.mark.parametrize("text", ["他把煤气打开了，说大家一起死", "他说要拉着我和娃一起喝农药"])
def test_his_threat_to_kill_them_all_is_his(text):
    assert threat_by_him(text)


def test_her_own_intent_is_not_his_threat():
    assert not threat_by_him("他又打我，我就想带着孩子一起死")
