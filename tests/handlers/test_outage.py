"""The database down loses nothing: messages are journaled, acknowledged, and replayed
in order, exactly once, when it answers again. The database really goes away (a cut TCP
proxy in front of PostgreSQL; SQLite's file made impossible to open), nothing is mocked."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot import replies
from bot.worker import Worker
from handlers.app import create_app
from models import InboundReceipt, Message, OutboxMessage, Ticket
from tests.handlers.staff.factories import login, make_staff, token_for
from tests.outage import SqliteOutage, TcpProxy
from tests.telegram import FakeTelegram, update
from tests.wechat import FakeWeChat, text_xml

GRIEVANCE = "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下"
URGENT = "他又喝多了拿着刀在门口，我和孩子躲在卧室里"


class Outage:
    def __init__(self, app, switch):
        self.app, self.switch = app, switch
        self.runtime = app.extensions["niangjia"]

    def down(self):
        self.switch.cut()

    def up(self):
        self.switch.restore()


@pytest.fixture
def outage(settings, router, db):
    """The app, on a database this test can take away and bring back."""
    proxy = None
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        settings = replace(settings, database=replace(settings.database, url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)))
    app = create_app(settings, router=router)
    app.config["TESTING"] = True
    runtime = app.extensions["niangjia"]
    switch = proxy or SqliteOutage(url.database, runtime.db)
    yield Outage(app, switch)
    switch.restore()
    runtime.db.dispose()
    if proxy:
        proxy.close()


def counts(db) -> dict[str, int]:
    with db.session() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (InboundReceipt, Ticket, Message, OutboxMessage)
        }


def test_messages_while_the_database_is_down_are_acknowledged_journaled_and_replayed_once_in_order(
    outage, settings, db, fake_apis
):
    client = outage.app.test_client()
    wechat = FakeWeChat(client, settings.wechat.token, settings.wechat.encoding_aes_key, settings.wechat.appid)
    telegram = FakeTelegram(client)
    worker = Worker(outage.runtime)
    pushes = [
        text_xml("o-down-1", GRIEVANCE, msg_id=7100000000000000001),
        text_xml("o-down-2", URGENT, msg_id=7100000000000000002),
        text_xml("o-down-1", "测试社区", msg_id=7100000000000000003),
    ]
    tg_update = update(9301, GRIEVANCE, update_id=880001)

    outage.down()
    first = wechat.post(pushes[0])
    assert first.status == 200 and first.content == replies.RECEIVED
    urgent = wechat.post(pushes[1])
    assert urgent.status == 200 and "110" in urgent.content and "紧急" in urgent.content
    tg = telegram.post(tg_update)
    assert tg.status_code == 200
    assert tg.get_json() == {"method": "sendMessage", "chat_id": 9301, "text": replies.RECEIVED}
    assert wechat.post(pushes[2]).content == replies.RECEIVED
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "database" in ready.get_json()["problems"] and ready.get_json()["spool"]["depth"] == 4
    # The worker's rounds while it is down replay nothing and lose nothing.
    outage.runtime.replay_spool()
    assert outage.runtime.spool.depth() == 4

    outage.up()
    # Before the worker replays: her next message queues behind her journaled ones ...
    assert wechat.send_text("o-down-1", "匿名", msg_id=7100000000000000004).content == replies.RECEIVED
    # ... while another woman is answered at once, as usual.
    assert "工单号" in wechat.send_text("o-up", GRIEVANCE).content

    assert worker.run_once()["replayed"] == 5
    assert outage.runtime.spool.depth() == 0
    with db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.channel_user == "o-down-1"))
        # Her three messages, in the order she wrote them: grievance, her place, 匿名.
        assert ticket.region.code == "T010101" and ticket.category == "mediation"
        urgent_ticket = session.scalar(select(Ticket).where(Ticket.channel_user == "o-down-2"))
        assert urgent_ticket.urgent
        assert session.scalar(select(func.count()).select_from(Ticket).where(Ticket.channel_user == "9301")) == 1
    # The conversation's real answers went out afterwards, through the customer-service API.
    texts = fake_apis.texts_to("o-down-1")
    assert len(texts) == 3 and ticket.reference in texts[0] and "手机号" in texts[1] and "确认" in texts[2]
    assert any("工单号" in t for t in fake_apis.texts_to("9301"))
    assert client.get("/readyz").status_code == 200

    # A full resend of everything changes nothing: the receipts know every message.
    before = counts(db)
    for push in pushes:
        assert wechat.post(push).status == 200
    telegram.post(tg_update)
    worker.run_once()
    assert counts(db) == before


def test_readyz_reports_a_dead_worker_and_a_spool_that_is_not_draining(outage, settings):
    client = outage.app.test_client()
    body = client.get("/readyz").get_json()
    assert body["problems"] == ["worker"] and body["spool"]["depth"] == 0
    Worker(outage.runtime).run_once()
    assert client.get("/readyz").status_code == 200
    outage.down()
    FakeWeChat(client, settings.wechat.token, settings.wechat.encoding_aes_key, settings.wechat.appid).send_text("o-r", GRIEVANCE)
    body = client.get("/readyz").get_json()
    assert body["database"] == "unreachable" and set(body["problems"]) == {"database", "spool"}
    assert body["spool"]["depth"] == 1 and body["spool"]["oldest_seconds"] is not None


def test_a_spooled_message_the_database_refuses_is_set_aside_not_retried_forever(outage, db):
    from datetime import datetime, timezone

    from bot.inbound import Inbound

    spool = outage.runtime.spool
    # An unknown channel's message: the engine cannot handle it whatever the database says.
    spool.put(Inbound("wechat", "o-poison", "text", "m-1", datetime.now(timezone.utc), text="x"), datetime.now(timezone.utc))
    path = spool.pending()[0]
    path.write_text("{not json", encoding="utf-8")
    spool.put(Inbound("wechat", "o-fine", "text", "m-2", datetime.now(timezone.utc), text=GRIEVANCE), datetime.now(timezone.utc))
    assert outage.runtime.replay_spool() == 1
    assert spool.depth() == 0 and spool.failed() == 1


def test_staff_pages_and_the_api_say_the_database_is_away_with_a_503_not_a_500(outage, db):
    """While the database is away a caseworker is told so, and to try again (a 503 with
    Retry-After), never a bare 500; when it is back, the same page answers."""
    make_staff(db, "worker")
    client = outage.app.test_client()
    login(client, "worker")
    token = token_for(db, "worker")
    assert client.get("/staff/").status_code == 200

    outage.down()
    page = client.get("/staff/")
    api = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})

    assert page.status_code == 503 and page.headers["Retry-After"]
    assert "数据库" in page.get_data(as_text=True)
    assert api.status_code == 503 and api.get_json()["error"] == "Service Unavailable"
    outage.up()
    assert client.get("/staff/").status_code == 200
