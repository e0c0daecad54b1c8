"""What `niangjia serve` does in gunicorn's master before it forks the workers."""

from __future__ import annotations

import gc
import multiprocessing.util
import os
import socket
import time
import types

from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder, run_wsgi_app

from handlers.server import ReadDeadline, _on_exit, _when_ready, preload
from models import Message


def test_preload_puts_the_loaded_app_beyond_the_garbage_collectors_reach(app):
    # A full collection in a worker would walk everything loaded here again, with the
    # GIL held: the webhook's worst pauses. Frozen objects are in no generation.
    try:
        preload(app)
        runtime = app.extensions["niangjia"]
        tracked = gc.get_objects()
        assert not any(o is runtime.router or o is runtime for o in tracked)
    finally:
        gc.unfreeze()


def test_a_body_trickling_past_the_read_deadline_gets_408_and_frees_the_thread(app, db):
    # The client promises 200 bytes and sends 5: without a deadline the worker thread
    # would wait for the rest for as long as the client keeps the connection open.
    server_end, client_end = socket.socketpair()
    try:
        client_end.sendall(b"<xml>")
        environ = EnvironBuilder(
            path="/wechat", method="POST", query_string="timestamp=1&nonce=2&signature=3",
            headers={"Content-Length": "200", "Content-Type": "text/xml"},
        ).get_environ()
        # As gunicorn hands it over: its socket, and a stream it terminates itself.
        environ.update({"CONTENT_LENGTH": "200", "wsgi.input_terminated": True})
        environ["wsgi.input"] = server_end.makefile("rb")
        environ["gunicorn.socket"] = server_end
        started = time.monotonic()
        _, status, _ = run_wsgi_app(ReadDeadline(app.wsgi_app, 0.3), environ, buffered=True)
        assert status.startswith("408")
        assert time.monotonic() - started < 5  # a guard against hanging, not a speed figure
        # Nothing more is read from that client (gunicorn will not drain its body).
        assert server_end.recv(1) == b""
    finally:
        server_end.close()
        client_end.close()
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_a_body_in_time_is_read_and_the_socket_is_blocking_again_for_the_answer(app):
    server_end, client_end = socket.socketpair()
    try:
        client_end.sendall(b"<xml>")
        environ = EnvironBuilder(path="/wechat", method="POST", query_string="timestamp=1&nonce=2&signature=3").get_environ()
        environ["CONTENT_LENGTH"] = "5"
        environ["wsgi.input"] = server_end.makefile("rb")
        environ["gunicorn.socket"] = server_end
        _, status, _ = run_wsgi_app(ReadDeadline(app.wsgi_app, 5), environ, buffered=True)
        assert status.startswith("403")  # read in full, then refused for its signature
        assert server_end.gettimeout() is None
    finally:
        server_end.close()
        client_end.close()


def test_the_stats_refresher_runs_in_a_process_of_its_own_beside_the_workers(app, db):
    # The serving processes only read the stored reports; one process per instance counts
    # them ahead of use (bot/stats_refresh.py), started when gunicorn is ready.
    server = types.SimpleNamespace(app=types.SimpleNamespace(callable=app))
    app.extensions["niangjia"].settings.worker.in_service = False
    _when_ready(server)
    assert not hasattr(server, "stats_refresher"), "a `niangjia worker` elsewhere runs it"
    app.extensions["niangjia"].settings.worker.in_service = True
    _when_ready(server)
    try:
        assert server.stats_refresher.is_alive() and server.stats_refresher.pid != os.getpid()
    finally:
        _on_exit(server)
        server.stats_refresher.join(10)
    assert not server.stats_refresher.is_alive()


def test_a_worker_that_exits_leaves_the_refresher_running(app, db):
    # gunicorn forks its workers after `when_ready` started the refresher. A worker that
    # exits (a restart, a crash) runs Python's exit handlers, which ended the refresher it
    # had inherited the record of: it then counted nothing until the next restart.
    server = types.SimpleNamespace(app=types.SimpleNamespace(callable=app))
    app.extensions["niangjia"].settings.worker.in_service = True
    _when_ready(server)
    try:
        worker = os.fork()
        if worker == 0:  # a gunicorn worker, exiting as one does
            try:
                multiprocessing.util._exit_function()
            finally:
                os._exit(0)
        os.waitpid(worker, 0)
        server.stats_refresher.join(2)
        assert server.stats_refresher.is_alive()
    finally:
        _on_exit(server)
        server.stats_refresher.join(10)
    assert not server.stats_refresher.is_alive()
