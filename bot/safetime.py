"""When she says it is safe to contact her, read as a time where her words allow it.

Women write it loosely ("明天上午9点以后", "晚上八点", "下午三点半"): the day word, the part
of the day and the hour are read; anything else (or no time at all) gives None, and the
caller falls back on a bounded wait. China time throughout.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.text import fold
from models.clocks import CHINA_TZ

_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_DAYS = {"今天": 0, "今晚": 0, "明天": 1, "明早": 1, "明晚": 1, "后天": 2}
_AFTERNOON = ("下午", "晚上", "今晚", "明晚", "傍晚", "夜里")
_HOUR = re.compile(r"([0-9]{1,2}|[零一二两三四五六七八九十]{1,3})\s*[点时:：]\s*(半|[0-9]{1,2}分?)?")


def _number(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    if word == "十":
        return 10
    if word.startswith("十"):
        return 10 + _DIGITS.get(word[1:], 0)
    if word.endswith("十"):
        return _DIGITS.get(word[:-1], 0) * 10
    if "十" in word:
        tens, ones = word.split("十", 1)
        return _DIGITS.get(tens, 0) * 10 + _DIGITS.get(ones, 0)
    return _DIGITS.get(word)


def parse_safe_time(text: str, now: datetime) -> datetime | None:
    """The moment her words name (the next such one after `now`), in UTC; None if none."""
    folded = fold(text)
    match = _HOUR.search(folded)
    if match is None:
        return None
    hour = _number(match.group(1))
    if hour is None or hour > 24:
        return None
    minute = 30 if match.group(2) == "半" else int(re.sub(r"\D", "", match.group(2) or "") or 0)
    if minute > 59:
        return None
    if hour < 12 and any(word in folded for word in _AFTERNOON):
        hour += 12
    hour %= 24
    local = now.astimezone(CHINA_TZ)
    day = next((offset for word, offset in _DAYS.items() if word in folded), None)
    moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0) + timedelta(days=day or 0)
    if day is None and moment <= local:
        moment += timedelta(days=1)  # "8点" said at 9: the next 8 o'clock
    return moment.astimezone(now.tzinfo) if moment > local else None
