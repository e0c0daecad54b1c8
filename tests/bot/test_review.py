"""Her messages that never became tickets are sampled for review (issue 17): each way a
message ends without a ticket, numbers masked, filed in her region, at the configured share,
and gone when she asks to be erased."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.inbound import Inbound
from bot.intake import Intake
from bot.review import chosen
from models import Region, ReviewSample
from models.retention import anonymise
from tests.bot.test_dialogue import GRIEVANCE, Her

_ids = itertools.count(1)


@pytest.fixture
def her(db, settings, router) -> Her:
    settings.learning.review_sample_rate = 1.0
    return Her(db, Intake(router, settings), user=f"o-review-{next(_ids)}")


def samples(db) -> list[ReviewSample]:
    with db.session() as session:
        rows = list(session.scalars(select(ReviewSample).order_by(ReviewSample.id)))
        for row in rows:
            row.region_code = row.region.code
        return rows


def texts(db) -> list[str]:
    """The samples a supervisor of the whole grid would be shown."""
    with db.session() as session:
        return [s.text for s in session.scalars(
            select(ReviewSample).where(~ReviewSample.joined_a_case()).order_by(ReviewSample.id))]


# -- every way a message ends without a ticket ---------------------------------------------

@pytest.mark.parametrize("said", ["你好", "asdfghjkl", "[捂脸][捂脸]😭"])
def test_a_greeting_or_noise_is_sampled_with_the_routers_guess(her, db, said):
    answer = her.say(said)
    assert ("发生了什么" in answer or "1 咨询" in answer) and her.tickets() == []
    (sample,) = samples(db)
    assert sample.text == said and sample.guess_category == "other" and not sample.guess_urgent
    assert sample.category is None and sample.labelled_at is None
    assert sample.region_code == "T01"  # intake.default_region: where her ticket would have landed


def test_a_message_routed_other_gets_the_menu_and_is_sampled(her, db):
    answer = her.say("你好，想问点事情")
    assert "1 咨询" in answer and her.tickets() == [] and her.state() == "idle"
    assert texts(db) == ["你好，想问点事情"]
    assert 0.0 <= samples(db)[0].confidence <= 1.0


def test_a_command_with_nothing_behind_it_is_sampled(her, db):
    her.say("查询")
    assert her.tickets() == [] and texts(db) == ["查询"]


def test_declining_a_question_she_was_asked_is_sampled(her, db):
    her.say("删除我的信息")
    her.say("不用了")  # the erasure kept: nothing erased
    assert texts(db)[-1] == "不用了"


def test_a_message_that_opens_or_joins_a_ticket_is_never_sampled(her, db):
    ticket = her.confirmed(GRIEVANCE)
    her.say("嗯")  # noise on her open ticket is kept on it
    her.say("补充：她今天又骂我了")
    assert ticket.reference and her.state() == "idle"
    assert samples(db) == []


def test_phone_and_id_numbers_are_masked_as_in_a_correction(her, db):
    her.say("你好，想问点事情，电话13812345678，身份证110101199003071234")
    (sample,) = samples(db)
    assert "13812345678" not in sample.text and "110101199003071234" not in sample.text
    assert "［手机号］" in sample.text and "［身份证号］" in sample.text


def test_a_sample_is_filed_in_the_region_of_her_latest_ticket(her, db):
    her.confirmed(GRIEVANCE)
    with db.transaction() as session:
        (ticket,) = her.tickets()
        session.merge(ticket).region = Region.by_code(session, "T02")
    her.say("查询")
    assert [(s.text, s.region_code) for s in samples(db)] == [("查询", "T02")]


def test_her_erasure_removes_her_samples(her, db, settings, router):
    her.say("你好")
    other = Her(db, Intake(router, settings), user="o-review-someone-else")
    other.say("你好")
    assert len(samples(db)) == 2
    her.say("删除我的信息")
    assert "删除" in her.say("确认")
    assert [s.text for s in samples(db)] == ["你好"]  # only the other woman's
    with db.session() as session:
        assert session.scalar(select(ReviewSample.message_id)) is not None


# -- the share -----------------------------------------------------------------------------

def test_the_share_is_respected_and_fixed_per_message(db, settings, router):
    settings.learning.review_sample_rate = 0.3
    intake = Intake(router, settings)
    ids = [f"rate-{n}" for n in range(120)]
    her = Her(db, intake, user="o-review-rate")
    for message_id in ids:
        with db.engine.begin() as connection:
            intake.receive(connection, Inbound("wechat", her.user, "text", message_id, her.now, text="你好"), now=her.now)
    expected = [m for m in ids if chosen("wechat", m, 0.3)]
    assert len(samples(db)) == len(expected)
    assert 0.15 * len(ids) < len(expected) < 0.45 * len(ids)
    # A redelivery of a sampled message is answered as before and sampled no second time.
    with db.engine.begin() as connection:
        intake.receive(connection, Inbound("wechat", her.user, "text", expected[0], her.now, text="你好"), now=her.now)
    assert len(samples(db)) == len(expected)


def test_a_share_of_nothing_samples_nothing(db, settings, router):
    settings.learning.review_sample_rate = 0.0
    her = Her(db, Intake(router, settings), user="o-review-none")
    her.say("你好")
    her.say("查询")
    assert samples(db) == []


def test_the_choice_is_a_fixed_share_of_message_ids():
    ids = [f"m{n}" for n in range(2000)]
    for rate in (0.05, 0.5):
        share = sum(chosen("telegram", m, rate) for m in ids) / len(ids)
        assert abs(share - rate) < 0.04
    assert all(chosen("wechat", m, 1.0) for m in ids[:50])
    assert chosen("wechat", "m7", 0.5) == chosen("wechat", "m7", 0.5)


# -- lines that waited for her 1/2/3 choice -----------------------------------------------

def test_lines_left_waiting_when_she_cancels_are_sampled_with_the_cancel(her, db):
    her.say("今天天气怎么样")
    her.say("明天呢")
    assert her.state() == "choose_route"
    her.say("取消")
    assert her.tickets() == []
    assert texts(db) == ["今天天气怎么样", "明天呢", "取消"]


def test_lines_left_waiting_when_the_conversation_expires_are_sampled(her, db):
    her.say("今天天气怎么样")
    her.now += timedelta(hours=2)
    her.say(GRIEVANCE)  # a fresh start: this opens her ticket, the old line stays loose
    (ticket,) = her.tickets()
    assert "今天天气怎么样" not in her.lines(ticket)
    assert texts(db) == ["今天天气怎么样"]


def test_lines_that_waited_and_joined_her_ticket_are_not_shown_and_retention_deletes_them(her, db):
    her.say("今天天气怎么样")
    her.say("1")
    (ticket,) = her.tickets()
    assert "今天天气怎么样" in her.lines(ticket)
    assert texts(db) == [] and len(samples(db)) == 1
    with db.transaction() as session:
        assert anonymise(session, her.now - timedelta(days=365), her.now).review_samples == 1
    assert samples(db) == []


# -- through the channels, as the webhooks deliver them ------------------------------------

def test_greetings_through_wechat_and_telegram_are_sampled_once_each(wechat, telegram, db, settings):
    settings.learning.review_sample_rate = 1.0
    wechat.send_text("o-review-wechat", "你好，想问点事情，电话13812345678")
    telegram.send_text(4242, "你好")
    assert sorted(texts(db)) == sorted(["你好，想问点事情，电话［手机号］", "你好"])
