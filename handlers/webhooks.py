"""The channels' webhooks (`/wechat`, `/telegram`, ...): one view for all of them.

The protocol lives in each `bot.channels` module and the conversation in the engine;
this view only hands over the request and hands back the answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, Flask, Response, request
from sqlalchemy import Connection

from bot import metrics, replies
from bot.channels import Channel, HttpRequest, Refused, channels
from bot.runtime import Runtime
from handlers.context import runtime
from handlers.limits import sender_limit
from models import utcnow


def init_app(app: Flask) -> None:
    # Built per app: which channels are on depends on that app's settings.
    bp = Blueprint("webhooks", __name__)
    settings = app.extensions["niangjia"].settings
    for channel in channels().values():
        if channel.enabled(settings):
            bp.add_url_rule(channel.path, channel.name, _view(channel), methods=list(channel.methods))
    app.register_blueprint(bp)


def _view(channel: Channel) -> Callable[[], Response]:
    def webhook(rt: Runtime, body: bytes) -> Response:
        incoming = HttpRequest(request.method, request.args, request.headers, body)
        endpoint = rt.endpoint(channel.name)
        now = utcnow()
        try:
            opened = endpoint.open(incoming, now)
        except Refused as refused:
            return Response(refused.reason, status=refused.status, mimetype="text/plain")
        allowed: list[bool] = []

        def gate(connection: Connection | None) -> Response | None:
            """The nonce (bot/freshness.py), then her rate; in the delivery's transaction if given."""
            if opened.freshness is not None and not rt.nonces.admit(
                channel.name, *opened.freshness, now, connection=connection
            ):
                # A seen signature with another message: refused before the engine reads a word.
                return Response("replayed signature", status=403, mimetype="text/plain")
            if opened.inbound is not None:
                if not allowed:  # counted once, however often the delivery is tried
                    allowed.append(sender_limit().allows(channel.name, opened.inbound.user))
                if not allowed[0]:
                    # A flood from one sender: she is asked kindly to slow down, in a valid reply,
                    # and nothing is stored; everyone else is counted apart.
                    response = endpoint.notice(replies.SLOW_DOWN, opened)
                    return Response(response.body, status=response.status, content_type=response.content_type)
            return None

        if opened.freshness is not None and opened.inbound is not None and opened.immediate is None \
                and rt.nonces.joins_delivery:
            # The nonce in the message's own transaction: on SQLite one writer's turn, not two.
            answer = rt.deliver(opened.inbound, gate=gate)
            if isinstance(answer, Response):
                return answer
        else:
            turned = gate(None)
            if turned is not None:
                return turned
            if opened.immediate is not None:
                return Response(
                    opened.immediate.body, status=opened.immediate.status, content_type=opened.immediate.content_type
                )
            answer = rt.deliver(opened.inbound) if opened.inbound is not None else None
        # A journaled message's acknowledgement is in no outbox: the HTTP answer carries it.
        response = endpoint.respond(answer.text if answer else None, opened, direct=bool(answer and answer.spooled))
        return Response(response.body, status=response.status, content_type=response.content_type)

    webhook.__name__ = f"{channel.name}_webhook"
    return _timed(channel.name, _in_lane(webhook))


def _in_lane(view: Callable[[Runtime, bytes], Response]) -> Callable[[], Response]:
    """`view` given the request's body, in the runtime's delivery lane: on SQLite, one
    delivery at a time per process. The body is read first, outside the lane: a client
    trickling hers holds up only herself."""

    @functools.wraps(view)
    def in_lane() -> Response:
        rt = runtime()
        # Werkzeug answers 413 when the body (declared or streamed) exceeds this.
        request.max_content_length = rt.settings.webhook.max_body_bytes
        body = request.get_data(cache=False)
        with rt.delivery_lane:
            return view(rt, body)

    return in_lane


def _timed(channel: str, view: Callable[[], Response]) -> Callable[[], Response]:
    """`view`, its answers timed into the webhook latency histogram."""
    latency = metrics.WEBHOOK_SECONDS.labels(channel)

    @functools.wraps(view)
    def timed() -> Response:
        with latency.time():
            return view()

    return timed
