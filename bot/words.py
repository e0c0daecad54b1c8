"""What her short answers and commands mean: a table of words kept as data
(bot/data/words.yaml), read the way she writes them, not as one exact string."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.text import blank_stickers, fold

WORDS_FILE = Path(__file__).resolve().parent / "data" / "words.yaml"
# What is left of a message once punctuation, spaces, emoji and stickers are dropped.
_NOT_WORDS = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fffa-z0-9]")
# A mainland mobile number inside any sentence: spaces or dashes between the digits,
# +86 or 86 before it, no digit on either side.
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[\s\-]?)?(1[3-9](?:[\s\-]?\d){9})(?!\d)")


def squeeze(text: str) -> str:
    """Her message folded, with only letters, digits and characters left."""
    return _NOT_WORDS.sub("", fold(blank_stickers(text)))


def find_mobile(text: str) -> str | None:
    """The first mainland mobile number written anywhere in `text`, as 11 digits."""
    match = _MOBILE_IN_TEXT.search(fold(text))
    return re.sub(r"\D", "", match.group(1)) if match else None


@dataclass(frozen=True)
class Meaning:
    """One entry of the table: what counts as saying it."""

    whole: bool
    words: tuple[str, ...]
    removable: tuple[str, ...]  # words, extras and fillers, longest first

    def said(self, squeezed: str) -> bool:
        if not any(word in squeezed for word in self.words):
            return False
        if not self.whole:
            return True
        rest = squeezed
        for piece in self.removable:
            rest = rest.replace(piece, "")
        return rest == ""


class Words:
    """The word table: commands in their order, step answers, noise, danger signs."""

    def __init__(self, data: dict) -> None:
        fillers = [fold(f) for f in data.get("fillers", [])]
        self.commands = {name: self._meaning(entry, fillers) for name, entry in data.get("commands", {}).items()}
        self.answers = {name: self._meaning(entry, fillers) for name, entry in data.get("answers", {}).items()}
        self.noise = tuple(sorted((fold(w) for w in data.get("noise", [])), key=len, reverse=True))
        self.silent_words = tuple(fold(w) for w in data.get("silent", []))
        self.self_harm_words = tuple(fold(w) for w in data.get("self_harm", []))
        self.add_prefix = re.compile(
            "^(?:" + "|".join(re.escape(w) for w in data.get("add_prefixes", [])) + r")[:：\s]*"
        )
        self.place_suffixes = tuple(data.get("place_suffixes", []))
        self.exact = {name: {str(k): v for k, v in table.items()} for name, table in data.get("exact", {}).items()}

    @staticmethod
    def _meaning(entry: dict, fillers: list[str]) -> Meaning:
        words = [fold(str(w)) for w in entry.get("words", [])]
        extras = [fold(str(w)) for w in entry.get("extras", [])]
        removable = sorted({*words, *extras, *fillers}, key=len, reverse=True)
        return Meaning(entry.get("match", "whole") == "whole", tuple(words), tuple(removable))

    @classmethod
    def load(cls, path: Path = WORDS_FILE) -> Words:
        with open(path, encoding="utf-8") as fh:
            return cls(yaml.safe_load(fh))

    def command(self, text: str) -> str | None:
        """The command her message asks for (status, withdraw, human, erase, reset), if any."""
        squeezed = squeeze(text)
        return next((name for name, meaning in self.commands.items() if meaning.said(squeezed)), None)

    def means(self, answer: str, text: str) -> bool:
        """Whether her message gives the step answer `answer` (anonymous, change, confirm ...)."""
        return self.answers[answer].said(squeeze(text))

    def added_text(self, text: str) -> str | None:
        """What follows "补充：" at the start of her message (None: no such start, or nothing after it)."""
        match = self.add_prefix.match(text)
        return text[match.end():] if match and len(text) > match.end() else None

    def exact_answer(self, question: str, text: str) -> Any:
        """Her answer to a numbered `question` (route, solved, satisfaction), or None: the
        whole message as written, no folding ("1", "满意")."""
        return self.exact[question].get(text)

    def is_noise(self, text: str) -> bool:
        """Nothing to work on: keyboard mash, emoji or stickers only, 嗯/哦, a lone number."""
        squeezed = squeeze(text)
        for word in self.noise:
            squeezed = squeezed.replace(word, "")
        if not squeezed:
            return True
        if squeezed.isdigit():
            return len(squeezed) <= 3
        # Latin letters in one run: a keyboard mash ("asdfghjkl"); words apart may be pinyin.
        return squeezed.isascii() and squeezed.isalpha() and not re.search(r"[a-z]+\s+[a-z]+", fold(text))

    def silent(self, text: str) -> bool:
        """She cannot talk now (he would hear)."""
        folded = fold(text)
        return any(word in folded for word in self.silent_words)

    def self_harm(self, text: str) -> bool:
        """Her own intent to harm herself."""
        folded = fold(text)
        return any(word in folded for word in self.self_harm_words)


@lru_cache(maxsize=1)
def shipped() -> Words:
    """The table shipped with the engine, loaded once per process."""
    return Words.load()
