"""The router: routes, urgency (and what is not urgent), the lexicon's
validation, reloading, and the targets on the labelled corpora."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.evaluation import evaluate, format_report, format_summary, load_labelled
from bot.routing import DEFAULT_LEXICON, DEFAULT_USERDICT, Lexicon, LexiconError, Route, Router

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "data" / "corpus"
LEXICON_TEXT = DEFAULT_LEXICON.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def spare_router() -> Router:
    """A router the reload tests may change without touching the shared one. Without the
    learned model: these tests are about the lexicon's reload, which the model (reading
    first) would hide."""
    return Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, model=None)


@pytest.fixture(scope="module")
def lexicon_router() -> Router:
    """The lexicon stage alone (with its naive Bayes layer), as the router was before the
    learned model read first: the tests of what the lexicon itself reads use it."""
    return Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, model=None)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing needle."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


# -- urgent: danger now, also when 家暴 is never said --------------------------

URGENT = [
    ("他又喝多了拿着刀在门口", "consultation", "anti_dv_law"),
    ("我被锁在屋里出不去", "consultation", "anti_dv_law"),
    ("不想活了", "service", "counselling"),
    ("他说要弄死我", "consultation", "anti_dv_law"),
    ("他把我捆起来了", "consultation", "anti_dv_law"),
    ("他用开水泼我", "consultation", "anti_dv_law"),
    ("救命 他在砸门", "consultation", "anti_dv_law"),
    ("昨晚他硬要 我说不要他还是 下面一直在出血 现在好怕", "consultation", "anti_dv_law"),
    ("我老公喝醉了就拿棍子打儿子，孩子才六岁", "service", "children_in_difficulty"),
    ("邻居家的小孩天天被他爸打，哭得撕心裂肺", "service", "children_in_difficulty"),
    ("我站在楼顶了 就想跟人说说话", "service", "counselling"),
    ("手腕又划了几道，血止住了，我控制不住自己", "service", "counselling"),
    ("我被骗到这边来了，他们把我卖给一个老光棍，身份证也被收了", "consultation", "policy_other"),
]


@pytest.mark.parametrize("text,category,subcategory", URGENT)
def test_danger_is_urgent_and_routed_where_it_is_handled(router, text, category, subcategory):
    route = router.route(text)
    assert route.urgent, route.explanation
    assert (route.category, route.subcategory) == (category, subcategory), route.explanation
    assert route.urgent_keywords
    assert not route.needs_choice  # a woman in danger is not asked to pick from a menu


# Designed sentences of earlier rounds that the router with the learned model reading
# first gets wrong, though the lexicon stage alone (with its naive Bayes layer) gets them
# right. Its danger threshold (0.15) was chosen for recall on unseen authors (1057/1067
# urgent messages caught leaving one of twenty-five authors out at a time, round 16 in
# data/corpus/README.md); on every corpus file it catches at least as many urgent
# messages as the model before it (bench/compare_routers.py). Kept here as strict
# expected failures, so a model that gets them right is noticed, and the lexicon's own
# tests still run them. (Round 16: the model now gets one phrasing of a bed asked for
# tonight right; trained on fresh23/fresh24 too, it reads danger (0.18, over 0.15) in a
# general question about an injury report.)
MODEL_MISSES = {
    "侄女才十五，她爸收了彩礼要让她下个月跟人办酒成亲": (True, "service", "children_in_difficulty"),
    "我今晚能不能住你们那里": (True, "consultation", "anti_dv_law"),
    "能帮我找个地方住吗，我带着孩子跑出来了": (True, "consultation", "anti_dv_law"),
    "家里有把刀": (False, None, None),
    "验伤报告有什么用": (False, None, None),
}


@pytest.mark.xfail(strict=True, reason="the learned model misroutes these designed sentences (see MODEL_MISSES)")
@pytest.mark.parametrize("text", list(MODEL_MISSES))
def test_designed_sentences_the_learned_model_gets_wrong(router, text):
    urgent, category, subcategory = MODEL_MISSES[text]
    route = router.route(text)
    assert route.urgent == urgent, route.explanation
    if category is not None:
        assert (route.category, route.subcategory) == (category, subcategory), route.explanation


def test_weak_signals_add_up_to_urgent_but_not_alone(router, lexicon_router):
    # The lexicon's rule: weak words add up, one alone is not the alarm. (The model
    # may raise it on a lone weak word when it reads danger in the rest: its
    # threshold is chosen for recall on unseen authors, bot/training.py.)
    assert not lexicon_router.route("他又喝多了").urgent
    assert not lexicon_router.route("家里有把刀").urgent
    assert router.route("他又喝多了拿着刀").urgent


def test_present_marker_brings_the_past_back_to_now(router):
    assert router.route("以前他打过我，昨天又打了").urgent
    assert router.route("他没喝酒就打我").urgent  # 就 ends the negation


def test_negation_does_not_cross_a_clause(router):
    route = router.route("他没打我，但是把我锁在屋里了")
    assert route.urgent, route.explanation


@pytest.mark.parametrize(
    "text",
    ["他打工去了", "他给我打电话", "我想打官司要回彩礼", "孩子打疫苗在哪里", "他打麻将输了好多钱", "他打算把房子卖了"],
)
def test_da_inside_another_word_is_not_violence(router, text):
    route = router.route(text)
    assert not route.urgent, route.explanation
    assert "打" not in route.urgent_keywords


def test_her_as_victim_wins_over_the_child(router):
    route = router.route("他打我，还打孩子")
    assert route.urgent and route.subcategory == "anti_dv_law", route.explanation


@pytest.mark.parametrize(
    "text,category",
    [
        ("不想跟他过了，手续咋办，要去哪个部门", "consultation"),  # divorce without 离婚
        ("他一直不给孩子生活费，可以去法院申请强制执行吗", "consultation"),  # support without 抚养费
        ("俺男人一年到头不着家，钱也不往家拿，俺想找人跟他说道说道", "mediation"),
        ("离了以后他一直不让我见娃", "mediation"),
        ("给你们点个赞", "other"),
    ],
)
def test_colloquial_phrasings_route(router, text, category):
    route = router.route(text)
    assert route.category == category, route.explanation
    assert not route.urgent, route.explanation


@pytest.mark.parametrize(
    "text", ["打错了 不好意思", "社保卡丢了去哪补办", "晚安", "？", "小区路灯坏了一个多月了", "能帮忙转发一下寻狗启事吗"]
)
def test_off_topic_and_other_departments_are_other(router, text):
    route = router.route(text)
    assert route.category == "other" and not route.urgent, route.explanation


def test_a_message_that_names_domestic_violence_is_never_mediated_even_when_she_asks(router):
    route = router.route("他家暴我好几年了，我还是想请你们帮忙调解一下，给孩子一个完整的家")
    assert route.category == "consultation" and route.subcategory == "anti_dv_law", route.explanation


# -- routes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,category,subcategory",
    [
        ("离婚冷静期是多久", "consultation", "marriage_law"),
        ("他不同意离婚，能不能帮忙调解一下", "mediation", "divorce_dispute"),
        ("婆婆天天骂我，老公也不管，能不能帮忙调解一下", "mediation", "in_law_conflict"),
        ("前夫不让我看孩子，想请你们找他谈谈", "mediation", "custody_dispute"),
        ("抚养费的标准是多少，法律怎么规定的", "consultation", "custody_support"),
        ("我想报名巾帼家政的育婴师培训", "service", "employment_training"),
        ("两癌筛查今年什么时候开始，怎么预约", "service", "health_screening"),
        ("想开个小店，创业担保贷款怎么申请", "service", "startup_loan"),
        ("楼上天天半夜吵，说了也不改，请帮忙协调", "mediation", "neighbour_dispute"),
    ],
)
def test_routes(router, text, category, subcategory):
    route = router.route(text)
    assert (route.category, route.subcategory) == (category, subcategory), route.explanation
    assert not route.urgent
    assert not route.needs_choice, route.explanation


def test_domestic_violence_is_never_mediated(router):
    route = router.route("老公家暴，能不能帮忙调解一下")
    assert (route.category, route.subcategory) == ("consultation", "anti_dv_law"), route.explanation


def test_traditional_and_full_width_input_route_like_simplified(router):
    pairs = [
        ("離婚冷靜期是多久", "离婚冷静期是多久"),
        ("我被鎖在屋裡出不去", "我被锁在屋里出不去"),
        ("ＨＰＶ疫苗在哪裡預約", "HPV疫苗在哪里预约"),
        ("婆婆天天罵我，能不能幫忙調解一下？", "婆婆天天骂我，能不能帮忙调解一下?"),
    ]
    for variant, simplified in pairs:
        assert router.route(variant).to_dict() == router.route(simplified).to_dict()


def test_typos_route_like_the_word_meant(router, lexicon_router):
    assert lexicon_router.route("离昏冷静期是多久").to_dict() == lexicon_router.route("离婚冷静期是多久").to_dict()
    # The model also reads characters, so its confidence may differ a little; the route may not.
    typo, meant = router.route("离昏冷静期是多久"), router.route("离婚冷静期是多久")
    assert (typo.category, typo.subcategory, typo.urgent) == (meant.category, meant.subcategory, meant.urgent)
    assert router.route("婆婆太过分了，想请你们帮忙调节一下").category == "mediation"
    route = router.route("前夫不给孩子扶养费，能不能找他谈谈")
    assert route.subcategory == "custody_dispute" and "抚养费" in "".join(route.keywords), route.explanation


def test_voice_fillers_do_not_change_the_route(router):
    plain = router.route("前夫不让我看孩子，想请你们找他谈谈")
    spoken = router.route("嗯那个前夫就是不让我看孩子然后想请你们找他谈谈")
    assert (plain.category, plain.subcategory) == (spoken.category, spoken.subcategory)


def test_greeting_and_thanks_are_other_with_confidence(router):
    for text in ["你好", "在吗", "谢谢你们", "好的收到"]:
        route = router.route(text)
        assert route.category == "other" and route.subcategory is None, text
        assert not route.needs_choice and route.confidence >= router.lexicon.threshold, route.explanation


def test_long_message_with_no_known_word_asks_her_to_choose(router):
    route = router.route("昨天我去镇上赶集买了一些东西回来路上遇到了一个很多年没见的老同学聊了很久")
    assert route.needs_choice, route.explanation
    assert route.confidence < router.lexicon.threshold


def test_only_a_question_word_is_not_a_consultation(router):
    route = router.route("我家猫两天不吃东西了怎么办")
    assert route.category == "other" and route.needs_choice, route.explanation


def test_keywords_come_most_decisive_first_and_explanation_names_them(router):
    route = router.route("婆婆天天骂我，老公也不管，能不能帮忙调解一下")
    assert route.keywords[0] in ("婆婆", "帮忙调解")
    assert "婆婆" in route.explanation and route.explanation.startswith("转到“调解 · 婆媳/姻亲矛盾”")


def test_urgent_explanation_shows_terms_adding_up(router, lexicon_router):
    route = lexicon_router.route("他又喝多了拿着刀在门口")
    assert "URGENT" in route.explanation and "喝多" in route.explanation and "刀" in route.explanation
    # The route's explanation is for caseworkers, in Chinese: the rule's words and the model's share.
    route = router.route("他又喝多了拿着刀在门口")
    assert "紧急：词表危险规则命中" in route.explanation and "喝多" in route.explanation and "刀" in route.explanation
    assert "模型判断危险的概率" in route.explanation


def test_to_dict_puts_the_deciding_fields_first(router):
    d = router.route("我想报名巾帼家政培训").to_dict()
    assert list(d)[:5] == ["category", "subcategory", "urgent", "confidence", "keywords"]
    assert set(d) == {f for f in Route.__dataclass_fields__}
    assert 0.0 <= d["confidence"] <= 1.0


def test_explain_lists_each_token_with_what_it_matched(router):
    rows = router.explain("他没打我，離婚冷靜期多久")
    by_token = {r["token"]: r for r in rows}
    assert by_token["打"]["negated"] is True
    assert by_token[","]["matched"] == ["ignored"]  # full-width comma, width-folded
    assert by_token["離婚冷靜期"]["normalised"] == "离婚冷静期"
    assert by_token["離婚冷靜期"]["weight"] > 0
    assert any("marriage_law" in m for m in by_token["離婚冷靜期"]["matched"])
    assert all({"token", "normalised", "matched", "weight", "negated", "past"} <= set(r) for r in rows)


def test_labels_for_replies(router):
    assert router.label("mediation", "in_law_conflict") == "调解 · 婆媳/姻亲矛盾"
    assert router.label("service") == "服务"
    assert router.label("other") == "其他"


def test_lexicon_uses_exactly_the_corpus_taxonomy(router):
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    expected = {
        (m.group(1), m.group(2), m.group(3))
        for m in re.finditer(r"^\| (consultation|mediation|service) \| (\w+) \| ([^|]+?) \|", readme, re.M)
    }
    got = {(c.key, s.key, s.label) for c in router.lexicon.categories() for s in c.subcategories}
    assert got == expected
    assert [c.key for c in router.lexicon.categories()] == ["consultation", "mediation", "service", "other"]


# -- the lexicon refuses what it cannot use, naming the line -------------------


@pytest.mark.parametrize(
    "old,new,needle,message",
    [
        ("婆婆: 2.5,", "婆婆: lots,", "婆婆: lots", "weight of '婆婆' must be a number"),
        ("婆婆: 2.5,", "婆婆: 2.5, 婆婆: 1.0,", "婆婆: 1.0", "duplicate key '婆婆'"),
        ("  threshold: 1.0\n", "  threshold: 1.0\n  colour: red\n", "colour", "unknown key 'colour'"),
        ("  consultation:\n    label: 咨询\n", "  advice:\n    label: 咨询\n", "advice", "unknown category 'advice'"),
        ("route: service/counselling", "route: service/yoga", "yoga", "is not a known category/subcategory"),
        ("threshold: 0.5\n", "threshold: high\n", "threshold: high", "threshold must be a number"),
        ("decides: true", "decides: maybe", "decides: maybe", "trafficking.decides must be true or false"),
        ("    my husband: 我老公,", "    my-husband: 我老公,", "my-husband", "english 'my-husband' must be Latin words"),
        ("    my husband: 我老公,", "    ta: 他, my husband: 我老公,", "    ta: 他, my", "listed twice"),
    ],
)
def test_broken_lexicon_is_refused_naming_file_and_line(tmp_path, old, new, needle, message):
    assert old in LEXICON_TEXT
    text = LEXICON_TEXT.replace(old, new, 1)
    path = tmp_path / "lexicon.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LexiconError) as err:
        Lexicon.load(path)
    assert str(err.value).startswith(f"{path} line {line_of(text, needle)}:"), str(err.value)
    assert message in str(err.value)


def test_empty_keyword_list_is_refused(tmp_path):
    start = LEXICON_TEXT.index("      matchmaking:")
    block_start = LEXICON_TEXT.index("keywords: {", start)
    block_end = LEXICON_TEXT.index("}", block_start)
    text = LEXICON_TEXT[:block_start] + "keywords: {" + LEXICON_TEXT[block_end:]
    with pytest.raises(LexiconError) as err:
        Lexicon.parse(text, source="edited.yaml")
    assert f"edited.yaml line {line_of(LEXICON_TEXT, 'matchmaking:') + 2}:" in str(err.value)
    assert "is empty" in str(err.value)


def test_yaml_syntax_error_names_the_line():
    text = LEXICON_TEXT.replace("threshold: 0.5\n", "threshold: [0.5\n", 1)
    with pytest.raises(LexiconError) as err:
        Lexicon.parse(text, source="edited.yaml")
    assert re.match(r"edited\.yaml line \d+: YAML syntax error", str(err.value))


def test_router_keeps_its_last_good_lexicon_when_a_reload_is_refused(spare_router, tmp_path):
    before = spare_router.route("婆婆天天骂我，能不能帮忙调解一下")
    path = tmp_path / "lexicon.yaml"
    path.write_text(LEXICON_TEXT.replace("婆婆: 2.5,", "婆婆: x,", 1), encoding="utf-8")
    try:  # what a caller does on reload: keep the router unless the new file parses
        spare_router.reload(Lexicon.load(path))
    except LexiconError:
        pass
    assert spare_router.route("婆婆天天骂我，能不能帮忙调解一下") == before


def test_reload_swaps_in_a_new_lexicon(spare_router):
    assert spare_router.route("广场舞大妈放音乐").category == "mediation"
    assert "你好: 1.2," in LEXICON_TEXT
    text = LEXICON_TEXT.replace("广场舞: 2.0,", "", 1).replace("你好: 1.2,", "你好: 1.2, 广场舞大妈: 3.0,", 1)
    spare_router.reload(Lexicon.parse(text, source="new.yaml"))
    route = spare_router.route("广场舞大妈放音乐")
    assert route.category == "other", route.explanation
    spare_router.reload(Lexicon.load(DEFAULT_LEXICON))


# -- the labelled corpora -------------------------------------------------------


def corpus_report(router: Router, path: Path):
    if not path.is_file():
        pytest.skip(f"{path.name} not present")
    return evaluate(router, load_labelled(path))


TUNED_ON = ["dev", "tune2", "tune3a", "tune3b", "tune3c", "tune4a", "tune4b", "fresh5", "fresh6", "fresh7", "fresh8",
            "fresh9", "fresh10", "fresh11", "fresh12", "fresh13", "fresh14", "fresh15", "fresh16",
            "fresh17", "fresh18", "fresh19", "fresh20",
            "fresh23", "fresh24"]  # the last two: trained on (the model), never tuned on (the lexicon)


@pytest.mark.corpus
@pytest.mark.parametrize("name", TUNED_ON)
def test_each_tuned_on_corpus_meets_targets(router, name):
    # Each author, tuned on (the lexicon) and trained on (the learned weights):
    # dev; tune2 (subtle danger, keyword-free grievances); tune3a (elderly,
    # rural, voice input); tune3b (young, urban, slang); tune3c (formal,
    # proxies, long stories, traditional script); tune4a (fragments,
    # relatives, dialect, pinyin) and tune4b (boundary cases), partly tuned
    # on. fresh5 (an ordinary week) and fresh6 (danger told indirectly) were
    # held out until fresh7/fresh8 took their place, then tuned and trained on
    # in round 5; fresh7 (coercive control, the digital age) and fresh8 (the
    # people around her, particular lives) likewise in round 6; fresh9 (a
    # crisis line's night shift) and fresh10 (the young) in round 8; fresh11
    # (work and public places) and fresh12 (the countryside, older women) in
    # round 9; fresh13 (a county inbox's month) and fresh14 (voice input,
    # cheap phones) in round 10; fresh15 (mediation's villages) and fresh16
    # (danger told obliquely) in round 12; fresh17 (second-language Chinese)
    # and fresh18 (men, referral notes) in round 13; fresh19 (family occasions)
    # and fresh20 (the legal process, the body) in round 14; fresh23 (the new
    # economy) and fresh24 (blended families, women over fifty) trained on in
    # round 16, the lexicon not tuned on them. How the
    # router does on an author it has not seen is measured by
    # bench/learned_cv.py and the held-out test below.
    report = corpus_report(router, CORPUS / f"{name}.jsonl")
    assert report.urgent_recall == 1.0, format_report(report, max_misses=20)
    assert report.macro_f1 >= 0.90, format_report(report, max_misses=20)


@pytest.mark.corpus
def test_the_whole_labelled_corpus_meets_targets(router):
    # The bar, on every message the router was tuned and trained on
    # (4,820 by twenty-three authors); each file is held to its own bar above.
    records = [record for name in TUNED_ON for record in load_labelled(CORPUS / f"{name}.jsonl")]
    report = evaluate(router, records)
    assert report.urgent_recall == 1.0, format_report(report, max_misses=20)
    assert report.macro_f1 >= 0.90, format_report(report, max_misses=20)


@pytest.mark.parametrize("text", ["hi 你好", "ok的 谢谢", "I need the form please"])
def test_latin_words_that_are_not_listed_pinyin_change_nothing(router, text):
    assert not router.route(text).urgent


@pytest.mark.parametrize(
    "text,subcategory",
    [
        # a grown daughter is not a child: violence against her goes to anti_dv_law
        ("我女儿今年二十六，前男友天天在她单位楼下守着，说要泼她硫酸，她吓得不敢去上班", "anti_dv_law"),
        # a son who does the harm to his old mother
        ("隔壁王婶八十多了，她儿子把她锁在小屋里，昨天半夜听见她哭喊", "anti_dv_law"),
        # a child writing about herself
        ("我14岁，我爸喝了酒就用皮带抽我", "children_in_difficulty"),
        # a child telling of her mother being hurt: the mother is the victim
        ("我妈被我爸打了，头上在流血，她不让我报警，我才十四岁", "anti_dv_law"),
    ],
)
def test_who_is_hurt_decides_child_or_adult(router, text, subcategory):
    route = router.route(text)
    assert route.urgent, route.explanation
    assert route.subcategory == subcategory, route.explanation


NEW_AUTHORS_MISS = pytest.mark.xfail(
    reason="2026-12-07 (issue 17, round 16, never trained on these): urgent messages are still missed "
    "(fresh21: macro-F1 0.914, urgent recall 36/40, precision 0.72; fresh22: 0.969, 39/40, 0.89; the lexicon "
    "router of round 14: 0.896, 31/40, 0.69 and 0.904, 36/40, 0.80)",
    strict=False,
)
HELD_OUT = ["fresh21", "fresh22"]


# holdout (0.956, 21/21, precision 0.88 with the learned model; 0.975, 21/21, 0.84 after round 14)
# is held to the targets outright.
@pytest.mark.corpus
@pytest.mark.parametrize("name", ["holdout", *(pytest.param(n, marks=NEW_AUTHORS_MISS) for n in HELD_OUT)])
def test_held_out_corpora_meet_targets(router, name):
    # Never tuned on: they measure how the router generalises. Only the
    # figures are shown, never the messages, so nobody tunes on them.
    report = corpus_report(router, CORPUS / f"{name}.jsonl")
    summary = format_summary(report)
    recall, macro_f1 = report.urgent_recall, report.macro_f1
    del report  # keep pytest's failure output to the figures
    print(f"{name}: {summary}")
    assert recall == 1.0, summary
    assert macro_f1 >= 0.90, summary


# Written after the design of round 16 was settled, by writers who saw neither the router nor
# any corpus file, and measured once on arrival (data/corpus/unread/README.md): held to issue
# 17's targets for authors never seen, so that a later change that loses them fails here.
UNREAD = ["fresh25", "fresh26"]


@pytest.mark.corpus
@pytest.mark.parametrize("name", UNREAD)
def test_unread_authors_meet_the_targets_for_authors_never_seen(router, name):
    records = load_labelled(CORPUS / "unread" / f"{name}.jsonl")
    everything = evaluate(router, records)
    calm_f1 = evaluate(router, [r for r in records if not r["urgent"]]).macro_f1
    recall, precision = everything.urgent_recall, everything.urgent_precision
    del records, everything  # keep pytest's failure output to the figures
    summary = f"{name}: macro-F1 not urgent {calm_f1:.3f}, urgent recall {recall:.3f}, precision {precision:.3f}"
    print(summary)
    assert calm_f1 >= 0.92 and recall >= 0.97 and precision >= 0.80, summary


# -- this round: his murder-suicide threats, children told of by role, everyday idioms --

@pytest.mark.parametrize(
    "text",
    [
        "他把煤气阀拧开了，说今晚全家一起死，我抱着娃躲在邻居家",
        "前夫发消息说我要是敢再嫁人就跟我同归于尽",
        "我老公说要拉着我一起喝农药，药瓶就放在床头",
    ],
)
def test_his_threat_to_kill_us_all_is_violence_not_her_suicidal_intent(router, text):
    route = router.route(text)
    assert route.urgent, route.explanation
    assert (route.category, route.subcategory) == ("consultation", "anti_dv_law"), route.explanation


@pytest.mark.parametrize("text", ["老公天天骂我，我真的想带着孩子一起走了，活着没意思", "他又打我了，我不想活了"])
def test_her_own_suicidal_intent_stays_with_counselling(router, text):
    route = router.route(text)
    assert route.urgent, route.explanation
    assert (route.category, route.subcategory) == ("service", "counselling"), route.explanation


@pytest.mark.parametrize(
    "text",
    [
        "我是初二的班主任，班上一个男生脸上肿着来上学，我问他怎么了，他说是他爸拿皮带抽的",
        "楼下那个小男孩又被他爸打了，我看他胳膊上全是紫的，光着脚在楼道里哭",
        "我同学的表妹她才十二，她妈天天拿衣架打她，身上全是伤",
    ],
)
def test_a_child_she_sees_or_helps_is_the_victim_not_her(router, text):
    route = router.route(text)
    assert route.urgent, route.explanation
    assert (route.category, route.subcategory) == ("service", "children_in_difficulty"), route.explanation


def test_a_danger_word_with_a_person_as_its_object_stays_danger_in_a_harmless_context(router):
    # 打 is harmless next to 疫苗 only when nobody is hit: "打孩子" is not.
    route = router.route("他去打疫苗回来就打孩子，孩子脸都肿了")
    assert route.urgent, route.explanation


def test_a_child_married_off_is_urgent_and_goes_where_children_are_helped(lexicon_router):
    # The lexicon stage; the learned model misses it (MODEL_MISSES).
    route = lexicon_router.route("侄女才十五，她爸收了彩礼要让她下个月跟人办酒成亲")
    assert route.urgent, route.explanation
    assert (route.category, route.subcategory) == ("service", "children_in_difficulty"), route.explanation


def test_harmless_context_for_an_unknown_word_is_refused(tmp_path):
    old = "  harmless_with:\n"
    assert old in LEXICON_TEXT
    text = LEXICON_TEXT.replace(old, old + "    吃饭: [碗]\n", 1)
    path = tmp_path / "lexicon.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LexiconError) as err:
        Lexicon.load(path)
    assert str(err.value).startswith(f"{path} line {line_of(text, '吃饭: [碗]')}:"), str(err.value)
    assert "not a term of any urgent kind" in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "今晚能不能让我在你们那住一晚",  # a bed tonight, asked indirectly
        "我今晚能不能住你们那里",
        "今晚没地方住，能收留我吗",
        "我现在在外面不敢回去",
        "能帮我找个地方住吗，我带着孩子跑出来了",
        "他下手不重，就是脸肿了",  # violence played down
        "嘴角流血了",
        "我妹妹被她老公带去外省了，一直联系不上",  # taken away and unreachable
    ],
)
def test_shelter_tonight_injuries_played_down_and_taken_away_are_urgent(router, lexicon_router, text):
    # The lexicon stage reads every one; the learned model reads first and misses a few
    # (MODEL_MISSES below, kept visible as expected failures).
    route = (lexicon_router if text in MODEL_MISSES else router).route(text)
    assert route.urgent and route.subcategory == "anti_dv_law", route.explanation


# -- round 8: covert requests, lured rides and notes, children sold or married off, the young's ages --


def test_a_time_after_her_is_not_her_age(router):
    # "我12点下班": two digits with a unit are a time, so she stays a grown-up
    route = router.route("我12点下班 他又打我了")
    assert route.urgent and route.subcategory == "anti_dv_law", route.explanation


# -- round 9: fresh11/fresh12's families (work and public places; the countryside) ---


def test_trafficking_decides_its_route_even_when_the_beating_weighs_more():
    text = "我表妹被卖到山里给人当媳妇，天天被打得鼻青脸肿，还锁在屋里"
    shipped = Router(Lexicon.parse(LEXICON_TEXT), DEFAULT_USERDICT, learned=None)
    assert shipped.route(text).subcategory == "policy_other", shipped.route(text).explanation
    # Without `decides` the larger sum (the beating, the locked door) would take it.
    plain = Router(Lexicon.parse(LEXICON_TEXT.replace("decides: true", "decides: false")), DEFAULT_USERDICT,
                   learned=None)
    assert plain.route(text).subcategory == "anti_dv_law", plain.route(text).explanation


# -- the regression cases of the tuning rounds, as data -----------------------------

CASES = yaml.safe_load((Path(__file__).parent / "routing_cases.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["text"][:24] for c in CASES])
def test_regression_cases(router, lexicon_router, case):
    """Each designed sentence of the tuning rounds routes as its case says, for the reason in its `why`."""
    # (The designed sentences the learned model misroutes are read by the lexicon stage.)
    route = (lexicon_router if case["text"] in MODEL_MISSES else router).route(case["text"])
    if "urgent" in case:
        assert route.urgent == case["urgent"], (case["why"], route.explanation)
    if "route" in case:
        category, _, subcategory = case["route"].partition("/")
        assert (route.category, route.subcategory) == (category, subcategory or None), (case["why"], route.explanation)
