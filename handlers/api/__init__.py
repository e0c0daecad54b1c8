"""The JSON API (`/api/v1`), for bearer tokens issued with `niangjia issue-token`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from handlers.api.views import bp
    from handlers.auth import csrf

    app.register_blueprint(bp)
    # Bearer tokens are not sent by browsers on their own: no cross-site forgery to stop.
    csrf.exempt(bp)
