"""Exactly once across processes: WeChat's retries racing on separate processes that
share one database (SQLite here, PostgreSQL when NIANGJIA_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import multiprocessing

import pytest

from sqlalchemy import func, select

from models import InboundReceipt, Message, Ticket
from tests.forked import collect, in_child
from tests.wechat import FakeWeChat, text_xml

PROCESSES = 4


@in_child
def _deliver(app, settings, xml, params, barrier, results):
    fake = FakeWeChat(app.test_client(), settings.wechat.token, settings.wechat.encoding_aes_key, settings.wechat.appid)
    barrier.wait(timeout=60)
    reply = fake.post(xml, mode="safe", params=params)
    results.put((reply.status, reply.content))


def race(app, settings, xml, params):
    app.extensions["niangjia"].db.dispose()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [
        context.Process(target=_deliver, args=(app, settings, xml, params, barrier, results))
        for _ in range(PROCESSES)
    ]
    outcomes = collect(workers, results)
    return outcomes


def test_simultaneous_retries_on_separate_processes_make_one_ticket(settings, db, app, client):
    fake = FakeWeChat(client, settings.wechat.token, settings.wechat.encoding_aes_key, settings.wechat.appid)
    xml = text_xml("o-race", "婆婆天天跟我吵架，能不能请妇联来帮忙调解一下", msg_id=7700000000000000001)
    outcomes = race(app, settings, xml, fake.params())
    assert {status for status, _ in outcomes} == {200}
    assert len({content for _, content in outcomes}) == 1, "every retry gets the first reply"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
        assert session.scalar(select(func.count()).select_from(InboundReceipt)) == 1
        assert session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1
        reference = session.scalar(select(Ticket.reference))
    assert reference in outcomes[0][1]


def test_different_first_messages_from_one_new_woman_race_without_loss(settings, db, app, client):
    """Two distinct messages at once from someone with no conversation yet: both stored."""
    fake = FakeWeChat(client, settings.wechat.token, settings.wechat.encoding_aes_key, settings.wechat.appid)
    app.extensions["niangjia"].db.dispose()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    results = context.Queue()
    texts = ["请问协议离婚要带什么材料", "还有离婚冷静期是多久"]
    workers = [
        context.Process(
            target=_deliver,
            args=(app, settings, text_xml("o-new", text, msg_id=7700000000000000010 + n), fake.params(), barrier, results),
        )
        for n, text in enumerate(texts)
    ]
    outcomes = collect(workers, results)
    assert {status for status, _ in outcomes} == {200}
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 2
        assert session.scalar(select(func.count()).select_from(InboundReceipt)) == 2


@pytest.mark.postgres
def test_on_postgres_a_retry_waits_for_the_first_delivery_and_reads_its_reply(settings, router, db):
    """The unique index makes the second insert wait for the first transaction's outcome."""
    import threading
    from datetime import datetime, timezone

    from bot.inbound import Inbound
    from bot.intake import Intake

    intake = Intake(router, settings)
    inbound = Inbound(
        channel="wechat", user="o-pg", kind="text", message_id="7700000000000000099",
        sent_at=datetime.now(timezone.utc), text="请问协议离婚要带什么材料",
    )
    first = db.engine.connect()
    first.begin()
    first_answer = intake.receive(first, inbound)
    second_answer = []
    waiter = threading.Thread(target=lambda: second_answer.append(_receive_in_own_transaction(db, intake, inbound)))
    waiter.start()
    waiter.join(timeout=1)
    assert waiter.is_alive(), "the retry must wait for the first delivery's transaction"
    first.commit()
    first.close()
    waiter.join(timeout=30)
    [answer] = second_answer
    assert answer.duplicate and answer.text == first_answer.text
    assert answer.ticket_reference == first_answer.ticket_reference is not None


def _receive_in_own_transaction(db, intake, inbound):
    with db.engine.begin() as connection:
        return intake.receive(connection, inbound)


def test_on_sqlite_a_process_lets_one_webhook_delivery_in_at_a_time(settings, db, app, monkeypatch):
    """Threads of one process would only queue at SQLite's one writer and fight over the
    GIL while one of them holds it: a second push waits until the first is answered."""
    import threading

    if db.dialect != "sqlite":
        pytest.skip("on PostgreSQL a process's deliveries run side by side")
    runtime = app.extensions["niangjia"]
    first_inside, release = threading.Event(), threading.Event()
    entered: list[str] = []
    route_ahead = runtime.intake.route_ahead

    def held_route_ahead(inbound):
        entered.append(inbound.message_id)
        first_inside.set()
        release.wait(10)
        return route_ahead(inbound)

    monkeypatch.setattr(runtime.intake, "route_ahead", held_route_ahead)
    replies = {}

    def push(n):
        fake = FakeWeChat(app.test_client(), settings.wechat.token, settings.wechat.encoding_aes_key,
                          settings.wechat.appid)
        text = ["请问协议离婚要带什么材料", "婆婆天天跟我吵架，能不能请妇联来帮忙调解一下"][n]
        replies[n] = fake.post(text_xml(f"o-lane-{n}", text, msg_id=7700000000000000200 + n), mode="safe")

    first = threading.Thread(target=push, args=(0,))
    first.start()
    assert first_inside.wait(10)
    second = threading.Thread(target=push, args=(1,))
    second.start()
    second.join(timeout=1)
    assert second.is_alive() and entered == ["7700000000000000200"], "the second push must wait its turn"
    release.set()
    first.join(30)
    second.join(30)
    assert entered == ["7700000000000000200", "7700000000000000201"]
    assert {reply.status for reply in replies.values()} == {200}
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(InboundReceipt)) == 2


def test_a_body_still_arriving_does_not_hold_the_lane(settings, db, app):
    """The lane is taken once the body is in: a client trickling hers (or holding it back)
    must not keep every other woman's message in the process waiting."""
    import io
    import threading

    if db.dialect != "sqlite":
        pytest.skip("on PostgreSQL there is no lane")
    reading, more = threading.Event(), threading.Event()

    class Trickle(io.BytesIO):
        """A request body that arrives only when `more` is set."""

        def read(self, size: int | None = -1) -> bytes:
            reading.set()
            more.wait(10)
            return super().read(size)

        def readinto(self, buffer) -> int:
            reading.set()
            more.wait(10)
            return super().readinto(buffer)

    fake = FakeWeChat(app.test_client(), settings.wechat.token, settings.wechat.encoding_aes_key, settings.wechat.appid)
    held_back = text_xml("o-slow", "请问协议离婚要带什么材料", msg_id=7700000000000000300).encode()
    slow_answer = []

    def slow_client():
        response = app.test_client().post(
            "/wechat", query_string=fake.params(), input_stream=Trickle(held_back),
            content_length=len(held_back), content_type="text/xml",
        )
        slow_answer.append(response.status_code)

    slow = threading.Thread(target=slow_client)
    slow.start()
    try:
        assert reading.wait(10)
        quick = fake.post(text_xml("o-quick", "婆婆天天跟我吵架，能不能请妇联来帮忙调解一下", msg_id=7700000000000000301))
        assert quick.status == 200 and slow.is_alive(), "the quick push must be answered while the slow body is still arriving"
    finally:
        more.set()
        slow.join(30)
    assert slow_answer == [200]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(InboundReceipt)) == 2
