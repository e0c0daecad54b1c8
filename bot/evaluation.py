"""Measure a router against labelled messages: per-class precision, recall and
F1, macro-F1 over the four categories, urgent recall and precision, the
confusion matrix and the misrouted examples, as a table a person reads.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .routing import CATEGORIES, Route

__all__ = [
    "ClassScore", "LabelledDataError", "Miss", "Report", "evaluate", "format_report", "format_summary", "load_labelled",
]


class LabelledDataError(ValueError):
    """A labelled file that cannot be read; the message names the file and line."""


class _Routes(Protocol):
    def route(self, text: str) -> Route: ...


def load_labelled(path: str | Path) -> list[dict]:
    """Read JSONL records with text, category and urgent (subcategory optional)."""
    path = Path(path)
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise LabelledDataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise LabelledDataError(f"{path}: must be UTF-8 ({exc.reason})") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelledDataError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise LabelledDataError(f"{where}: expected a JSON object")
        missing = [k for k in ("text", "category", "urgent") if k not in obj]
        if missing:
            raise LabelledDataError(f"{where}: missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        if not isinstance(obj["text"], str) or not obj["text"].strip():
            raise LabelledDataError(f"{where}: text must be a non-empty string")
        if obj["category"] not in CATEGORIES:
            raise LabelledDataError(f"{where}: category {obj['category']!r} is not one of {', '.join(CATEGORIES)}")
        if not isinstance(obj["urgent"], bool):
            raise LabelledDataError(f"{where}: urgent must be true or false, not {obj['urgent']!r}")
        sub = obj.get("subcategory")
        if sub is not None and not isinstance(sub, str):
            raise LabelledDataError(f"{where}: subcategory must be a string or null")
        records.append(
            {"text": obj["text"], "category": obj["category"], "subcategory": sub, "urgent": obj["urgent"], "line": number}
        )
    return records


@dataclass(frozen=True)
class ClassScore:
    precision: float
    recall: float
    f1: float
    support: int  # gold messages of the class
    predicted: int  # messages routed to it


@dataclass(frozen=True)
class Miss:
    """A message routed to the wrong category, or whose urgency was wrong."""

    line: int | None
    text: str
    gold: str
    gold_urgent: bool
    got: str
    got_urgent: bool
    confidence: float
    explanation: str

    @property
    def kind(self) -> str:
        if self.gold_urgent and not self.got_urgent:
            return "MISSED URGENT"
        if self.got_urgent and not self.gold_urgent:
            return "false alarm"
        return "misrouted"


@dataclass
class Report:
    total: int
    per_class: dict[str, ClassScore]
    macro_f1: float
    accuracy: float
    subcategory_accuracy: float | None  # among messages whose category is right and labelled with one
    urgent_recall: float
    urgent_precision: float
    urgent_support: int
    urgent_predicted: int
    confusion: dict[str, dict[str, int]]  # gold -> predicted -> count
    needs_choice: int
    misses: list[Miss] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def missed_urgent(self) -> list[Miss]:
        return [m for m in self.misses if m.kind == "MISSED URGENT"]


def _ratio(a: int, b: int, empty: float) -> float:
    return a / b if b else empty


def evaluate(router: _Routes, records: list[dict]) -> Report:
    """Route every record and compare with its labels."""
    confusion = {g: {p: 0 for p in CATEGORIES} for g in CATEGORIES}
    misses: list[Miss] = []
    u_tp = u_fp = u_fn = 0
    sub_right = sub_total = 0
    needs_choice = 0
    start = time.perf_counter()
    for rec in records:
        route = router.route(rec["text"])
        gold, got = rec["category"], route.category
        confusion[gold][got] += 1
        needs_choice += route.needs_choice
        if rec["urgent"] and route.urgent:
            u_tp += 1
        elif rec["urgent"]:
            u_fn += 1
        elif route.urgent:
            u_fp += 1
        if gold == got and rec.get("subcategory"):
            sub_total += 1
            sub_right += route.subcategory == rec["subcategory"]
        if gold != got or rec["urgent"] != route.urgent:
            gold_label = gold if not rec.get("subcategory") else f"{gold}/{rec['subcategory']}"
            got_label = got if route.subcategory is None else f"{got}/{route.subcategory}"
            misses.append(
                Miss(rec.get("line"), rec["text"], gold_label, rec["urgent"], got_label, route.urgent,
                     route.confidence, route.explanation)
            )
    seconds = time.perf_counter() - start

    per_class = {}
    for c in CATEGORIES:
        tp = confusion[c][c]
        support = sum(confusion[c].values())
        predicted = sum(confusion[g][c] for g in CATEGORIES)
        p = _ratio(tp, predicted, 0.0)
        r = _ratio(tp, support, 0.0)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        per_class[c] = ClassScore(p, r, f1, support, predicted)
    total = len(records)
    correct = sum(confusion[c][c] for c in CATEGORIES)
    # Missed emergencies first, then false alarms, then plain misroutes.
    order = {"MISSED URGENT": 0, "false alarm": 1, "misrouted": 2}
    misses.sort(key=lambda m: (order[m.kind], m.line or 0))
    return Report(
        total=total,
        per_class=per_class,
        macro_f1=sum(s.f1 for s in per_class.values()) / len(CATEGORIES),
        accuracy=_ratio(correct, total, 0.0),
        subcategory_accuracy=_ratio(sub_right, sub_total, 0.0) if sub_total else None,
        urgent_recall=_ratio(u_tp, u_tp + u_fn, 1.0),
        urgent_precision=_ratio(u_tp, u_tp + u_fp, 1.0),
        urgent_support=u_tp + u_fn,
        urgent_predicted=u_tp + u_fp,
        confusion=confusion,
        needs_choice=needs_choice,
        misses=misses,
        seconds=seconds,
    )


def format_summary(report: Report) -> str:
    """The figures only, on one line: no message text (safe for a held-out set)."""
    per_class = ", ".join(f"{c} {s.f1:.3f}" for c, s in report.per_class.items())
    caught = report.urgent_support - len(report.missed_urgent)
    return (
        f"{report.total} messages: macro-F1 {report.macro_f1:.3f} (F1 {per_class}); "
        f"accuracy {report.accuracy:.3f}; urgent recall {report.urgent_recall:.3f} ({caught}/{report.urgent_support}), "
        f"urgent precision {report.urgent_precision:.3f}; needs choice {report.needs_choice}"
    )


def format_report(report: Report, max_misses: int = 50) -> str:
    """The report as a plain-text table for a terminal."""
    lines = [f"Routing evaluation: {report.total} messages ({report.seconds * 1000:.0f} ms)", ""]
    lines.append(f"{'category':<14}{'precision':>10}{'recall':>9}{'F1':>8}{'gold':>7}{'routed':>8}")
    for c in CATEGORIES:
        s = report.per_class[c]
        lines.append(f"{c:<14}{s.precision:>10.3f}{s.recall:>9.3f}{s.f1:>8.3f}{s.support:>7}{s.predicted:>8}")
    lines.append(f"{'macro-F1':<14}{'':>10}{'':>9}{report.macro_f1:>8.3f}")
    lines.append("")
    lines.append(f"accuracy            {report.accuracy:.3f}")
    if report.subcategory_accuracy is not None:
        lines.append(f"subcategory         {report.subcategory_accuracy:.3f}  (among messages in the right category)")
    lines.append(
        f"urgent recall       {report.urgent_recall:.3f}  ({report.urgent_support - len(report.missed_urgent)}"
        f"/{report.urgent_support} urgent messages caught)"
    )
    lines.append(f"urgent precision    {report.urgent_precision:.3f}  ({report.urgent_predicted} flagged urgent)")
    lines.append(f"needs choice        {report.needs_choice}  (the bot asks her to choose)")
    lines.append("")
    lines.append("confusion (rows: labelled, columns: routed)")
    short = {"consultation": "consult", "mediation": "mediate", "service": "service", "other": "other"}
    lines.append(f"{'':<14}" + "".join(f"{short[c]:>9}" for c in CATEGORIES))
    for g in CATEGORIES:
        lines.append(f"{g:<14}" + "".join(f"{report.confusion[g][p]:>9}" for p in CATEGORIES))
    if report.misses:
        lines.append("")
        lines.append(f"misrouted ({len(report.misses)}; missed urgent first)")
        for m in report.misses[:max_misses]:
            where = f"line {m.line}" if m.line else ""
            urg = lambda u: " +urgent" if u else ""  # noqa: E731
            lines.append(f"- [{m.kind}] {where}: {m.gold}{urg(m.gold_urgent)} -> {m.got}{urg(m.got_urgent)} (conf {m.confidence:.2f})")
            lines.append(f"    {m.text}")
            lines.append(f"    {m.explanation}")
        if len(report.misses) > max_misses:
            lines.append(f"... and {len(report.misses) - max_misses} more")
    return "\n".join(lines)
