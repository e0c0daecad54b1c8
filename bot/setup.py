"""Setting up a database: migrations, the root region, and the demo data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

import migrations
from bot.inbound import Inbound
from bot.regions import import_regions
from models import Database, Region, StaffUser, utcnow
from models.region import PLACEHOLDER_CODE

DEMO_PASSWORD = "niangjia-demo"
DEMO_USERS = [
    # username, display name, role, region code
    ("admin", "系统管理员", "admin", "DEMO"),
    ("supervisor", "县妇联督办 王主任", "supervisor", "DEMO01"),
    ("caseworker", "城关街道 李姐", "caseworker", "DEMO0101"),
    ("gridworker", "幸福社区网格员 张姐", "caseworker", "DEMO010101"),
]
DEMO_MESSAGES = [
    "请问协议离婚需要准备什么材料？冷静期是多久？",
    "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下",
    "我想报名参加巾帼家政的育婴师培训，在哪里报名？",
    "他又喝多了拿着刀在门口骂，我和孩子锁在卧室里",
]
# Where each demo woman says she lives when asked: so her ticket reaches the demo's
# caseworkers (城关街道's communities) and supervisor, as a real one would.
DEMO_PLACES = ["幸福社区", "和平社区", "青石村", "幸福社区"]


class SetupError(Exception):
    """A database or setting the service cannot start with; the message says what to do."""


def check_regions(db: Database, default_region: str) -> None:
    """Refuse to start where tickets without a place would land where no one looks."""
    with db.session() as session:
        roots = Region.roots(session)
        if default_region:
            if Region.by_code(session, default_region) is None:
                raise SetupError(
                    f"intake.default_region is {default_region}, but no region has that code: "
                    "import the grid (niangjia regions import FILE.csv) or correct the setting"
                )
            return
        if len(roots) > 1:
            names = ", ".join(f"{r.code} {r.name}" for r in roots)
            raise SetupError(
                f"the grid has {len(roots)} roots ({names}); tickets without a place would all land under "
                f"{roots[0].code}: set intake.default_region (NIANGJIA_INTAKE_DEFAULT_REGION) to the region that receives them"
            )


def init_database(db: Database, create_root: bool = True) -> bool:
    """Migrate to head; with `create_root`, give an empty region tree a root. True if created."""
    migrations.upgrade(db.engine)
    if not create_root:
        return False
    with db.transaction() as session:
        if session.scalar(select(func.count()).select_from(Region)):
            return False
        Region.create(session, PLACEHOLDER_CODE, "本级妇联", "city")
    return True


# The demo's accounts share one password printed in the README: never on a live service.
DEMO_REFUSED = (
    "demo data is refused in production (NIANGJIA_ENV=production): its accounts share the README's "
    "public password; create real accounts with `niangjia users add`"
)


class DemoRefused(RuntimeError):
    """Demo data asked for in production."""


def load_demo(runtime, demo_dir: Path) -> str:
    """Fill an empty database with the demo grid, staff and tickets; say what was done."""
    if runtime.settings.production:
        raise DemoRefused(DEMO_REFUSED)
    db = runtime.db
    with db.transaction() as session:
        if session.scalar(select(func.count()).select_from(StaffUser)):
            return "demo data: the database has staff accounts already, nothing loaded"
        import_regions(session, (demo_dir / "regions.csv").read_text(encoding="utf-8"))
        for username, display_name, role, code in DEMO_USERS:
            StaffUser.create(session, username, DEMO_PASSWORD, role, Region.by_code(session, code), display_name)
    now = utcnow()
    for number, (text, place) in enumerate(zip(DEMO_MESSAGES, DEMO_PLACES), start=1):
        sent_at = now - timedelta(hours=len(DEMO_MESSAGES) - number)
        for turn, words in enumerate((text, place)):
            runtime.deliver(
                Inbound(channel="wechat", user=f"demo-woman-{number}", kind="text",
                        message_id=f"demo-{number}-{turn}", sent_at=sent_at + timedelta(minutes=turn), text=words)
            )
    users = ", ".join(u[0] for u in DEMO_USERS)
    return f"demo data loaded: grid 示范市, staff {users} (password {DEMO_PASSWORD}), {len(DEMO_MESSAGES)} messages"
