"""A woman's chat driven straight into the engine (`Intake.receive`) against the test's
real database, without HTTP: shared by the engine tests of bot/intake.py and bot/dialogue.py."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot.inbound import Answer, Inbound
from bot.intake import Intake
from models import Conversation, Message, Ticket, TicketEvent

TRAINING = "我想报名参加家政培训"
SUPPORT = "孩子抚养费他一直不给，我想起诉他"
GRIEVANCE = "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下"
_ids = itertools.count(1)


class Her:
    """One woman's chat with the engine: each `say` is one delivery, in its own transaction."""

    def __init__(
        self, db, intake: Intake, user: str = "o-her-1", now: datetime | None = None, channel: str = "wechat",
    ) -> None:
        self.db, self.intake, self.user, self.channel = db, intake, user, channel
        self.now = now or datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)

    def deliver(self, kind: str = "text", message_id: str | None = None, **fields) -> Answer:
        """One delivery (a new message id unless `message_id` repeats one), as the webhook
        hands it to the engine: in its own transaction, committed after the answer."""
        self.now += timedelta(seconds=30)
        inbound = Inbound(self.channel, self.user, kind, message_id or f"m{next(_ids)}", self.now, **fields)
        with self.db.engine.begin() as connection:
            return self.intake.receive(connection, inbound, now=self.now)

    def send(self, kind: str = "text", **fields) -> str:
        return self.deliver(kind, **fields).text or ""

    def say(self, text: str) -> str:
        return self.send(text=text)

    def tickets(self) -> list[Ticket]:
        with self.db.session() as session:
            return list(session.scalars(select(Ticket).where(Ticket.channel_user == self.user).order_by(Ticket.id)))

    def ticket(self) -> Ticket:
        (ticket,) = self.tickets()
        return ticket

    def region_name(self) -> str:
        with self.db.session() as session:
            return session.scalar(select(Ticket).where(Ticket.channel_user == self.user)).region.name

    def region_code(self) -> str:
        with self.db.session() as session:
            return session.scalar(select(Ticket).where(Ticket.channel_user == self.user)).region.code

    def state(self) -> str:
        with self.db.session() as session:
            return session.scalar(select(Conversation.state).where(Conversation.channel_user == self.user))

    def events(self, ticket: Ticket) -> list[TicketEvent]:
        with self.db.session() as session:
            return list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)))

    def lines(self, ticket: Ticket) -> list[str]:
        with self.db.session() as session:
            return list(session.scalars(
                select(Message.text).where(Message.ticket_id == ticket.id, Message.direction == "in").order_by(Message.id)
            ))

    def confirmed(self, problem: str) -> Ticket:
        """She tells a problem and goes through the questions to a confirmed ticket."""
        self.say(problem)
        self.say("跳过")
        self.say("匿名")
        assert "已提交" in self.say("确认")
        return self.tickets()[-1]
