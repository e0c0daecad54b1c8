"""Alembic migrations: `niangjia init-db` (or `alembic upgrade head`) brings a database to head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

HERE = Path(__file__).resolve().parent


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to `engine`, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision`."""
    command.upgrade(alembic_config(engine), revision)


def stamp(engine: Engine, revision: str = "head") -> None:
    """Record `revision` as applied without running it (tables made another way)."""
    command.stamp(alembic_config(engine), revision)


def revisions(engine: Engine) -> tuple[str | None, str | None]:
    """The database's revision (None before the first migration) and the newest one."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, head
