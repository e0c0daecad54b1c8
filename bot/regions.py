"""Importing the federation's grid from a CSV file (as exported from a spreadsheet)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy.orm import Session

from models import Region
from models.region import LEVELS

HEADER = ["code", "name", "level", "parent_code"]


class RegionFileError(ValueError):
    """A region file that cannot be imported; the message names the line."""


@dataclass(frozen=True)
class RegionRow:
    line: int
    code: str
    name: str
    level: str
    parent_code: str


def parse_regions(text: str) -> list[RegionRow]:
    """Rows of `code,name,level,parent_code`, checked before anything is written."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    rows: list[RegionRow] = []
    seen: dict[str, int] = {}
    for number, fields in enumerate(reader, start=1):
        if not fields or all(not f.strip() for f in fields) or fields[0].startswith("#"):
            continue
        if [f.strip().lower() for f in fields] == HEADER:
            continue
        if len(fields) != 4:
            raise RegionFileError(f"line {number}: expected 4 fields (code,name,level,parent_code), got {len(fields)}")
        code, name, level, parent = (f.strip() for f in fields)
        if not code or not name:
            raise RegionFileError(f"line {number}: code and name are required")
        if level not in LEVELS:
            raise RegionFileError(f"line {number}: level must be one of {', '.join(LEVELS)}, got {level!r}")
        if code in seen:
            raise RegionFileError(f"line {number}: code {code} already used on line {seen[code]}")
        seen[code] = number
        rows.append(RegionRow(number, code, name, level, parent))
    if not rows:
        raise RegionFileError("line 1: the file holds no regions")
    return rows


def import_regions(session: Session, text: str) -> int:
    """Add (or rename) the regions in `text`; parents may come from the file or the database.

    The grid keeps one root, where tickets land until she names her place: the file's top
    row (no parent_code) takes the place of the placeholder root `init-db` made, and any
    other second root is refused with its line named.
    """
    rows = parse_regions(text)
    by_code: dict[str, Region] = {}
    created = 0
    roots = Region.roots(session)
    for row in rows:
        parent = None
        if not row.parent_code and Region.by_code(session, row.code) is None:
            if len(roots) == 1 and roots[0].is_placeholder:
                try:
                    roots[0].adopt(session, row.code, row.name, row.level)
                except ValueError as exc:
                    raise RegionFileError(f"line {row.line}: {exc}") from None
                session.flush()
                by_code[row.code] = roots[0]
                created += 1  # the grid gained it, in the placeholder's place
                continue
            if roots:
                raise RegionFileError(
                    f"line {row.line}: {row.code} has no parent_code, but the grid has its root already "
                    f"({roots[0].code} {roots[0].name}): a second root would hold tickets nobody sees; give it a parent"
                )
        if row.parent_code:
            parent = by_code.get(row.parent_code) or Region.by_code(session, row.parent_code)
            if parent is None:
                raise RegionFileError(f"line {row.line}: parent {row.parent_code} is not defined above it")
        existing = Region.by_code(session, row.code)
        if existing is not None:
            if existing.level != row.level or existing.parent_id != (parent.id if parent else None):
                raise RegionFileError(f"line {row.line}: {row.code} exists already with another level or parent")
            existing.name = row.name
            by_code[row.code] = existing
            continue
        try:
            by_code[row.code] = Region.create(session, row.code, row.name, row.level, parent)
        except ValueError as exc:
            raise RegionFileError(f"line {row.line}: {exc}") from None
        session.flush()
        if parent is None:
            roots = [by_code[row.code]]
        created += 1
    return created
