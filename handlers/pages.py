"""Public pages: the front page and the health check."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, render_template
from sqlalchemy import text

from handlers.context import runtime

bp = Blueprint("pages", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/")
def index() -> str:
    return render_template("index.html", production=runtime().settings.production)


@bp.get("/healthz")
def health():
    """Liveness and database reachability, for load balancers and monitors."""
    try:
        with runtime().db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.get("/readyz")
def ready():
    """Ready to take women's messages: the database answers, the spool is empty or being
    drained, and a worker is alive (its heartbeat is fresh). 503 says which is not."""
    rt = runtime()
    spool = rt.spool
    try:
        with rt.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        database = "unreachable"
    beat = spool.heartbeat_age()
    # A few missed rounds, not one slow one, mean the worker is gone.
    alive = beat is not None and beat <= max(3 * rt.settings.worker.poll_seconds, 10)
    depth, oldest = spool.depth(), spool.oldest_age()
    # Drained by a live worker once the database answers; otherwise it only grows.
    draining = depth == 0 or (database == "ok" and alive)
    problems = [
        name for name, bad in (("database", database != "ok"), ("worker", not alive), ("spool", not draining)) if bad
    ]
    body = {
        "status": "ok" if not problems else "unavailable",
        "problems": problems,
        "database": database,
        "worker": {"alive": alive, "heartbeat_age_seconds": None if beat is None else round(beat, 1)},
        "spool": {
            "depth": depth,
            "oldest_seconds": None if oldest is None else round(oldest, 1),
            "failed": spool.failed(),
        },
    }
    return jsonify(body), 200 if not problems else 503
