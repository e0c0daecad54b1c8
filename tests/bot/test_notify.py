"""Notifiers against fake servers on 127.0.0.1: 企业微信 robot, Telegram chat, WeChat template."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select, update

from bot.notify import AlertCourier
from bot.sla import sweep
from models import AlertDelivery, Region, StaffUser
from tests.handlers.staff.factories import make_staff, make_ticket

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 China time
A_DAY_LATE = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)  # a mediation ticket's claim clock missed
URGENT = "他又喝多了拿着刀在门口，我和孩子躲在卧室里"


def deliveries(db):
    with db.session() as session:
        return [(d.via, d.status, d.attempts) for d in session.scalars(select(AlertDelivery).order_by(AlertDelivery.id))]


def test_an_urgent_message_reaches_the_wecom_robot_and_the_telegram_chat(wechat, db, settings, fake_apis, worker):
    settings.notify.wecom = fake_apis.wecom_url()
    settings.notify.telegram_chat = "-100200300"
    wechat.send_text("o-danger", URGENT)
    worker.run_once()
    assert [d[:2] for d in deliveries(db)] == [("wecom", "sent"), ("telegram", "sent")]
    robot = fake_apis.wecom_sent[0]
    assert robot["msgtype"] == "text" and "紧急求助" in robot["text"]["content"]
    chat = [m for m in fake_apis.telegram_sent if str(m["chat_id"]) == "-100200300"][0]
    assert "NJ-" in chat["text"]
    for sent in (robot["text"]["content"], chat["text"]):
        assert "刀" not in sent and "喝多" not in sent and "卧室" not in sent


def test_markdown_robots_get_markdown(wechat, db, settings, fake_apis, worker):
    settings.notify.wecom, settings.notify.wecom_msgtype = fake_apis.wecom_url(), "markdown"
    wechat.send_text("o-danger", URGENT)
    worker.run_once()
    assert fake_apis.wecom_sent[0]["msgtype"] == "markdown" and "紧急求助" in fake_apis.wecom_sent[0]["markdown"]["content"]


def test_a_region_with_its_own_robot_uses_it_instead_of_the_default(db, settings, fake_apis):
    fake_apis.wecom_keys.add("town-key")
    settings.notify.wecom = fake_apis.wecom_url()
    with db.transaction() as session:
        Region.by_code(session, "T0101").notify_wecom = fake_apis.wecom_url("town-key")
    make_ticket(db, region="T010101", now=T0)
    sweep(db, settings, A_DAY_LATE)
    with db.session() as session:
        assert [d.target for d in session.scalars(select(AlertDelivery))] == [fake_apis.wecom_url("town-key")]
    AlertCourier(db, settings).deliver_due()
    assert len(fake_apis.wecom_sent) == 1


def test_a_wrong_robot_url_fails_at_once_and_a_server_error_is_retried(db, settings, fake_apis):
    settings.notify.wecom = fake_apis.wecom_url("no-such-key")
    settings.notify.telegram_chat = "-1"
    make_ticket(db, region="T010101", now=T0)
    sweep(db, settings, A_DAY_LATE)
    fake_apis.failures_before_success = 1  # the first request (the robot's) gets a 502
    courier = AlertCourier(db, settings)
    courier.deliver_due()
    assert deliveries(db) == [("wecom", "pending", 1), ("telegram", "sent", 1)]
    courier.deliver_due()
    assert deliveries(db) == [("wecom", "failed", 2), ("telegram", "sent", 1)]
    courier.deliver_due()
    assert deliveries(db) == [("wecom", "failed", 2), ("telegram", "sent", 1)]


def test_supervisors_who_linked_their_wechat_get_a_template_message(db, settings, fake_apis):
    settings.notify.wechat_template_id = "TEMPLATE-1"
    boss = make_staff(db, "boss", role="supervisor", region="T010101")
    make_staff(db, "unlinked", role="supervisor", region="T010101")
    with db.transaction() as session:
        session.execute(update(StaffUser).where(StaffUser.id == boss).values(wechat_openid="o-boss-openid"))
    ref = make_ticket(db, region="T010101", now=T0)
    sweep(db, settings, A_DAY_LATE)
    AlertCourier(db, settings).deliver_due()
    assert len(fake_apis.template_sent) == 1
    sent = fake_apis.template_sent[0]
    assert (sent["touser"], sent["template_id"]) == ("o-boss-openid", "TEMPLATE-1")
    assert sent["data"]["keyword1"]["value"] == ref and "督办一级" in sent["data"]["first"]["value"]
