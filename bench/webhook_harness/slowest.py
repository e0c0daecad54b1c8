"""Where a bench run's slowest deliveries spend their time, measured inside the server.

Set NIANGJIA_BENCH_TRACE to a directory and every Niangjia worker times each request:
the wait for SQLite's writer turn, each SQL statement, the rest of the time the turn is
held (commit included), and the thread's own CPU time. When the worker exits it writes
the slowest 1% and the median request to DIR/trace-PID.json; `summarise` reads them all.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

_local = threading.local()
_records: list[dict[str, Any]] = []
# The cyclic garbage collector's pauses, by generation: [count, total s, longest s].
_gc: dict[int, list[float]] = {}
_gc_started = [0.0]


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
        return
    took = time.perf_counter() - _gc_started[0]
    count, total, longest = _gc.setdefault(info["generation"], [0, 0.0, 0.0])
    _gc[info["generation"]] = [count + 1, total + took, max(longest, took)]


_PARTS = ("wall", "turn_wait", "turn_held", "sql", "cpu")


class _TimedTurn:
    """The runtime's writer turn, timed: how long a delivery waited for it and held it."""

    def __init__(self, turn: Any) -> None:
        self._turn = turn

    def __enter__(self) -> Any:
        asked = time.perf_counter()
        self._turn.__enter__()
        got = time.perf_counter()
        current = getattr(_local, "current", None)
        if current is not None:
            current["turn_wait"] += got - asked
            current["_turn_at"] = got
        return self

    def __exit__(self, *exc_info: object) -> None:
        current = getattr(_local, "current", None)
        if current is not None and "_turn_at" in current:
            current["turn_held"] += time.perf_counter() - current.pop("_turn_at")
        self._turn.__exit__(*exc_info)


def install(app: Any, directory: str) -> None:
    """Time every request of `app` (the Niangjia Flask app) once DIR/start exists."""
    start = Path(directory) / "start"
    started = []
    runtime = app.extensions["niangjia"]
    runtime.write_lock = _TimedTurn(runtime.write_lock)
    engine = runtime.db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def statement_started(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        _local.statement_at = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def finished(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        current = getattr(_local, "current", None)
        if current is not None:
            took = time.perf_counter() - _local.statement_at
            current["sql"] += took
            current["statements"].append((" ".join(statement.split()[:4])[:60], round(took * 1000, 3)))

    inner = app.wsgi_app

    def timed(environ: dict, start_response: Any) -> Any:
        if not started:
            if not start.exists():
                return inner(environ, start_response)
            started.append(True)
            gc.callbacks.append(_on_gc)
        current = {"turn_wait": 0.0, "turn_held": 0.0, "sql": 0.0, "statements": []}
        _local.current = current
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return inner(environ, start_response)
        finally:
            _local.current = None
            current["wall"] = time.perf_counter() - wall
            current["cpu"] = time.thread_time() - cpu
            current["end"] = time.perf_counter()
            _records.append(current)

    app.wsgi_app = timed


def dump(directory: str) -> None:
    """Write this worker's slowest 1% and its median request (milliseconds)."""
    if not _records:
        return
    ordered = sorted(_records, key=lambda r: r["wall"])
    keep = ordered[int(len(ordered) * 0.99):]

    def ms(record: dict[str, Any]) -> dict[str, Any]:
        out = {k: round(v * 1000, 3) for k, v in record.items() if isinstance(v, float) and k != "end"}
        out["statements"] = record["statements"]
        return out

    # Every request's parts summed, and the span they came in: the turn's busy share.
    totals = {part: round(sum(r[part] for r in ordered) * 1000, 3) for part in _PARTS}
    span = max(r["end"] for r in ordered) - min(r["end"] - r["wall"] for r in ordered)
    path = Path(directory) / f"trace-{os.getpid()}.json"
    path.write_text(json.dumps({"requests": len(ordered), "median": ms(ordered[len(ordered) // 2]),
                                "totals": totals, "span_ms": round(span * 1000, 3),
                                "slowest": [ms(r) for r in keep],
                                "gc": {g: [c, round(t * 1000, 2), round(m * 1000, 2)] for g, (c, t, m) in _gc.items()}}))


def summarise(directory: str | Path) -> str:
    """One table over all workers' files: the median request against the slowest 1%."""
    median: list[dict] = []
    slowest: list[dict] = []
    count = 0
    totals = dict.fromkeys(_PARTS, 0.0)
    span = 0.0
    collections: list[str] = []
    for path in sorted(Path(directory).glob("trace-*.json")):
        data = json.loads(path.read_text())
        median.append(data["median"])
        slowest.extend(data["slowest"])
        count += data["requests"]
        for part in _PARTS:
            totals[part] += data["totals"][part]
        span = max(span, data["span_ms"])
        collections.append(", ".join(f"gen {g}: {c}× {t} ms (longest {m} ms)" for g, (c, t, m) in sorted(data["gc"].items())))
    if not slowest:
        return "trace: no requests recorded"
    parts = list(_PARTS)

    def mean(records: list[dict], key: str) -> float:
        return sum(r.get(key, 0.0) for r in records) / len(records)

    lines = ["| ms (mean) | " + " | ".join(parts) + " |", "|---|" + "---:|" * len(parts)]
    lines.append(f"| every request ({count:,}) | " + " | ".join(f"{totals[p] / count:.2f}" for p in parts) + " |")
    for label, records in (("median request", median), (f"slowest 1% ({len(slowest)})", slowest)):
        lines.append(f"| {label} | " + " | ".join(f"{mean(records, p):.2f}" for p in parts) + " |")
    lines.append("")
    lines.append(f"the writer's turn held {totals['turn_held'] / span:.0%} of the time (both workers' requests, "
                 f"{span / 1000:.1f} s), waited for {totals['turn_wait'] / span:.0%}")
    worst: dict[str, list[float]] = {}
    for record in slowest:
        if record["statements"]:
            text, took = max(record["statements"], key=lambda s: s[1])
            worst.setdefault(text, []).append(took)
    lines.append("")
    lines.append("slowest statement of a slow request: " + "; ".join(
        f"{text} ×{len(t)} (mean {sum(t) / len(t):.2f} ms)" for text, t in sorted(worst.items(), key=lambda i: -len(i[1]))[:5]))
    lines.append("garbage collector pauses, per worker: " + " | ".join(collections))
    return "\n".join(lines)
