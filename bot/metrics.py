"""Prometheus metrics: what the engine counts, and the exposition of them all.

Under `niangjia serve` gunicorn's workers are separate processes, so the counters are
kept in prometheus-client's multiprocess mode: `PROMETHEUS_MULTIPROC_DIR` names a
directory (set up and emptied by `niangjia serve` before anything imports this module),
each process writes its own files there, and a scrape on any worker adds them up.
Without the variable (tests, one process) the counters live in memory.

What needs the database (outbox backlog and failures, overdue tickets) is read at
scrape time by `DatabaseCollector`, so it is true whatever process asks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
if os.environ.get(MULTIPROC_ENV):
    # A process started before `niangjia serve` made the directory (the worker, the
    # sweep, a command run by hand) would otherwise fail on its first counter.
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest  # noqa: E402
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.registry import REGISTRY, Collector  # noqa: E402

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

MESSAGES_IN = Counter(
    "niangjia_messages_in", "Messages from women taken in, by channel and route (category, or none).",
    ["channel", "route", "urgent"],
)
WEBHOOK_SECONDS = Histogram(
    "niangjia_webhook_seconds", "Time to answer a webhook request, by channel.", ["channel"],
    # WeChat gives up after 5 s: the buckets are finest below one second.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
)
FALLBACK_REPLIES = Counter(
    "niangjia_fallback_replies", "Deliveries answered 'please send it again' because they could not be stored.",
    ["channel"],
)
SWEEP_RUNS = Counter(
    "niangjia_sweep_runs", "Runs of the SLA sweep (reminders and escalations), by outcome (ok | failed).",
    ["outcome"],
)

STATS_COUNTS = Counter(
    "niangjia_stats_counts", "Supervisor reports counted, by where: worker (ahead of use) or request "
    "(no stored report fresh enough: a cold start, or the worker behind).", ["where"],
)


# Both outcomes exist from the start, so an alert on "no successful sweep lately" has a
# series to read before the first run.
for _outcome in ("ok", "failed"):
    SWEEP_RUNS.labels(_outcome)
for _where in ("worker", "request"):
    STATS_COUNTS.labels(_where)


def message_in(channel: str, route: str | None, urgent: bool) -> None:
    """Count one message taken in (not a retry of one already counted)."""
    MESSAGES_IN.labels(channel, route or "none", "true" if urgent else "false").inc()


def fallback_reply(channel: str) -> None:
    """Count one delivery answered with the fallback."""
    FALLBACK_REPLIES.labels(channel).inc()


def sweep_ran(outcome: str = "ok") -> None:
    """Count one run of the SLA sweep: call it once per run, "ok" or "failed"."""
    SWEEP_RUNS.labels(outcome).inc()


def stats_counted(where: str) -> None:
    """Count one supervisor report counted, "worker" or "request"."""
    STATS_COUNTS.labels(where).inc()


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit hook: a dead worker's live gauges stop counting."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class _InMemory(Collector):
    """The default registry's metrics, added to a scrape's registry."""

    def collect(self) -> Iterable[Any]:
        return REGISTRY.collect()


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text every metric is scraped as: all processes' counters plus `extra`."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_InMemory())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


class DatabaseCollector(Collector):
    """Outbox backlog and failures and overdue tickets, read from the database at scrape time."""

    def __init__(self, read: Any) -> None:
        # `read(now)` returns {"outbox": {status: n}, "overdue": {"claim": n, "resolve": n}}.
        self.read = read

    def collect(self) -> Iterable[Any]:
        from models import utcnow

        figures = self.read(utcnow())
        outbox = GaugeMetricFamily("niangjia_outbox_messages", "Outbox messages by status.", labels=["status"])
        for status, count in sorted(figures["outbox"].items()):
            outbox.add_metric([status], count)
        yield outbox
        overdue = GaugeMetricFamily(
            "niangjia_overdue_tickets", "Open tickets past their deadline: to be claimed, or to be resolved.",
            labels=["deadline"],
        )
        for deadline, count in sorted(figures["overdue"].items()):
            overdue.add_metric([deadline], count)
        yield overdue


def figures_at(session: Any, now: datetime) -> dict[str, dict[str, int]]:
    """The database's figures for DatabaseCollector, in one session."""
    from sqlalchemy import func, select

    from models import OutboxMessage, Ticket
    from models.outbox import OUTBOX_STATUSES

    outbox = dict.fromkeys(OUTBOX_STATUSES, 0)
    for status, count in session.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.status != "sent").group_by(OutboxMessage.status)
    ):
        outbox[status] = count
    # Sent messages are history, not backlog: left out of the count (it only grows).
    outbox.pop("sent", None)
    claim = session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.status == "new", Ticket.claim_due_at < now)
    )
    resolve = session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.status == "claimed", Ticket.resolve_due_at < now)
    )
    return {"outbox": outbox, "overdue": {"claim": claim or 0, "resolve": resolve or 0}}
