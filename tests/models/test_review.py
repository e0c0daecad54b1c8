"""Review samples (models/review.py): scoped to a supervisor's subtree, labelled by a
person, and deleted by retention like the loose lines they came from."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import Message, Region, ReviewSample, StaffUser, utcnow
from models.retention import anonymise

WORDS = "你好，想问点事情，电话13812345678"


def sample(session, region: str, days_ago: int = 0, text: str = WORDS, user: str = "o-sampled") -> ReviewSample:
    """A loose line of hers and its sample, as the intake takes them."""
    at = utcnow() - timedelta(days=days_ago)
    message = Message(channel="wechat", channel_user=user, direction="in", text=text, created_at=at)
    session.add(message)
    session.flush()
    ReviewSample.take(session.connection(), message.id, Region.by_code(session, region).id, text, "other", None,
                      False, 0.4, at)
    return session.scalars(select(ReviewSample).order_by(ReviewSample.id.desc())).first()


def staff(session, username: str, role: str, region: str) -> StaffUser:
    user = StaffUser(username=username, display_name=username, role=role, region=Region.by_code(session, region),
                     password_hash="x")
    session.add(user)
    session.flush()
    return user


def test_a_sample_keeps_her_words_with_numbers_masked(db):
    with db.transaction() as session:
        kept = sample(session, "T01")
        assert kept.text == "你好，想问点事情，电话［手机号］"
        assert ReviewSample.take(session.connection(), None, kept.region_id, " \n ", "other", None, False, 0.1,
                                 utcnow()) is False  # nothing to label, nothing kept


def test_a_supervisor_sees_the_samples_of_their_subtree_only(db):
    with db.transaction() as session:
        in_village = sample(session, "T010101")
        elsewhere = sample(session, "T02")
        county = staff(session, "boss", "supervisor", "T01")
        neighbour = staff(session, "other-boss", "supervisor", "T02")
        city = staff(session, "city", "admin", "T")
        assert [s.id for s in ReviewSample.unlabelled_for(session, county, 10)] == [in_village.id]
        assert ReviewSample.find_visible(session, county, elsewhere.id) is None
        assert ReviewSample.find_visible(session, neighbour, in_village.id) is None
        assert ReviewSample.count_unlabelled(session, city) == 2


def test_a_label_takes_it_off_the_list_and_not_a_request_clears_the_rest(db):
    with db.transaction() as session:
        first, second = sample(session, "T01"), sample(session, "T01")
        boss = staff(session, "boss", "supervisor", "T01")
        first.label(boss, "mediation", "in_law_conflict", True, utcnow())
        second.label(boss, "other", "ignored", True, utcnow())
        assert ReviewSample.unlabelled_for(session, boss, 10) == []
        assert (second.category, second.subcategory, second.urgent, second.not_a_request) == ("other", None, False, True)
        assert [s.id for s in ReviewSample.labelled(session)] == [first.id, second.id]


def test_retention_deletes_samples_as_old_as_the_cutoff_labelled_or_not(db):
    now = utcnow()
    with db.transaction() as session:
        old, old_labelled, recent = sample(session, "T01", 400), sample(session, "T01", 400), sample(session, "T01", 10)
        old_labelled.label(staff(session, "boss", "supervisor", "T01"), "service", None, False, now)
        recent_id = recent.id
    with db.transaction() as session:
        assert anonymise(session, now - timedelta(days=365), now, dry_run=True).review_samples == 2
    with db.session() as session:
        assert session.scalar(select(ReviewSample).where(ReviewSample.id == old.id)) is not None  # a dry run keeps them
    with db.transaction() as session:
        report = anonymise(session, now - timedelta(days=365), now)
    assert report.review_samples == 2
    with db.session() as session:
        assert [s.id for s in session.scalars(select(ReviewSample))] == [recent_id]
        # The loose line it came from is blanked by the same run.
        assert WORDS not in [m.text for m in session.scalars(select(Message).where(Message.created_at < now - timedelta(days=365)))]
