"""The caseworkers' workspace (`/staff`): log in, the queue, the ticket page and its actions."""

from __future__ import annotations

from flask import Flask

from handlers.serializers import china_time, time_left_label


def init_app(app: Flask) -> None:
    from handlers.staff import access, admin, canned_admin, dashboard, login, review  # noqa: F401 (their routes join the blueprint)
    from handlers.staff.views import bp

    login.init_app(app)
    app.register_blueprint(bp)
    app.add_template_filter(china_time, "cst")
    app.add_template_filter(time_left_label, "time_left")
