"""Her safe time, read from her words (China time)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.safetime import parse_safe_time

# 09:30 in China on 2 March 2026.
NOW = datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("words, china", [
    ("明天上午9点以后", (3, 9, 0)),
    ("晚上八点", (2, 20, 0)),
    ("下午三点半", (2, 15, 30)),
    ("8点", (3, 8, 0)),  # already past today: the next one
    ("今天12点", (2, 12, 0)),
    ("后天晚上10:15", (4, 22, 15)),
])
def test_her_words_name_the_next_such_moment(words, china):
    day, hour, minute = china
    expected = datetime(2026, 3, day, hour, minute, tzinfo=timezone.utc).replace(tzinfo=None)
    moment = parse_safe_time(words, NOW)
    assert moment.tzinfo is not None
    assert (moment.astimezone(timezone.utc).replace(tzinfo=None) - expected).total_seconds() == -8 * 3600


@pytest.mark.parametrize("words", ["等他出门以后", "随时", "25点", "晚上"])
def test_words_without_an_hour_name_no_time(words):
    assert parse_safe_time(words, NOW) is None
