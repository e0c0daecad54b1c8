"""The workers' shares of the connections (handlers/workers.py); the worker itself, under
a real `niangjia serve`, in test_server.py."""

from __future__ import annotations

import multiprocessing

from handlers.workers import ConnectionShares


def test_a_worker_is_over_its_share_only_above_the_ceiling_of_an_even_split():
    shares = ConnectionShares(4)
    first, second = shares.claim(101), shares.claim(102)
    assert shares.over_share(first, 6) is True  # 6 of 6 so far
    assert shares.over_share(second, 2) is False
    assert shares.over_share(first, 5) is True  # 5 of 7: its share is 4
    assert shares.over_share(first, 4) is True  # 4 of 6: its share is 3
    assert shares.over_share(second, 3) is False
    assert shares.over_share(first, 4) is False  # 4/3: as even as 7 can be
    assert shares.over_share(second, 4) is False


def test_a_slot_is_freed_when_its_worker_exits_and_taken_by_the_next():
    shares = ConnectionShares(2)
    first, second = shares.claim(101), shares.claim(102)
    assert shares.claim(103) is None  # full: that worker runs without balancing
    shares.over_share(first, 7)
    shares.release(101)
    # The exited worker's count no longer weighs: 1 is the whole of the rest.
    assert shares.over_share(second, 1) is False
    assert shares.claim(103) == first
    assert shares.over_share(first, 0) is False and shares.over_share(second, 3) is True


def _hold(shares: ConnectionShares, held: int) -> None:
    slot = shares.claim(multiprocessing.current_process().pid)
    shares.over_share(slot, held)


def test_the_counts_are_shared_with_the_processes_forked_after_they_are_made():
    shares = ConnectionShares(4)
    mine = shares.claim(1)
    child = multiprocessing.get_context("fork").Process(target=_hold, args=(shares, 1))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    # Five here and the child's one: over the share of 6 (alone, five would be all of it).
    assert shares.over_share(mine, 5) is True
    assert shares.over_share(mine, 1) is False


def test_a_claim_lock_left_held_by_a_killed_worker_delays_the_next_worker_only_briefly():
    shares = ConnectionShares(2)
    shares._claims.acquire()  # as if a worker had died while claiming
    assert shares.claim(101) is None  # it runs unbalanced rather than hangs
    shares.release(101)  # the master frees slots without the lock
