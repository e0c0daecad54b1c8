"""Taking the database away for real, and bringing it back.

PostgreSQL: a TCP proxy on 127.0.0.1 in front of the server, which the test (or the
bench) cuts (every open connection closed, new ones closed on arrival) and restores.
The server itself is never stopped: other suites use it. SQLite: the database file is
moved aside and a directory put in its place, so no connection can open it; pooled
connections are dropped so the next one has to.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

from models.db import Checkpointer


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target`; `cut()` drops and refuses, `restore()` resumes."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            for sock in list(self._open):
                _close(sock)
            self._open.clear()

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closing = True
        self.cut()
        _close(self.listener)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                _close(client)  # the database is "down": the connection dies at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class SqliteOutage:
    """Makes a SQLite database file impossible to open, then puts it back.

    Every connection is closed first (the engine's pool and the WAL checkpointer's), so
    none keeps the moved file's write-ahead log open across the move: SQLite reports a
    "disk I/O error" when two connections disagree about it, which no real outage causes.
    """

    def __init__(self, path: str, db) -> None:
        self.path = Path(path)
        self.aside = self.path.with_name(self.path.name + ".aside")
        self.db = db

    def _close_all(self) -> None:
        self.db.engine.dispose()
        turn = self.db.write_lock
        if getattr(turn, "checkpointer", None) is not None:
            turn.checkpointer.stop(wait=5)
            turn.checkpointer = Checkpointer(str(self.path))  # started again by the next write

    def cut(self) -> None:
        self._close_all()
        os.rename(self.path, self.aside)
        self.path.mkdir()  # "unable to open database file" for every new connection

    def restore(self) -> None:
        if self.aside.exists():
            self._close_all()
            shutil.rmtree(self.path)
            os.rename(self.aside, self.path)
