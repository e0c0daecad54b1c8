"""The `niangjia` command's root group and what its commands share: the settings, the
runtime, and the check that the database is at head. Every command module registers its
commands on `cli` with decorators; handlers/cli.py imports them all."""

from __future__ import annotations

from pathlib import Path

import click

from bot.settings import Settings, SettingsError, load_settings


def settings_of(ctx: click.Context) -> Settings:
    return ctx.ensure_object(dict)["settings"]


def read_text(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{file}: not UTF-8 text") from None


def runtime_of(ctx: click.Context):
    from bot.runtime import Runtime

    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        obj["runtime"] = Runtime(settings_of(ctx))
    return obj["runtime"]


def migrated(ctx: click.Context):
    """The runtime, once its database is known to be at the newest schema: a
    database left behind by older code gets an instruction, not a traceback."""
    import migrations

    runtime = runtime_of(ctx)
    obj = ctx.ensure_object(dict)
    if not obj.get("schema_checked"):
        current, head = migrations.revisions(runtime.db.engine)
        if current != head:
            raise click.ClickException(
                f"the database is at schema {current or '(none)'}, this code needs {head}: run `niangjia init-db` first"
            )
        obj["schema_checked"] = True
    return runtime


def staff_user(session, username: str):
    """The staff account a command acts as (`--by NAME`), or the error that names it."""
    from models import StaffUser

    user = StaffUser.by_username(session, username)
    if user is None:
        raise click.ClickException(f"no staff user {username}")
    return user


@click.group()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file (default: NIANGJIA_CONFIG or config.yaml).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Niangjia (娘家): the intake desk of a women's federation."""
    try:
        ctx.ensure_object(dict)["settings"] = load_settings(config_path)
    except SettingsError as exc:
        raise click.ClickException(f"configuration: {exc}") from None
