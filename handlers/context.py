"""The request's context: the app's runtime and the request's database session.

Every handler module reads these from here (never from the app factory, which imports the
handlers), so the factory can import its blueprints at the top and no module of
`handlers/` imports `handlers.app`.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from bot.runtime import Runtime

_EXTENSION = "niangjia"


def init_app(app: Flask, rt: Runtime) -> None:
    """Attach `rt` to `app` and close each request's database session when it ends."""
    app.extensions[_EXTENSION] = rt
    app.teardown_appcontext(_close_db_session)


def runtime() -> Runtime:
    """The runtime of the app serving this request."""
    return current_app.extensions[_EXTENSION]


def db_session() -> Session:
    """The request's database session: opened on first use, closed (rolled back unless
    the handler committed) when the request ends; the handler commits, once."""
    if "db_session" not in g:
        g.db_session = runtime().db.session()
    return g.db_session


def _close_db_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
