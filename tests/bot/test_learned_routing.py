"""The learned layer inside the router: its evidence adds to the lexicon's,
shows in the explanation, and the lexicon's negation, past and joke markers
overrule it."""

from __future__ import annotations

import pytest

from bot.learned import train
from bot.routing import DEFAULT_LEXICON, DEFAULT_USERDICT, Router

# A made-up word the lexicon does not know, which the toy corpus below only
# ever uses in danger: whatever the layer adds for it is the layer's doing.
DANGER = "蓝月亮"
TRAINING = [
    (f"他喝多了又{DANGER}了", "consultation", True),
    (f"昨晚他{DANGER}，我躲在厕所", "consultation", True),
    (f"他又开始{DANGER}，孩子在哭", "consultation", True),
    (f"老公{DANGER}，我好怕", "consultation", True),
    ("婆婆天天骂我，老公也不管", "mediation", False),
    ("邻居家装修太吵了", "mediation", False),
    ("离婚冷静期是多久", "consultation", False),
    ("想报名育婴师培训", "service", False),
    ("谢谢你们", "other", False),
    ("你好在吗", "other", False),
]


def _toy_router(**combine) -> Router:
    """The shipped lexicon with a learned layer trained on TRAINING alone."""
    plain = Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, learned=None, model=None)
    records = [
        {"tokens": plain._analyse(plain._state, text).words, "category": cat, "urgent": urgent}
        for text, cat, urgent in TRAINING
    ]
    model = train(records, mu=20, combine={"urgent_offset": 0.0, "urgent_words": 0, **combine})
    plain.use_learned(model)
    return plain


@pytest.fixture(scope="module")
def toy_router() -> Router:
    """The toy router of this module (the session's `router` is the shipped one)."""
    return _toy_router(urgent_weight=0.5)


def test_learned_evidence_tips_weak_danger_and_is_named_in_the_explanation(toy_router):
    route = toy_router.route(f"他喝多了，又{DANGER}")
    assert route.urgent, route.explanation
    assert "learned +" in route.explanation and DANGER in route.explanation
    assert DANGER in route.urgent_keywords


def test_the_same_words_without_the_layer_are_not_urgent():
    plain = Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, learned=None, model=None)
    assert not plain.route(f"他喝多了，又{DANGER}").urgent


@pytest.mark.parametrize(
    "text",
    [
        f"以前他喝多了就{DANGER}，现在已经搬出来了",  # the past, and she is safe
        f"他没喝多也没{DANGER}",  # negated (没 … 喝多 is a negated danger word in the clause)
        f"刚看了个电视剧，男主喝多了就{DANGER}",  # fiction
    ],
)
def test_negation_past_and_fiction_overrule_the_learned_layer(toy_router, text):
    route = toy_router.route(text)
    assert not route.urgent, route.explanation


def test_the_layer_alone_never_raises_the_alarm(toy_router):
    # Its cap is below the trigger: with no danger word of the lexicon's,
    # however many of its own words it finds, the lexicon must see something.
    route = toy_router.route(f"{DANGER}{DANGER}，{DANGER}")
    assert not route.urgent, route.explanation


def test_danger_the_lexicon_found_is_never_taken_away(toy_router):
    route = toy_router.route("他又喝多了拿着刀")
    assert route.urgent, route.explanation


def test_category_evidence_is_added_and_shown(toy_router):
    route = toy_router.route("你好在吗")
    assert route.category == "other"
    route = toy_router.route("婆婆天天骂我，老公也不管")
    assert route.category == "mediation" and "learned" in route.explanation, route.explanation


def _shipped_lexicon_router() -> Router:
    """The router as it routes without a model: the lexicon and the naive Bayes layer (the
    learned routing model, bot/model.py, reads first when present and turns this layer off)."""
    return Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, model=None)


def test_shipped_router_loads_the_shipped_weights():
    router = _shipped_lexicon_router()
    assert router.learned is not None
    assert router.learned.meta.get("trained_on")
    # The held-out files are the only honest measure left: never trained on.
    for held_out in ("holdout.jsonl", "fresh21.jsonl", "fresh22.jsonl"):
        assert held_out not in router.learned.meta["trained_on"]


@pytest.fixture(scope="module")
def faint_router() -> Router:
    """The toy layer at a small weight, and at a large one once the lexicon saw danger."""
    return _toy_router(urgent_weight=0.1, urgent_weight_seen=1.0)


def test_faint_present_danger_lets_the_layer_weigh_more(faint_router):
    # 半夜 is a faint danger word (0.2): with it, the layer's confidence in
    # the unknown word counts at urgent_weight_seen and tips the message.
    route = faint_router.route(f"他半夜又{DANGER}")
    assert route.urgent, route.explanation
    faint_router.learned.combine = {**faint_router.learned.combine, "urgent_weight_seen": 0.0}
    try:
        assert not faint_router.route(f"他半夜又{DANGER}").urgent
    finally:
        faint_router.learned.combine = {**faint_router.learned.combine, "urgent_weight_seen": 1.0}


@pytest.mark.parametrize(
    "text",
    [
        f"他{DANGER}，{DANGER}又{DANGER}",  # no danger word of the lexicon's at all
        f"以前半夜他{DANGER}",  # the faint danger word is in the past
    ],
)
def test_the_larger_weight_needs_present_danger_the_lexicon_saw(faint_router, text):
    route = faint_router.route(text)
    assert not route.urgent, route.explanation


def test_shipped_layer_counts_more_once_the_lexicon_saw_danger():
    # Chosen by bench/learned_cv.py --urgent (data/corpus/README.md).
    combine = _shipped_lexicon_router().learned.combine
    assert combine["urgent_weight_seen"] > combine["urgent_weight"]
    assert combine["urgent_cap"] < 1.0  # still never the alarm on its own


def test_a_faint_word_below_the_seen_minimum_does_not_unlock_the_larger_weight(faint_router):
    # 半夜 (0.2) is present danger, but below urgent_seen_min the layer keeps
    # its small weight: a lone faint word (推 in 推文) is not enough.
    faint_router.learned.combine = {**faint_router.learned.combine, "urgent_seen_min": 0.5}
    try:
        route = faint_router.route(f"他半夜又{DANGER}")
        assert not route.urgent, route.explanation
    finally:
        faint_router.learned.combine = {**faint_router.learned.combine, "urgent_seen_min": 0.0}
    assert faint_router.route(f"他半夜又{DANGER}").urgent


@pytest.fixture(scope="module")
def eager_router() -> Router:
    """The toy layer silent at its offset, and heard at the eager offset once
    the lexicon's present danger reaches the guard (0.8)."""
    return _toy_router(urgent_weight=0.5, urgent_offset=10.0, urgent_offset_eager=0.0, urgent_eager_min=0.8)


def test_present_danger_above_the_guard_takes_the_eager_offset(eager_router):
    # 流血 (0.8) is present danger at the guard: the layer's word tips it.
    route = eager_router.route(f"流血了，{DANGER}")
    assert route.urgent, route.explanation
    assert "learned +" in route.explanation


@pytest.mark.parametrize(
    "text",
    [
        f"家里有把刀，{DANGER}",  # a lone weak word (刀 0.7) is below the guard
        f"以前流血了，{DANGER}",  # the past
        f"没流血，{DANGER}",  # negated
        f"如果流血了，{DANGER}",  # a "what if"
        f"{DANGER}{DANGER}，{DANGER}",  # the layer alone
    ],
)
def test_weak_past_negated_or_no_danger_keeps_the_shipped_offset(eager_router, text):
    route = eager_router.route(text)
    assert not route.urgent, route.explanation


def test_the_guard_is_what_keeps_a_weak_word_out(eager_router):
    # The same lone 刀 is lifted when the guard is lowered under its weight.
    eager_router.learned.combine = {**eager_router.learned.combine, "urgent_eager_min": 0.5}
    try:
        assert eager_router.route(f"家里有把刀，{DANGER}").urgent
    finally:
        eager_router.learned.combine = {**eager_router.learned.combine, "urgent_eager_min": 0.8}


def test_shipped_layer_is_heard_sooner_only_behind_the_guard():
    # Chosen by bench/learned_cv.py --urgent, round 7 (data/corpus/README.md).
    combine = _shipped_lexicon_router().learned.combine
    assert combine["urgent_offset_eager"] < combine["urgent_offset"]
    assert combine["urgent_eager_min"] > 0.7  # a lone 刀 or 打 (0.7) does not lower the bar
