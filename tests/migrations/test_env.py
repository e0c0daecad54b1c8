"""migrations/env.py: the plain `alembic` command finds Niangjia's database as `niangjia`
does, without importing `bot` (bot/setup.py imports the migrations)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

import migrations
from models import Database


_PLAIN_ALEMBIC = """
import sys
from alembic.config import main
main(["-c", "alembic.ini", "upgrade", "head"])
print(sorted(m for m in sys.modules if m == "bot" or m.startswith("bot.")))
"""


def test_the_plain_alembic_command_finds_the_configured_database_without_importing_bot(tmp_path):
    """`alembic upgrade head` reads database.url from NIANGJIA_CONFIG's file, a relative
    SQLite path anchored beside that file, as `niangjia` does; and it never imports `bot`
    (bot/setup.py imports the migrations: the other way round would be a circle)."""
    root = Path(__file__).resolve().parents[2]
    config = tmp_path / "conf" / "niangjia.yaml"
    config.parent.mkdir()
    config.write_text("database:\n  url: sqlite:///data/plain.db\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIANGJIA_")}
    done = subprocess.run(
        [sys.executable, "-c", _PLAIN_ALEMBIC], cwd=root, env={**env, "NIANGJIA_CONFIG": str(config)},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", "the migrations imported bot"
    db = Database(f"sqlite:///{tmp_path / 'conf' / 'data' / 'plain.db'}")
    try:
        current, head = migrations.revisions(db.engine)
        assert current == head and "ticket" in inspect(db.engine).get_table_names()
    finally:
        db.dispose()

    # The environment's URL wins over the file's, as it does for `niangjia`.
    elsewhere = tmp_path / "elsewhere.db"
    done = subprocess.run(
        [sys.executable, "-c", _PLAIN_ALEMBIC], cwd=root, capture_output=True, text=True, timeout=60,
        env={**env, "NIANGJIA_CONFIG": str(config), "NIANGJIA_DATABASE_URL": f"sqlite:///{elsewhere}"},
    )
    assert done.returncode == 0, done.stderr
    assert elsewhere.exists()
