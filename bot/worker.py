"""The background worker: outbox deliveries, the follow-up job and the SLA sweep, in a loop.

`niangjia worker` runs it as its own process; in the embedded default it runs as a
thread inside each service process (rows are claimed atomically, so several may run).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from bot import followup, sla, unanswered
from bot.delivery import Courier
from bot.media import MediaKeeper, fetchers_for
from bot.notify import AlertCourier
from bot.runtime import Runtime
from models import utcnow

log = logging.getLogger(__name__)

SWEEP_EVERY = timedelta(minutes=1)


class Worker:
    def __init__(self, runtime: Runtime, courier: Courier | None = None) -> None:
        self.runtime = runtime
        self.courier = courier or Courier(runtime.db, runtime.settings, write_lock=runtime.write_lock)
        self.stopping = threading.Event()
        self._swept_at: datetime | None = None
        self.alerts = AlertCourier(runtime.db, runtime.settings, write_lock=runtime.write_lock)
        # Her images and voice, fetched before WeChat deletes them, and Telegram's (bot/media.py).
        fetchers = fetchers_for(runtime.settings)
        self.media = MediaKeeper(runtime.db, runtime.settings, runtime.write_lock, fetchers=fetchers) if fetchers else None

    def sweep_if_due(self, now: datetime) -> dict[str, int]:
        """The SLA sweep (bot/sla.py), at most once a minute per worker."""
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY:
            return {}
        self._swept_at = now
        return sla.sweep(self.runtime.db, self.runtime.settings, now, write_lock=self.runtime.write_lock)

    def run_once(self) -> dict[str, int]:
        """One round: replay the spool, start and close follow-ups, sweep the clocks (once a
        minute), then deliver what is due: messages to women and alerts to staff."""
        # First, and whether or not the database answers: /readyz reads the heartbeat.
        self.runtime.spool.beat()
        replayed = self.runtime.replay_spool()
        self.runtime.refresh_lexicon()
        now = utcnow()
        timeout = timedelta(hours=self.runtime.settings.dialogue.followup_timeout_hours)
        with self.runtime.write_lock, self.runtime.db.transaction() as session:
            asked = followup.ask_resolved(session, now)
        with self.runtime.db.writing(self.runtime.write_lock) as connection:
            closed = followup.close_unanswered(connection, now, timeout)
        with self.runtime.db.writing(self.runtime.write_lock) as connection:
            questions = unanswered.settle_unanswered_questions(connection, self.runtime.intake.dialogue, now)
        swept = self.sweep_if_due(now)
        delivered = self.courier.deliver_due()
        notified = self.alerts.deliver_due()
        kept = self.media.keep_due(now) if self.media is not None else 0
        return {"media_kept": kept, "replayed": replayed, "alerts_sent": notified, "follow_ups_asked": asked, "follow_ups_closed": closed,
                "questions_settled": questions,
                "delivered": delivered, "escalated": swept.get("escalated", 0), "reminded": swept.get("reminded", 0)}

    def run_forever(self) -> None:
        poll = self.runtime.settings.worker.poll_seconds
        while not self.stopping.is_set():
            try:
                self.run_once()
            except Exception as exc:  # keep going: the next round may well succeed
                log.error("worker round failed: %s", type(exc).__name__)
            # Woken early when this process queues something (a Telegram answer).
            self.runtime.outbox_ready.wait(timeout=poll)
            self.runtime.outbox_ready.clear()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="niangjia-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
        self.runtime.outbox_ready.set()
