"""The WeChat server URL (`/wechat`): protocol in bot.channels.wechat, engine in bot.intake."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request

from bot.channels.wechat import Refused, to_inbound
from handlers.app import runtime
from models import utcnow

bp = Blueprint("wechat", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.route("/wechat", methods=["GET", "POST"])
def webhook() -> Response:
    rt = runtime()
    endpoint = rt.wechat
    # Werkzeug answers 413 when the body (declared or streamed) exceeds this.
    request.max_content_length = rt.settings.webhook.max_body_bytes
    try:
        if request.method == "GET":
            return Response(endpoint.verify(request.args, utcnow()), mimetype="text/plain")
        push = endpoint.open(request.args, request.get_data(cache=False), utcnow())
    except Refused as refused:
        return Response(refused.reason, status=refused.status, mimetype="text/plain")
    answer = rt.deliver(to_inbound(push.message))
    body, content_type = endpoint.render(answer.text, push)
    return Response(body, content_type=content_type)
