"""Backups taken while the service writes, and restored: the tickets come back."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from handlers.cli import cli
from models import Database, Ticket, utcnow
from models.backup import backup
from tests.conftest import PG_URL
from tests.handlers.staff.factories import make_ticket


def references(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Ticket.reference).order_by(Ticket.reference)))


@pytest.mark.skipif(bool(PG_URL), reason="the SQLite backup; PostgreSQL's is the test below")
def test_sqlite_online_backup_restores_to_the_same_tickets(db, settings, tmp_path):
    made = [make_ticket(db, user=f"o-{n}") for n in range(3)]
    # A writer holds a transaction open meanwhile: the backup is a consistent snapshot
    # of what was committed, and does not wait for it.
    writer = db.engine.connect()
    writer.begin()
    writer.execute(text("UPDATE ticket SET contact_phone = '13800000000'"))
    try:
        path = backup(settings.database_url, tmp_path / "backups", utcnow())
    finally:
        writer.rollback()
        writer.close()
    assert path.suffix == ".db" and not list(path.parent.glob("*.partial"))

    restored_path = tmp_path / "restored" / "niangjia.db"  # as a restore copies it into place
    restored_path.parent.mkdir()
    shutil.copy(path, restored_path)
    restored = Database(f"sqlite:///{restored_path}")
    try:
        assert references(restored) == sorted(made)
        with restored.session() as session:
            assert session.scalar(select(Ticket.contact_phone).where(Ticket.contact_phone.is_not(None))) is None
    finally:
        restored.dispose()


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's file backups")
def test_the_backup_command_keeps_the_newest(db, settings, tmp_path, monkeypatch):
    make_ticket(db)
    monkeypatch.setenv("NIANGJIA_DATABASE_URL", settings.database_url)
    directory = tmp_path / "backups"
    directory.mkdir()
    for day in (1, 2, 3):  # older backups already there
        (directory / f"niangjia-2026010{day}-000000.db").write_bytes(b"old")
    result = CliRunner().invoke(cli, ["backup", str(directory), "--keep", "2"])
    assert result.exit_code == 0, result.output
    kept = sorted(p.name for p in directory.iterdir())
    assert len(kept) == 2 and kept[0] == "niangjia-20260103-000000.db"
    assert "backup written to" in result.output


@pytest.mark.postgres
def test_pg_dump_backup_restores_with_pg_restore(db, settings, tmp_path):
    made = [make_ticket(db, user=f"o-{n}", now=utcnow() - timedelta(minutes=n)) for n in range(3)]
    path = backup(settings.database_url, tmp_path, utcnow())
    assert path.suffix == ".dump" and path.stat().st_size > 0
    with db.engine.begin() as connection:  # the disaster
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    db.engine.dispose()
    libpq = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={libpq}", str(path)], check=True, capture_output=True)
    assert references(db) == sorted(made)
