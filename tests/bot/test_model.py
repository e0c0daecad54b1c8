"""The routing model's weights file, scored in pure Python."""

from __future__ import annotations

import math

import pytest

from bot.model import ModelError, RouteModel, best_route, pack, unpack

LABELS = ["consultation/anti_dv_law", "mediation/in_law_conflict", "other"]


def _model(**settings) -> RouteModel:
    weights = {
        "w:婆婆": [-1.0, 2.5, -1.0, -0.5],
        "w:打": [1.5, -0.5, -1.0, 3.0],
        "c:你好": [-1.0, -1.0, 2.0, -2.0],
    }
    return RouteModel.from_weights(LABELS, weights, [0.0, 0.0, 0.5], -2.0, settings or None)


def test_packed_weights_sum_like_the_floats_they_hold():
    rows = [[1.25, -3.5, 0.0, 7.75], [-0.5, 0.25, -2.0, 1.0], [3.0, 3.0, -3.0, -3.0]]
    total = unpack(sum(pack(r) for r in rows), len(rows), 4)
    for got, want in zip(total, map(sum, zip(*rows, strict=True)), strict=True):
        assert abs(got - want) < 1e-3


def test_prediction_is_a_softmax_of_the_summed_weights_and_a_sigmoid_of_danger():
    model = _model()
    pred = model.predict({"w:婆婆", "w:打", "w:unknown"})
    scores = [0.5, 2.0, -1.5]
    z = sum(math.exp(s) for s in scores)
    for label, s in zip(LABELS, scores, strict=True):
        assert abs(pred.label_p[label] - math.exp(s) / z) < 1e-3
    assert abs(pred.p_danger - 1 / (1 + math.exp(-(-2.0 + 2.5)))) < 1e-3
    assert best_route(pred.label_p)[:2] == ("mediation", "in_law_conflict")


def test_a_model_survives_saving_and_loading(tmp_path):
    model = _model(danger_threshold=0.3)
    path = tmp_path / "m.json"
    model.save(path)
    again = RouteModel.load(path)
    assert again.labels == model.labels and again.danger_threshold == 0.3
    feats = {"w:婆婆", "c:你好"}
    assert again.predict(feats).label_p == pytest.approx(model.predict(feats).label_p)


@pytest.mark.parametrize("text", ["not json", "[]", '{"format": "other"}',
                                  '{"format": "niangjia-route-model/1", "labels": ["a"], "bias": [0, 1], '
                                  '"danger_bias": 0, "weights": {}}'])
def test_a_broken_model_file_is_refused_with_a_reason(text):
    with pytest.raises(ModelError) as err:
        RouteModel.loads(text)
    assert str(err.value)
