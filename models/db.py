"""Engines and sessions: one place that knows how to talk to SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


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
    return create_engine(url, echo=echo, hide_parameters=not echo, pool_pre_ping=True, **kwargs)


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
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # Take the write lock up front: a deferred transaction that reads and then
        # writes fails at once (SQLITE_BUSY) when another process wrote in between,
        # whereas IMMEDIATE waits its turn for busy_timeout.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, echo: bool = False, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

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

    def dispose(self) -> None:
        self.engine.dispose()
