"""bot/data/reading.yaml: the router's function words and patterns, checked when read."""

from __future__ import annotations

import pytest
import yaml

from bot.reading import DEFAULT_READING, READING, Reading, ReadingError


def shipped() -> dict:
    return yaml.safe_load(DEFAULT_READING.read_text(encoding="utf-8"))


def test_the_shipped_reading_loads_with_every_pattern_compiled():
    assert READING.patterns.self_age.search("我14 继父…")
    assert not READING.patterns.self_age.search("我12点下班")
    assert "就" == READING.then


def test_an_unknown_key_is_refused_by_name():
    data = shipped() | {"particels": ["的"]}
    with pytest.raises(ReadingError, match="particels"):
        Reading.parse(data, "reading.yaml")


def test_a_broken_pattern_is_refused_naming_it():
    data = shipped()
    data["patterns"] = dict(data["patterns"], occasion="(满月")
    with pytest.raises(ReadingError, match="occasion"):
        Reading.parse(data, "reading.yaml")


def test_an_empty_word_list_is_refused_naming_it():
    data = shipped() | {"particles": []}
    with pytest.raises(ReadingError, match="particles"):
        Reading.parse(data, "reading.yaml")


def test_the_age_placeholder_is_filled_in():
    assert "{age}" not in READING.patterns.child_age.pattern
    assert READING.patterns.child_age.search("女儿今年二十六")
