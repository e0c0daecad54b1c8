"""The learned keyword-weight layer: training, persistence, explanation."""

from __future__ import annotations

import math

import pytest

from bot.learned import CLASSES, LearnedModel, train

RECORDS = [
    {"text": "婆婆天天骂我", "category": "mediation", "urgent": False},
    {"text": "婆婆不让我回娘家", "category": "mediation", "urgent": False},
    {"text": "产假有几天", "category": "consultation", "urgent": False},
    {"text": "他拿刀要砍我", "category": "consultation", "urgent": True},
    {"text": "他拿刀在门口", "category": "consultation", "urgent": True},
    {"text": "育婴师培训在哪报名", "category": "service", "urgent": False},
    {"text": "谢谢你们", "category": "other", "urgent": False},
    {"text": "你好在吗", "category": "other", "urgent": False},
]


@pytest.fixture(scope="module")
def model() -> LearnedModel:
    return train(RECORDS, min_df=1, mu=20)


def test_learns_category_and_urgency(model):
    assert model.predict(list("婆婆骂我")).category == "mediation"
    assert model.predict(list("他拿刀")).p_urgent > 0.5
    assert model.predict(list("谢谢")).p_urgent < 0.5
    pred = model.predict(list("婆婆骂我"))
    assert set(pred.posterior) == set(CLASSES)
    assert abs(sum(pred.posterior.values()) - 1.0) < 1e-9


def test_tokens_given_with_the_records():
    m = train([{"tokens": ["拿刀"], "category": "consultation", "urgent": True},
               {"tokens": ["谢谢"], "category": "other", "urgent": False}], min_df=1, mu=5)
    assert m.predict(["拿刀"]).p_urgent > m.predict(["谢谢"]).p_urgent


def test_save_and_load_round_trip(model, tmp_path):
    path = tmp_path / "learned.json"
    model.save(path)
    again = LearnedModel.load(path)
    for text in ("婆婆骂我", "他拿刀", "你好"):
        a, b = model.predict(list(text)), again.predict(list(text))
        assert a.category == b.category
        assert abs(a.p_urgent - b.p_urgent) < 1e-3


def test_explain_names_the_features_that_decided(model):
    ex = model.explain(list("他拿刀在门口"))
    words = [w for w, _ in ex["urgent_features"]]
    assert "拿刀" in words or "刀" in words
    assert all(x > 0 for _, x in ex["urgent_features"])


def test_unknown_category_is_refused():
    with pytest.raises(ValueError):
        train([{"text": "x", "category": "nope", "urgent": False}])


def test_packed_sums_read_back_as_the_float_sums():
    from bot.learned import _pack, _unpack

    rows = [(1.25, -3.5, 0.0, 2.0, -7.75), (-0.5, 0.25, 4.0, -2.0, 3.0), (0.0, 0.0, -1.0, 0.5, 0.125)]
    got = _unpack(sum(_pack(r) for r in rows), len(rows))
    for k in range(5):
        assert abs(got[k] - sum(r[k] for r in rows)) < 1e-3


def test_evidence_agrees_with_predict(model):
    words = ["婆婆", "骂", "我"]
    pred = model.predict(words, text="")
    ev = model.evidence(words)
    assert abs(ev.urgent_logodds - (math.log(pred.p_urgent) - math.log(1 - pred.p_urgent))) < 1e-2
    assert max(ev.posterior, key=ev.posterior.__getitem__) == pred.category


def test_known_danger_words_are_not_counted_twice(model):
    words = ["他", "拿刀"]
    assert model.evidence(words, known=["拿刀"]).urgent_logodds < model.evidence(words).urgent_logodds


def test_a_clause_counted_at_zero_adds_no_urgency(model):
    words = ["他", "拿刀", "谢谢"]
    full = model.evidence(words, [0, 0, 1], None).urgent_logodds
    muted = model.evidence(words, [0, 0, 1], [0.0, 1.0]).urgent_logodds
    assert muted < full


def test_combine_settings_survive_a_round_trip(model, tmp_path):
    model.combine = {"category_weight": 2.5}
    path = tmp_path / "learned.json"
    model.save(path)
    again = LearnedModel.load(path)
    assert again.combine["category_weight"] == 2.5
    assert set(again.combine) == set(model.combine)
