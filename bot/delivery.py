"""Delivering the outbox: messages to women sent after the passive reply.

Each row is claimed with a conditional UPDATE (pending → sending) in its own short
transaction, so two workers never take the same row; the send happens outside any
transaction; the result is written in a third. A send that went out and got no answer
(a read timeout, a connection dropped while waiting) and a row left in `sending` (the
process died mid-send) are never sent again, since they may have arrived: they are
marked `unknown` on the ticket for a caseworker to check. Sends that never left (a refused
connection) are retried with doubling delays; permanent failures (WeChat errcode 45015:
the 48-hour window is closed) fail at once, shown on the ticket. Up to
`worker.send_concurrency` sends run at once, each bounded by `worker.send_timeout_seconds`,
so one hanging API delays only its own messages.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from bot.channels import DeliveryError, channel, channels
from bot.channels.base import Sender
from bot.settings import Settings
from models import Database, OutboxMessage, utcnow

log = logging.getLogger(__name__)

_OUTBOX = OutboxMessage.__table__
_EARLIER = _OUTBOX.alias("earlier")
# Sends run side by side, but hers go one at a time and in order, whichever process
# sends them: a row is claimed only while none of hers is being sent or waits before it.
_AHEAD_OF_IT = (
    select(_EARLIER.c.id)
    .where(
        _EARLIER.c.channel == _OUTBOX.c.channel,
        _EARLIER.c.channel_user == _OUTBOX.c.channel_user,
        _EARLIER.c.id != _OUTBOX.c.id,
        or_(_EARLIER.c.status == "sending", and_(_EARLIER.c.status == "pending", _EARLIER.c.id < _OUTBOX.c.id)),
    )
    .exists()
)

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
        self._senders_lock = threading.Lock()

    def sender(self, name: str) -> Sender:
        with self._senders_lock:
            if name not in self._senders:
                self._senders[name] = channel(name).sender(self.settings)
            return self._senders[name]

    def deliver_due(self, now: datetime | None = None, limit: int = 500) -> int:
        """Send what is due, up to `worker.send_concurrency` at once; the number of rows handled.

        A slot is refilled as soon as its send finishes, so a send hanging until its
        timeout holds one slot, not the messages queued behind it.
        """
        now = now or utcnow()
        self._give_up_on_stuck(now)
        slots = max(1, self.settings.worker.send_concurrency)
        handled, running, exhausted = 0, set(), False
        with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="niangjia-send") as pool:
            while True:
                while not exhausted and len(running) < slots and handled < limit:
                    due = self._due_ids(now, min(slots - len(running), limit - handled))
                    started = 0
                    for row_id in due:
                        item = self._claim(row_id, now)
                        if item is not None:  # None: another worker took it
                            running.add(pool.submit(self._send_and_settle, item))
                            handled += 1
                            started += 1
                    if not started:
                        # Nothing claimable now: when one of our sends ends (hers next in
                        # line may be due then) look again; with none running, this round is done.
                        exhausted = not running
                        break
                if not running:
                    return handled
                _, running = wait(running, return_when=FIRST_COMPLETED)

    def _send_and_settle(self, item: OutboxMessage) -> None:
        try:
            self._settle(item.id, self._send(item), utcnow())
        except Exception as exc:  # e.g. the database gone between send and settle: the lease catches it
            log.error("outbox %d: settling failed (%s)", item.id, type(exc).__name__)

    def _due_ids(self, now: datetime, limit: int) -> list[int]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(OutboxMessage.id)
                    .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now, ~_AHEAD_OF_IT)
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(limit)
                )
            )

    def _claim(self, row_id: int, now: datetime) -> OutboxMessage | None:
        with self.write_lock, self.db.transaction() as session:
            claimed = session.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == row_id, _OUTBOX.c.status == "pending", ~_AHEAD_OF_IT)
                .values(status="sending", attempts=_OUTBOX.c.attempts + 1, next_attempt_at=now)
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
            if error.unknown:
                self._mark_unknown(item, f"{UNKNOWN_OUTCOME}（{error}）")
                return
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
                self._mark_unknown(item, UNKNOWN_OUTCOME)

    @staticmethod
    def _mark_unknown(item: OutboxMessage, why: str) -> None:
        """It may have arrived: never sent again by itself; shown on the ticket for a person."""
        item.status, item.last_error = "unknown", why
        if item.ticket is not None:
            item.ticket.record("delivery_unknown", outbox_id=item.id, error=why)
        log.warning("outbox %d on %s: outcome unknown, left for a person to check", item.id, item.channel)
