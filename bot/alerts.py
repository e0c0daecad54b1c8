"""Alerts to staff: who gets one, what it says, and through which notifiers.

`raise_alert` writes a `staff_alert` row and one `alert_delivery` row per notifier
target, on the caller's connection and in its transaction (the webhook's delivery, a
staff action, a sweep), so the alert exists exactly when the change that caused it
does. The worker sends the deliveries (bot/notify.py); open staff pages poll the alerts.

Core statements on a Connection, so the desk's hot path (no ORM session) and the staff
side (session.connection()) share one implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, insert, select

from bot.labels import CATEGORY_LABELS, CLOCK_LABELS
from bot.settings import Settings
from models import AlertDelivery, Region, StaffAlert, StaffUser
from models.clocks import CHINA_TZ
from models.staff import SUPERVISING_ROLES

ALERTS = StaffAlert.__table__
DELIVERIES = AlertDelivery.__table__
REGIONS = Region.__table__
STAFF = StaffUser.__table__

LEVEL_NAMES = {1: "一级", 2: "二级", 3: "三级", 4: "四级", 5: "五级"}
# Staff whose workspace polled within this long count as on duty (someone who will see a banner).
ON_DUTY_WITHIN = timedelta(minutes=2)

# Built once, with bound parameters: an urgent message walks her region's chain twice, and
# a statement built per call cost more than running it (as models/desk.py found).
_REGION_LINK = select(
    REGIONS.c.id, REGIONS.c.name, REGIONS.c.parent_id, REGIONS.c.path, REGIONS.c.notify_wecom, REGIONS.c.notify_telegram
).where(REGIONS.c.id == bindparam("region_id"))
_REGION_NAME = select(REGIONS.c.name).where(REGIONS.c.id == bindparam("region_id"))
_INSERT_ALERT = insert(ALERTS).returning(ALERTS.c.id)
_ON_DUTY = (
    select(STAFF.c.id).select_from(STAFF.join(REGIONS, STAFF.c.region_id == REGIONS.c.id))
    .where(STAFF.c.active.is_(True), STAFF.c.seen_at >= bindparam("since"),
           REGIONS.c.path.in_(bindparam("paths", expanding=True)))
    .limit(1)
)


@dataclass(frozen=True)
class AlertTicket:
    """What an alert may say about a ticket: never her words, her name or her number."""

    id: int
    reference: str
    category: str
    region_id: int
    assignee_id: int | None = None


def _chain(connection: Connection, region_id: int) -> list[dict]:
    """The region and those above it, lowest first, with their notifier settings."""
    chain = []
    current: int | None = region_id
    while current is not None and len(chain) < 16:
        row = connection.execute(_REGION_LINK, {"region_id": current}).mappings().first()
        if row is None:
            break
        chain.append(dict(row))
        current = row["parent_id"]
    return chain


def _staff_openids(connection: Connection, audience: str, region_ids: list[int], assignee_id: int | None) -> list[str]:
    """WeChat openids of the staff an alert is for, who linked their WeChat."""
    query = select(STAFF.c.wechat_openid).where(STAFF.c.active.is_(True), STAFF.c.wechat_openid.is_not(None))
    if audience == "assignee":
        query = query.where(STAFF.c.id == assignee_id)
    elif audience == "caseworkers":
        query = query.where(STAFF.c.region_id.in_(region_ids), STAFF.c.role == "caseworker")
    else:
        query = query.where(STAFF.c.region_id.in_(region_ids), STAFF.c.role.in_(SUPERVISING_ROLES))
    return [openid for openid in connection.scalars(query) if openid]


def targets(connection: Connection, settings: Settings, audience: str, region_id: int,
            assignee_id: int | None = None) -> list[tuple[str, str]]:
    """(notifier, target) pairs for an alert: the robot and chat of the nearest region that
    has its own (or the configured default), every region's for a chain alert, and the
    linked WeChat of the staff it is for."""
    chain = _chain(connection, region_id)
    found: list[tuple[str, str]] = []
    for via, column, default in (("wecom", "notify_wecom", settings.notify.wecom),
                                 ("telegram", "notify_telegram", settings.notify.telegram_chat)):
        own = [r[column] for r in chain if r[column]]
        chosen = own if audience == "chain" else own[:1]
        for target in chosen or ([default] if default else []):
            if (via, target) not in found:
                found.append((via, target))
    if settings.notify.wechat_template_id:
        region_ids = [r["id"] for r in chain] if audience == "chain" else [region_id]
        found += [("wechat", openid) for openid in _staff_openids(connection, audience, region_ids, assignee_id)]
    return found


def on_duty(connection: Connection, region_id: int, now: datetime) -> int:
    """How many active staff whose scope holds the region have a workspace page open now."""
    paths = [r["path"] for r in _chain(connection, region_id)]
    return connection.scalar(_ON_DUTY, {"since": now - ON_DUTY_WITHIN, "paths": paths}) is not None


def alert_text(ticket: AlertTicket, region_name: str, kind: str, level: int, clock: str, due: datetime | None) -> str:
    """The alert's words: reference, broad route, region and deadline only."""
    what = f"工单 {ticket.reference}（{CATEGORY_LABELS.get(ticket.category, ticket.category)}，{region_name}）"
    deadline = due.astimezone(CHINA_TZ).strftime("%m-%d %H:%M") if due else ""
    clock_label = CLOCK_LABELS.get(clock, "")
    if kind == "urgent":
        return f"【紧急求助】{what}请立即认领处理，签收时限 {deadline}"
    if kind == "reminded":
        return f"【催办】{what}{clock_label}时限 {deadline} 即将到期"
    if kind == "escalated":
        return f"【督办{LEVEL_NAMES.get(level, f'{level}级')}】{what}{clock_label}已超期（时限 {deadline}）"
    return f"【紧急督办】紧急{what}超过签收时限 {deadline} 仍无人认领"


def raise_alert(
    connection: Connection,
    settings: Settings,
    ticket: AlertTicket,
    *,
    kind: str,
    audience: str,
    region_id: int,
    now: datetime,
    level: int = 0,
    clock: str = "claim",
    due: datetime | None = None,
) -> int:
    """Write an alert and its deliveries; the number of notifier targets it goes to."""
    name = connection.scalar(_REGION_NAME, {"region_id": ticket.region_id}) or ""
    text = alert_text(ticket, name, kind, level, clock, due)
    alert_id = connection.execute(
        _INSERT_ALERT,
        {"ticket_id": ticket.id, "kind": kind, "level": level, "audience": audience, "region_id": region_id,
         "assignee_id": ticket.assignee_id if audience == "assignee" else None, "text": text, "created_at": now},
    ).scalar_one()
    found = targets(connection, settings, audience, region_id, ticket.assignee_id)
    if found:
        connection.execute(insert(DELIVERIES), [
            {"alert_id": alert_id, "via": via, "target": target, "status": "pending", "attempts": 0,
             "next_attempt_at": now, "last_error": "", "created_at": now}
            for via, target in found
        ])
    return len(found)


def is_for(alert: StaffAlert, user: StaffUser) -> bool:
    """Whether `user`'s open pages show this alert: urgent ones to everyone whose scope
    holds the ticket; a reminder to its assignee (or the region's staff); 督办 to the
    supervisors at or above the region it climbed to."""
    ticket_region = alert.ticket.region
    if not user.active or not user.sees(ticket_region):
        return False
    if alert.kind in ("urgent", "alerted"):
        return True
    if alert.audience == "assignee":
        return alert.assignee_id == user.id
    if alert.audience == "caseworkers":
        return True
    return user.supervises and user.sees(alert.region)
