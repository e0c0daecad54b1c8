#!/usr/bin/env python3
"""Set up and run Niangjia on a fresh machine with nothing but Python 3.11+.

    python3 dev.py serve   # the service on http://127.0.0.1:8000 (SQLite, demo data, simulator)
    python3 dev.py test    # the whole test suite (extra arguments go to pytest)
    python3 dev.py lint    # the layers: import-linter's contracts in pyproject.toml

The browser tests use Debian's chromium: `test` installs it with apt-get when run as
root; otherwise they are skipped with a message saying how to install it.

Each command creates `.venv/` and installs the project into it when needed (again only
when pyproject.toml changes).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".niangjia-installed"


def ensure_environment() -> None:
    """A virtual environment with the project and its dev extras installed."""
    if sys.version_info < (3, 11):
        sys.exit(f"Niangjia needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing Niangjia and its dependencies into .venv ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def ensure_chromium() -> None:
    """The browser tests drive Debian's chromium; install it when we may (root with apt)."""
    if shutil.which("chromium") and _has_chinese_font():
        return
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return
    print("installing Debian's chromium and a Chinese font for the browser tests ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium", "fonts-wqy-microhei"], check=False, env=env, stdout=subprocess.DEVNULL)


def _has_chinese_font() -> bool:
    """Whether fontconfig knows a font for Chinese (screenshots show boxes without one)."""
    if not shutil.which("fc-list"):
        return False
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "test", "lint"):
        print(__doc__.strip())
        return 2
    command, rest = argv[0], argv[1:]
    ensure_environment()
    env = dict(os.environ)
    if command == "serve":
        args = [str(PYTHON), "-m", "handlers", "serve", "--demo", *rest]
    elif command == "lint":
        args = [str(PYTHON.parent / "lint-imports"), *rest]
    else:
        ensure_chromium()
        args = [str(PYTHON), "-m", "pytest", *rest]
    return subprocess.call(args, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
