"""The `niangjia` command: set up the database, manage staff, inspect tickets, serve."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy import select

from bot.settings import Settings, SettingsError, load_settings

DEMO_DIR = Path(__file__).resolve().parent.parent / "data" / "demo"


def _settings(ctx: click.Context) -> Settings:
    return ctx.ensure_object(dict)["settings"]


def _read_text(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{file}: not UTF-8 text") from None


def _runtime(ctx: click.Context):
    from bot.runtime import Runtime

    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        obj["runtime"] = Runtime(_settings(ctx))
    return obj["runtime"]


def _migrated(ctx: click.Context):
    """The runtime, once its database is known to be at the newest schema: a
    database left behind by older code gets an instruction, not a traceback."""
    import migrations

    runtime = _runtime(ctx)
    obj = ctx.ensure_object(dict)
    if not obj.get("schema_checked"):
        current, head = migrations.revisions(runtime.db.engine)
        if current != head:
            raise click.ClickException(
                f"the database is at schema {current or '(none)'}, this code needs {head}: run `niangjia init-db` first"
            )
        obj["schema_checked"] = True
    return runtime


@click.group()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file (default: NIANGJIA_CONFIG or config.yaml).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Niangjia (娘家): the intake desk of a women's federation."""
    try:
        ctx.ensure_object(dict)["settings"] = load_settings(config_path)
    except SettingsError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


@cli.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Bring the database to the newest schema (safe to run again)."""
    from bot.setup import init_database

    runtime = _runtime(ctx)
    created_root = init_database(runtime.db)
    click.echo(f"database at head ({runtime.db.dialect})" + ("; root region created" if created_root else ""))


@cli.command("demo-data")
@click.pass_context
def demo_data(ctx: click.Context) -> None:
    """Load the demo grid, staff accounts and a few tickets (only into an empty database)."""
    from bot.setup import init_database, load_demo

    runtime = _runtime(ctx)
    init_database(runtime.db, create_root=False)
    summary = load_demo(runtime, DEMO_DIR)
    click.echo(summary)


@cli.group()
def regions() -> None:
    """The grid of regions (city → county → town/street → village/community)."""


@regions.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def regions_import(ctx: click.Context, file: str) -> None:
    """Import regions from a CSV file: code,name,level,parent_code."""
    from bot.regions import RegionFileError, import_regions

    runtime = _migrated(ctx)
    text = _read_text(file)
    try:
        with runtime.db.transaction() as session:
            created = import_regions(session, text)
    except RegionFileError as exc:
        raise click.ClickException(f"{file} {exc}") from None
    click.echo(f"{created} regions added")


@cli.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["caseworker", "supervisor", "admin"]), required=True)
@click.option("--region", "region_code", required=True, help="Code of the region the user works in.")
@click.option("--display-name", default="", help="Name shown to colleagues (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def create_user(ctx: click.Context, username: str, role: str, region_code: str, display_name: str, password_stdin: bool) -> None:
    """Add a staff account; the password is read from stdin or asked for."""
    from models import Region, StaffUser

    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    runtime = _migrated(ctx)
    with runtime.db.transaction() as session:
        region = Region.by_code(session, region_code)
        if region is None:
            raise click.ClickException(f"no region with code {region_code}")
        if StaffUser.by_username(session, username) is not None:
            raise click.ClickException(f"user {username} exists already")
        try:
            StaffUser.create(session, username, password, role, region, display_name)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"user {username} ({role}, {region_code}) created")


@cli.command("issue-token")
@click.argument("username")
@click.option("--label", default="", help="What the token is for (shown to admins, never the secret).")
@click.pass_context
def issue_token(ctx: click.Context, username: str, label: str) -> None:
    """Print a new API token for a staff member (shown once; only its hash is stored)."""
    from models import ApiToken, StaffUser, utcnow

    runtime = _migrated(ctx)
    with runtime.db.transaction() as session:
        user = StaffUser.by_username(session, username)
        if user is None or not user.active:
            raise click.ClickException(f"no active user {username}")
        _, secret = ApiToken.issue(session, user, utcnow(), label)
    click.echo(secret)


@cli.command("tickets")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.option("--limit", default=100, show_default=True, help="Newest tickets first, at most this many.")
@click.pass_context
def tickets(ctx: click.Context, as_json: bool, limit: int) -> None:
    """List tickets: reference, category, urgent, status, region, created."""
    from handlers.serializers import serialize_ticket_row
    from models import Ticket

    runtime = _migrated(ctx)
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
    router = _runtime(ctx).router
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
    report = run_evaluation(_runtime(ctx).router, records)
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

    _, current = _lexicon_in_force(_migrated(ctx))
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
    router = _runtime(ctx).router
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

    runtime = _migrated(ctx)
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
    from models import StaffUser, utcnow

    runtime = _migrated(ctx)
    _, current = _lexicon_in_force(runtime)
    text = _read_text(file)
    try:
        with runtime.db.transaction() as session:
            author = StaffUser.by_username(session, username)
            if author is None:
                raise click.ClickException(f"no staff user {username}")
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

    with _migrated(ctx).db.session() as session:
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

    with _migrated(ctx).db.session() as session:
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
    from bot.worker import Worker

    runtime = _migrated(ctx)
    work = Worker(runtime)
    if once:
        click.echo(json.dumps(work.run_once()))
        return
    click.echo("worker running; Ctrl-C to stop")
    try:
        work.run_forever()
    except KeyboardInterrupt:
        work.stop()


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
    from bot.setup import init_database, load_demo
    from handlers.server import run

    settings = _settings(ctx)
    runtime = _runtime(ctx)
    init_database(runtime.db, create_root=not demo)
    if demo:
        click.echo(load_demo(runtime, DEMO_DIR))
    runtime.db.dispose()
    run(settings, host or settings.server.host, port or settings.server.port, workers or 2)


from handlers.model_cli import model as _model_commands  # noqa: E402 (the group needs `cli` defined)

cli.add_command(_model_commands)


def main() -> None:
    cli(prog_name="niangjia")
