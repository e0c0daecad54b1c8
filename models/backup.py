"""Backups of the database while the service runs.

SQLite: the sqlite3 module's online backup API copies the database page by page in a
consistent snapshot while writers carry on (never `cp` a live WAL database), then the
copy's integrity is checked before it takes its final name. PostgreSQL: pg_dump in its
custom format (restore with pg_restore), the password passed in the environment, not on
the command line where `ps` would show it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

PREFIX = "niangjia-"


class BackupError(Exception):
    """A backup that could not be made; the message says why."""


def backup(url: str, directory: Path, now: datetime, keep: int | None = None) -> Path:
    """Write a backup of the database at `url` into `directory`; its path. With `keep`,
    only the newest `keep` backups of that kind stay in the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    parsed = make_url(url)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        target = directory / f"{PREFIX}{stamp}.db"
        _sqlite_backup(parsed.database or "", target)
        suffix = ".db"
    elif backend == "postgresql":
        target = directory / f"{PREFIX}{stamp}.dump"
        _pg_dump(url, target)
        suffix = ".dump"
    else:
        raise BackupError(f"no backup for {backend} databases")
    if keep:
        for old in sorted(directory.glob(f"{PREFIX}*{suffix}"))[:-keep]:
            old.unlink()
    return target


def _sqlite_backup(source_path: str, target: Path) -> None:
    if not source_path or source_path == ":memory:" or not Path(source_path).exists():
        raise BackupError(f"no SQLite database at {source_path or '(memory)'}")
    partial = target.with_suffix(".partial")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(partial)
    try:
        # A few hundred pages a step, so writers get the file between steps.
        source.backup(copy, pages=256)
        result = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"the copy failed its integrity check: {result}")
    finally:
        copy.close()
        source.close()
    os.replace(partial, target)


def _pg_dump(url: str, target: Path) -> None:
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    libpq = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    partial = target.with_suffix(".partial")
    try:
        done = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={partial}", libpq],
            env=env, capture_output=True, text=True, timeout=3600,
        )
    except FileNotFoundError:
        raise BackupError("pg_dump not found: install postgresql-client") from None
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[:500]}")
    os.replace(partial, target)
