"""A harm verb with a person as its object; she at a place to fall from."""

from __future__ import annotations

import pytest

from .stage_router import danger, read


@pytest.mark.parametrize("text", ["他用开水泼我", "他又开始打了", "他正在打"])
def test_a_harm_verb_with_a_person_as_its_object_is_boosted(text):
    assert any(m.boosted for m in danger(read(text)))


def test_a_harm_verb_with_no_person_is_not_boosted():
    assert not any(m.boosted for m in danger(read("他在门口打了一拳墙")))


@pytest.mark.parametrize("text", ["我这会儿在高架桥上", "一个人坐在江边"])
def test_she_at_a_place_to_fall_from_is_boosted(text):
    a = read(text)
    assert any(m.boosted for m in a.matches)


@pytest.mark.parametrize("text", ["我在天台晒被子", "他站在楼顶"])
def test_an_ordinary_day_there_or_someone_else_there_is_not(text):
    assert not any(m.boosted for m in read(text).matches)
