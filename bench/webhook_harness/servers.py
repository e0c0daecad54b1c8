"""The three servers of the webhook bench, each under the same gunicorn settings.

    python bench/webhook_harness/servers.py floor|werobot|niangjia --port 8101 --workers 2

- floor: a bare Flask view that checks the signature, parses the push with wechatpy and
  returns a fixed passive reply: no routing, no database. Nothing that answers WeChat
  correctly can do less.
- werobot: WeRoBot 1.13.1 behind its own Flask view (werobot.contrib.flask.make_view),
  a text handler returning the fixed reply, every default kept: WeRoBot then keeps a
  session per user in SQLite (werobot_session.sqlite3 in the working directory), read and
  written on every message.
- niangjia: the real app from handlers.app.create_app (settings from NIANGJIA_* in the
  environment), the router loaded before the fork, as `niangjia serve` does.

The gunicorn settings are those of `niangjia serve` (handlers/server.py): gthread
workers that keep their share of the keep-alive connections (handlers/workers.py), 4
threads each, a listening socket per worker (`reuse_port`), the app preloaded, access log
off.
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from flask import Flask, Response, request
from gunicorn.app.base import BaseApplication

from handlers.workers import KEEPALIVE_SECONDS, WORKER_CLASS, free_slot, share_connections

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pushes import FIXED_REPLY, TOKEN, sign  # noqa: E402

# What handlers/server.py gives gunicorn, apart from bind and workers: gthread, keeping
# each worker's share of the keep-alive connections (handlers/workers.py), for all three.
THREADS = 4
REUSE_PORT = True  # a listening socket per worker: the kernel spreads wrk's connections
TIMEOUT = 30
TIMESTAMP_WINDOW = 300


def floor_app(token: str = TOKEN) -> Flask:
    """Signature check, wechatpy parse, fixed passive reply."""
    from wechatpy import parse_message
    from wechatpy.replies import create_reply

    app = Flask("floor")

    @app.route("/wechat", methods=["GET", "POST"])
    def wechat() -> Response:
        timestamp = request.args.get("timestamp", "")
        nonce = request.args.get("nonce", "")
        signature = request.args.get("signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TIMESTAMP_WINDOW:
            return Response("timestamp outside the accepted window", status=403)
        if not hmac.compare_digest(sign(token, timestamp, nonce).encode(), signature.encode()):
            return Response("invalid signature", status=403)
        if request.method == "GET":
            return Response(request.args.get("echostr", ""), mimetype="text/plain")
        message = parse_message(request.get_data())
        xml = create_reply(FIXED_REPLY, message=message, render=True)
        return Response(xml, content_type="application/xml; charset=utf-8")

    return app


def werobot_app(token: str = TOKEN) -> Flask:
    """WeRoBot with its defaults (SQLite session storage included) behind its Flask view."""
    import werobot
    from werobot.contrib.flask import make_view

    # WeRoBot 1.13.1 imports and runs unchanged on Python 3.11 and Flask 3: no shim needed.
    robot = werobot.WeRoBot(token=token)

    @robot.text
    def reply(message):
        return FIXED_REPLY

    app = Flask("werobot")
    app.add_url_rule("/wechat", endpoint="werobot", view_func=make_view(robot), methods=["GET", "POST"])
    return app


def niangjia_app() -> Flask:
    """The real app, configured from the environment, its router loaded before the fork."""
    from handlers.app import create_app
    from handlers.server import preload

    app = create_app()
    if os.environ.get("NIANGJIA_BENCH_TRACE"):
        from slowest import install

        install(app, os.environ["NIANGJIA_BENCH_TRACE"])
    return preload(app)  # jieba's dictionary, shared by the workers; gc.freeze()


def _no_post_fork(server: Any, worker: Any) -> None:
    pass


APPS: dict[str, Callable[[], Flask]] = {"floor": floor_app, "werobot": werobot_app, "niangjia": niangjia_app}


class BenchServer(BaseApplication):
    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.name = name
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return APPS[self.name]()


def options(name: str, host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """The same gunicorn settings for every server; only Niangjia has a pool to reset after fork."""
    if name == "niangjia":
        from handlers.server import _post_fork as post_fork
    else:
        post_fork = _no_post_fork
    hooks = {}
    if name == "niangjia" and os.environ.get("NIANGJIA_BENCH_TRACE"):
        from slowest import dump

        hooks["worker_exit"] = lambda server, worker: dump(os.environ["NIANGJIA_BENCH_TRACE"])
    return {
        **hooks,
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": WORKER_CLASS,
        "child_exit": free_slot,
        "threads": threads,
        "reuse_port": REUSE_PORT,
        "preload_app": True,
        "post_fork": post_fork,
        "timeout": TIMEOUT,
        "keepalive": KEEPALIVE_SECONDS,
        "accesslog": None,
        "loglevel": "warning",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(APPS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args(argv)
    # gunicorn reads sys.argv when it builds its config; hide ours from it.
    sys.argv = [sys.argv[0]]
    os.environ.setdefault("NIANGJIA_WECHAT_TOKEN", TOKEN)
    share_connections(args.workers)
    BenchServer(args.name, options(args.name, args.host, args.port, args.workers, args.threads)).run()


if __name__ == "__main__":
    main()
