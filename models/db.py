"""Engines and sessions: one place that knows how to talk to SQLite and PostgreSQL."""

from __future__ import annotations

import collections
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: there, processes fall back on SQLite's busy handler
    fcntl = None

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

# The database when nothing names one: a SQLite file beside the config file.
DEFAULT_URL = "sqlite:///instance/niangjia.db"


# Connections each process keeps in its pool. A webhook delivery holds one, and a second
# while it bumps a new ticket's reference (models.ticket.next_reference_apart): gunicorn's
# four request threads and the process's own background work need up to ten at once.
# Past the pool a connection is opened for the moment and closed on its return, a new
# server process each time: under a burst that was one every few deliveries, and the
# service fell behind (bench/README.md, "Session 12").
POOL_SIZE = 10
POOL_OVERFLOW = 5


def anchored_url(url: str, base_dir: Path) -> str:
    """`url` with a relative SQLite path anchored at `base_dir` (the config file's directory)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(base_dir / url[len(prefix):])
    return url


def make_engine(url: str, echo: bool = False, **kwargs: Any) -> Engine:
    """An engine tuned for the database behind `url`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, hide_parameters=not echo, connect_args={"timeout": 30}, **kwargs
        )
        _tune_sqlite(engine)
        return engine
    # hide_parameters: a failed statement's message must not carry a woman's words into logs.
    # connect_timeout: a server that is unreachable (not refusing) must fail a delivery in
    # seconds, so her message is journaled and answered within WeChat's 5 seconds.
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 2}
    kwargs.setdefault("pool_size", POOL_SIZE)
    # At most fifteen a process, as with SQLAlchemy's defaults (5 + 10): the server's
    # max_connections (100 by default) bounds the processes of every instance together.
    kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    engine = create_engine(url, echo=echo, hide_parameters=not echo, connect_args=connect_args, **kwargs)
    _ping_idle_connections(engine)
    return engine


# A pooled connection back from its last use longer ago than this is pinged before it is
# used again: the server may have dropped it meanwhile (a restart, an idle timeout).
# One used within the second is not: under load, pinging every checkout was one round trip
# of about thirteen a webhook delivery (bench/README.md, "Session 12"). A delivery that
# finds its connection dropped all the same is tried again on a fresh one (bot.runtime).
PING_AFTER_IDLE_SECONDS = 1.0
_RETURNED_AT = "niangjia_returned_at"
# The clock of the idle check; a test sets its own.
monotonic = time.monotonic


def _ping_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def returned(dbapi_connection: Any, connection_record: Any) -> None:
        connection_record.info[_RETURNED_AT] = monotonic()

    @event.listens_for(engine, "checkout")
    def taken(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
        returned_at = connection_record.info.get(_RETURNED_AT)
        if returned_at is None or monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            return  # new, or just used
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool throws this connection away and takes (or opens) another.
            raise DisconnectionError("a pooled connection no longer answers") from exc


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            # WAL lets readers run beside the one writer; NORMAL is durable across
            # process crashes and loses at most the last commits on power loss.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Copying the WAL back into the file is the Checkpointer's job, off the request
            # path; a commit does it only if the WAL grows past this (about 40 MB).
            cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    def begin_immediate(dbapi_connection: Any) -> None:
        # Take the write lock up front: a deferred transaction that reads and then
        # writes fails at once (SQLITE_BUSY) when another process wrote in between,
        # whereas IMMEDIATE waits its turn for busy_timeout. A reader's transaction
        # (Database.reader) begins deferred: in WAL it neither waits for the writer nor
        # holds it up.
        read_only = getattr(dbapi_connection, "info", {}).get(READ_ONLY)
        dbapi_connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")

    # The dialect's own hook, not a "begin" event: SQLAlchemy wraps its errors the same
    # way (a DBAPIError), and an engine without connection events is spared their dispatch
    # on every statement (with the statement BEGIN was, about 2% of a webhook delivery's
    # instructions: bench/README.md). The dialect is this engine's own.
    engine.dialect.do_begin = begin_immediate


# Marks a pooled connection whose next transactions only read (Database.reader).
READ_ONLY = "niangjia_read_only"


BACKSTOP_CHECKPOINT_PAGES = 10_000
CHECKPOINT_SECONDS = 0.5
# A busy process checkpoints after this many writer turns rather than waiting out the
# interval: a webhook delivery writes about 29 pages, so a timer alone let the log pass the
# backstop at about 700 deliveries a second (bench/README.md, "Session 9").
CHECKPOINT_EVERY_TURNS = 100

# Held by a checkpoint thread while it is inside SQLite, and by a thread that forks. A fork
# while another thread is inside SQLite copies the library's mutexes held, and the child's
# first SQLite call can then wait forever (a forked claimer hung so in CI).
CHECKPOINT_IN_PROGRESS = threading.Lock()
os.register_at_fork(
    before=CHECKPOINT_IN_PROGRESS.acquire,
    after_in_parent=CHECKPOINT_IN_PROGRESS.release,
    after_in_child=CHECKPOINT_IN_PROGRESS.release,
)


class Checkpointer:
    """Copies SQLite's write-ahead log back into the database file in the background.

    By default the commit that takes the log past 1,000 pages does the copying itself,
    holding the writer's lock, and every writer queued behind it: that was the p99 (the
    figures: see bench/README.md). A PASSIVE checkpoint
    waits for nobody and takes no writer's lock; SQLite releases the GIL while it works.
    One thread per process, started by its first write. It runs every `interval` seconds,
    and sooner once the process has taken `every` writer turns since the last round, so
    that the log is copied back as fast as it is written, however busy the process.
    """

    def __init__(
        self, database_path: str, interval: float = CHECKPOINT_SECONDS, every: int = CHECKPOINT_EVERY_TURNS
    ) -> None:
        self._path = database_path
        self._interval = interval
        self._every = every
        self._turns = 0
        self._stop = threading.Event()
        self._due = threading.Event()
        self._pid: int | None = None
        self._thread: threading.Thread | None = None

    def ensure_running(self) -> None:
        if self._pid != os.getpid() and not self._stop.is_set():
            self._pid = os.getpid()
            # A forked child's own: the parent's may have been copied mid-set, its lock held.
            self._due = threading.Event()
            self._turns = 0
            self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
            self._thread.start()

    def wrote(self) -> None:
        """A writer turn ended in this process: every `every` of them, a round is due now.
        Counted without a lock: a count lost to a race only delays a round by a turn."""
        self._turns += 1
        if self._turns >= self._every:
            self._turns = 0
            self._due.set()

    def stop(self, wait: float = 5) -> None:
        """Stop the thread and wait for it (at most `wait` seconds): its connection is
        closed, and a fork after this copies no SQLite lock it held."""
        self._stop.set()
        self._due.set()
        if self._thread is not None and self._pid == os.getpid() and self._thread is not threading.current_thread():
            self._thread.join(wait)

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.is_set():
                self._due.wait(self._interval)
                self._due.clear()
                if self._stop.is_set():
                    break
                try:
                    with CHECKPOINT_IN_PROGRESS:
                        if connection is None:
                            # mode=rw: a file moved away is not recreated empty behind the service's back.
                            uri = f"file:{urllib.parse.quote(self._path)}?mode=rw"
                            connection = sqlite3.connect(
                                uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False
                            )
                        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    # Busy (another process's checkpoint), or the file cannot be opened
                    # right now: the next round tries again rather than the thread dying.
                    pass
        finally:
            if connection is not None:
                with CHECKPOINT_IN_PROGRESS:
                    connection.close()


class WriterTurn:
    """Writers of one SQLite file take turns here: the threads of a process on a lock,
    the processes on an exclusive `flock` of a file beside the database.

    SQLite has one writer at a time. Left to itself, a writer that finds the file locked
    sleeps in SQLite's busy handler (1, 2, 5 ... 100 ms between tries) although the lock
    is free again far sooner: under a burst that made the p99 (the figures: see
    bench/README.md). A blocked `flock` is woken by the kernel the moment it is released.
    Re-entrant within a thread, like the lock it wraps.
    """

    def __init__(self, database_path: str | None) -> None:
        self._path = f"{database_path}.writer" if database_path and fcntl else None
        self.checkpointer = Checkpointer(database_path) if database_path else None
        self._start()

    def _start(self) -> None:
        # Also in a forked child: the parent's lock, depth and open file (and with the
        # file, its flock) are the parent's, whatever state the fork copied.
        self._pid = os.getpid()
        self._threads = threading.RLock()
        self._depth = 0
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600) if self._path else None

    def __enter__(self) -> WriterTurn:
        if self._pid != os.getpid():
            self._start()
        if self.checkpointer is not None:
            self.checkpointer.ensure_running()
        self._threads.acquire()
        self._depth += 1
        if self._depth == 1 and self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._depth -= 1
                self._threads.release()
                raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            if self.checkpointer is not None:
                self.checkpointer.wrote()
        self._threads.release()


class ProcessLane:
    """One at a time among the threads of this process, first come first served; the
    processes side by side.

    On SQLite the webhook's deliveries take it (bot.runtime). Their writes take turns at
    the one writer anyway (WriterTurn), and threads beside that only compete for the GIL:
    the sqlite3 module lets go of it for every statement, and a thread holding the writer's
    turn then waits to get it back behind a thread parsing or routing the next message,
    while every writer of every process waits with it. A lane of one per process answered
    about a tenth more deliveries a second at two workers of four threads (bench/README.md,
    "Session 9"). In arrival order, each waiter handed the lane by the one before: Python's
    own lock lets a thread that has just let go take it again ahead of those woken to
    take it, and with it the tail was no better than with no lane. The threads stay: a
    staff page, or a body still arriving (handlers.webhooks reads it first), never holds
    the lane.
    """

    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        # A forked child's own: the parent's state could have been copied mid-change. Two
        # threads entering a new child at once may each make one; they then overlap once.
        self._pid = os.getpid()
        self._mutex = threading.Lock()
        self._waiting: collections.deque[threading.Lock] = collections.deque()
        self._held = False

    @property
    def waiting(self) -> int:
        """How many threads wait for the lane."""
        return len(self._waiting)

    def __enter__(self) -> ProcessLane:
        if self._pid != os.getpid():
            self._start()
        with self._mutex:
            if not self._held:
                self._held = True
                return self
            handed = threading.Lock()
            handed.acquire()
            self._waiting.append(handed)
        handed.acquire()  # released by the thread before, which hands the lane over held
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._held = False


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, echo: bool = False, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # Take it around a write transaction (see WriterTurn); a no-op where writers
        # can work side by side.
        self.write_lock: AbstractContextManager[Any] = nullcontext()
        if self.dialect == "sqlite":
            database = self.engine.url.database
            self.write_lock = WriterTurn(database if database not in (None, "", ":memory:") else None)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessionmaker()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits once at the end, or rolls back on error."""
        with self.sessionmaker() as session, session.begin():
            yield session

    @contextmanager
    def writing(self, turn: AbstractContextManager[Any] | None = None) -> Iterator[Connection]:
        """A write transaction on a connection of its own, in the writer's turn (`turn`,
        this database's own by default) from its BEGIN to its COMMIT only: the connection
        is taken from the pool before the turn and given back after it, so the other
        writers (on SQLite, every writer of every process) wait for neither."""
        with self.engine.connect() as connection:
            with turn if turn is not None else self.write_lock, connection.begin():
                yield connection

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session that only reads: on SQLite it does not take the writer's lock, so a
        long read (the supervisor's numbers) keeps no writer waiting; it never commits."""
        with self.engine.connect() as connection:
            # The mark lives on the pooled connection: taken off before it goes back.
            info = connection.connection.info
            info[READ_ONLY] = True
            try:
                with self.sessionmaker(bind=connection) as session:
                    yield session
            finally:
                info.pop(READ_ONLY, None)

    def dispose(self) -> None:
        if isinstance(self.write_lock, WriterTurn) and self.write_lock.checkpointer is not None:
            self.write_lock.checkpointer.stop()
        self.engine.dispose()
