"""Whole conversations through the real webhooks: WeChat (passive replies) and Telegram
(answers by sendMessage through the outbox), with the fake APIs on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from models import Conversation, Message, Region, Ticket, TicketEvent, utcnow

GRIEVANCE = "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下"
URGENT = "他又喝多了拿着刀在门口，我和孩子躲在卧室里"


class Chat:
    """One woman's chat on either channel: say() returns the bot's answer."""

    def __init__(self, channel, wechat, telegram, worker, fake_apis, user):
        self.channel, self.wechat, self.telegram = channel, wechat, telegram
        self.worker, self.fake_apis, self.user = worker, fake_apis, user

    def say(self, text: str) -> str:
        if self.channel == "wechat":
            reply = self.wechat.send_text(self.user, text)
            assert reply.status == 200
            return reply.content
        before = len(self.fake_apis.telegram_sent)
        assert self.telegram.send_text(int(self.user), text).status_code == 200
        self.worker.run_once()
        sent = self.fake_apis.telegram_sent[before:]
        return "\n".join(m["text"] for m in sent)


@pytest.fixture(params=["wechat", "telegram"])
def chat(request, wechat, telegram, worker, fake_apis):
    user = "o-chat-1" if request.param == "wechat" else "8001"
    return Chat(request.param, wechat, telegram, worker, fake_apis, user)


def ticket_of(db, user) -> Ticket:
    with db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.channel_user == user))
        ticket.region.name  # load while the session is open
        return ticket


def events(db, ticket) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(TicketEvent.action).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)))


def test_whole_intake_problem_region_contact_summary_confirm(chat, db):
    first = chat.say(GRIEVANCE)
    ticket = ticket_of(db, chat.user)
    assert ticket.reference in first and "村或社区" in first

    assert "手机号" in chat.say("测试社区")
    assert ticket_of(db, chat.user).region.name == "测试社区"

    summary = chat.say("138 1234 5678")
    assert "138****5678" in summary and "13812345678" not in summary
    assert "测试街道测试社区" in summary and "调解" in summary and ticket.reference in summary

    done = chat.say("确认")
    assert ticket.reference in done and "1个工作日" in done
    ticket = ticket_of(db, chat.user)
    assert ticket.contact_phone == "13812345678" and ticket.status == "new"
    assert {"region_set", "contact_given", "confirmed"} <= set(events(db, ticket))
    with db.session() as session:
        texts = session.scalars(select(Message.text).where(Message.ticket_id == ticket.id)).all()
        assert not any("13812345678" in t for t in texts), "the number stays off the transcript"
        assert session.scalar(select(Conversation.state).where(Conversation.channel_user == chat.user)) == "idle"


def test_urgent_message_gets_safety_first_and_an_urgent_ticket_before_any_question(chat, db):
    first = chat.say(URGENT)
    assert "110" in first.splitlines()[0] and "12338" in first.splitlines()[0]
    ticket = ticket_of(db, chat.user)
    assert ticket.urgent and ticket.reference in first
    assert "urgent_alert" in events(db, ticket)
    # Follow-up questions come after, and cancelling them never withdraws an urgent ticket.
    chat.say("取消")
    assert ticket_of(db, chat.user).status == "new"


def test_her_own_intent_to_harm_herself_gets_12356_beside_110_and_counselling(chat, db):
    first = chat.say("我真的不想活了，药都买好了，今晚就吃下去")
    assert "110" in first.splitlines()[0] and "12356" in first.splitlines()[0]
    ticket = ticket_of(db, chat.user)
    assert ticket.urgent and (ticket.category, ticket.subcategory) == ("service", "counselling")


def test_anonymous_contact_and_skipped_region(chat, db):
    chat.say(GRIEVANCE)
    assert "手机号" in chat.say("跳过")
    summary = chat.say("匿名")
    assert "匿名" in summary
    chat.say("确认")
    ticket = ticket_of(db, chat.user)
    assert ticket.contact_phone is None and ticket.region.code == "T01"


def test_invalid_phone_is_asked_again(chat, db):
    chat.say(GRIEVANCE)
    chat.say("跳过")
    assert "11位手机号" in chat.say("12345")
    assert "请确认" in chat.say("13912345678")


def test_more_story_during_the_questions_is_added_and_the_question_repeated(chat, db):
    chat.say(GRIEVANCE)
    answer = chat.say("她昨天还说要把我们娘俩赶出家门去")
    ticket = ticket_of(db, chat.user)
    assert ticket.reference in answer and "村或社区" in answer
    with db.session() as session:
        assert session.scalar(
            select(func.count()).select_from(Message).where(Message.ticket_id == ticket.id, Message.direction == "in")
        ) == 2


def test_danger_during_the_questions_raises_the_ticket_to_urgent(chat, db):
    chat.say(GRIEVANCE)
    answer = chat.say("他现在拿着刀在砸门说要弄死我")
    assert "110" in answer.splitlines()[0]
    assert ticket_of(db, chat.user).urgent


def test_restart_before_confirming_withdraws_the_unconfirmed_ticket(chat, db):
    chat.say(GRIEVANCE)
    answer = chat.say("重新开始")
    assert "重新开始" in answer
    assert ticket_of(db, chat.user).status == "withdrawn"


def test_status_add_and_withdraw_after_confirming(chat, db):
    chat.say(GRIEVANCE)
    chat.say("跳过")
    chat.say("匿名")
    chat.say("确认")
    ticket = ticket_of(db, chat.user)
    assert ticket.reference in chat.say("查询") and "待认领" in chat.say("进度")
    assert ticket.reference in chat.say("补充 她今天又来闹了一次")
    assert "确定" in chat.say("撤销")
    assert "撤销" in chat.say("确定")
    assert ticket_of(db, chat.user).status == "withdrawn"
    assert "没有" in chat.say("撤销")


def test_asking_for_a_person_is_recorded_on_her_ticket(chat, db):
    chat.say(GRIEVANCE)
    chat.say("跳过")
    answer = chat.say("人工")
    ticket = ticket_of(db, chat.user)
    assert ticket.reference in answer
    assert "person_requested" in events(db, ticket)


def test_unsure_route_then_her_choice(chat, db):
    assert "1 咨询" in chat.say("我有个事情想问一下你们这边能不能管，说来话长，心里很乱很乱")
    answer = chat.say("3")
    ticket = ticket_of(db, chat.user)
    assert ticket.category == "service" and ticket.reference in answer


def test_quiet_conversation_expires(chat, db, settings):
    chat.say(GRIEVANCE)
    with db.transaction() as session:
        session.execute(
            update(Conversation).values(updated_at=utcnow() - timedelta(minutes=settings.dialogue.session_timeout_minutes + 1))
        )
    answer = chat.say("你好")
    assert "重新开始" in answer
    with db.session() as session:
        assert session.scalar(select(Conversation.state).where(Conversation.channel_user == chat.user)) == "idle"


def test_erase_blanks_what_never_became_a_case(chat, db):
    chat.say("我有个事情想问一下你们这边能不能管，说来话长，心里很乱很乱")
    assert "确定" in chat.say("删除")
    assert "已删除" in chat.say("确定")
    with db.session() as session:
        texts = session.scalars(
            select(Message.text).where(Message.channel_user == chat.user, Message.direction == "in")
        ).all()
    assert all(t in ("", "删除") for t in texts)


def test_ambiguous_place_offers_choices(chat, db):
    with db.transaction() as session:
        county = Region.by_code(session, "T01")
        town_a = Region.create(session, "TA", "东风镇", "town", county)
        town_b = Region.create(session, "TB", "红星镇", "town", county)
        Region.create(session, "TA1", "东风村", "village", town_a)
        Region.create(session, "TB1", "东风村", "village", town_b)
    chat.say(GRIEVANCE)
    options = chat.say("东风村")
    assert "东风镇东风村" in options and "红星镇东风村" in options
    chat.say("2")
    assert ticket_of(db, chat.user).region.code == "TB1"


def test_wechat_location_answers_where_she_lives(wechat, db):
    import time

    from tests.wechat import ACCOUNT

    wechat.send_text("o-loc", GRIEVANCE)
    xml = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[o-loc]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[location]]></MsgType>"
        "<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><Scale>20</Scale>"
        "<Label><![CDATA[测试市测试县测试社区东门]]></Label><MsgId>5500000000000000009</MsgId></xml>"
    )
    assert "手机号" in wechat.post(xml).content
    assert ticket_of(db, "o-loc").region.code == "T010101"


def _location_xml(user: str, msg_id: int) -> str:
    import time

    from tests.wechat import ACCOUNT

    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[location]]></MsgType>"
        "<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><Scale>20</Scale>"
        f"<Label><![CDATA[测试社区东门]]></Label><MsgId>{msg_id}</MsgId></xml>"
    )


def test_location_as_her_first_message_is_stored_and_answered_on_wechat(wechat, db):
    reply = wechat.post(_location_xml("o-loc-first", 5500000000000000101))
    assert reply.status == 200 and "位置已收到" in reply.content
    with db.session() as session:
        [line] = session.scalars(select(Message).where(Message.channel_user == "o-loc-first", Message.direction == "in")).all()
        assert (line.kind, line.latitude, line.longitude) == ("location", 23.1, 113.3)
    # And the conversation goes on from there.
    assert "工单号" in wechat.send_text("o-loc-first", GRIEVANCE).content


def test_location_as_her_first_message_is_stored_and_answered_on_telegram(telegram, worker, fake_apis, db):
    from tests.telegram import update

    assert telegram.post(update(8101, location={"latitude": 23.1, "longitude": 113.3})).status_code == 200
    worker.run_once()
    assert ["位置已收到" in m["text"] for m in fake_apis.telegram_sent] == [True]
    with db.session() as session:
        [line] = session.scalars(select(Message).where(Message.channel_user == "8101", Message.direction == "in")).all()
        assert line.kind == "location"
