"""Everything a process needs to serve women: settings, database, router, channels.

Built once per process (the web app, the CLI, a worker) and shared by its threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import cached_property
from typing import Any

from sqlalchemy import Connection

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

from bot import metrics, replies
from bot.channels import channels
from bot.channels.base import Endpoint
from bot.freshness import NonceStore, nonce_store
from bot.inbound import Answer, Inbound
from bot.intake import Intake
from bot.learning import ModelWatcher
from bot.routing import Route, Router
from bot.settings import Settings
from bot.spool import Spool
from bot.tuning import LexiconWatcher
from models import Database, utcnow
from models.db import ProcessLane

log = logging.getLogger(__name__)

# A delivery that collides with a concurrent one (two first messages from the same new
# user, a lock timeout) is tried again from the start, in a fresh transaction.
DELIVERY_ATTEMPTS = 3

# A webhook's checks before the engine reads her message (see Runtime.deliver): given the
# delivery's connection, or None outside any transaction; non-None turns the message away.
Gate = Callable[[Connection | None], Any]


class Runtime:
    def __init__(self, settings: Settings, router: Router | None = None, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or Database(settings.database_url, echo=settings.database.echo)
        # Set when this process queued an outbox message, to wake its worker thread.
        self.outbox_ready = threading.Event()
        # On SQLite the webhook and worker threads, and the other processes, take turns
        # at the one writer here rather than in SQLite's busy handler (models.db.WriterTurn).
        self.write_lock = self.db.write_lock
        # The webhook's deliveries, one at a time in a process on SQLite (models.db.ProcessLane);
        # side by side on PostgreSQL, where a delivery waits on the network, not on one writer.
        self.delivery_lane: AbstractContextManager[Any] = (
            ProcessLane() if self.db.dialect == "sqlite" else nullcontext()
        )
        if router is not None:
            self.__dict__["router"] = router

    @cached_property
    def router(self) -> Router:
        """The router, its jieba dictionary loaded once per process."""
        started = time.perf_counter()
        router = Router.from_files(self.settings.lexicon_path, self.settings.userdict_path)
        log.info("router ready in %.2fs", time.perf_counter() - started)
        self.__dict__["router"] = router
        self.refresh_lexicon()
        return router

    @cached_property
    def lexicon_watcher(self) -> LexiconWatcher:
        return LexiconWatcher(self.router)

    @cached_property
    def model_watcher(self) -> ModelWatcher:
        return ModelWatcher(self.router, self.router.model)

    def refresh_lexicon(self) -> bool:
        """Put the router on the newest lexicon revision and routing model supervisors installed, if any."""
        try:
            # Only reads: on SQLite it takes no writer's lock (a first request that loads the
            # router while its own session holds that lock would otherwise wait for itself).
            with self.db.reader() as session:
                changed = self.lexicon_watcher.refresh(session)
                return self.model_watcher.refresh(session) or changed
        except SQLAlchemyError as exc:  # e.g. a database not migrated yet
            log.debug("lexicon revisions not readable: %s", type(exc).__name__)
            return False

    @cached_property
    def intake(self) -> Intake:
        return Intake(self.router, self.settings)

    @cached_property
    def _endpoints(self) -> dict[str, Endpoint]:
        return {name: channel.endpoint(self.settings) for name, channel in channels().items()}

    @cached_property
    def nonces(self) -> NonceStore:
        """Where signed (timestamp, nonce) pairs are remembered, shared by every process."""
        return nonce_store(self.settings, self.db)

    def endpoint(self, channel: str) -> Endpoint:
        """The webhook protocol of `channel`, built once."""
        return self._endpoints[channel]

    @cached_property
    def spool(self) -> Spool:
        return Spool(self.settings.spool_path)

    def deliver(self, inbound: Inbound, gate: Gate | None = None) -> Answer | Any:
        """Run one inbound message through the engine in one transaction, and answer it.

        Never raises. A message the database cannot take is journaled in the spool and
        acknowledged (an urgent one with the safety guidance); the worker replays it.
        Only if the journal cannot be written either is she told to send it again.

        `gate`: the webhook's checks (a seen nonce, her rate) run first in the same
        transaction, or on their own (`None`) when the message goes to the spool instead;
        whatever it returns other than None is returned at once, the message not stored.
        """
        route = None
        if self.spool.holds(inbound.channel, inbound.user):
            # Earlier messages of hers wait in the spool: this one queues behind them.
            turned = gate(None) if gate is not None else None
            return turned if turned is not None else self._journal(inbound, self.intake.route_ahead(inbound))
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            try:
                # Routed outside the writer's turn, once for all attempts.
                route = route or self.intake.route_ahead(inbound)
                turned = None
                with self.db.writing(self.write_lock) as connection:
                    if gate is not None:
                        turned = gate(connection)
                    if turned is None:
                        answer = self.intake.receive(connection, inbound, route=route)
                if turned is not None:
                    return turned
                if answer.text and not channels()[inbound.channel].passive_replies:
                    self.outbox_ready.set()
                if not answer.duplicate:
                    metrics.message_in(inbound.channel, route.category if route else None, bool(route and route.urgent))
                return answer
            except (IntegrityError, DBAPIError) as exc:
                retry = attempt < DELIVERY_ATTEMPTS and (
                    isinstance(exc, IntegrityError) or exc.connection_invalidated or _is_transient(exc)
                )
                log.warning(
                    "delivery on %s failed (%s, attempt %d)%s",
                    inbound.channel, type(exc.orig).__name__, attempt, ", retrying" if retry else "",
                )
                if not retry:
                    break
            except Exception as exc:
                log.error("delivery on %s failed: %s", inbound.channel, type(exc).__name__, exc_info=_debug())
                break
        if gate is not None:
            # What the failed transaction wrote of the gate's is gone: written again on its own.
            turned = gate(None)
            if turned is not None:
                return turned
        return self._journal(inbound, route)

    def _journal(self, inbound: Inbound, route: Route | None) -> Answer:
        """Keep the message in the spool and acknowledge it: nothing here needs the database."""
        try:
            self.spool.put(inbound, utcnow())
        except OSError as exc:
            log.error("delivery on %s could not be journaled either: %s", inbound.channel, type(exc).__name__)
            metrics.fallback_reply(inbound.channel)
            return Answer(replies.FALLBACK)
        log.warning("delivery on %s journaled in the spool for replay", inbound.channel)
        if inbound.kind == "event":
            text = replies.WELCOME if inbound.event in ("subscribe", "start") else None
        else:
            text = replies.URGENT_RECEIVED if route is not None and route.urgent else replies.RECEIVED
        return Answer(text, spooled=True)

    def replay_spool(self) -> int:
        """Store journaled messages in arrival order; how many were stored.

        Stops at the first sign that the database is still away; a message that fails
        for any other reason is set aside (spool/failed) so it cannot block the rest.
        """
        stored = 0
        with self.spool.replaying() as mine:
            if not mine:
                return 0  # another process is replaying
            for path in self.spool.pending():
                try:
                    inbound, received_at = self.spool.read(path)
                except (OSError, ValueError, TypeError) as exc:
                    log.error("spooled message %s unreadable (%s): set aside", path.name, type(exc).__name__)
                    self.spool.reject(path)
                    continue
                outcome = self._replay_one(inbound, received_at)
                if outcome == "down":
                    break
                if outcome == "stored":
                    stored += 1
                    self.spool.remove(path)
                else:
                    self.spool.reject(path)
        if stored:
            self.outbox_ready.set()
        return stored

    def _replay_one(self, inbound: Inbound, received_at) -> str:
        route = self.intake.route_ahead(inbound)
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            try:
                # Her original arrival time: deadlines and the session clock run from when she wrote.
                with self.db.writing(self.write_lock) as connection:
                    self.intake.receive(connection, inbound, now=received_at, route=route, replayed=True)
                return "stored"
            except (OperationalError, InterfaceError) as exc:
                log.warning("spool replay paused: database unavailable (%s)", type(exc.orig).__name__)
                return "down"
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    return "down"
                if attempt < DELIVERY_ATTEMPTS and (isinstance(exc, IntegrityError) or _is_transient(exc)):
                    continue
                log.error("spooled message on %s refused by the database (%s): set aside", inbound.channel, type(exc.orig).__name__)
                return "failed"
            except Exception as exc:
                log.error("spooled message on %s failed (%s): set aside", inbound.channel, type(exc).__name__, exc_info=_debug())
                return "failed"
        return "failed"


def _is_transient(exc: DBAPIError) -> bool:
    """Lock timeouts, deadlocks and serialisation failures: worth another try."""
    text = str(exc.orig).lower()
    return any(s in text for s in ("locked", "deadlock", "could not serialize", "busy"))


def _debug() -> bool:
    # Tracebacks can carry values; show them only when someone asked for DEBUG logs.
    return log.isEnabledFor(logging.DEBUG)
