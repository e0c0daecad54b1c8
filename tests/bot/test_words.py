"""The word table (bot/data/words.yaml, read by bot/words.py): her answers and commands as data."""

from __future__ import annotations

import pytest
import yaml

from bot.dialogue import COMMANDS, STATES, Dialogue
from bot.words import WORDS_FILE, Words, shipped


def test_a_numbered_answer_is_her_whole_message_as_written():
    words = shipped()
    assert words.exact_answer("route", "2") == "mediation"
    assert words.exact_answer("route", "调解") == "mediation"
    assert words.exact_answer("solved", "没有解决") is False
    assert words.exact_answer("solved", "1") is True
    assert words.exact_answer("satisfaction", "还行") == "basically_satisfied"
    # Not a part of a sentence, not a number she did not offer.
    assert words.exact_answer("route", "我想调解") is None
    assert words.exact_answer("satisfaction", "4") is None


def test_added_text_is_what_follows_the_prefix_at_the_start():
    words = shipped()
    assert words.added_text("补充：他昨天又来了") == "他昨天又来了"
    assert words.added_text("补充 他昨天又来了") == "他昨天又来了"
    assert words.added_text("补充：") is None
    assert words.added_text("我想补充一下") is None


def test_every_command_in_the_table_has_an_action_and_every_state_a_step(router, settings):
    dialogue = Dialogue(router, settings)
    assert set(dialogue.words.commands) <= set(COMMANDS)
    assert all(callable(dialogue.steps[name]) for name in STATES)


def test_a_command_with_no_action_stops_the_dialogue_at_start(router, settings, monkeypatch):
    with open(WORDS_FILE, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    data["commands"]["sing"] = {"match": "whole", "words": ["唱歌"]}
    monkeypatch.setattr("bot.dialogue.shipped", lambda: Words(data))
    with pytest.raises(ValueError, match="sing"):
        Dialogue(router, settings)
