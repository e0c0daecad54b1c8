"""Serving the app with gunicorn, the app and router loaded once and shared by the workers."""

from __future__ import annotations

import gc
import os
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from bot.settings import Settings
from handlers.app import create_app


class NiangjiaServer(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return preload(create_app(self.settings))


def preload(app: Flask) -> Flask:
    """Ready the app in gunicorn's master, before it forks the workers."""
    # Load jieba's dictionary before forking, so workers share it.
    app.extensions["niangjia"].router
    # What is loaded now lives as long as the process: keep it out of the cyclic garbage
    # collector's reach. Otherwise every full collection in a worker walks jieba's
    # dictionary and the router's tables again (60-250 ms with the GIL, and often SQLite's
    # writer, held: the webhook's p99; bench/README.md) and dirties the pages the workers share.
    gc.freeze()
    return app


def _post_fork(server: Any, worker: Any) -> None:
    # Connections opened before the fork belong to the parent; start the pool afresh.
    app = server.app.callable
    if app is None:
        return
    runtime = app.extensions["niangjia"]
    runtime.db.engine.dispose(close=False)
    if runtime.settings.worker.in_service:
        from bot.worker import Worker

        Worker(runtime).start_thread()


def control_socket(port: int) -> str:
    """This instance's gunicorn control socket: gunicorn's own directory, named by port.

    gunicorn's default is one path per user, so a second `niangjia serve` on the same
    machine (another port, the same PostgreSQL) would take over the first one's socket.
    """
    from gunicorn.config import ControlSocket

    return os.path.join(os.path.dirname(ControlSocket.default), f"niangjia-{port}.ctl")


def run(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve until interrupted."""
    NiangjiaServer(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "preload_app": True,
            "post_fork": _post_fork,
            "timeout": 30,
            "accesslog": None,
            "control_socket": control_socket(port),
        },
    ).run()
