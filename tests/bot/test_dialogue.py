"""The conversation engine driven directly against a real database, without HTTP: one
conversation per behaviour a woman found (issue 16). `her` is tests/bot/conftest.py's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.intake import Intake
from models import OutboxMessage, Region
from tests.bot.her import GRIEVANCE, SUPPORT, TRAINING, Her


# -- 1. her words as she writes them ----------------------------------------------------------

@pytest.mark.parametrize("answer", ["我的电话是13912345678", "你打139 1234 5678找我", "电话：139-1234-5678，晚上打"])
def test_a_phone_number_anywhere_in_her_sentence_is_taken(her, answer):
    her.say(GRIEVANCE)
    her.say("跳过")
    summary = her.say(answer)
    assert "139****5678" in summary and "号码不对" not in summary
    ticket = her.ticket()
    assert ticket.contact_phone == "13912345678"
    assert not any("13912345678" in line.replace(" ", "").replace("-", "") for line in her.lines(ticket))


@pytest.mark.parametrize("answer", ["不想留", "不方便", "匿名", "我不想留电话，怕他看到", "不留了", "别打电话"])
def test_not_leaving_a_number_in_her_words_means_anonymous(her, answer):
    her.say(GRIEVANCE)
    her.say("跳过")
    summary = her.say(answer)
    assert "请确认" in summary and "匿名" in summary
    assert her.ticket().contact_phone is None
    assert her.lines(her.ticket())[-1] == answer  # not taken as more of her story with a new event
    assert [e.action for e in her.events(her.ticket())].count("message_added") == 0


def test_change_at_the_phone_step_goes_back_to_her_place(her):
    her.say(GRIEVANCE)
    her.say("跳过")
    assert "村或社区" in her.say("修改")
    assert her.state() == "ask_region"
    assert "手机号" in her.say("测试社区")
    assert her.region_name() == "测试社区"


def test_going_back_from_the_summary_to_the_phone_only(her):
    her.say(GRIEVANCE)
    her.say("测试社区")
    her.say("13912345678")
    assert "手机号" in her.say("我要改电话")
    assert her.state() == "ask_contact"
    assert "138****0000" in her.say("13800000000")


def test_a_place_at_the_phone_step_is_taken_as_her_place(her):
    her.say(GRIEVANCE)
    her.say("跳过")
    answer = her.say("测试社区")
    assert "手机号" in answer and "号码不对" not in answer
    assert her.region_name() == "测试社区"
    assert her.state() == "ask_contact"


def test_a_wrong_number_is_told_plainly_what_is_asked(her):
    her.say(GRIEVANCE)
    her.say("跳过")
    answer = her.say("电话是1391234")
    assert "11位手机号" in answer and "匿名" in answer
    assert her.state() == "ask_contact"


@pytest.mark.parametrize("words", ["查一下我的工单进度", "查进度", "我想查查进度", "工单到哪了？"])
def test_status_by_meaning_lists_her_tickets_and_adds_nothing(her, words):
    ticket = her.confirmed(GRIEVANCE)
    answer = her.say(words)
    assert ticket.reference in answer and "已补充" not in answer
    assert "message_added" not in [e.action for e in her.events(ticket)]


@pytest.mark.parametrize("words", ["我要撤回", "撤销工单", "不办了"])
def test_withdraw_by_meaning(her, words):
    ticket = her.confirmed(GRIEVANCE)
    assert "确定要撤销" in her.say(words)
    assert "已撤销" in her.say("确定")
    assert her.ticket().status == "withdrawn"


@pytest.mark.parametrize("words", ["转人工", "我要找工作人员", "找真人"])
def test_a_person_by_meaning(her, words):
    ticket = her.confirmed(GRIEVANCE)
    assert "已通知" in her.say(words)
    assert "person_requested" in [e.action for e in her.events(ticket)]


@pytest.mark.parametrize("words", ["删除", "删除我的信息", "把我的记录都删掉"])
def test_erase_by_meaning(her, words):
    her.say("你好")
    assert "确定要删除" in her.say(words)


def test_a_story_with_a_command_word_inside_is_still_her_story(her):
    ticket = her.confirmed(GRIEVANCE)
    answer = her.say("他把离婚起诉撤回了，又开始天天骂我")
    assert "补充" in answer and "确定要撤销" not in answer


# -- 2. each matter its own ticket ------------------------------------------------------------

def test_a_different_matter_after_a_confirmed_ticket_is_asked_about_and_opens_a_new_ticket(her):
    training = her.confirmed(TRAINING)
    her.say("重新开始")
    question = her.say(SUPPORT)
    assert f"这是新的问题，还是工单 {training.reference} 的补充？回复 1 新问题，2 补充" in question
    assert len(her.tickets()) == 1 and SUPPORT not in her.lines(training)
    opened = her.say("1")
    first, second = her.tickets()
    assert second.reference in opened and second.category == "consultation"
    assert SUPPORT in her.lines(second) and SUPPORT not in her.lines(first)
    assert first.status == second.status == "new"
    her.say("跳过")
    her.say("匿名")
    her.say("确认")
    status = her.say("查询")
    assert first.reference in status and second.reference in status


def test_she_may_say_it_belongs_to_her_open_ticket(her):
    training = her.confirmed(TRAINING)
    her.say(SUPPORT)
    assert training.reference in her.say("2")
    assert len(her.tickets()) == 1 and SUPPORT in her.lines(training)


def test_more_of_the_same_matter_is_added_without_asking(her):
    ticket = her.confirmed(GRIEVANCE)
    answer = her.say("她今天又嫌我做饭不好吃，还跟邻居说我懒")
    assert "已补充" in answer and "新的问题" not in answer
    assert len(her.tickets()) == 1


def test_danger_in_a_different_matter_opens_an_urgent_ticket_at_once(her):
    her.confirmed(TRAINING)
    answer = her.say("他喝多了拿着刀在门口，我和孩子躲在卧室里")
    assert "110" in answer.splitlines()[0] and "新的问题" not in answer
    first, second = her.tickets()
    assert second.urgent and not first.urgent


def _settle(her, now) -> int:
    """The worker's job for questions she left unanswered, at a time the test chooses."""
    from bot.unanswered import settle_unanswered_questions

    with her.db.engine.begin() as connection:
        return settle_unanswered_questions(connection, her.intake.dialogue, now)


def test_an_unanswered_new_or_add_question_opens_the_new_matter_when_it_times_out(her, settings):
    training = her.confirmed(TRAINING)
    her.say("重新开始")
    her.say(SUPPORT)
    assert _settle(her, her.now + timedelta(minutes=5)) == 0, "she still has time to answer"
    timeout = timedelta(minutes=settings.dialogue.session_timeout_minutes)
    assert _settle(her, her.now + timeout + timedelta(minutes=1)) == 1
    first, second = her.tickets()
    # Each matter its own ticket: never appended unasked to a different matter, never lost.
    assert SUPPORT in her.lines(second) and SUPPORT not in her.lines(first)
    assert second.category == "consultation" and second.region_id == first.region_id
    assert first.status == second.status == "new" and her.state() == "idle"
    with her.db.session() as session:
        notice = session.scalars(select(OutboxMessage).where(OutboxMessage.channel_user == her.user)).all()[-1]
    assert second.reference in notice.text and "抚养费" not in notice.text
    assert _settle(her, her.now + timeout * 3) == 0, "settled once"


def test_the_worker_settles_a_question_she_never_answered(db, settings, router, worker, fake_apis):
    her = Her(db, worker.runtime.intake, now=datetime.now(timezone.utc) - timedelta(days=1))
    her.confirmed(TRAINING)
    her.say("重新开始")
    her.say(SUPPORT)
    assert worker.run_once()["questions_settled"] == 1
    first, second = her.tickets()
    assert SUPPORT in her.lines(second)
    assert worker.run_once()["questions_settled"] == 0


def test_the_job_finds_unanswered_questions_through_an_index(db, settings, router):
    # It runs on every worker round: never a scan of every woman's conversation.
    if db.dialect != "sqlite":
        pytest.skip("SQLite's query plan")
    from sqlalchemy import event

    from bot.unanswered import settle_unanswered_questions

    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("SELECT") and "FROM conversation" in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.engine.begin() as connection:
            settle_unanswered_questions(connection, Intake(router, settings).dialogue, datetime.now(timezone.utc))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    (statement, parameters), = statements
    with db.engine.connect() as connection:
        plan = [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    assert any("ix_conversation_new_or_add" in step for step in plan), plan


def test_her_next_message_after_the_timeout_finds_the_question_settled(her, settings):
    her.confirmed(TRAINING)
    her.say("重新开始")
    her.say(SUPPORT)
    her.now += timedelta(minutes=settings.dialogue.session_timeout_minutes + 1)
    answer = her.say("查询")
    first, second = her.tickets()
    assert SUPPORT in her.lines(second) and second.reference in answer and first.reference in answer


# -- 3. noise opens nothing -------------------------------------------------------------------

@pytest.mark.parametrize("noise", ["asdfghjkl", "😭😭😭", "[捂脸]", "嗯", "哦", "[捂脸][捂脸]😭"])
def test_noise_gets_a_gentle_request_and_opens_nothing(her, noise):
    answer = her.say(noise)
    assert "发生了什么" in answer and "1 咨询" not in answer
    assert "发生了什么" in her.say("1")
    assert her.tickets() == []
    assert her.state() == "idle"


def test_noise_on_an_open_ticket_is_not_reported_as_more_of_her_story(her):
    ticket = her.confirmed(GRIEVANCE)
    answer = her.say("嗯")
    assert "补充" not in answer or "直接" in answer
    assert "message_added" not in [e.action for e in her.events(ticket)]


# -- 4. safety in her words -------------------------------------------------------------------

def test_she_cannot_talk_gets_silent_options_and_a_safe_time_that_pauses_the_clocks(her):
    ticket = her.confirmed(GRIEVANCE)
    answer = her.say("我不敢打电话，他会听见")
    assert "12110" in answer and "继续在这里" in answer and "什么时间" in answer
    assert "已补充" not in answer
    assert her.state() == "ask_safe_time"
    assert "已记下" in her.say("明天上午9点以后他去上班了")
    ticket = her.ticket()
    assert ticket.safe_contact_time == "明天上午9点以后他去上班了"
    assert ticket.paused_at is not None and ticket.pause_reason == "safe_time"
    # 9:00 China time on the next day is 01:00 UTC.
    assert ticket.pause_until.replace(tzinfo=None) == datetime(2026, 3, 3, 1, 0)
    assert her.state() == "idle"


def test_silent_as_her_first_message_is_urgent_with_silent_options_then_the_questions_go_on(her):
    answer = her.say("我不敢打电话，他会听见")
    assert "110" in answer.splitlines()[0] and "12110" in answer and "什么时间" in answer
    assert "村或社区" in her.say("晚上八点")
    ticket = her.ticket()
    assert ticket.safe_contact_time == "晚上八点" and ticket.pause_reason == "safe_time"
    assert her.state() == "ask_region"


def test_silent_options_text_is_configurable(db, settings, router):
    settings.dialogue.silent_options = "不方便说话就继续在这里打字；本省可编辑短信到12110报警。"
    her = Her(db, Intake(router, settings))
    her.confirmed(GRIEVANCE)
    assert "本省可编辑短信到12110报警" in her.say("不方便说话")


def test_her_intent_to_harm_herself_gets_12356_beside_110_and_counselling(her):
    answer = her.say("我真的不想活了，活着没意思")
    first = answer.splitlines()[0]
    assert "12356" in first and "110" in first
    assert "心理" in answer
    ticket = her.ticket()
    assert ticket.urgent and ticket.subcategory == "counselling"


def test_the_first_reply_fits_the_route(her):
    sign_up = her.say(TRAINING)
    assert "您不是一个人" not in sign_up and "收到" in sign_up
    other = Her(her.db, her.intake, user="o-her-2")
    assert "您不是一个人" in other.say(GRIEVANCE)


def test_a_plain_yes_confirms_and_a_plain_no_keeps(her):
    her.say(GRIEVANCE)
    her.say("跳过")
    her.say("匿名")
    assert "已提交" in her.say("好")
    assert "确定要撤销" in her.say("撤销")
    assert "没有改动" in her.say("算了")  # 好的，什么都没有改动
    assert her.ticket().status == "new"


# -- 5. the questions, as the webhook tests walk them (tests/handlers/test_conversation.py) ----

def test_a_skipped_place_and_no_number_file_her_ticket_anonymously_at_the_default_region(her):
    her.say(GRIEVANCE)
    assert "手机号" in her.say("跳过")
    assert "匿名" in her.say("匿名")
    her.say("确认")
    ticket = her.ticket()
    assert ticket.contact_phone is None and her.region_code() == "T01"


def test_an_invalid_number_is_asked_for_again(her):
    her.say(GRIEVANCE)
    her.say("跳过")
    assert "11位手机号" in her.say("12345")
    assert "请确认" in her.say("13912345678")


def test_an_ambiguous_place_offers_choices_and_her_number_picks_one(her):
    with her.db.transaction() as session:
        county = Region.by_code(session, "T01")
        town_a = Region.create(session, "TA", "东风镇", "town", county)
        town_b = Region.create(session, "TB", "红星镇", "town", county)
        Region.create(session, "TA1", "东风村", "village", town_a)
        Region.create(session, "TB1", "东风村", "village", town_b)
    her.say(GRIEVANCE)
    options = her.say("东风村")
    assert "东风镇东风村" in options and "红星镇东风村" in options
    assert "手机号" in her.say("2")
    assert her.region_code() == "TB1"


def test_a_location_at_the_place_question_answers_it(her):
    her.say(GRIEVANCE)
    answer = her.send("location", latitude=23.1, longitude=113.3, label="测试市测试县测试社区东门")
    assert "手机号" in answer
    assert her.region_code() == "T010101" and her.state() == "ask_contact"


def test_a_location_as_her_first_message_is_kept_and_the_conversation_goes_on(her):
    assert "位置已收到" in her.send("location", latitude=23.1, longitude=113.3, label="测试社区东门")
    assert her.tickets() == []
    assert "工单号" in her.say(GRIEVANCE)
    (ticket,) = her.tickets()
    assert ticket.reference
