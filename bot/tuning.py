"""Supervisors tune the router: see which words route where, try a sentence, change the
lexicon with validation (every change recorded with who and when), and list the tickets
whose route a caseworker corrected, with the words that misled."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.routing import Lexicon, LexiconError, Router
from models import StaffUser, TicketEvent
from models.lexicon import LexiconRevision
from models.ticket import Ticket

log = logging.getLogger(__name__)

TUNERS = ("supervisor", "admin")


@dataclass(frozen=True)
class WordRoute:
    word: str
    role: str  # keyword | cue | urgent
    category: str
    subcategory: str | None
    weight: float


def word_routes(lexicon: Lexicon) -> list[WordRoute]:
    """Every word of the lexicon and where it points, sorted by category."""
    rows: list[WordRoute] = []
    for category in lexicon.categories():
        for word, weight in category.cues.items():
            rows.append(WordRoute(word, "cue", category.key, None, weight))
        for sub in category.subcategories:
            for word, weight in sub.keywords.items():
                rows.append(WordRoute(word, "keyword", category.key, sub.key, weight))
    for kind in lexicon.urgent.kinds:
        for word, weight in kind.terms.items():
            rows.append(WordRoute(word, "urgent", kind.category, kind.subcategory, weight))
    return rows


def changes(old: Lexicon, new: Lexicon) -> dict[str, list[str]]:
    """Words added, removed and re-weighted between two lexicons."""

    def table(lexicon: Lexicon) -> dict[tuple[str, str, str, str | None], float]:
        return {(r.word, r.role, r.category, r.subcategory): r.weight for r in word_routes(lexicon)}

    before, after = table(old), table(new)

    def name(key: tuple[str, str, str, str | None]) -> str:
        word, role, category, subcategory = key
        return f"{word} ({role} {category}{'/' + subcategory if subcategory else ''})"

    return {
        "added": sorted(name(k) for k in after.keys() - before.keys()),
        "removed": sorted(name(k) for k in before.keys() - after.keys()),
        "reweighted": sorted(
            f"{name(k)} {before[k]:g}→{after[k]:g}" for k in before.keys() & after.keys() if before[k] != after[k]
        ),
    }


class NotAllowed(PermissionError):
    pass


def save_revision(
    session: Session, text: str, author: StaffUser, current: Lexicon, now: datetime, note: str = ""
) -> tuple[LexiconRevision, Lexicon]:
    """Validate `text` (LexiconError names the line) and record it as the lexicon in force."""
    if author.role not in TUNERS or not author.active:
        raise NotAllowed(f"{author.username} is a {author.role}: only supervisors and admins change the lexicon")
    lexicon = Lexicon.parse(text, source="lexicon")
    revision = LexiconRevision(
        text=text, author=author, created_at=now, note=note, changes=changes(current, lexicon)
    )
    session.add(revision)
    log.info("lexicon revision by %s saved", author.username)
    return revision, lexicon


def lexicon_in_force(session: Session, shipped: Lexicon) -> tuple[int | None, Lexicon]:
    """The newest revision's lexicon (and its id), or the shipped one when there is none."""
    revision = LexiconRevision.latest(session)
    if revision is None:
        return None, shipped
    return revision.id, Lexicon.parse(revision.text, source=f"lexicon revision {revision.id}")


class LexiconWatcher:
    """Keeps a process's router on the newest revision; a broken one leaves the last good lexicon."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.loaded: int | None = None

    def refresh(self, session: Session) -> bool:
        """Load a newer revision if there is one; True if the router changed."""
        newest = LexiconRevision.latest_id(session)
        if newest is None or newest == self.loaded:
            return False
        revision = session.get(LexiconRevision, newest)
        try:
            lexicon = Lexicon.parse(revision.text, source=f"lexicon revision {newest}")
        except LexiconError as exc:
            log.error("lexicon revision %s refused, keeping the last good one: %s", newest, exc)
            self.loaded = newest  # do not retry the same broken revision every round
            return False
        self.router.reload(lexicon)
        self.loaded = newest
        log.info("router now on lexicon revision %s", newest)
        return True


def corrections(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """Tickets whose route a caseworker corrected, newest first, with the words that misled."""
    rows = session.execute(
        select(TicketEvent, Ticket.reference)
        .join(Ticket, TicketEvent.ticket_id == Ticket.id)
        .where(TicketEvent.action == "route_corrected")
        .order_by(TicketEvent.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "reference": reference,
            "at": event.at.isoformat(timespec="seconds"),
            "by": event.actor.username if event.actor else None,
            "from": event.detail.get("from_category"),
            "from_subcategory": event.detail.get("from_subcategory"),
            "to": event.detail.get("to_category"),
            "misleading_words": event.detail.get("keywords", []),
            "explanation": event.detail.get("explanation", ""),
        }
        for event, reference in rows
    ]
