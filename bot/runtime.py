"""Everything a process needs to serve women: settings, database, router, channels.

Built once per process (the web app, the CLI, a worker) and shared by its threads.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cached_property

from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from bot import replies
from bot.channels import channels
from bot.channels.base import Endpoint
from bot.inbound import Answer, Inbound
from bot.intake import Intake
from bot.learning import ModelWatcher
from bot.routing import Router
from bot.settings import Settings
from bot.tuning import LexiconWatcher
from models import Database

log = logging.getLogger(__name__)

# A delivery that collides with a concurrent one (two first messages from the same new
# user, a lock timeout) is tried again from the start, in a fresh transaction.
DELIVERY_ATTEMPTS = 3


class Runtime:
    def __init__(self, settings: Settings, router: Router | None = None, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or Database(settings.database_url, echo=settings.database.echo)
        # Set when this process queued an outbox message, to wake its worker thread.
        self.outbox_ready = threading.Event()
        # On SQLite the webhook and worker threads, and the other processes, take turns
        # at the one writer here rather than in SQLite's busy handler (models.db.WriterTurn).
        self.write_lock = self.db.write_lock
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
            with self.db.session() as session:
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

    def endpoint(self, channel: str) -> Endpoint:
        """The webhook protocol of `channel`, built once."""
        return self._endpoints[channel]

    def deliver(self, inbound: Inbound) -> Answer:
        """Run one inbound message through the engine in one transaction, and answer it.

        Never raises: if the message cannot be stored the woman is told to send it again,
        with the safety numbers, and the error is logged without her words.
        """
        route = None
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            try:
                # Routed outside the writer's turn, once for all attempts.
                route = route or self.intake.route_ahead(inbound)
                with self.write_lock, self.db.engine.begin() as connection:
                    answer = self.intake.receive(connection, inbound, route=route)
                if answer.text and not channels()[inbound.channel].passive_replies:
                    self.outbox_ready.set()
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
        return Answer(replies.FALLBACK)


def _is_transient(exc: DBAPIError) -> bool:
    """Lock timeouts, deadlocks and serialisation failures: worth another try."""
    text = str(exc.orig).lower()
    return any(s in text for s in ("locked", "deadlock", "could not serialize", "busy"))


def _debug() -> bool:
    # Tracebacks can carry values; show them only when someone asked for DEBUG logs.
    return log.isEnabledFor(logging.DEBUG)
