"""Canned replies: data in canned_replies.yaml, read once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from models.ticket import CATEGORIES, MAX_REPLY_CHARS

CANNED_FILE = Path(__file__).with_name("canned_replies.yaml")


@dataclass(frozen=True)
class CannedReply:
    title: str
    text: str
    routes: tuple[str, ...]

    def suits(self, category: str) -> bool:
        return not self.routes or category in self.routes


@lru_cache(maxsize=4)
def load_canned(path: Path = CANNED_FILE) -> tuple[CannedReply, ...]:
    """Every canned reply in the file; a broken file is an error naming the entry."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of replies")
    replies = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("title"), str) or not isinstance(entry.get("text"), str):
            raise ValueError(f"{path}: reply {number} needs a title and a text")
        routes = tuple(entry.get("routes") or ())
        if any(r not in CATEGORIES for r in routes):
            raise ValueError(f"{path}: reply {number} ({entry['title']}): routes are {', '.join(CATEGORIES)}")
        text = entry["text"].strip()
        if len(text) > MAX_REPLY_CHARS:
            raise ValueError(f"{path}: reply {number} ({entry['title']}) is longer than {MAX_REPLY_CHARS} characters")
        replies.append(CannedReply(entry["title"].strip(), text, routes))
    return tuple(replies)


def canned_for(category: str) -> list[CannedReply]:
    """The canned replies that suit a route, in file order."""
    return [r for r in load_canned() if r.suits(category)]
