"""Serving the app with gunicorn, the app and router loaded once and shared by the workers."""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import time
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from werkzeug.exceptions import RequestTimeout

from bot.settings import Settings
from handlers.app import create_app
from handlers.workers import KEEPALIVE_SECONDS, WORKER_CLASS, free_slot, share_connections

log = logging.getLogger(__name__)

# Request threads a worker: a slow staff page must not hold up her message (bench/README.md,
# "What changed in session 3"). Each may hold two database connections at once
# (models.db.POOL_SIZE).
THREADS = 4


class NiangjiaServer(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        app = preload(create_app(self.settings))
        app.wsgi_app = ReadDeadline(app.wsgi_app, self.settings.server.read_timeout)
        return app


class ReadDeadline:
    """WSGI middleware: a request body must arrive within `seconds`, or the answer is 408.

    gunicorn's threads read a body with blocking reads and no deadline, so a client
    trickling a byte at a time would hold a thread as long as it liked (nginx in front
    buffers whole bodies first, deploy/nginx; this holds without it too).
    """

    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        sock = environ.get("gunicorn.socket")
        if sock is None or "wsgi.input" not in environ:
            return self.app(environ, start_response)
        body = environ["wsgi.input"] = _DeadlineInput(environ["wsgi.input"], sock, self.seconds)
        try:
            return self.app(environ, start_response)
        finally:
            if not body.expired:
                # Back to gunicorn's blocking socket for writing the answer.
                sock.settimeout(None)


class _DeadlineInput:
    """A request body stream whose reads, all together, end by a deadline."""

    def __init__(self, stream: Any, sock: socket.socket, seconds: float) -> None:
        self._stream = stream
        self._sock = sock
        self._seconds = seconds
        self._deadline = time.monotonic() + seconds
        self.expired = False

    def _call(self, method: str, *args: Any) -> Any:
        remaining = self._deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            return getattr(self._stream, method)(*args)
        except (TimeoutError, socket.timeout):
            # Nothing more is read from this client: gunicorn would otherwise drain the
            # rest of the body (blocking, without end) before its next request. Writing
            # the 408 gets a fresh timeout of its own.
            self.expired = True
            try:
                self._sock.settimeout(self._seconds)
                self._sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass
            raise RequestTimeout("the request body did not arrive in time") from None

    def read(self, size: int = -1) -> bytes:
        return self._call("read", size)

    def readline(self, size: int = -1) -> bytes:
        return self._call("readline", size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return self._call("readlines", hint)

    def __iter__(self):
        return iter(self.readline, b"")


def preload(app: Flask) -> Flask:
    """Ready the app in gunicorn's master, before it forks the workers."""
    # Load jieba's dictionary before forking, so workers share it.
    app.extensions["niangjia"].router
    # What is loaded now lives as long as the process: keep it out of the cyclic garbage
    # collector's reach. Otherwise every full collection in a worker walks jieba's
    # dictionary and the router's tables again (with the GIL, and often SQLite's writer,
    # held: the webhook's p99; see bench/README.md) and dirties the pages the workers share.
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


def _when_ready(server: Any) -> None:
    # The supervisor's reports are counted ahead of use by one process beside the gunicorn
    # workers (bot/stats_refresh.py), so no serving process counts behind its requests.
    app = server.app.callable
    if app is None or not app.extensions["niangjia"].settings.worker.in_service:
        return
    server.stats_refresher = start_stats_refresher(app.extensions["niangjia"].settings)


def start_stats_refresher(settings: Settings) -> Refresher:
    """The stats refresher in a process of its own; it ends with this one."""
    from bot.stats_refresh import run_process

    # Forked by hand: `spawn` would run `python -m handlers` again, and a `multiprocessing`
    # child is recorded in every process forked after it (gunicorn's workers), whose exit
    # handlers then end it.
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            # gunicorn's signal handlers are the master's: the defaults back before anything else.
            for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGTTIN", "SIGTTOU",
                         "SIGWINCH", "SIGCHLD"):
                if hasattr(signal, name):
                    signal.signal(getattr(signal, name), signal.SIG_DFL)
            run_process(settings)
        except BaseException:  # noqa: BLE001 - said, then the process ends like any other
            log.exception("stats refresher stopped")
            code = 1
        finally:
            os._exit(code)  # never the master's exit handlers (its pid file, its sockets)
    return Refresher(pid)


class Refresher:
    """The refresher's process, as the master sees it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exitcode: int | None = None

    def is_alive(self) -> bool:
        if self.exitcode is not None:
            return False
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped already: gunicorn's master reaps every child
            self.exitcode = -1
            return False
        if pid == 0:
            return True
        self.exitcode = os.waitstatus_to_exitcode(status)
        return False

    def terminate(self) -> None:
        if self.is_alive():
            os.kill(self.pid, signal.SIGTERM)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)


def _on_exit(server: Any) -> None:
    process = getattr(server, "stats_refresher", None)
    if process is not None and process.is_alive():
        process.terminate()


def _child_exit(server: Any, worker: Any) -> None:
    from bot.metrics import worker_exited

    worker_exited(worker.pid)
    free_slot(server, worker)


def control_socket(port: int) -> str:
    """This instance's gunicorn control socket: gunicorn's own directory, named by port.

    gunicorn's default is one path per user, so a second `niangjia serve` on the same
    machine (another port, the same PostgreSQL) would take over the first one's socket.
    """
    from gunicorn.config import ControlSocket

    return os.path.join(os.path.dirname(ControlSocket.default), f"niangjia-{port}.ctl")


class PortInUse(Exception):
    """Something listens on the port `niangjia serve` was asked to take."""


def refuse_taken_port(host: str, port: int) -> None:
    """Raise PortInUse when something listens on host:port already.

    Each worker binds the port itself (`reuse_port`), and the kernel lets another process
    of the same user bind it beside them: a second `niangjia serve` started on a port in
    use by mistake would quietly take a share of the connections instead of failing. A
    plain bind (without SO_REUSEPORT) fails on a port anything listens on.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        # Connections of an earlier run waiting out TIME_WAIT do not count as in use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PortInUse(f"{host}:{port} is in use ({exc.strerror})") from None


def run(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve until interrupted."""
    share_connections(workers)
    NiangjiaServer(settings, options(host, port, workers)).run()


def options(host: str, port: int, workers: int) -> dict[str, Any]:
    """gunicorn's settings for `niangjia serve`."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        # gthread, keeping each worker's share of the keep-alive connections.
        "worker_class": WORKER_CLASS,
        "threads": THREADS,
        # A listening socket of each worker's own, so the kernel spreads new connections
        # over the workers. On one shared socket a worker that wakes first accepts all
        # it can: a client's (or nginx's) keep-alive connections opened together often
        # all landed in one worker while the other idled (bench/README.md, session 8).
        "reuse_port": True,
        "preload_app": True,
        "post_fork": _post_fork,
        "when_ready": _when_ready,
        "on_exit": _on_exit,
        "child_exit": _child_exit,
        "timeout": 30,
        "keepalive": KEEPALIVE_SECONDS,
        "accesslog": None,
        "control_socket": control_socket(port),
    }
