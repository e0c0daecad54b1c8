"""Canned replies (常用回复): rows admins edit in the workspace, first seeded from
canned_replies.yaml (the shipped set, also what a fresh installation starts with)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from models import CannedReply, utcnow
from models.ticket import CATEGORIES, MAX_REPLY_CHARS

CANNED_FILE = Path(__file__).with_name("canned_replies.yaml")


@lru_cache(maxsize=4)
def load_canned(path: Path = CANNED_FILE) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """Every (title, text, routes) in the file; a broken file is an error naming the entry."""
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
        replies.append((entry["title"].strip(), text, routes))
    return tuple(replies)


def canned_replies(session: Session) -> list[CannedReply]:
    """Every active canned reply, seeding the table from the file the first time."""
    if CannedReply.seed(session, list(load_canned()), utcnow()):
        session.commit()
    return CannedReply.listed(session)


def canned_for(session: Session, category: str) -> list[CannedReply]:
    """The canned replies that suit a route, in their order."""
    return [r for r in canned_replies(session) if r.suits(category)]
