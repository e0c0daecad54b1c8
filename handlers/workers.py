"""gunicorn's threaded worker, keeping each worker's share of the keep-alive connections.

Each worker listens on a socket of its own (`reuse_port`, handlers/server.py) and the
kernel hashes every new connection to one of them, so keep-alive connections opened
together fall unevenly more often than not: 8 over two workers fall 4/4 in 70 of 256
cases, 6/2 or worse in 74. A connection then stays with its worker for good. On SQLite
each worker serves one webhook delivery at a time (the lane, models.db.ProcessLane) and
both answer about as many a second, so at 6/2 the requests on the fuller worker queue
three times as deep as the other's: the bench's p99 was 2.7 times the mean, against about
2 at 4/4 (bench/README.md, "Session 10"). nginx's keep-alive connections to the workers
fall the same way.

So a worker that holds more than its share of the connections (the ceiling of all the
workers' connections over the workers) answers its next request with `Connection:
close`, and the client opens a new connection, which the kernel hashes afresh; the split
evens out within a few answers, and a worker at or below its share never lets go of one.
The counts live in memory the workers share, made in the master before it forks them.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from gunicorn.workers.gthread import ThreadWorker


class ConnectionShares:
    """How many connections each worker of one server holds: a slot per worker, in
    memory shared by the processes forked after it is made."""

    def __init__(self, slots: int) -> None:
        # Each slot: the worker's pid (0: free) and the connections it last counted.
        # Only a slot's own worker writes its count; a count read a moment old is fine.
        self._pids = multiprocessing.RawArray("q", slots)
        self._held = multiprocessing.RawArray("q", slots)
        self._claims = multiprocessing.Lock()

    def claim(self, pid: int) -> int | None:
        """A free slot for the worker `pid`, or None if every slot is taken."""
        # A worker killed while it claimed would hold the lock for good: the next one
        # then runs without a slot (its connections not balanced) rather than not at all.
        if not self._claims.acquire(timeout=1):
            return None
        try:
            for slot, owner in enumerate(self._pids):
                if owner == 0:
                    self._pids[slot], self._held[slot] = pid, 0
                    return slot
            return None
        finally:
            self._claims.release()

    def release(self, pid: int) -> None:
        """The slot of a worker that exited, freed for the one that replaces it.

        Without the claims' lock: the master must never wait on a worker (one killed while
        claiming would hold it), and a claim takes only a slot already freed."""
        for slot, owner in enumerate(self._pids):
            if owner == pid:
                self._held[slot] = 0
                self._pids[slot] = 0

    def over_share(self, slot: int, held: int) -> bool:
        """Record that the worker in `slot` holds `held` connections; True if that is more
        than its share of all the workers' connections."""
        self._held[slot] = held
        counts = [n for owner, n in zip(self._pids, self._held) if owner]
        return held > -(-sum(counts) // len(counts))


# gunicorn's `worker_class` setting for it.
WORKER_CLASS = "handlers.workers.BalancedThreadWorker"

# gunicorn's `keepalive`: how long a worker keeps an idle keep-alive connection. Longer
# than nginx keeps its idle connections to us (`keepalive_timeout` in deploy/nginx's
# upstream block, 20 s), so the proxy, not the worker, closes an idle one: a worker
# closing it just as nginx sends a push on it fails that push (nginx answers 502 and does
# not retry a POST). gunicorn's default, 2 s, made that race; a client straight to the
# workers met it too: bench/load.py on PostgreSQL, 8 tries in 60,000 pushes failed on a
# closing connection with 2 s, none with 30 s (bench/README.md, "Session 11").
KEEPALIVE_SECONDS = 30

# Made by `share_connections` in the master, before the fork; None: no balancing.
_shares: ConnectionShares | None = None


def share_connections(workers: int) -> None:
    """Ready the shared counts for a server of `workers` workers (call before it forks
    them). Twice as many slots as workers: on a reload the new workers start before the
    old ones leave."""
    global _shares
    _shares = ConnectionShares(2 * max(workers, 1))


def free_slot(server: Any, worker: Any) -> None:
    """gunicorn's `child_exit` hook (in the master): the worker's slot freed."""
    if _shares is not None:
        _shares.release(worker.pid)


class BalancedThreadWorker(ThreadWorker):
    """gunicorn's gthread worker that lets go of a keep-alive connection after answering
    on it while it holds more than its share."""

    _slot: int | None = None

    def init_process(self) -> None:
        if _shares is not None:
            self._slot = _shares.claim(os.getpid())
        super().init_process()

    # gthread closes a connection after its answer when its idle keep-alive connections
    # number at least `max_keepalived` (asked once per request, in the request's thread):
    # a limit of 0 while over the share closes this one.
    @property
    def max_keepalived(self) -> int:
        if self._slot is not None and _shares is not None and _shares.over_share(self._slot, self.nr_conns):
            return 0
        return self._max_keepalived

    @max_keepalived.setter
    def max_keepalived(self, value: int) -> None:
        self._max_keepalived = value
