"""Runtime.deliver: one inbound message, one transaction, one answer."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.pool import NullPool

import models.db
from bot.inbound import Inbound
from bot.runtime import Runtime
from models import Message, Ticket, utcnow


def _watch_turn(runtime: Runtime) -> list[bool]:
    """The runtime's writer turn, watched: the list holds an item while the turn is held."""
    turn, holding = runtime.write_lock, []

    class WatchedTurn:
        def __enter__(self):
            turn.__enter__()
            holding.append(True)

        def __exit__(self, *exc_info):
            holding.pop()
            turn.__exit__(*exc_info)

    runtime.write_lock = WatchedTurn()
    return holding


def test_her_words_are_routed_once_and_before_the_writers_turn(settings, router, db, monkeypatch):
    runtime = Runtime(settings, router=router, db=db)
    holding = _watch_turn(runtime)
    routed_while_holding = []
    route = router.route

    def watched_route(text):
        routed_while_holding.append(bool(holding))
        return route(text)

    monkeypatch.setattr(router, "route", watched_route)
    inbound = Inbound("wechat", "o-ahead", "text", "m-ahead", utcnow(), text="他又喝多了拿着刀在门口")

    answer = runtime.deliver(inbound)

    assert routed_while_holding == [False]
    assert answer.ticket_reference
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.channel_user == "o-ahead")).one()
    assert ticket.urgent and ticket.reference == answer.ticket_reference


def test_the_writers_turn_is_held_from_begin_to_commit_only(settings, router, db):
    """The pool's checkout and check-in (and on PostgreSQL the pool's ping) happen outside
    the turn: on SQLite every delivery of every process waits while a delivery holds it."""
    runtime = Runtime(settings, router=router, db=db)
    holding = _watch_turn(runtime)
    seen: list[tuple[str, bool, object]] = []

    def note(name, dbapi_connection):
        seen.append((name, bool(holding), dbapi_connection))

    # (On PostgreSQL the day's reference counter is bumped on a connection of its own.)
    listeners = [
        (db.engine.pool, "checkout", lambda dbapi_connection, *_: note("checkout", dbapi_connection)),
        (db.engine.pool, "checkin", lambda dbapi_connection, *_: note("checkin", dbapi_connection)),
        (db.engine, "begin", lambda connection: note("begin", connection.connection.dbapi_connection)),
        (db.engine, "commit", lambda connection: note("commit", connection.connection.dbapi_connection)),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        answer = runtime.deliver(Inbound("wechat", "o-turn", "text", "m-turn", utcnow(), text="请问离婚要带什么材料"))
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)

    assert answer.text and not answer.spooled
    delivery = seen[0][2]
    assert [(name, held) for name, held, connection in seen if connection is delivery] == [
        ("checkout", False), ("begin", True), ("commit", True), ("checkin", False)
    ]


def test_the_lexicon_refresh_only_reads(settings, router, db, monkeypatch):
    # A first request loads the router (and with it the newest lexicon) while its own
    # session may hold SQLite's writer: a session of the writer's kind would wait for it.
    runtime = Runtime(settings, router=router, db=db)

    def writer_session():
        raise AssertionError("the lexicon refresh opened a writing session")

    monkeypatch.setattr(db, "session", writer_session)
    assert runtime.refresh_lexicon() is False  # no revision saved: the shipped lexicon stays


@pytest.mark.postgres
def test_a_delivery_on_a_connection_the_server_dropped_is_stored_on_a_fresh_one_not_journaled(
    settings, router, db, monkeypatch, caplog
):
    """The pool pings only connections idle for a while (models.db): one the server dropped
    just after its last use fails the delivery's first attempt, which goes again."""
    monkeypatch.setattr(models.db, "monotonic", lambda: 1000.0)  # every connection just used
    runtime = Runtime(settings, router=router, db=db)
    runtime.deliver(Inbound("wechat", "o-drop", "text", "m-drop-1", utcnow(), text="请问离婚要带什么材料"))
    pooled = [db.engine.connect() for _ in range(db.engine.pool.checkedin())]
    pids = [connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() for connection in pooled]
    for connection in pooled:
        connection.close()
    apart = create_engine(db.url, poolclass=NullPool)  # not one of the pool's own
    with apart.connect() as connection:
        for pid in pids:
            assert connection.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})").scalar()
    apart.dispose()

    answer = runtime.deliver(Inbound("wechat", "o-drop", "text", "m-drop-2", utcnow(), text="还想问一下冷静期多久"))

    assert answer.text and not answer.spooled
    assert not runtime.spool.pending()
    assert "attempt 1), retrying" in caplog.text  # it did find the connection dropped
    with db.session() as session:
        lines = session.scalars(
            select(Message.text).where(Message.channel_user == "o-drop", Message.direction == "in").order_by(Message.id)
        ).all()
    assert lines == ["请问离婚要带什么材料", "还想问一下冷静期多久"]
