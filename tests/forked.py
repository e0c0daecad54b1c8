"""Tests that race forked processes against each other (the way gunicorn forks its workers
from the preloaded app): a child that fails or hangs says where, instead of leaving the
others at a broken barrier and the parent at an empty queue."""

from __future__ import annotations

import faulthandler
import functools
import traceback
from collections.abc import Callable

HANG_AFTER = 90  # seconds: a child still running then prints every thread's stack and exits
ERROR = "error in child"


def in_child(target: Callable[..., None]) -> Callable[..., None]:
    """Wrap a child's body whose last argument is the results queue."""

    @functools.wraps(target)
    def run(*args: object) -> None:
        faulthandler.dump_traceback_later(HANG_AFTER, exit=True)
        try:
            target(*args)
        except BaseException:
            args[-1].put((ERROR, traceback.format_exc()))
            raise
        finally:
            faulthandler.cancel_dump_traceback_later()

    return run


def collect(workers: list, results) -> list[tuple]:
    """Start the workers, take one result from each, and fail with a child's traceback."""
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=HANG_AFTER + 30) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    failures = [detail for status, detail in outcomes if status == ERROR]
    assert not failures, failures[0]
    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    return outcomes
