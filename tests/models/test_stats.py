"""The pure arithmetic of models/stats.py: rates, percentiles, windows in China time."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from models.stats import Counts, Window, median, percentile, period_window, rate


def test_a_rate_without_a_denominator_is_none_not_zero():
    assert rate(0, 0) is None
    assert rate(0, 4) == 0
    assert rate(3, 4) == 0.75
    assert Counts().rate("satisfaction_rate") is None


def test_median_and_nearest_rank_percentile():
    assert median([]) is None and percentile([], 0.9) is None
    assert median([5, 1, 3]) == 3 and median([4, 1, 3, 2]) == 2.5
    values = list(range(1, 11))  # 1..10
    assert percentile(values, 0.9) == 9 and percentile(values, 0.5) == 5 and percentile([7], 0.9) == 7


def test_counts_add_up_fields_dimensions_and_hours():
    a, b = Counts(total=2, claim_due=2, claim_met=1), Counts(total=1, claim_due=2, claim_met=2)
    a.by_status["new"] += 2
    b.by_status["new"] += 1
    a.hours["claim"].append(1.0)
    b.hours["claim"].append(3.0)
    a.add(b)
    assert (a.total, a.rate("response_rate"), a.by_status["new"], a.median_hours("claim")) == (3, 0.75, 3, 2.0)


def test_a_window_is_china_days_with_the_last_inclusive():
    w = Window(date(2026, 12, 1), date(2026, 12, 1))
    assert w.start == datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)
    assert w.end == datetime(2026, 12, 1, 16, 0, tzinfo=timezone.utc)
    assert w.days == 1
    with pytest.raises(ValueError):
        Window(date(2026, 12, 2), date(2026, 12, 1))


def test_previous_period_and_same_period_last_year():
    w = Window(date(2026, 12, 1), date(2026, 12, 31))
    assert w.previous() == Window(date(2026, 10, 31), date(2026, 11, 30))
    assert w.last_year() == Window(date(2025, 12, 1), date(2025, 12, 31))
    assert Window(date(2028, 2, 29), date(2028, 2, 29)).last_year().first == date(2027, 2, 28)


def test_this_week_month_and_quarter_end_today():
    today = date(2026, 12, 9)  # a Wednesday
    assert period_window("week", today) == Window(date(2026, 12, 7), today)
    assert period_window("month", today) == Window(date(2026, 12, 1), today)
    assert period_window("quarter", today) == Window(date(2026, 10, 1), today)
    with pytest.raises(ValueError):
        period_window("decade", today)
