"""Runtime.deliver: one inbound message, one transaction, one answer."""

from __future__ import annotations

from sqlalchemy import select

from bot.inbound import Inbound
from bot.runtime import Runtime
from models import Ticket, utcnow


def test_her_words_are_routed_once_and_before_the_writers_turn(settings, router, db, monkeypatch):
    runtime = Runtime(settings, router=router, db=db)
    turn = runtime.write_lock
    holding = []

    class WatchedTurn:
        def __enter__(self):
            turn.__enter__()
            holding.append(True)

        def __exit__(self, *exc_info):
            holding.pop()
            turn.__exit__(*exc_info)

    runtime.write_lock = WatchedTurn()
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


def test_the_lexicon_refresh_only_reads(settings, router, db, monkeypatch):
    # A first request loads the router (and with it the newest lexicon) while its own
    # session may hold SQLite's writer: a session of the writer's kind would wait for it.
    runtime = Runtime(settings, router=router, db=db)

    def writer_session():
        raise AssertionError("the lexicon refresh opened a writing session")

    monkeypatch.setattr(db, "session", writer_session)
    assert runtime.refresh_lexicon() is False  # no revision saved: the shipped lexicon stays
