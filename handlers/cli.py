"""The `niangjia` command: set up the database, manage staff, inspect tickets, serve.

Every command is registered on the root group (handlers/cli_root.py) by its decorator,
here and in the modules imported below for that: staff accounts and API tokens
(handlers/cli_accounts.py) and the learned routing model (handlers/model_cli.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from sqlalchemy import select

from handlers import cli_accounts, model_cli  # noqa: F401 - their commands register on `cli`
from handlers.cli_root import cli, migrated, read_text, runtime_of, settings_of, staff_user

DEMO_DIR = Path(__file__).resolve().parent.parent / "data" / "demo"


@cli.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Bring the database to the newest schema (safe to run again)."""
    from bot.setup import init_database

    runtime = runtime_of(ctx)
    created_root = init_database(runtime.db)
    click.echo(f"database at head ({runtime.db.dialect})" + ("; root region created" if created_root else ""))


@cli.command("demo-data")
@click.pass_context
def demo_data(ctx: click.Context) -> None:
    """Load the demo grid, staff accounts and a few tickets (only into an empty database)."""
    from bot.setup import DEMO_REFUSED, init_database, load_demo

    if settings_of(ctx).production:
        raise click.ClickException(DEMO_REFUSED)
    runtime = runtime_of(ctx)
    init_database(runtime.db, create_root=False)
    summary = load_demo(runtime, DEMO_DIR)
    click.echo(summary)


@cli.command("seed-load")
@click.argument("n", type=click.IntRange(1, 10_000_000))
@click.option("--regions", "region_count", default=1111, show_default=True, type=click.IntRange(112, 100_000),
              help="About this many regions in a four-level grid (city, counties, 10 towns each, 10 villages each).")
@click.option("--years", default=2.0, show_default=True, type=click.FloatRange(0.1, 20), help="Spread over this many years back.")
@click.pass_context
def seed_load(ctx: click.Context, n: int, region_count: int, years: float) -> None:
    """Fill an empty database with N synthetic, realistic cases (for measuring; refused in production)."""
    import time

    from bot.seedload import load
    from bot.setup import DEMO_REFUSED, init_database

    if settings_of(ctx).production:
        raise click.ClickException(DEMO_REFUSED)
    runtime = runtime_of(ctx)
    init_database(runtime.db)
    started = time.monotonic()
    try:
        counts = load(runtime.db, n, region_count, years,
                      progress=lambda done: click.echo(f"  {done:,} tickets, {time.monotonic() - started:.0f} s", err=True))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(", ".join(f"{k} {v:,}" for k, v in counts.items()) + f" in {time.monotonic() - started:.1f} s")


@cli.group()
def regions() -> None:
    """The grid of regions (city → county → town/street → village/community)."""


@regions.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def regions_import(ctx: click.Context, file: str) -> None:
    """Import regions from a CSV file: code,name,level,parent_code."""
    from bot.regions import RegionFileError, import_regions

    runtime = migrated(ctx)
    text = read_text(file)
    try:
        with runtime.db.transaction() as session:
            created = import_regions(session, text)
    except RegionFileError as exc:
        raise click.ClickException(f"{file} {exc}") from None
    click.echo(f"{created} regions added")


@regions.command("notify")
@click.argument("code")
@click.option("--wecom", default=None, help="企业微信 group robot webhook URL for this region's alerts ('' clears).")
@click.option("--telegram", default=None, help="Telegram chat id for this region's alerts ('' clears).")
@click.pass_context
def regions_notify(ctx: click.Context, code: str, wecom: str | None, telegram: str | None) -> None:
    """Where a region's alerts (urgent tickets, 催办, 督办) go besides the workspace."""
    from models import Region

    if wecom and not wecom.startswith(("https://", "http://")):
        raise click.ClickException("--wecom: expected the robot's webhook URL (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...)")
    if telegram and not telegram.lstrip("-").isdecimal() and not telegram.startswith("@"):
        raise click.ClickException("--telegram: expected a chat id such as -1001234567890 or @channelname")
    runtime = migrated(ctx)
    with runtime.db.transaction() as session:
        region = Region.by_code(session, code)
        if region is None:
            raise click.ClickException(f"no region with code {code}")
        if wecom is not None:
            region.notify_wecom = wecom or None
        if telegram is not None:
            region.notify_telegram = telegram or None
        click.echo(f"{code}: wecom {'set' if region.notify_wecom else 'default'}, "
                   f"telegram {region.notify_telegram or 'default'}")


@cli.command("link-wechat")
@click.argument("username")
@click.argument("openid")
@click.pass_context
def link_wechat(ctx: click.Context, username: str, openid: str) -> None:
    """Send a staff member's alerts as WeChat template messages to OPENID ('' unlinks)."""
    runtime = migrated(ctx)
    with runtime.db.transaction() as session:
        user = staff_user(session, username)
        user.wechat_openid = openid.strip() or None
    click.echo(f"{username}: WeChat {'linked' if openid.strip() else 'unlinked'}")


@cli.command("tickets")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.option("--limit", default=100, show_default=True, help="Newest tickets first, at most this many.")
@click.pass_context
def tickets(ctx: click.Context, as_json: bool, limit: int) -> None:
    """List tickets: reference, category, urgent, status, region, created."""
    from handlers.serializers import serialize_ticket_row
    from models import Ticket

    runtime = migrated(ctx)
    with runtime.db.session() as session:
        rows = session.scalars(select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)).all()
        items = [serialize_ticket_row(t) for t in rows]
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("no tickets")
        return
    for item in items:
        click.echo(
            f"{item['reference']}  {item['category']:<12} {'URGENT' if item['urgent'] else '      '}  "
            f"{item['status']:<9} {item['region']:<12} {item['created']}"
        )


@cli.command("classify")
@click.pass_context
def classify(ctx: click.Context) -> None:
    """Route UTF-8 lines from stdin; one JSON object per line on stdout."""
    router = runtime_of(ctx).router
    stdin = click.get_text_stream("stdin", encoding="utf-8", errors="replace")
    for line in stdin:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        route = router.route(text)
        click.echo(json.dumps({"text": text, **route.to_dict()}, ensure_ascii=False))


@cli.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def evaluate(ctx: click.Context, file: str) -> None:
    """Measure the router on a labelled JSONL file (text, category, urgent)."""
    from bot.evaluation import evaluate as run_evaluation, format_report, load_labelled

    try:
        records = load_labelled(file)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    report = run_evaluation(runtime_of(ctx).router, records)
    click.echo(format_report(report))


@cli.group()
def lexicon() -> None:
    """Tune the router: words, trial routes, validated changes, corrections."""


def _lexicon_in_force(runtime):
    from bot.tuning import lexicon_in_force

    with runtime.db.session() as session:
        return lexicon_in_force(session, runtime.router.lexicon)


@lexicon.command("words")
@click.option("--category", default=None, help="Only this category (consultation, mediation, service).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def lexicon_words(ctx: click.Context, category: str | None, as_json: bool) -> None:
    """Which words route where, with their weights."""
    from dataclasses import asdict

    from bot.tuning import word_routes

    _, current = _lexicon_in_force(migrated(ctx))
    rows = [r for r in word_routes(current) if category in (None, r.category)]
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
        return
    for r in rows:
        where = r.category + (f"/{r.subcategory}" if r.subcategory else "")
        click.echo(f"{r.word}\t{r.role}\t{where}\t{r.weight:g}")


@lexicon.command("try")
@click.argument("text")
@click.pass_context
def lexicon_try(ctx: click.Context, text: str) -> None:
    """Route one sentence and explain, word by word, why."""
    router = runtime_of(ctx).router
    route = router.route(text)
    click.echo(json.dumps(route.to_dict(), ensure_ascii=False))
    click.echo(f"route: {router.label(route.category, route.subcategory)}  ({route.explanation})")
    for row in router.explain(text):
        if row.get("matched") or row.get("negated") or row.get("past"):
            click.echo("  " + json.dumps(row, ensure_ascii=False))


@lexicon.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True), required=False)
@click.pass_context
def lexicon_export(ctx: click.Context, file: str | None) -> None:
    """Write the lexicon in force (to edit it and `apply` it back)."""
    from models import LexiconRevision

    runtime = migrated(ctx)
    with runtime.db.session() as session:
        revision = LexiconRevision.latest(session)
        text = revision.text if revision else runtime.settings.lexicon_path.read_text(encoding="utf-8")
    if file:
        Path(file).write_text(text, encoding="utf-8")
        click.echo(f"written to {file}")
    else:
        click.echo(text, nl=False)


@lexicon.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def lexicon_check(file: str) -> None:
    """Validate a lexicon file; an error names the line."""
    from bot.routing import Lexicon, LexiconError

    try:
        Lexicon.load(file)
    except LexiconError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{file}: valid")


@lexicon.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--by", "username", required=True, help="The supervisor or admin making the change.")
@click.option("--note", default="", help="Why (kept with the revision).")
@click.pass_context
def lexicon_apply(ctx: click.Context, file: str, username: str, note: str) -> None:
    """Validate FILE and put it in force for every process (recorded with who and when)."""
    from bot.routing import LexiconError
    from bot.tuning import NotAllowed, save_revision
    from models import utcnow

    runtime = migrated(ctx)
    _, current = _lexicon_in_force(runtime)
    text = read_text(file)
    try:
        with runtime.db.transaction() as session:
            author = staff_user(session, username)
            revision, _ = save_revision(session, text.replace("\r\n", "\n"), author, current, utcnow(), note)
            session.flush()
            revision_id, summary = revision.id, revision.changes
    except LexiconError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    except NotAllowed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revision {revision_id} in force (running services pick it up within seconds)")
    for kind in ("added", "removed", "reweighted"):
        for line in summary[kind]:
            click.echo(f"  {kind}: {line}")


@lexicon.command("history")
@click.pass_context
def lexicon_history(ctx: click.Context) -> None:
    """Every saved revision: when, who, why, what changed."""
    from models import LexiconRevision

    with migrated(ctx).db.session() as session:
        revisions = session.scalars(select(LexiconRevision).order_by(LexiconRevision.id.desc())).all()
        if not revisions:
            click.echo("no revisions: the shipped lexicon is in force")
        for r in revisions:
            counts = ", ".join(f"{len(v)} {k}" for k, v in r.changes.items())
            click.echo(f"{r.id}  {r.created_at:%Y-%m-%d %H:%M}  {r.author.username}  {counts}  {r.note}")


@lexicon.command("corrections")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def lexicon_corrections(ctx: click.Context, as_json: bool) -> None:
    """Tickets whose route a caseworker corrected, with the words that misled the router."""
    from bot.tuning import corrections

    with migrated(ctx).db.session() as session:
        rows = corrections(session)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no corrected routes")
    for row in rows:
        words = "、".join(row["misleading_words"]) or "（无关键词）"
        click.echo(f"{row['reference']}  {row['from']} → {row['to']}  by {row['by']}  words: {words}")


@cli.command("worker")
@click.option("--once", is_flag=True, help="Run one round and exit.")
@click.pass_context
def worker(ctx: click.Context, once: bool) -> None:
    """Deliver queued messages and run follow-ups (set worker.in_service false when used)."""
    from bot.stats_refresh import StatsRefresher, refresh_due
    from bot.worker import Worker

    runtime = migrated(ctx)
    _check_regions(runtime)
    work = Worker(runtime)
    if once:
        click.echo(json.dumps({**work.run_once(), "stats_counted": refresh_due(runtime.db, runtime.settings)}))
        return
    click.echo("worker running; Ctrl-C to stop")
    # The supervisor's reports, counted ahead of use beside the deliveries (bot/stats_refresh.py).
    refresher = StatsRefresher(runtime.db, runtime.settings)
    refresher.start_thread()
    try:
        work.run_forever()
    except KeyboardInterrupt:
        work.stop()
        refresher.stop()


@cli.command("sweep")
@click.pass_context
def sweep(ctx: click.Context) -> None:
    """Run the SLA sweep once: 催办 and 督办 for every clock due a look (the worker runs it every minute)."""
    from bot.sla import sweep as run_sweep
    from models import utcnow

    runtime = migrated(ctx)
    click.echo(json.dumps(run_sweep(runtime.db, runtime.settings, utcnow(), write_lock=runtime.write_lock)))


def _check_regions(runtime) -> None:
    """Start-up's check that tickets without a place land where staff see them."""
    from bot.setup import SetupError, check_regions

    try:
        check_regions(runtime.db, runtime.settings.intake.default_region)
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command("retention")
@click.option("--older-than", "days", type=click.IntRange(min=1), required=True,
              help="Anonymise cases closed or withdrawn more than this many days ago.")
@click.option("--dry-run", is_flag=True, help="Only count what would be anonymised.")
@click.pass_context
def retention(ctx: click.Context, days: int, dry_run: bool) -> None:
    """Anonymise finished cases' personal data, keeping what the figures need."""
    from datetime import timedelta

    from bot.mediastore import media_store
    from models import utcnow
    from models.retention import anonymise

    runtime = migrated(ctx)
    now = utcnow()
    cutoff = now - timedelta(days=days)
    removed = 0
    with runtime.db.transaction() as session:
        report = anonymise(session, cutoff, now, dry_run=dry_run)
        if not dry_run:
            removed = media_store(runtime.settings).remove(report.media_files)
    verb = "would anonymise" if dry_run else "anonymised"
    click.echo(
        f"{verb} {report.tickets} tickets finished before {cutoff:%Y-%m-%d} "
        f"({report.messages} transcript lines, {report.notes} notes, {report.outbox} outbox messages, "
        f"{report.examples} routing examples); "
        f"{report.loose_messages} lines outside any case; {report.conversations} quiet conversations; "
        f"{report.review_samples} samples for review"
        + (" removed" if not dry_run else "")
        + f"; {removed if not dry_run else len(report.media_files)} media files"
        + (" deleted" if not dry_run else " to delete")
    )


@cli.command("backup")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--keep", type=click.IntRange(min=1), default=None, help="Keep only the newest N backups there.")
@click.pass_context
def backup(ctx: click.Context, directory: str, keep: int | None) -> None:
    """Back the database up into DIRECTORY while the service runs (SQLite: online backup
    API; PostgreSQL: pg_dump)."""
    from models import utcnow
    from models.backup import BackupError, backup as make_backup

    settings = settings_of(ctx)
    try:
        target = make_backup(settings.database_url, Path(directory), utcnow(), keep)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written to {target}")


@cli.command("serve")
@click.option("--host", default=None, help="Default: server.host from the config.")
@click.option("--port", default=None, type=int, help="Default: server.port from the config.")
@click.option(
    "--workers", default=None, type=int,
    help="gunicorn worker processes (default: 2; on SQLite they take turns at its one writer).",
)
@click.option("--demo/--no-demo", default=False, help="Load demo data into an empty database first.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None, demo: bool) -> None:
    """Serve the webhook and the pages with gunicorn (database brought to head first)."""
    settings = settings_of(ctx)
    from bot.setup import DEMO_REFUSED

    if demo and settings.production:
        raise click.ClickException(DEMO_REFUSED)
    # Before anything imports prometheus_client: it picks multiprocess mode on import.
    fresh_metrics_dir(settings.resolve_path(settings.metrics.multiproc_dir, settings.base_dir / "instance" / "prometheus"))
    from bot.setup import init_database, load_demo
    from handlers.server import PortInUse, refuse_taken_port, run

    host, port = host or settings.server.host, port or settings.server.port
    try:
        refuse_taken_port(host, port)
    except PortInUse as exc:
        raise click.ClickException(f"{exc}: is another `niangjia serve` running there?") from None
    runtime = runtime_of(ctx)
    init_database(runtime.db, create_root=not demo)
    if demo:
        click.echo(load_demo(runtime, DEMO_DIR))
    _check_regions(runtime)
    runtime.db.dispose()
    run(settings, host, port, workers or 2)


def fresh_metrics_dir(path: Path) -> None:
    """Give gunicorn's workers an empty directory for their Prometheus counters
    (PROMETHEUS_MULTIPROC_DIR): a previous run's files would add up with this one's."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def main() -> None:
    cli(prog_name="niangjia")
