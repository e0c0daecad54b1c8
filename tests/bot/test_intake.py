"""The intake engine (bot/intake.py) driven straight through `Intake.receive` against a real
database, without HTTP: the paths tests/handlers/test_conversation.py walks through the
webhooks (a first message to a confirmed ticket, danger, the menu, adding to her ticket,
the follow-up's answers, her commands), and what the engine itself promises (each
delivery once, every kind of message answered, the answer queued where the channel
has no passive replies)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot import followup
from bot.inbound import Inbound
from bot.intake import Intake
from models import FollowUp, Message, OutboxMessage, Ticket, utcnow
from tests.bot.her import GRIEVANCE, Her

URGENT = "他又喝多了拿着刀在门口，我和孩子躲在卧室里"
UNSURE = "我有个事情想问一下你们这边能不能管，说来话长，心里很乱很乱"


def _answers(db, user: str) -> list[Message]:
    with db.session() as session:
        return list(session.scalars(
            select(Message).where(Message.channel_user == user, Message.direction == "out").order_by(Message.id)
        ))


def _queued(db, user: str) -> list[str]:
    """The texts waiting in the outbox for `user` (answers on channels without passive replies)."""
    with db.session() as session:
        return list(session.scalars(select(OutboxMessage.text).where(OutboxMessage.channel_user == user).order_by(OutboxMessage.id)))


def _count(db, model, *where) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


# -- a first message to a confirmed ticket --------------------------------------------------

def test_a_first_message_is_routed_to_a_ticket_then_place_phone_summary_and_confirm(her):
    first = her.deliver(text=GRIEVANCE)
    ticket = her.ticket()
    assert first.ticket_reference == ticket.reference and ticket.reference in first.text and "村或社区" in first.text
    assert (ticket.category, ticket.urgent, ticket.status) == ("mediation", False, "new")

    assert "手机号" in her.say("测试社区")
    assert her.region_name() == "测试社区"
    summary = her.say("138 1234 5678")
    assert "138****5678" in summary and "13812345678" not in summary and ticket.reference in summary
    done = her.say("确认")
    assert ticket.reference in done and "1个工作日" in done

    ticket = her.ticket()
    assert ticket.contact_phone == "13812345678" and her.state() == "idle"
    assert {"region_set", "contact_given", "confirmed"} <= {e.action for e in her.events(ticket)}
    assert GRIEVANCE in her.lines(ticket)
    assert not any("13812345678" in line for line in her.lines(ticket)), "the number stays off the transcript"


def test_each_answer_is_kept_on_the_transcript_with_her_ticket(her, db):
    answer = her.deliver(text=GRIEVANCE)
    (out,) = _answers(db, her.user)
    assert out.text == answer.text and out.ticket_id == her.ticket().id
    assert _queued(db, her.user) == [], "WeChat's answer goes back in the HTTP response"


# -- danger ----------------------------------------------------------------------------------

def test_danger_gets_safety_first_and_an_urgent_ticket_that_cancelling_never_withdraws(her):
    first = her.say(URGENT)
    assert "110" in first.splitlines()[0] and "12338" in first.splitlines()[0]
    ticket = her.ticket()
    assert ticket.urgent and ticket.reference in first
    assert "urgent_alert" in {e.action for e in her.events(ticket)}
    her.say("取消")
    assert her.ticket().status == "new"


def test_danger_during_the_questions_raises_her_ticket_to_urgent(her):
    her.say(GRIEVANCE)
    assert not her.ticket().urgent
    assert "110" in her.say("他现在拿着刀在砸门说要弄死我").splitlines()[0]
    assert her.ticket().urgent and len(her.tickets()) == 1


# -- the menu ---------------------------------------------------------------------------------

def test_an_unsure_message_gets_the_menu_and_her_number_opens_that_ticket(her):
    assert "1 咨询" in her.say(UNSURE)
    assert her.tickets() == [] and her.state() == "choose_route"
    answer = her.say("3")
    ticket = her.ticket()
    assert ticket.category == "service" and ticket.reference in answer
    assert UNSURE in her.lines(ticket), "what she wrote before choosing is on the ticket"


def test_a_menu_button_chosen_first_decides_where_an_unsure_message_goes(her):
    chosen = her.send("event", event="click", event_key="MEDIATE")
    assert "调解" in chosen and her.tickets() == []
    her.say(UNSURE)
    assert her.ticket().category == "mediation"


def test_the_status_button_lists_her_tickets_and_an_unknown_button_gets_the_menu(her):
    her.say(GRIEVANCE)
    reference = her.ticket().reference
    assert reference in her.send("event", event="click", event_key="STATUS")
    assert "1" in her.send("event", event="click", event_key="NO-SUCH-KEY")
    assert len(her.tickets()) == 1


# -- adding to her open ticket ------------------------------------------------------------------

def test_more_story_during_the_questions_is_added_and_the_question_repeated(her):
    her.say(GRIEVANCE)
    answer = her.say("她昨天还说要把我们娘俩赶出家门去")
    ticket = her.ticket()
    assert ticket.reference in answer and "村或社区" in answer
    assert len(her.lines(ticket)) == 2


def test_add_after_confirming_goes_onto_her_ticket(her):
    ticket = her.confirmed(GRIEVANCE)
    assert ticket.reference in her.say("补充 她今天又来闹了一次")
    assert "补充 她今天又来闹了一次" in her.lines(ticket) and len(her.tickets()) == 1


def test_an_image_goes_onto_her_open_ticket_and_without_one_she_is_asked_for_words(her):
    assert "文字" in her.send("image", media_id="media-1")
    assert her.tickets() == []
    ticket = her.confirmed(GRIEVANCE)
    assert ticket.reference in her.send("image", media_id="media-2")
    assert "image_added" in {e.action for e in her.events(ticket)}


# -- the follow-up's answers -------------------------------------------------------------------

def _resolve_and_ask(db, her: Her) -> None:
    """A caseworker resolves her ticket; the follow-up job asks her whether it is solved."""
    with db.transaction() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.channel_user == her.user))
        ticket.status, ticket.resolved_at = "resolved", utcnow()
        ticket.record("resolved")
    with db.transaction() as session:
        assert followup.ask_resolved(session, utcnow()) == 1
    assert her.state() == "follow_up_solved"


def test_not_solved_reopens_and_solved_then_rated_closes(her, db):
    her.confirmed(GRIEVANCE)
    _resolve_and_ask(db, her)
    assert "重新交给" in her.say("2")
    assert her.ticket().status == "new"

    _resolve_and_ask(db, her)
    assert "满意" in her.say("1")
    assert her.ticket().status == "resolved", "nothing closes before she rates it"
    assert "请回复数字 1、2 或 3" in her.say("还行吧")
    her.say("2")
    ticket = her.ticket()
    assert ticket.status == "closed" and ticket.closed_at is not None and her.state() == "idle"
    with db.session() as session:
        rounds = session.scalars(select(FollowUp).where(FollowUp.ticket_id == ticket.id).order_by(FollowUp.id)).all()
    assert [(f.solved, f.satisfaction) for f in rounds] == [(False, None), (True, "basically_satisfied")]


def test_subscribing_again_during_a_follow_up_keeps_the_question_open(her, db):
    her.confirmed(GRIEVANCE)
    _resolve_and_ask(db, her)
    assert "娘家" in her.send("event", event="subscribe")
    assert her.state() == "follow_up_solved"


# -- her commands ----------------------------------------------------------------------------

def test_status_add_and_withdraw_after_confirming(her):
    ticket = her.confirmed(GRIEVANCE)
    assert ticket.reference in her.say("查询") and "待认领" in her.say("进度")
    assert "确定" in her.say("撤销")
    assert "撤销" in her.say("确定")
    assert her.ticket().status == "withdrawn"
    assert "没有" in her.say("撤销")


def test_restart_before_confirming_withdraws_the_unconfirmed_ticket(her):
    her.say(GRIEVANCE)
    assert "重新开始" in her.say("重新开始")
    assert her.ticket().status == "withdrawn" and her.state() == "idle"


def test_asking_for_a_person_is_recorded_on_her_ticket(her):
    her.say(GRIEVANCE)
    her.say("跳过")
    ticket = her.ticket()
    assert ticket.reference in her.say("人工")
    assert "person_requested" in {e.action for e in her.events(ticket)}


def test_erase_blanks_what_never_became_a_case(her, db):
    her.say(UNSURE)
    assert "确定" in her.say("删除")
    assert "已删除" in her.say("确定")
    with db.session() as session:
        texts = session.scalars(select(Message.text).where(Message.channel_user == her.user, Message.direction == "in")).all()
    assert all(t in ("", "删除") for t in texts)


def test_a_quiet_conversation_starts_afresh(her, settings):
    her.say(GRIEVANCE)
    assert her.state() == "ask_region"
    her.now += timedelta(minutes=settings.dialogue.session_timeout_minutes + 1)
    assert "重新开始" in her.say("你好")
    assert her.state() == "idle"


# -- what the engine itself promises -------------------------------------------------------------

def test_a_repeated_delivery_gets_the_first_answer_and_changes_nothing(her, db):
    first = her.deliver(text=GRIEVANCE, message_id="wx-1")
    messages = _count(db, Message)
    again = her.deliver(text=GRIEVANCE, message_id="wx-1")
    assert again.duplicate and (again.text, again.ticket_reference) == (first.text, first.ticket_reference)
    assert _count(db, Message) == messages and len(her.tickets()) == 1


def test_an_empty_text_or_voice_is_answered_and_opens_nothing(her):
    assert "发生了什么" in her.say("   ")
    assert "语音" in her.send("voice", text="")
    assert her.tickets() == []


def test_the_welcome_on_subscribing(her):
    assert "娘家" in her.send("event", event="subscribe")
    assert her.state() == "idle" and her.tickets() == []


def test_on_a_channel_without_passive_replies_the_answer_is_queued(db, settings, router):
    her = Her(db, Intake(router, settings), user="8001", channel="telegram")
    her.say(GRIEVANCE)
    (out,) = _answers(db, "8001")
    assert out.ticket_id == her.ticket().id and _queued(db, "8001") == [out.text]


def test_a_replayed_message_is_answered_through_the_outbox_even_on_wechat(her, db):
    her.now += timedelta(seconds=30)
    inbound = Inbound("wechat", her.user, "text", "wx-spooled", her.now, text=GRIEVANCE)
    with db.engine.begin() as connection:
        answer = her.intake.receive(connection, inbound, now=her.now, replayed=True)
    assert _queued(db, her.user) == [answer.text]


def test_her_words_routed_ahead_give_the_same_answer_as_routed_inside(db, settings, router):
    intake = Intake(router, settings)
    ahead, inside = Her(db, intake, user="o-ahead"), Her(db, intake, user="o-inside")
    inbound = Inbound("wechat", "o-ahead", "text", "wx-ahead", ahead.now, text=URGENT)
    route = intake.route_ahead(inbound)
    assert route is not None and route.urgent
    with db.engine.begin() as connection:
        routed_ahead = intake.receive(connection, inbound, now=ahead.now, route=route)
    routed_inside = inside.say(URGENT)
    assert routed_ahead.text.replace(routed_ahead.ticket_reference, "") == routed_inside.replace(inside.ticket().reference, "")
    assert intake.route_ahead(Inbound("wechat", "o-ahead", "image", "wx-img", ahead.now, media_id="m")) is None
