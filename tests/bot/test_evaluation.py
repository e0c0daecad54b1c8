"""Evaluation: reading labelled files, the metrics, and the printed report."""

from __future__ import annotations

import json

import pytest

from bot.evaluation import LabelledDataError, evaluate, format_report, format_summary, load_labelled
from bot.routing import Route


class ScriptedRouter:
    """Answers from a table, so the metrics can be checked by hand."""

    def __init__(self, answers: dict[str, tuple[str, bool]]) -> None:
        self.answers = answers

    def route(self, text: str) -> Route:
        category, urgent = self.answers[text]
        return Route(category, None, urgent, 0.5, (), (), False, f"scripted {category}")


def write(tmp_path, lines: list[str]):
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rec(text, category, urgent=False, subcategory=None):
    return json.dumps({"text": text, "category": category, "subcategory": subcategory, "urgent": urgent},
                      ensure_ascii=False)


def test_load_labelled_reads_records_and_skips_blank_lines(tmp_path):
    path = write(tmp_path, [rec("你好", "other"), "", rec("救命", "consultation", True, "anti_dv_law")])
    records = load_labelled(path)
    assert [r["text"] for r in records] == ["你好", "救命"]
    assert records[1]["urgent"] is True and records[1]["subcategory"] == "anti_dv_law"
    assert records[1]["line"] == 3


def test_bad_json_names_the_line(tmp_path):
    path = write(tmp_path, [rec("你好", "other"), '{"text": "坏的", "category": '])
    with pytest.raises(LabelledDataError, match=rf"{path} line 2: invalid JSON"):
        load_labelled(path)


def test_missing_field_names_the_line_and_the_field(tmp_path):
    path = write(tmp_path, [rec("你好", "other"), json.dumps({"text": "谢谢", "category": "other"})])
    with pytest.raises(LabelledDataError, match=r"line 2: missing field urgent"):
        load_labelled(path)


@pytest.mark.parametrize(
    "obj,message",
    [
        ({"text": "x", "category": "advice", "urgent": False}, "category 'advice' is not one of"),
        ({"text": "x", "category": "other", "urgent": "no"}, "urgent must be true or false"),
        ({"text": "", "category": "other", "urgent": False}, "text must be a non-empty string"),
        (["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_invalid_records_are_refused_naming_the_line(tmp_path, obj, message):
    path = write(tmp_path, [json.dumps(obj)])
    with pytest.raises(LabelledDataError, match=rf"line 1: {message}"):
        load_labelled(path)


def test_metrics_by_hand():
    records = [
        {"text": "a", "category": "consultation", "urgent": True},
        {"text": "b", "category": "consultation", "urgent": False},
        {"text": "c", "category": "mediation", "urgent": False},
        {"text": "d", "category": "service", "urgent": True},
        {"text": "e", "category": "other", "urgent": False},
    ]
    router = ScriptedRouter({
        "a": ("consultation", True),
        "b": ("mediation", False),   # misrouted
        "c": ("mediation", True),    # false alarm
        "d": ("service", False),     # missed urgent
        "e": ("other", False),
    })
    report = evaluate(router, records)
    assert report.confusion["consultation"]["mediation"] == 1
    assert report.per_class["consultation"].recall == 0.5
    assert report.per_class["consultation"].precision == 1.0
    assert report.per_class["mediation"].precision == 0.5
    assert report.per_class["mediation"].f1 == pytest.approx(2 / 3)
    assert report.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 1 + 1) / 4)
    assert report.urgent_recall == 0.5 and report.urgent_precision == 0.5
    assert [m.kind for m in report.misses] == ["MISSED URGENT", "false alarm", "misrouted"]


def test_no_urgent_messages_means_perfect_urgent_recall():
    report = evaluate(ScriptedRouter({"x": ("other", False)}), [{"text": "x", "category": "other", "urgent": False}])
    assert report.urgent_recall == 1.0 and report.macro_f1 == pytest.approx(0.25)


def test_format_report_is_a_readable_table(tmp_path):
    records = [
        {"text": "救命", "category": "consultation", "urgent": True, "line": 7},
        {"text": "你好", "category": "other", "urgent": False, "line": 8},
    ]
    report = evaluate(ScriptedRouter({"救命": ("other", False), "你好": ("other", False)}), records)
    text = format_report(report)
    assert "macro-F1" in text and "urgent recall       0.000" in text
    assert "[MISSED URGENT] line 7: consultation +urgent -> other" in text
    assert "confusion (rows: labelled, columns: routed)" in text
    for category in ("consultation", "mediation", "service", "other"):
        assert category in text


def test_summary_has_the_figures_and_no_message_text():
    records = [{"text": "不想活了", "category": "service", "urgent": True}]
    report = evaluate(ScriptedRouter({"不想活了": ("service", True)}), records)
    line = format_summary(report)
    assert "macro-F1 0.250" in line and "urgent recall 1.000 (1/1)" in line
    assert "不想活了" not in line
