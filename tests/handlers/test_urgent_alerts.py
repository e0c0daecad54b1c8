"""An urgent message alerts staff at once, and her first reply promises only what is true."""

from __future__ import annotations

from sqlalchemy import select, update

from models import AlertDelivery, StaffAlert, StaffUser, Ticket, utcnow
from tests.handlers.staff.factories import make_staff

URGENT = "他又喝多了拿着刀在门口，我和孩子躲在卧室里"
PROMISES = ("优先联系", "已通知")


def test_with_no_notifier_and_nobody_on_duty_she_is_not_told_someone_was_notified(wechat, db):
    reply = wechat.send_text("o-alone", URGENT).content
    assert "110" in reply.splitlines()[0]
    for promise in PROMISES:
        assert promise not in reply, promise
    with db.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        # The alert is still raised: whoever opens the workspace next sees it first.
        assert [a.kind for a in session.scalars(select(StaffAlert))] == ["urgent"]
        assert ticket.reference in reply


def test_with_a_notifier_she_is_told_staff_were_notified(wechat, db, settings):
    settings.notify.telegram_chat = "-100200300"
    reply = wechat.send_text("o-robot", URGENT).content
    assert "已通知" in reply
    with db.session() as session:
        assert [(d.via, d.target, d.status) for d in session.scalars(select(AlertDelivery))] == [
            ("telegram", "-100200300", "pending")
        ]


def test_with_staff_on_duty_in_her_region_she_is_told_staff_were_notified(wechat, db):
    li = make_staff(db, "li", region="T01")
    with db.transaction() as session:
        session.execute(update(StaffUser).where(StaffUser.id == li).values(seen_at=utcnow()))
    assert "已通知" in wechat.send_text("o-seen", URGENT).content


def test_staff_on_duty_in_another_county_do_not_count(wechat, db):
    far = make_staff(db, "far", region="T02")
    with db.transaction() as session:
        session.execute(update(StaffUser).where(StaffUser.id == far).values(seen_at=utcnow()))
    assert "已通知" not in wechat.send_text("o-far", URGENT).content


def test_a_clock_paused_waiting_on_her_runs_again_when_she_writes(wechat, db):
    from datetime import timedelta

    from tests.handlers.staff.factories import make_staff

    wechat.send_text("o-waits", "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下")
    li = make_staff(db, "li-pause", region="T01")
    with db.transaction() as session:
        ticket = session.scalars(select(Ticket)).one()
        ticket.claim(session, session.get(StaffUser, li), utcnow())
        ticket.pause(session, session.get(StaffUser, li), "awaiting_her", None, utcnow() - timedelta(hours=1))
        due_before = ticket.first_reply_due_at
    wechat.send_text("o-waits", "补充一下，她昨天又骂我了")
    with db.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.paused_at is None and ticket.next_due_at is not None
        assert ticket.first_reply_due_at >= due_before  # the hour she was waited on is given back
        resumed = [e for e in ticket.events if e.action == "resumed"]
        assert len(resumed) == 1 and resumed[0].detail["why"] == "she wrote"
