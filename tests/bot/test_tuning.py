"""Supervisors tuning the router: validated, recorded revisions that every process picks up."""

from __future__ import annotations

import pytest

from bot.routing import Router
from bot.settings import PACKAGE_DATA
from bot.tuning import (
    LexiconWatcher,
    NotAllowed,
    corrections,
    save_revision,
    word_routes,
)
from models import LexiconRevision, Region, StaffUser, utcnow
from tests.factories import open_ticket

SHIPPED = (PACKAGE_DATA / "lexicon.yaml").read_text(encoding="utf-8")
# A word nobody would route, made a strong matchmaking keyword.
EDITED = SHIPPED.replace("相亲: 3.0,", "相亲: 3.0, 鹊桥会: 4.0,", 1)
NEW_SENTENCE = "下个月的鹊桥会在哪里报名"


@pytest.fixture(scope="module")
def own_router() -> Router:
    """A router of this module's own: reloading it must not touch the suite's shared one."""
    return Router.from_files(PACKAGE_DATA / "lexicon.yaml", PACKAGE_DATA / "userdict.txt")


def staff(db, role: str) -> StaffUser:
    with db.transaction() as session:
        return StaffUser.create(session, f"{role}-1", "a-long-password", role, Region.by_code(session, "T01"))


def test_word_routes_list_every_keyword_with_its_route(own_router):
    rows = word_routes(own_router.lexicon)
    assert {r.role for r in rows} == {"keyword", "cue", "urgent"}
    assert {r.category for r in rows} <= {"consultation", "mediation", "service"}
    assert any(r.word == "相亲" and r.subcategory == "matchmaking" for r in rows)


def test_saved_revision_records_who_and_what_changed_and_reaches_running_routers(db, own_router):
    assert own_router.route(NEW_SENTENCE).subcategory != "matchmaking"
    supervisor = staff(db, "supervisor")
    with db.transaction() as session:
        author = session.get(StaffUser, supervisor.id)
        revision, _ = save_revision(session, EDITED, author, own_router.lexicon, utcnow(), note="七夕活动")
    assert revision.changes["added"] == ["鹊桥会 (keyword service/matchmaking)"]
    watcher = LexiconWatcher(own_router)
    try:
        with db.session() as session:
            assert watcher.refresh(session) is True
            assert watcher.refresh(session) is False, "nothing newer"
            saved = LexiconRevision.latest(session)
            assert (saved.author.username, saved.note) == ("supervisor-1", "七夕活动")
        route = own_router.route(NEW_SENTENCE)
        assert (route.category, route.subcategory) == ("service", "matchmaking")
        assert "鹊桥会" in route.keywords
    finally:
        own_router.reload(own_router.lexicon.__class__.parse(SHIPPED))


def test_broken_revision_is_refused_when_saved_and_kept_out_when_found(db, own_router):
    from bot.routing import LexiconError

    supervisor = staff(db, "supervisor")
    broken = SHIPPED.replace("相亲: 3.0,", "相亲: lots,", 1)
    with db.transaction() as session, pytest.raises(LexiconError, match="line"):
        save_revision(session, broken, session.get(StaffUser, supervisor.id), own_router.lexicon, utcnow())
    # Even a broken revision written behind the tool's back leaves the last good lexicon running.
    with db.transaction() as session:
        session.add(LexiconRevision(text=broken, author_id=supervisor.id, created_at=utcnow(), changes={}))
    before = own_router.route("想参加相亲活动")
    with db.session() as session:
        assert LexiconWatcher(own_router).refresh(session) is False
    assert own_router.route("想参加相亲活动") == before


def test_caseworkers_cannot_change_the_lexicon(db, own_router):
    caseworker = staff(db, "caseworker")
    with db.transaction() as session, pytest.raises(NotAllowed):
        save_revision(session, EDITED, session.get(StaffUser, caseworker.id), own_router.lexicon, utcnow())


def test_corrected_routes_are_listed_with_the_words_that_misled(db):
    supervisor = staff(db, "supervisor")
    with db.transaction() as session:
        ticket = open_ticket(session, utcnow(), category="consultation", keywords=["离婚", "请问"])
        ticket.record(
            "route_corrected", actor=session.get(StaffUser, supervisor.id), from_category="consultation",
            from_subcategory="marriage_law", to_category="mediation", keywords=["离婚", "请问"],
        )
    [row] = corrections_in(db)
    assert (row["from"], row["to"], row["by"]) == ("consultation", "mediation", "supervisor-1")
    assert row["misleading_words"] == ["离婚", "请问"]


def corrections_in(db):
    with db.session() as session:
        return corrections(session)
