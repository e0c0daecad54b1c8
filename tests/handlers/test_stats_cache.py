"""The stats cache: numbers at most `seconds` old, counted again in the background past half of that."""

from __future__ import annotations

from handlers.stats_args import ReportCache


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_report_past_half_its_time_is_served_and_counted_again_behind_it():
    clock, queued = Clock(), []
    cache = ReportCache(60, clock=clock, spawn=queued.append)
    counts = iter(range(1, 100))

    def count():
        return next(counts)

    assert cache.remember(("k",), count, count) == 1
    clock.t += 29
    assert cache.remember(("k",), count, count) == 1 and queued == []  # fresh: nothing to do
    clock.t += 2  # 31 s: served as it is, counted again behind it, once however many ask
    assert cache.remember(("k",), count, count) == 1
    assert cache.remember(("k",), count, count) == 1
    assert len(queued) == 1
    queued.pop()()  # the background count runs
    assert cache.remember(("k",), count, count) == 2
    clock.t += 59  # 59 s after the background count started: still served (a refresh is asked for)
    assert cache.remember(("k",), count, count) == 2 and len(queued) == 1
    queued.clear()  # ... but the machine is too busy to run it
    clock.t += 1  # a minute: never older than that, counted in the request itself
    assert cache.remember(("k",), count, count) == 3


def test_a_failed_background_count_leaves_the_old_numbers_until_their_minute_is_up():
    clock, queued = Clock(), []
    cache = ReportCache(60, clock=clock, spawn=queued.append)
    cache.remember(("k",), lambda: "old")
    clock.t += 40

    def broken():
        raise RuntimeError("database went away")

    assert cache.remember(("k",), lambda: "new", broken) == "old"
    queued.pop()()
    assert cache.remember(("k",), lambda: "new", broken) == "old"
    assert len(queued) == 1  # it may try again
    clock.t += 20
    assert cache.remember(("k",), lambda: "new", broken) == "new"


def test_zero_seconds_counts_every_time():
    cache = ReportCache(0)
    counts = iter(range(5))
    assert [cache.remember(("k",), lambda: next(counts)) for _ in range(3)] == [0, 1, 2]
