"""The federation's grid: city → county/district → town/street → village/community."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base

LEVELS = ("city", "county", "town", "village")
# The root `niangjia init-db` gives an empty grid, so tickets have somewhere to land; the
# first imported grid's top row takes its place (Region.adopt).
PLACEHOLDER_CODE = "ROOT"


class Region(Base):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    # Materialised path of codes, "/3301/330102/330102001/": a subtree is one prefix match.
    path: Mapped[str] = mapped_column(String(400), index=True)
    # Where this region's alerts go besides the workspace (config notify: is the default).
    notify_wecom: Mapped[str | None] = mapped_column(String(500))
    notify_telegram: Mapped[str | None] = mapped_column(String(64))

    parent: Mapped[Region | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.level}>"

    @classmethod
    def create(cls, session: Session, code: str, name: str, level: str, parent: Region | None = None) -> Region:
        """Add a region under `parent` (None for a root); its level must sit below the parent's."""
        if level not in LEVELS:
            raise ValueError(f"unknown region level {level!r}")
        if parent is not None and LEVELS.index(level) <= LEVELS.index(parent.level):
            raise ValueError(f"a {level} cannot sit under a {parent.level}")
        region = cls(
            code=code,
            name=name,
            level=level,
            parent=parent,
            path=(parent.path if parent else "/") + code + "/",
        )
        session.add(region)
        return region

    def contains(self, other: Region) -> bool:
        """Whether `other` is this region or lies below it."""
        return other.path.startswith(self.path)

    def chain(self) -> list[Region]:
        """This region and every region above it, lowest first."""
        chain, region = [], self
        while region is not None:
            chain.append(region)
            region = region.parent
        return chain

    @classmethod
    def by_code(cls, session: Session, code: str) -> Region | None:
        return session.scalar(select(cls).where(cls.code == code))

    @classmethod
    def root(cls, session: Session) -> Region | None:
        """The top of the tree (the first root when several were imported)."""
        return session.scalar(select(cls).where(cls.parent_id.is_(None)).order_by(cls.id).limit(1))

    @classmethod
    def roots(cls, session: Session) -> list[Region]:
        """Every region without a parent (one, when the grid is whole)."""
        return list(session.scalars(select(cls).where(cls.parent_id.is_(None)).order_by(cls.id)))

    @property
    def is_placeholder(self) -> bool:
        return self.code == PLACEHOLDER_CODE and self.parent_id is None

    def adopt(self, session: Session, code: str, name: str, level: str) -> None:
        """Become the region `code` (a grid's imported top row): tickets, staff and
        regions filed under this one stay with it, their paths rewritten."""
        if level not in LEVELS:
            raise ValueError(f"unknown region level {level!r}")
        old_path, new_path = self.path, "/" + code + "/"
        below = session.scalars(select(Region).where(Region.path.startswith(old_path, autoescape=True), Region.id != self.id)).all()
        if any(LEVELS.index(r.level) <= LEVELS.index(level) for r in below):
            raise ValueError(f"regions under {self.code} cannot sit under a {level}")
        for region in below:
            region.path = new_path + region.path[len(old_path):]
        self.code, self.name, self.level, self.path = code, name, level, new_path
