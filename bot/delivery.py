"""Delivering the outbox: messages to women sent after the passive reply.

Each row is claimed with a conditional UPDATE (pending → sending) in its own short
transaction, so two workers never take the same row; the send happens outside any
transaction; the result is written in a third. A row left in `sending` (the process died
mid-send) is never sent again, since it may have arrived: it is marked failed for a
caseworker to check. Transient errors are retried with doubling delays; permanent ones
(WeChat errcode 45015: the 48-hour window is closed) fail at once, shown on the ticket.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.channels import DeliveryError, channel, channels
from bot.channels.base import Sender
from bot.settings import Settings
from models import Database, OutboxMessage, utcnow

log = logging.getLogger(__name__)

# A row in `sending` for longer than this belongs to a process that died mid-send.
SENDING_LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
UNKNOWN_OUTCOME = "发送中断，对方可能已收到也可能没有：请核实后决定是否重发"


class Courier:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        senders: dict[str, Sender] | None = None,
        write_lock: AbstractContextManager | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self._senders = dict(senders or {})
        # The process's turn at the database's writer (see Runtime.write_lock).
        self.write_lock = write_lock or nullcontext()

    def sender(self, name: str) -> Sender:
        if name not in self._senders:
            self._senders[name] = channel(name).sender(self.settings)
        return self._senders[name]

    def deliver_due(self, now: datetime | None = None, limit: int = 50) -> int:
        """Send what is due; the number of rows handled."""
        now = now or utcnow()
        self._give_up_on_stuck(now)
        handled = 0
        for row_id in self._due_ids(now, limit):
            item = self._claim(row_id, now)
            if item is None:
                continue  # another worker took it
            error = self._send(item)
            self._settle(item.id, error, utcnow())
            handled += 1
        return handled

    def _due_ids(self, now: datetime, limit: int) -> list[int]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(OutboxMessage.id)
                    .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(limit)
                )
            )

    def _claim(self, row_id: int, now: datetime) -> OutboxMessage | None:
        with self.write_lock, self.db.transaction() as session:
            claimed = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.status == "pending")
                .values(status="sending", attempts=OutboxMessage.attempts + 1, next_attempt_at=now)
            ).rowcount
            if claimed != 1:
                return None
            item = session.get(OutboxMessage, row_id)
            session.expunge(item)
            return item

    def _send(self, item: OutboxMessage) -> DeliveryError | None:
        if item.channel not in channels():
            return DeliveryError(f"未知渠道 {item.channel}", permanent=True)
        if not self.settings.production and item.channel_user.startswith("sim-"):
            return None  # the chat simulator reads its messages from the transcript
        try:
            self.sender(item.channel).send(item.channel_user, item.text)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a bug in a sender must not kill the worker
            log.error("sender for %s raised %s", item.channel, type(exc).__name__)
            return DeliveryError(f"发送出错（{type(exc).__name__}）")
        return None

    def _settle(self, row_id: int, error: DeliveryError | None, now: datetime) -> None:
        with self.write_lock, self.db.transaction() as session:
            item = session.get(OutboxMessage, row_id)
            if error is None:
                item.status, item.sent_at, item.last_error = "sent", now, ""
                if item.ticket is not None and item.message.author_id is not None:
                    item.ticket.reached(now)
                log.info("outbox %d delivered on %s", item.id, item.channel)
                return
            item.last_error = str(error)
            if error.permanent or item.attempts >= self.settings.worker.max_attempts:
                item.status = "failed"
                if item.ticket is not None:
                    item.ticket.record("delivery_failed", outbox_id=item.id, error=str(error))
                log.warning("outbox %d failed on %s after %d attempts", item.id, item.channel, item.attempts)
                return
            delay = timedelta(seconds=self.settings.worker.backoff_seconds * 2 ** (item.attempts - 1))
            if error.retry_after:
                delay = max(delay, timedelta(seconds=float(error.retry_after)))
            item.status, item.next_attempt_at = "pending", now + min(delay, MAX_BACKOFF)
            log.info("outbox %d on %s will be retried (attempt %d)", item.id, item.channel, item.attempts)

    def _give_up_on_stuck(self, now: datetime) -> None:
        with self.write_lock, self.db.transaction() as session:
            stuck = session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.status == "sending", OutboxMessage.next_attempt_at < now - SENDING_LEASE
                )
            ).all()
            for item in stuck:
                item.status, item.last_error = "failed", UNKNOWN_OUTCOME
                if item.ticket is not None:
                    item.ticket.record("delivery_failed", outbox_id=item.id, error=UNKNOWN_OUTCOME)
