"""Alembic: a fresh database migrated to head matches the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import migrations
from models import Base, Database


def test_migrations_reach_the_models(database_url):
    db = Database(database_url)
    try:
        migrations.upgrade(db.engine)
        migrations.upgrade(db.engine)  # running it again changes nothing
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()
