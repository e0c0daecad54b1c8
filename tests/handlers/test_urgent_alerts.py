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
