"""Property tests for the router: any text routes, deterministically, to a known category."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.routing import Router
from bot.settings import PACKAGE_DATA

ROUTER = Router.from_files(PACKAGE_DATA / "lexicon.yaml", PACKAGE_DATA / "userdict.txt")
CATEGORIES = {"consultation", "mediation", "service", "other"}
DOMAIN_WORDS = ["打", "他", "我", "不", "没", "以前", "刀", "离婚", "婆婆", "调解", "报名", "孩子", "杀", "死", "吗", "？", "，", "。", " ", "😀", "[捂脸]", "ta da wo"]
texts = st.one_of(st.text(max_size=200), st.lists(st.sampled_from(DOMAIN_WORDS), max_size=30).map("".join))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_any_text_routes_to_a_known_category_the_same_way_twice(text):
    route = ROUTER.route(text)
    assert route.category in CATEGORIES
    assert 0.0 <= route.confidence <= 1.0
    assert all(isinstance(k, str) for k in route.keywords + route.urgent_keywords)
    assert ROUTER.route(text) == route
    # An urgent route says why: the danger words the lexicon read, or the model's danger
    # probability at or above its threshold (the model may raise the alarm alone, #17).
    assert not route.urgent or route.urgent_keywords or (
        route.p_danger is not None and route.p_danger >= ROUTER.model.danger_threshold
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(["", "你好，", "请问，"]), danger=st.sampled_from(["他拿刀要杀我", "他现在正在打我", "我不想活了"]))
def test_plain_danger_stays_urgent_whatever_is_said_around_it(prefix, danger):
    assert ROUTER.route(prefix + danger).urgent
