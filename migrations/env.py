"""Alembic environment: runs against the engine it is handed, or the configured database."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from alembic import context

from models import Base
from models.db import DEFAULT_URL, anchored_url, make_engine

config = context.config
target_metadata = Base.metadata


def configured_url() -> str:
    """The database the plain `alembic` command works on, found as `niangjia` finds it
    (NIANGJIA_DATABASE_URL over the config file's database.url; NIANGJIA_CONFIG names the
    file) without importing `bot`, whose set-up imports these migrations."""
    path = Path(os.environ.get("NIANGJIA_CONFIG") or Path(__file__).resolve().parent.parent / "config.yaml")
    url = os.environ.get("NIANGJIA_DATABASE_URL")
    if url is None and path.exists():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        url = (loaded.get("database") or {}).get("url")
    return anchored_url(DEFAULT_URL if url is None else url, path.resolve().parent)


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # the plain `alembic` command
        engine = make_engine(configured_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
