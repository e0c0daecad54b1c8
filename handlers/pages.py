"""Public pages: the front page and the health check."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, render_template
from sqlalchemy import text

from handlers.app import runtime

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
