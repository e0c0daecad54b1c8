"""Setting up a database: migrations, the root region, and the demo data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

import migrations
from bot.inbound import Inbound
from bot.regions import import_regions
from models import Database, Region, StaffUser, utcnow

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


def init_database(db: Database, create_root: bool = True) -> bool:
    """Migrate to head; with `create_root`, give an empty region tree a root. True if created."""
    migrations.upgrade(db.engine)
    if not create_root:
        return False
    with db.transaction() as session:
        if session.scalar(select(func.count()).select_from(Region)):
            return False
        Region.create(session, "ROOT", "本级妇联", "city")
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
    for number, text in enumerate(DEMO_MESSAGES, start=1):
        sent_at = now - timedelta(hours=len(DEMO_MESSAGES) - number)
        runtime.deliver(
            Inbound(channel="wechat", user=f"demo-woman-{number}", kind="text",
                    message_id=f"demo-{number}", sent_at=sent_at, text=text)
        )
    users = ", ".join(u[0] for u in DEMO_USERS)
    return f"demo data loaded: grid 示范市, staff {users} (password {DEMO_PASSWORD}), {len(DEMO_MESSAGES)} messages"
