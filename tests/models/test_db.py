"""SQLite writers take turns: threads on a lock, processes on a flock beside the file."""

from __future__ import annotations

import multiprocessing
import sys
import threading

import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

import models.db
from handlers.server import THREADS
from models.db import Database, WriterTurn

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")


def _hold_turn(path, holding, release):
    with WriterTurn(path):
        holding.set()
        release.wait(10)


def test_a_second_process_waits_for_the_writer_and_goes_as_soon_as_it_is_done(tmp_path):
    path = str(tmp_path / "niangjia.db")
    context = multiprocessing.get_context("fork")
    holding, release = context.Event(), context.Event()
    other = context.Process(target=_hold_turn, args=(path, holding, release))
    other.start()
    try:
        assert holding.wait(10)
        mine = WriterTurn(path)
        got_it = threading.Event()

        def take_turn():
            with mine:
                got_it.set()

        waiter = threading.Thread(target=take_turn)
        waiter.start()
        assert not got_it.wait(0.3), "two processes held the writer's turn at once"
        release.set()
        assert got_it.wait(5)
        waiter.join(5)
    finally:
        release.set()
        other.join(10)


def test_a_forked_worker_does_not_inherit_its_parents_turn(tmp_path):
    """A child sharing the parent's open file would share its lock too."""
    path = str(tmp_path / "niangjia.db")
    turn = WriterTurn(path)
    context = multiprocessing.get_context("fork")
    with turn:
        holding, release = context.Event(), context.Event()
        child = context.Process(target=_take_shared, args=(turn, holding, release))
        child.start()
        assert not holding.wait(0.3), "the child entered while the parent held the turn"
    assert holding.wait(5)
    release.set()
    child.join(10)
    assert child.exitcode == 0


def _take_shared(turn, holding, release):
    with turn:
        holding.set()
        release.wait(10)


def test_the_turn_is_reentrant_within_a_thread(tmp_path):
    turn = WriterTurn(str(tmp_path / "niangjia.db"))
    with turn, turn:
        pass
    done = threading.Event()
    threading.Thread(target=lambda: (turn.__enter__(), done.set(), turn.__exit__(None, None, None))).start()
    assert done.wait(5), "the turn was not given back after nested use"


def _rows_in_main_file(path, until: int | None = None) -> int:
    """The rows of table note in the main file alone, as if there were no WAL (immutable=1);
    with `until`, polled for up to 5 s while the checkpoint thread has not copied them yet."""
    import sqlite3
    import time

    def count() -> int:
        main = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return main.execute("SELECT count(*) FROM note").fetchone()[0]
        except sqlite3.DatabaseError:  # the table not copied yet, or a page read mid-copy
            return 0
        finally:
            main.close()

    rows, deadline = count(), time.monotonic() + 5
    while until is not None and rows != until and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = count()
    return rows


def test_the_checkpointer_copies_the_log_into_the_database_file_off_the_request_path(tmp_path):
    """Rows committed reach the main file (read here ignoring the WAL) without a commit
    having checkpointed: far fewer pages than the commit-time backstop were written."""
    from sqlalchemy import text

    from models.db import Database

    path = tmp_path / "niangjia.db"
    db = Database(f"sqlite:///{path}")
    try:
        with db.write_lock, db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE note (body TEXT)"))
            connection.execute(text("INSERT INTO note VALUES ('一')"))
        assert _rows_in_main_file(path, until=1) == 1
    finally:
        db.dispose()


def test_a_busy_process_checkpoints_after_its_turns_without_waiting_out_the_interval(tmp_path):
    """Under load a timer alone let the log outgrow the backstop, and a delivery's commit
    then copied thousands of pages itself: the writer turns ask for a round sooner."""
    from sqlalchemy import text

    from models.db import Checkpointer, Database

    path = tmp_path / "niangjia.db"
    db = Database(f"sqlite:///{path}")
    turn = db.write_lock
    turn.checkpointer = Checkpointer(str(path), interval=3600, every=5)
    try:
        with turn, db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE note (body TEXT)"))

        for n in range(3):
            with turn, db.engine.begin() as connection:
                connection.execute(text("INSERT INTO note VALUES (:n)"), {"n": n})
        # Four turns of five, and the interval an hour: no round yet.
        assert _rows_in_main_file(path) == 0
        with turn, db.engine.begin() as connection:
            connection.execute(text("INSERT INTO note VALUES (3)"))
        assert _rows_in_main_file(path, until=4) == 4
    finally:
        turn.checkpointer.stop()
        db.dispose()


def test_the_lane_lets_its_waiters_in_in_the_order_they_came():
    """Python's own lock lets a thread that has just let go take it again at once, ahead
    of the threads woken to take it: a delivery could wait out many that came after it.
    The lane hands itself to the longest waiting, and whoever comes back queues behind."""
    import time

    from models.db import ProcessLane

    lane = ProcessLane()
    order: list[int | str] = []

    def wait_in_lane(n: int) -> None:
        with lane:
            order.append(n)

    threads = []
    lane.__enter__()
    for n in range(3):
        threads.append(threading.Thread(target=wait_in_lane, args=(n,)))
        threads[-1].start()
        deadline = time.monotonic() + 5
        while lane.waiting != n + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert lane.waiting == n + 1
    lane.__exit__(None, None, None)
    with lane:  # straight back: behind the three
        order.append("back")
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, "back"]
    assert lane.waiting == 0


def test_a_fork_waits_for_a_checkpoint_in_progress():
    """A fork while the checkpoint thread is inside SQLite would copy SQLite's mutexes
    held, and the child's first SQLite call could wait forever: the fork waits its turn."""
    import os

    from models.db import CHECKPOINT_IN_PROGRESS

    forked = threading.Event()

    def fork():
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        forked.set()
        os.waitpid(pid, 0)

    with CHECKPOINT_IN_PROGRESS:
        forker = threading.Thread(target=fork)
        forker.start()
        assert not forked.wait(0.3), "forked while a checkpoint was inside SQLite"
    assert forked.wait(5)
    forker.join(5)


def test_a_reader_reads_while_another_session_holds_the_writer(db):
    # On SQLite every other session begins IMMEDIATE (the writer's lock); a reader begins
    # deferred, so a long count (the supervisor's numbers) holds up no writer, and a read
    # made while the same thread's own write transaction is open does not wait for it.
    from sqlalchemy import func, select

    from models import Region

    with db.transaction() as writing:
        writing.add(Region(code="T03", name="新县", level="county", path="/T/T03/"))
        writing.flush()
        with db.reader() as session:
            assert session.scalar(select(func.count()).select_from(Region)) == 5  # the committed grid only


def _backend_pid(database: Database) -> int:
    with database.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()


class DroppedPool:
    """A pool of one connection, which the server has just ended (as a restart or an idle
    timeout would); the idle check's clock is the test's."""

    def __init__(self, db: Database, monkeypatch) -> None:
        self.now = 1000.0
        monkeypatch.setattr(models.db, "monotonic", lambda: self.now)
        self.database = Database(db.url, pool_size=1, max_overflow=0)
        self.dropped = _backend_pid(self.database)
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql(f"SELECT pg_terminate_backend({int(self.dropped)})").scalar()


@pytest.fixture
def dropped_pool(db, monkeypatch):
    pool = DroppedPool(db, monkeypatch)
    yield pool
    pool.database.dispose()


@pytest.mark.postgres
def test_a_pooled_connection_idle_for_a_while_is_pinged_and_replaced_if_the_server_dropped_it(dropped_pool):
    dropped_pool.now += models.db.PING_AFTER_IDLE_SECONDS

    with dropped_pool.database.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != dropped_pool.dropped


@pytest.mark.postgres
def test_a_connection_back_from_use_within_the_second_is_not_pinged(dropped_pool):
    """Under load a connection is reused within milliseconds: no ping's round trip. If the
    server dropped it all the same, its first statement fails as a disconnect (the
    delivery then tries again: tests/bot/test_runtime.py) and the pool starts afresh."""
    dropped_pool.now += models.db.PING_AFTER_IDLE_SECONDS / 2

    with pytest.raises(DBAPIError) as failed, dropped_pool.database.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    assert failed.value.connection_invalidated
    assert _backend_pid(dropped_pool.database) != dropped_pool.dropped


@pytest.mark.postgres
def test_the_pool_keeps_what_every_request_thread_holds_at_once(db):
    """Each of a worker's request threads may hold a delivery's connection and the one that
    bumps a new ticket's reference: none of them is closed on return and opened again for
    the next burst (each would be a new server process)."""
    database = Database(db.url)
    opened = []
    event.listen(database.engine.pool, "connect", lambda *args: opened.append(1))
    try:
        for _ in range(3):
            held = [database.engine.connect() for _ in range(2 * THREADS)]
            for connection in held:
                connection.exec_driver_sql("SELECT 1")
            for connection in held:
                connection.close()
    finally:
        database.dispose()
    assert len(opened) == 2 * THREADS
