"""`niangjia model …`: train the routing model on the corpus and caseworkers'
corrections, measure it, install it behind a no-worse check, list and roll back."""

from __future__ import annotations

from pathlib import Path

import click

from handlers.cli_root import cli, migrated, read_text, runtime_of, staff_user

CORPUS_DIR = Path(__file__).resolve().parent.parent / "data" / "corpus"


@cli.group("model")
def model() -> None:
    """The learned routing model: train, evaluate, apply, history, rollback."""


@model.command("train")
@click.option("--out", "out", default="route-model.json", show_default=True, type=click.Path(dir_okay=False))
@click.option("--corpus", default=str(CORPUS_DIR), show_default=True, type=click.Path(file_okay=False, exists=True))
@click.option("--folds", type=click.IntRange(2, 100), default=None,
              help="Measure on groups of authors instead of one author at a time (faster, coarser).")
@click.pass_context
def model_train(ctx: click.Context, out: str, corpus: str, folds: int | None) -> None:
    """Train on the corpus (the fixed evaluation files left out) and every correction."""
    try:
        from bot.training import TrainSettings, corpus_examples, train
    except ImportError:  # pragma: no cover - the dev extra is missing
        raise click.ClickException("training needs scikit-learn: pip install -e '.[dev]'") from None
    from bot.learning import correction_examples

    runtime = migrated(ctx)
    settings = TrainSettings()
    examples = corpus_examples(corpus)
    with runtime.db.session() as session:
        corrections = correction_examples(session, settings.correction_weight)
    if not examples:
        raise click.ClickException(f"{corpus}: no labelled corpus files")
    router = runtime.router.with_model(None)
    click.echo(f"training on {len(examples)} corpus messages and {len(corrections)} corrections "
               f"(each weighing {settings.correction_weight:g})…")
    model, figures = train(examples + corrections, router.lexical, settings, folds,
                           menu_threshold=router.lexicon.threshold)
    model.save(out)
    click.echo(f"unseen authors ({model.meta['cv']['scheme']}): {figures.line()}")
    click.echo(f"danger threshold {model.danger_threshold:.2f}; written to {out}")


def _load(file: str):
    from bot.model import ModelError, RouteModel

    try:
        return RouteModel.load(file)
    except ModelError as exc:
        raise click.ClickException(f"{file}: {exc}") from None


@model.command("evaluate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--corpus", default=str(CORPUS_DIR), show_default=True, type=click.Path(file_okay=False, exists=True))
@click.pass_context
def model_evaluate(ctx: click.Context, file: str, corpus: str) -> None:
    """Figures of a model file: the fixed evaluation set (per class, urgent) and unseen authors."""
    from bot.evaluation import evaluate, format_summary, load_labelled
    from bot.training import EVALUATION_FILES

    candidate = _load(file)
    router = runtime_of(ctx).router.with_model(candidate)
    for name in EVALUATION_FILES:
        path = Path(corpus) / f"{name}.jsonl"
        if path.is_file():
            click.echo(f"{name}: {format_summary(evaluate(router, load_labelled(path)))}")
    cv = candidate.meta.get("cv")
    if cv:
        click.echo(f"unseen authors ({cv['scheme']}), urgent messages left out of macro-F1:")
        for author, f in cv.get("per_author", {}).items():
            click.echo(f"  {author}: macro-F1 {f['macro_f1']:.3f}, urgent {f['caught']}/{f['urgent']}, "
                       f"precision {f['urgent_precision']:.3f}")
        click.echo(f"  pooled: macro-F1 {cv['macro_f1']:.3f}, urgent {cv['caught']}/{cv['urgent']}, "
                   f"precision {cv['urgent_precision']:.3f}; danger threshold {cv['threshold']:.2f}")


@model.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--by", "username", required=True, help="The supervisor or admin installing it.")
@click.option("--note", default="", help="Why (kept with the revision).")
@click.option("--corpus", default=str(CORPUS_DIR), show_default=True, type=click.Path(file_okay=False, exists=True))
@click.pass_context
def model_apply(ctx: click.Context, file: str, username: str, note: str, corpus: str) -> None:
    """Install FILE for every process, only if it routes no worse than the running model."""
    from bot.learning import apply_model
    from bot.model import ModelError
    from bot.tuning import NotAllowed
    from models import utcnow

    runtime = migrated(ctx)
    runtime.refresh_lexicon()  # the running model is the one in force, not the shipped one
    text = read_text(file)
    try:
        with runtime.db.transaction() as session:
            author = staff_user(session, username)
            verdict = apply_model(session, runtime.router, runtime.router.model, text, author, corpus, utcnow(), note)
    except (ModelError, NotAllowed) as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    ev = verdict.figures["evaluation"]
    for side in ("old", "new"):
        f = ev[side]
        click.echo(f"{side}: evaluation set macro-F1 {f['macro_f1']:.3f}, urgent {f['caught']}/{f['urgent']}; "
                   f"unseen authors {_cv_line(verdict.figures['unseen_authors'][side])}")
    if not verdict.installed:
        raise click.ClickException("not installed: " + "; ".join(verdict.reasons))
    click.echo("installed (running services pick it up within seconds)")


def _cv_line(cv: dict | None) -> str:
    if not cv:
        return "(not measured)"
    return f"macro-F1 {cv['macro_f1']:.3f}, urgent {cv['caught']}/{cv['urgent']} ({cv['scheme']})"


@model.command("history")
@click.pass_context
def model_history(ctx: click.Context) -> None:
    """Every installed model: when, who, why, its figures; the one in force marked."""
    from sqlalchemy import select

    from models import RouteModelRevision

    with migrated(ctx).db.session() as session:
        in_force = RouteModelRevision.in_force_id(session)
        rows = session.scalars(select(RouteModelRevision).order_by(RouteModelRevision.id.desc())).all()
        if not rows:
            click.echo("no installed models: the shipped model is in force")
        for r in rows:
            state = "in force" if r.id == in_force else (
                f"rolled back {r.rolled_back_at:%Y-%m-%d %H:%M}" if r.rolled_back_at else "replaced")
            new = (r.figures.get("evaluation") or {}).get("new") or {}
            click.echo(f"{r.id}  {r.created_at:%Y-%m-%d %H:%M}  {r.author.username}  {state}  "
                       f"macro-F1 {new.get('macro_f1', 0):.3f} urgent {new.get('caught')}/{new.get('urgent')}  {r.note}")
        if rows and in_force is None:
            click.echo("(all rolled back: the shipped model is in force)")


@model.command("rollback")
@click.option("--by", "username", required=True, help="The supervisor or admin rolling back.")
@click.pass_context
def model_rollback(ctx: click.Context, username: str) -> None:
    """Take the model in force out: the one installed before it (or the shipped one) routes again."""
    from bot.learning import roll_back
    from bot.tuning import NotAllowed
    from models import RouteModelRevision, utcnow

    runtime = migrated(ctx)
    try:
        with runtime.db.transaction() as session:
            by = staff_user(session, username)
            gone = roll_back(session, by, utcnow())
            if gone is None:
                raise click.ClickException("no installed model to roll back: the shipped model is in force")
            session.flush()
            now_id = RouteModelRevision.in_force_id(session)
            gone_id = gone.id
    except NotAllowed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"model {gone_id} rolled back; in force now: {now_id if now_id else 'the shipped model'}")
