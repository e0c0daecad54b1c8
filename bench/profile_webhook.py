"""Where one webhook delivery spends its time: pyinstrument over in-process deliveries.

    bench/webhook --profile [-n 3000] [--rows 1000000] [--pg URL]

Builds the real app (handlers.app.create_app) on a fresh database, seeds women with open
tickets, then sends the bench's message mix (bench/webhook_harness/pushes.py) through
Flask's test client, one delivery after another in one thread: first timed without the profiler (milliseconds
and SQL statements per delivery, by kind of message), then again under pyinstrument. It
prints the time by component, the functions with the most time of their own, the project
functions with their totals, and the top of the call tree.
"""

from __future__ import annotations

import os
import sys

# Import this harness's modules from bench/webhook_harness, and nothing from bench/ itself:
# a script there named like a standard module would shadow it.
_HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "webhook_harness")
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(_HARNESS):
    sys.path[0] = _HARNESS
else:
    sys.path.insert(0, _HARNESS)

import argparse  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from pushes import TOKEN, Mix, Push  # noqa: E402

# Self time is charged to the first rule whose path part (and function prefix) matches;
# a frame no rule names (the standard library, built-ins such as isinstance) is charged to
# the component of its caller, so "SQLAlchemy" includes the dict lookups it makes.
DRIVER = "database driver (SQLite / psycopg executing SQL)"
COMPONENTS = [
    (DRIVER, "<built-in>", ("Cursor.", "Connection.")),
    (DRIVER, "/psycopg", None),
    ("jieba segmentation", "/jieba/", None),
    ("router (bot/routing.py, bot/text.py)", "/bot/routing.py", None),
    ("router (bot/routing.py, bot/text.py)", "/bot/text.py", None),
    ("SQLAlchemy ORM and Core", "/sqlalchemy/", None),
    ("SQLAlchemy ORM and Core", "<sqlalchemy generated", None),
    ("wechatpy, xmltodict, expat (parse, reply)", "/wechatpy/", None),
    ("wechatpy, xmltodict, expat (parse, reply)", "/xmltodict", None),
    ("wechatpy, xmltodict, expat (parse, reply)", "/xml/", None),
    ("Flask, Werkzeug (request, response, test client)", "/werkzeug/", None),
    ("Flask, Werkzeug (request, response, test client)", "/flask/", None),
    ("logging", "/logging/", None),
    ("Niangjia code (bot/, models/, handlers/)", "/bot/", None),
    ("Niangjia code (bot/, models/, handlers/)", "/models/", None),
    ("Niangjia code (bot/, models/, handlers/)", "/handlers/", None),
    ("bench driver", "/bench/", None),
]

# Library entry points whose total (inclusive) time is worth seeing beside the project's.
LIBRARY_SPOTLIGHT = [
    ("sqlalchemy/orm/session.py", "flush"),
    ("sqlalchemy/orm/session.py", "_execute_internal"),
    ("sqlalchemy/orm/session.py", "commit"),
    ("jieba/__init__.py", "cut"),
    ("wechatpy/parser.py", "parse_message"),
    ("wechatpy/replies.py", "create_reply"),
    ("logging/__init__.py", "_log"),
]


def setup_database(url: str, rows: int) -> None:
    from sqlalchemy import create_engine, text

    if url.startswith("postgresql"):
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    from bot.setup import init_database
    from models import Database

    db = Database(url)
    init_database(db)
    db.dispose()
    if rows:
        from prefill import prefill

        started = time.perf_counter()
        engine = create_engine(url)
        prefill(engine, rows)
        engine.dispose()
        print(f"prefilled {rows:,} women's history in {time.perf_counter() - started:.0f}s")


def deliver(client, push: Push) -> None:
    response = client.post("/wechat?" + push.query, data=push.body, content_type="text/xml")
    if response.status_code != 200:
        raise SystemExit(f"delivery answered {response.status_code}: {response.get_data(as_text=True)[:200]}")


def component(path: str, function: str) -> str | None:
    for name, part, prefixes in COMPONENTS:
        if part in path and (prefixes is None or function.startswith(prefixes)):
            return name
    return None


def walk(frame, visit, stack=(), inherited="other"):
    own = visit(frame, stack, inherited)
    for child in frame.children:
        walk(child, visit, (*stack, frame), own)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/webhook --profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=3000, help="deliveries timed, then as many profiled (3000)")
    parser.add_argument("--rows", type=int, default=0, help="women's history in the database first (0)")
    parser.add_argument("--pg", metavar="URL", default="", help="PostgreSQL instead of SQLite (schema DROPPED)")
    parser.add_argument("--seed-users", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.001, help="pyinstrument sampling interval (s)")
    parser.add_argument("--tree-lines", type=int, default=70, help="lines of the call tree to print")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    url = args.pg or f"sqlite:///{workdir / 'niangjia.db'}"
    os.environ.update(NIANGJIA_DATABASE_URL=url, NIANGJIA_WECHAT_TOKEN=TOKEN)
    try:
        setup_database(url, args.rows)
        from pyinstrument import Profiler
        from sqlalchemy import event

        from handlers.app import create_app

        app = create_app()
        runtime = app.extensions["niangjia"]
        runtime.router  # noqa: B018 - loaded once, as before gunicorn forks
        # Keep logging's cost (INFO, as configured) but not its noise on the terminal.
        devnull = open(os.devnull, "w")
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(devnull)
        statements, flushes = [0], [0]

        # Each statement's duration, to say where the slowest deliveries spent their time.
        timings: list[tuple[str, float]] = []

        @event.listens_for(runtime.db.engine, "before_cursor_execute")
        def count(_conn, _cursor, statement, *_args):
            statements[0] += 1
            timings.append((statement, time.perf_counter()))

        @event.listens_for(runtime.db.engine, "after_cursor_execute")
        def timed(*_args):
            statement, started = timings[-1]
            timings[-1] = (statement, time.perf_counter() - started)

        @event.listens_for(runtime.db.engine, "commit")
        def commit_started(_conn):
            timings.append(("COMMIT", time.perf_counter()))

        @event.listens_for(runtime.db.sessionmaker, "after_flush")
        def count_flush(*_args):
            flushes[0] += 1

        client = app.test_client()
        mix = Mix(TOKEN)
        for push in mix.seed(args.seed_users):
            deliver(client, push)
        for push in mix.stream(300):  # warm caches (SQLAlchemy's compiled statements, jieba's)
            deliver(client, push)

        # Timed without the profiler, by kind of message.
        pushes = mix.stream(args.n)
        wall: dict[str, float] = defaultdict(float)
        sql: dict[str, int] = defaultdict(int)
        flushed: dict[str, int] = defaultdict(int)
        seen: dict[str, int] = defaultdict(int)
        each: list[tuple[float, str, list[tuple[str, float]]]] = []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for push in pushes:
            timings.clear()
            t, s, f = time.perf_counter(), statements[0], flushes[0]
            deliver(client, push)
            took = time.perf_counter() - t
            wall[push.kind] += took
            # A COMMIT's entry holds when it started: charge it the time until the answer was back
            # (the commit itself, then rendering the reply).
            each.append((took, push.kind, [(q, d if q != "COMMIT" else t + took - d) for q, d in timings]))
            sql[push.kind] += statements[0] - s
            flushed[push.kind] += flushes[0] - f
            seen[push.kind] += 1
        total_wall, total_cpu = time.perf_counter() - wall0, time.process_time() - cpu0

        backend = runtime.db.dialect
        print(f"\n{args.n:,} deliveries in one thread, {backend}, {args.rows:,} rows of history")
        print(f"  {total_wall / args.n * 1000:.2f} ms wall, {total_cpu / args.n * 1000:.2f} ms CPU per delivery "
              f"({args.n / total_wall:,.0f} deliveries/s on one core), "
              f"{sum(sql.values()) / args.n:.1f} SQL statements and {sum(flushed.values()) / args.n:.1f} "
              "ORM flushes per delivery")
        print("\n| kind | share | ms per delivery | SQL statements | ORM flushes |\n|---|---:|---:|---:|---:|")
        for kind in sorted(seen, key=lambda k: -seen[k]):
            print(f"| {kind} | {seen[kind] / args.n:.0%} | {wall[kind] / seen[kind] * 1000:.2f} | "
                  f"{sql[kind] / seen[kind]:.1f} | {flushed[kind] / seen[kind]:.1f} |")
        print_tail(each)

        # Unprofiled split: the floor's work (HTTP, signature, parse, reply) and the router,
        # each timed alone on the same pushes; the rest is storing (engine, ORM, SQL).
        from servers import floor_app

        floor_client = floor_app(TOKEN).test_client()
        started = time.perf_counter()
        for push in pushes:
            deliver(floor_client, push)
        floor_ms = (time.perf_counter() - started) / args.n * 1000
        texts = [push.body.split("<Content><![CDATA[", 1)[1].split("]]>", 1)[0] for push in pushes]
        started = time.perf_counter()
        for text in texts:
            runtime.router.route(text)
        route_ms = (time.perf_counter() - started) / args.n * 1000
        whole_ms = total_wall / args.n * 1000
        print("\n| unprofiled split of one delivery | ms | share |\n|---|---:|---:|")
        for name, ms in (
            ("the floor's work: Flask, signature, wechatpy parse and reply", floor_ms),
            ("routing (Router.route, jieba)", route_ms),
            ("the rest: intake, dialogue, SQLAlchemy, SQL, commit", whole_ms - floor_ms - route_ms),
        ):
            print(f"| {name} | {ms:.2f} | {ms / whole_ms:.0%} |")
        print(f"| whole delivery | {whole_ms:.2f} | 100% |")

        # The same again, under the profiler.
        pushes = mix.stream(args.n)
        profiler = Profiler(interval=args.interval, async_mode="disabled")
        profiler.start()
        for push in pushes:
            deliver(client, push)
        session = profiler.stop()
        root = session.root_frame(trim_stem=False)

        by_component: dict[str, float] = defaultdict(float)
        by_function: dict[tuple[str, str, int], float] = defaultdict(float)
        inclusive: dict[tuple[str, str], float] = defaultdict(float)

        project = str(ROOT) + "/"
        outside = (str(ROOT / ".venv") + "/", str(HERE) + "/")

        def visit(frame, stack, inherited: str) -> str:
            if frame.is_synthetic:  # "[self]" leaves: their time is the parent's own time
                return inherited
            own = frame.total_self_time
            path = (frame.file_path or "").replace("\\", "/")
            function = frame.function or "?"
            name = component(path, function) or inherited
            by_component[name] += own
            by_function[(function, _short(path), frame.line_no or 0)] += own
            key = None
            if path.startswith(project) and not path.startswith(outside):
                key = (_short(path), function)
            else:
                key = next(((f, n) for f, n in LIBRARY_SPOTLIGHT if path.endswith(f) and function == n), None)
            # Outermost occurrence only, so a recursive or re-entered function counts once.
            if key and not any(
                (s.file_path or "").endswith(key[0]) and s.function == key[1] for s in stack
            ):
                inclusive[key] += frame.time
            return name

        walk(root, visit)
        total = root.time
        per = 1000 / args.n
        print(f"\nprofiled: {total * per:.2f} ms per delivery under pyinstrument "
              f"(interval {args.interval * 1000:.1f} ms)")
        print("\n| component (self time) | ms per delivery | share |\n|---|---:|---:|")
        for name, seconds in sorted(by_component.items(), key=lambda kv: -kv[1]):
            print(f"| {name} | {seconds * per:.2f} | {seconds / total:.0%} |")
        print("\n| function (inclusive: with what it calls) | ms per delivery | share |\n|---|---:|---:|")
        for (file_part, name), seconds in sorted(inclusive.items(), key=lambda kv: -kv[1])[:30]:
            print(f"| {file_part}:{name} | {seconds * per:.2f} | {seconds / total:.0%} |")
        print("\n| function (self time) | where | ms per delivery | share |\n|---|---|---:|---:|")
        for (function, path, line), seconds in sorted(by_function.items(), key=lambda kv: -kv[1])[:25]:
            print(f"| {function} | {path}:{line} | {seconds * per:.3f} | {seconds / total:.1%} |")
        tree = session_text(profiler)
        print("\ncall tree (pyinstrument, library internals folded):")
        print("\n".join(tree.splitlines()[: args.tree_lines]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def print_tail(each: list[tuple[float, str, list[tuple[str, float]]]]) -> None:
    """The slowest 1% of deliveries: their kinds, and the statements they waited on."""
    ordered = sorted(each, key=lambda item: item[0])
    n = len(ordered)
    p50, p99 = ordered[n // 2][0], ordered[min(n - 1, int(n * 0.99))][0]
    tail = ordered[int(n * 0.99):]
    print(f"\none thread, no concurrency: p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, "
          f"max {ordered[-1][0] * 1000:.2f} ms")
    sql = sum(sum(d for q, d in statements if q != "COMMIT") for _, _, statements in tail) / len(tail)
    commit = sum(sum(d for q, d in statements if q == "COMMIT") for _, _, statements in tail) / len(tail)
    mean = sum(took for took, _, _ in tail) / len(tail)
    print(f"a tail delivery: {mean * 1000:.2f} ms, of which SQL statements {sql * 1000:.2f} ms, "
          f"commit and reply {commit * 1000:.2f} ms, the rest (Python) {(mean - sql - commit) * 1000:.2f} ms")
    slowest: dict[str, list[float]] = defaultdict(list)
    for took, kind, statements in tail:
        statement, seconds = max(statements, key=lambda item: item[1], default=("(none)", 0.0))
        slowest[" ".join(statement.split())[:70]].append(seconds)
    print(f"the slowest 1% ({len(tail)}): kinds {dict(sorted(_count(kind for _, kind, _ in tail).items()))}")
    print("| slowest statement of a tail delivery | deliveries | its mean ms |\n|---|---:|---:|")
    for statement, seconds in sorted(slowest.items(), key=lambda item: -len(item[1])):
        print(f"| `{statement}` | {len(seconds)} | {sum(seconds) / len(seconds) * 1000:.2f} |")


def _count(items) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return counts


def session_text(profiler) -> str:
    return profiler.output_text(unicode=True, color=False, show_all=False, time="percent_of_total")


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3."):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail if marker == "site-packages/" else "stdlib/" + tail.split("/", 1)[-1]
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


if __name__ == "__main__":
    main()
