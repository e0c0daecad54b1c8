"""The journal of messages that arrived while the database could not take them.

A webhook that cannot write a delivery writes the message here instead and answers her
as usual; the worker replays the journal into the database when it answers again.

One file per message in one directory, each written to a temporary name, fsync'd, then
renamed into place (and the directory fsync'd): a rename is atomic, so a reader sees a
whole message or none, a crash leaves at most a stray temporary file, and any number of
processes write side by side without a shared lock. (An flock'd append log would need
every writer to take one lock and a replayer to track offsets and compact the file;
files make "remove once stored" a single unlink.) Names sort in arrival order:
nanoseconds since the epoch, then the process and a counter. The sender's hash in the
name lets a delivery see at a glance that earlier messages of hers are waiting, so her
later ones queue behind them and she is answered in the order she wrote.

Replaying takes an exclusive flock, so one process replays at a time, in name order.
A message is removed only after its delivery committed; a crash in between replays it
again, and the receipt (MsgId / update_id, under a unique constraint) makes that a no-op.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Windows: replays there are not serialised between processes
    fcntl = None

from bot.inbound import Inbound

log = logging.getLogger(__name__)

_counter = itertools.count()
_INBOUND_FIELDS = {f.name for f in fields(Inbound)}


def sender_key(channel: str, user: str) -> str:
    """A short hash naming her in file names (her openid stays inside the file)."""
    return hashlib.sha256(f"{channel}\0{user}".encode()).hexdigest()[:16]


class Spool:
    """A directory of journaled messages: `put` by webhooks, `replay` by the worker."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.failed_dir = self.directory / "failed"
        self._tmp = self.directory / "tmp"
        self.heartbeat_file = self.directory / "worker.heartbeat"
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            # Her words are in these files: only the service's user may read them.
            for path in (self.directory, self._tmp, self.failed_dir):
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._ready = True

    # -- writing ------------------------------------------------------------------

    def put(self, inbound: Inbound, received_at: datetime) -> Path:
        """Journal `inbound` durably; returns its file once it is safely on disk."""
        self._ensure()
        name = f"{time.time_ns():020d}-{sender_key(inbound.channel, inbound.user)}-{os.getpid()}-{next(_counter)}.json"
        record = {**asdict(inbound), "sent_at": inbound.sent_at.isoformat(), "received_at": received_at.isoformat()}
        body = json.dumps(record, ensure_ascii=False).encode("utf-8")
        tmp = self._tmp / name
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        final = self.directory / name
        os.rename(tmp, final)
        _fsync_dir(self.directory)
        return final

    # -- reading ------------------------------------------------------------------

    def pending(self) -> list[Path]:
        """Journaled messages, oldest first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return [self.directory / n for n in sorted(names) if n.endswith(".json")]

    def depth(self) -> int:
        return len(self.pending())

    def failed(self) -> int:
        try:
            return sum(1 for n in os.listdir(self.failed_dir) if n.endswith(".json"))
        except FileNotFoundError:
            return 0

    def holds(self, channel: str, user: str) -> bool:
        """Whether earlier messages of hers wait here (so this one must queue behind them)."""
        try:
            names = os.listdir(self.directory)
        except OSError:  # none yet, or a spool that cannot be read: nothing of hers waits
            return False
        key = f"-{sender_key(channel, user)}-"
        return any(key in n for n in names if n.endswith(".json"))

    def oldest_age(self, now: float | None = None) -> float | None:
        """Seconds since the oldest journaled message arrived, None when there is none."""
        pending = self.pending()
        if not pending:
            return None
        return max((now or time.time()) - int(pending[0].name.split("-", 1)[0]) / 1e9, 0.0)

    @staticmethod
    def read(path: Path) -> tuple[Inbound, datetime]:
        """The message in `path` and when it arrived."""
        record = json.loads(path.read_text(encoding="utf-8"))
        received_at = datetime.fromisoformat(record.pop("received_at"))
        record["sent_at"] = datetime.fromisoformat(record["sent_at"])
        return Inbound(**{k: v for k, v in record.items() if k in _INBOUND_FIELDS}), received_at

    # -- replaying --------------------------------------------------------------------

    @contextmanager
    def replaying(self) -> Iterator[bool]:
        """Yields True when this process holds the replay lock (nobody else is replaying)."""
        self._ensure()
        if fcntl is None:
            yield True
            return
        fd = os.open(self.directory / "replay.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def remove(self, path: Path) -> None:
        """Forget a message once its delivery committed."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        _fsync_dir(self.directory)

    def reject(self, path: Path) -> None:
        """Set aside a message that fails for a reason other than the database being away."""
        self._ensure()
        os.rename(path, self.failed_dir / path.name)
        _fsync_dir(self.directory)

    # -- the worker's heartbeat -------------------------------------------------------

    def beat(self) -> None:
        """Record that a worker is alive (any process's worker will do)."""
        self._ensure()
        self.heartbeat_file.touch()

    def heartbeat_age(self, now: float | None = None) -> float | None:
        try:
            return max((now or time.time()) - self.heartbeat_file.stat().st_mtime, 0.0)
        except FileNotFoundError:
            return None


def _fsync_dir(directory: Path) -> None:
    # A rename or unlink is durable only once the directory itself is flushed.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
