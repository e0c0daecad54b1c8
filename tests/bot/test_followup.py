"""Follow-up (回访): resolved tickets are asked about; "not solved" reopens; silence closes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from bot import followup
from models import FollowUp, Ticket, utcnow
from models.desk import Desk
from tests.bot.her import GRIEVANCE


def resolve(db, user):
    """What a caseworker's resolution does to the ticket (the staff pages do this for real)."""
    with db.transaction() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.channel_user == user))
        ticket.status, ticket.resolved_at = "resolved", utcnow()
        ticket.record("resolved")


def ticket_of(db, user) -> Ticket:
    with db.session() as session:
        return session.scalar(select(Ticket).where(Ticket.channel_user == user))


def confirmed_ticket(telegram, worker, chat_id):
    for text in (GRIEVANCE, "跳过", "匿名", "确认"):
        telegram.send_text(chat_id, text)
    worker.run_once()


def test_not_solved_reopens_and_solved_with_satisfaction_closes(telegram, worker, fake_apis, db):
    confirmed_ticket(telegram, worker, 7001)
    resolve(db, "7001")
    assert worker.run_once()["follow_ups_asked"] == 1
    question = fake_apis.telegram_sent[-1]["text"]
    assert ticket_of(db, "7001").reference in question and "解决了吗" in question
    assert worker.run_once()["follow_ups_asked"] == 0, "asked once per resolution"

    telegram.send_text(7001, "2")
    worker.run_once()
    assert ticket_of(db, "7001").status == "new"
    assert "重新交给" in fake_apis.telegram_sent[-1]["text"]

    resolve(db, "7001")
    worker.run_once()
    telegram.send_text(7001, "1")
    worker.run_once()
    assert "满意" in fake_apis.telegram_sent[-1]["text"]
    assert ticket_of(db, "7001").status == "resolved", "nothing closes before she rates it"
    telegram.send_text(7001, "2")
    worker.run_once()
    ticket = ticket_of(db, "7001")
    assert ticket.status == "closed" and ticket.closed_at is not None
    with db.session() as session:
        rounds = session.scalars(select(FollowUp).where(FollowUp.ticket_id == ticket.id).order_by(FollowUp.id)).all()
    assert [(f.solved, f.satisfaction) for f in rounds] == [(False, None), (True, "basically_satisfied")]


def test_unanswered_follow_up_closes_the_ticket_recording_it(telegram, worker, fake_apis, db, settings):
    confirmed_ticket(telegram, worker, 7002)
    resolve(db, "7002")
    worker.run_once()
    with db.transaction() as session:
        session.execute(
            update(FollowUp).values(asked_at=utcnow() - timedelta(hours=settings.dialogue.followup_timeout_hours + 1))
        )
    assert worker.run_once()["follow_ups_closed"] == 1
    ticket = ticket_of(db, "7002")
    assert ticket.status == "closed"
    with db.session() as session:
        follow_up = session.scalar(select(FollowUp))
        assert follow_up.expired and follow_up.solved is None
        assert session.get(Ticket, ticket.id).events[-1].detail == {"reason": "follow-up unanswered"}


def test_follow_up_waits_while_she_is_in_the_middle_of_another_intake(telegram, worker, fake_apis, db):
    confirmed_ticket(telegram, worker, 7003)
    resolve(db, "7003")
    telegram.send_text(7003, "我想报名参加育婴师培训")  # a new problem: questions pending
    assert worker.run_once()["follow_ups_asked"] == 0


def test_a_follow_up_settled_elsewhere_is_not_settled_again(telegram, worker, fake_apis, db):
    """Two service processes' jobs, or her answer racing the expiry: the ticket closes once."""
    confirmed_ticket(telegram, worker, 7004)
    resolve(db, "7004")
    worker.run_once()
    with db.session() as session:
        follow_up_id = session.scalar(select(FollowUp.id))
    with db.engine.connect() as late:
        stale = Desk(late).follow_up(follow_up_id)  # read while it was still pending
        late.rollback()
        telegram.send_text(7004, "1")
        telegram.send_text(7004, "满意")  # she answers; the ticket closes
        with late.begin():
            stale.expire(utcnow())
            stale.ticket.desk.save()
    ticket = ticket_of(db, "7004")
    with db.session() as session:
        closings = [e for e in session.get(Ticket, ticket.id).events if e.action == "closed"]
        follow_up = session.get(FollowUp, follow_up_id)
    assert len(closings) == 1 and closings[0].detail == {"satisfaction": "satisfied"}
    assert follow_up.solved and not follow_up.expired


def test_the_job_reads_resolved_tickets_oldest_first_from_an_index(db):
    # Otherwise SQLite sorted every resolved ticket, or scanned a million, on every worker
    # round and inside the writer's turn: the webhook's p99 at 1,000,000 rows (bench/README.md).
    if db.dialect != "sqlite":
        pytest.skip("SQLite's query plan")
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "resolved_at" in statement and statement.lstrip().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.transaction() as session:
            followup.ask_resolved(session, utcnow())
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    (statement, parameters), = statements
    with db.engine.connect() as connection:
        plan = [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    assert not any(step.startswith("SCAN ticket") or "TEMP B-TREE" in step for step in plan), plan
