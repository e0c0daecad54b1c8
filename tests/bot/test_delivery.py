"""The outbox courier against the fake WeChat and Telegram APIs: exactly once, retried
with backoff, permanent failures shown on the ticket, never a second send."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, update

from bot.delivery import SENDING_LEASE, Courier
from models import OutboxMessage, Ticket, utcnow
from tests.factories import open_ticket


def queue(db, channel="wechat", user="o-woman", text="您好，我是负责您工单的李姐。") -> int:
    with db.transaction() as session:
        ticket = open_ticket(session, utcnow(), channel=channel, channel_user=user)
        item = OutboxMessage.enqueue(
            session, channel=channel, channel_user=user, text=text, now=utcnow(), ticket=ticket, author_id=None
        )
        session.flush()
        return item.id


def row(db, item_id) -> OutboxMessage:
    with db.session() as session:
        return session.get(OutboxMessage, item_id)


def test_wechat_reply_is_sent_once_through_the_customer_service_api(db, settings, fake_apis):
    item_id = queue(db)
    courier = Courier(db, settings)
    assert courier.deliver_due() == 1
    assert courier.deliver_due() == 0
    assert [m["touser"] for m in fake_apis.wechat_sent] == ["o-woman"]
    assert fake_apis.wechat_sent[0] == {"touser": "o-woman", "msgtype": "text", "text": {"content": "您好，我是负责您工单的李姐。"}}
    # The access token was fetched from the configured base URL, not WeChat's real host.
    assert fake_apis.token_requests[0]["appid"] == [settings.wechat.appid]
    assert row(db, item_id).status == "sent"


def test_two_workers_at_once_send_each_message_once(db, settings, fake_apis):
    for n in range(12):
        queue(db, user=f"o-{n}")
    couriers = [Courier(db, settings) for _ in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda c: c.deliver_due(), couriers))
    assert sorted(m["touser"] for m in fake_apis.wechat_sent) == sorted(f"o-{n}" for n in range(12))


def test_closed_48_hour_window_fails_at_once_and_shows_on_the_ticket(db, settings, fake_apis):
    fake_apis.wechat_window_closed.add("o-late")
    item_id = queue(db, user="o-late")
    Courier(db, settings).deliver_due()
    item = row(db, item_id)
    assert item.status == "failed" and item.attempts == 1
    assert "45015" in item.last_error and "48" in item.last_error
    with db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.channel_user == "o-late"))
        assert "delivery_failed" in [e.action for e in ticket.events]
    assert fake_apis.wechat_sent == []


def test_transient_failures_are_retried_with_backoff_until_sent(db, settings, fake_apis):
    settings.worker.backoff_seconds = 0
    fake_apis.failures_before_success = 2
    item_id = queue(db, channel="telegram", user="9001")
    courier = Courier(db, settings)
    for _ in range(3):
        courier.deliver_due()
    item = row(db, item_id)
    assert (item.status, item.attempts) == ("sent", 3)
    assert len(fake_apis.telegram_sent) == 1


def test_backoff_delays_the_next_attempt(db, settings, fake_apis):
    settings.worker.backoff_seconds = 60
    fake_apis.failures_before_success = 1
    item_id = queue(db, channel="telegram", user="9002")
    courier = Courier(db, settings)
    courier.deliver_due()
    assert courier.deliver_due() == 0, "not due yet"
    item = row(db, item_id)
    assert item.status == "pending" and item.next_attempt_at - utcnow() > timedelta(seconds=50)


def test_gives_up_after_max_attempts(db, settings, fake_apis):
    settings.worker.max_attempts = 2
    fake_apis.failures_before_success = 10
    item_id = queue(db, channel="telegram", user="9003")
    courier = Courier(db, settings)
    courier.deliver_due()
    courier.deliver_due()
    assert row(db, item_id).status == "failed"


def test_a_send_interrupted_midway_is_never_repeated(db, settings, fake_apis):
    item_id = queue(db)
    with db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status="sending", attempts=1, next_attempt_at=utcnow() - SENDING_LEASE - timedelta(seconds=1))
        )
    Courier(db, settings).deliver_due()
    item = row(db, item_id)
    assert item.status == "unknown" and "核实" in item.last_error
    assert fake_apis.wechat_sent == []


def test_wechat_base_url_may_be_given_with_or_without_cgi_bin(db, settings, fake_apis):
    from bot.channels.wechat import api_base

    assert api_base(fake_apis.base) == api_base(fake_apis.base + "/cgi-bin") == fake_apis.base + "/cgi-bin/"
    settings.wechat.api_base_url = fake_apis.base
    queue(db)
    Courier(db, settings).deliver_due()
    assert len(fake_apis.wechat_sent) == 1


def test_processes_share_one_access_token_through_redis(db, settings, fake_apis):
    import redis

    from bot.channels.wechat import WeChatSender

    url = "redis://127.0.0.1:6379/15"
    redis.Redis.from_url(url).flushdb()
    first = WeChatSender(settings.wechat.appid, settings.wechat.secret, fake_apis.base, token_store=url)
    second = WeChatSender(settings.wechat.appid, settings.wechat.secret, fake_apis.base, token_store=url)
    first.send("o-1", "您好")
    second.send("o-2", "您好")
    assert len(fake_apis.token_requests) == 1
    assert [m["touser"] for m in fake_apis.wechat_sent] == ["o-1", "o-2"]


def test_a_send_that_timed_out_after_it_went_out_is_marked_unknown_and_never_resent(db, settings, fake_apis):
    settings.worker.send_timeout_seconds = 1
    fake_apis.hang["o-slow"] = 2.5
    item_id = queue(db, user="o-slow", text="您好，这里是妇联")
    courier = Courier(db, settings)
    for _ in range(5):
        courier.deliver_due(now=utcnow() + timedelta(hours=1))
    assert fake_apis.texts_to("o-slow") == ["您好，这里是妇联"]
    item = row(db, item_id)
    assert item.status == "unknown" and item.attempts == 1 and "核实" in item.last_error
    with db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.channel_user == "o-slow"))
        assert "delivery_unknown" in [e.action for e in ticket.events]


def test_telegram_send_timed_out_after_it_went_out_is_not_resent_either(db, settings, fake_apis):
    settings.worker.send_timeout_seconds = 1
    fake_apis.hang["777"] = 2.5
    item_id = queue(db, channel="telegram", user="777", text="您好")
    courier = Courier(db, settings)
    for _ in range(3):
        courier.deliver_due(now=utcnow() + timedelta(hours=1))
    assert fake_apis.texts_to("777") == ["您好"] and row(db, item_id).status == "unknown"


def test_an_api_that_cannot_be_reached_is_retried_it_never_got_the_message(db, settings, fake_apis):
    settings.telegram.api_base_url = "http://127.0.0.1:9"  # nothing listens: the connection is refused
    item_id = queue(db, channel="telegram", user="778", text="您好")
    Courier(db, settings).deliver_due()
    item = row(db, item_id)
    assert item.status == "pending" and item.attempts == 1


def test_one_hanging_recipient_delays_only_her_own_messages(db, settings, fake_apis):
    settings.worker.send_timeout_seconds = 5
    fake_apis.hang["o-hanging"] = 2
    queue(db, user="o-hanging")  # first in line
    others = [f"o-quick-{n}" for n in range(8)]
    for user in others:
        queue(db, user=user)
    Courier(db, settings).deliver_due()
    answered_hanging = fake_apis.events.index(("answered", "o-hanging"))
    # Every other woman's message was received while hers still hung.
    assert all(fake_apis.events.index(("received", user)) < answered_hanging for user in others)


def test_her_messages_go_one_at_a_time_in_order_while_others_go_alongside(db, settings, fake_apis):
    fake_apis.hang["o-first"] = 0.5
    for n in range(4):
        queue(db, user="o-first", text=f"第{n}条")
    queue(db, user="o-other", text="别人的")
    Courier(db, settings).deliver_due()
    assert fake_apis.texts_to("o-first") == ["第0条", "第1条", "第2条", "第3条"]
    # One of hers answered before the next was sent; the other woman's went meanwhile.
    hers = [e for e in fake_apis.events if e[1] == "o-first"]
    assert hers == [("received", "o-first"), ("answered", "o-first")] * 4
    assert fake_apis.events.index(("received", "o-other")) < fake_apis.events.index(("answered", "o-first"))
