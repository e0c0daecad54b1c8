"""The /telegram webhook: the secret header, exactly-once updates, answers by sendMessage."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import InboundReceipt, Message, OutboxMessage, Ticket
from tests.telegram import update

GRIEVANCE = "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下"


def count(db, model, *where) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_grievance_opens_a_ticket_and_the_answer_goes_out_by_send_message(telegram, worker, fake_apis, db):
    response = telegram.send_text(42, GRIEVANCE)
    assert response.status_code == 200
    worker.run_once()
    with db.session() as session:
        ticket = session.scalar(select(Ticket))
    assert (ticket.channel, ticket.channel_user, ticket.category) == ("telegram", "42", "mediation")
    [sent] = fake_apis.telegram_sent
    assert sent["chat_id"] == 42 and ticket.reference in sent["text"]
    assert count(db, OutboxMessage, OutboxMessage.status == "sent") == 1


@pytest.mark.parametrize("secret", [None, "wrong", ""])
def test_missing_or_wrong_secret_is_403_and_stores_nothing(telegram, db, secret):
    assert telegram.post(update(42, GRIEVANCE), secret=secret).status_code == 403
    assert count(db, Message) == 0 and count(db, InboundReceipt) == 0


def test_retried_update_is_handled_once(telegram, worker, fake_apis, db):
    payload = update(43, GRIEVANCE, update_id=777)
    assert [telegram.post(payload).status_code for _ in range(3)] == [200, 200, 200]
    worker.run_once()
    assert count(db, Ticket) == 1 and count(db, InboundReceipt) == 1
    assert len(fake_apis.telegram_sent) == 1


def test_repeated_ids_are_found_even_when_lower_than_the_last(telegram, db):
    # After a week of silence Telegram's next id is random: never dedupe by "greater than".
    telegram.post(update(44, "你好", update_id=900))
    telegram.post(update(44, "请问协议离婚要带什么材料", update_id=100))
    assert count(db, InboundReceipt) == 2


def test_start_command_gets_the_welcome(telegram, worker, fake_apis):
    telegram.send_text(45, "/start")
    worker.run_once()
    assert "欢迎" in fake_apis.telegram_sent[0]["text"]


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", b'{"message": {}}', b'{"update_id": "x"}', b'{"update_id": 1, "message": {"chat": {}}}',
     b'{"update_id": 2, "message": {"chat": {"id": "abc"}, "date": 1, "text": "x"}}'],
)
def test_malformed_updates_are_400(telegram, db, raw):
    assert telegram.post(None, raw=raw).status_code == 400
    assert count(db, InboundReceipt) == 0


def test_updates_without_a_message_are_acknowledged_and_ignored(telegram, db):
    response = telegram.post({"update_id": 5, "edited_message": {"chat": {"id": 1}, "date": 1, "text": "x"}})
    assert response.status_code == 200
    assert count(db, Ticket) == 0


def test_photo_attaches_to_her_open_ticket(telegram, db):
    telegram.send_text(46, GRIEVANCE)
    photo = [{"file_id": "small", "width": 90, "height": 90}, {"file_id": "large", "width": 800, "height": 800}]
    telegram.post(update(46, None, photo=photo))
    with db.session() as session:
        image = session.scalar(select(Message).where(Message.kind == "image"))
        assert image.media_id == "large" and image.ticket_id is not None


def test_blocked_bot_surfaces_as_a_failed_delivery(telegram, worker, fake_apis, db):
    fake_apis.telegram_blocked.add(47)
    telegram.send_text(47, GRIEVANCE)
    worker.run_once()
    with db.session() as session:
        item = session.scalar(select(OutboxMessage))
        assert item.status == "failed" and "403" in item.last_error
        ticket = session.scalar(select(Ticket))
        assert "delivery_failed" in [e.action for e in ticket.events]


@pytest.mark.parametrize("text", ["/start", "/start@niangjia_bot", "/start from-poster"])
def test_start_command_variants_all_welcome(telegram, worker, fake_apis, text):
    telegram.send_text(48, text)
    worker.run_once()
    assert "欢迎" in fake_apis.telegram_sent[-1]["text"]
