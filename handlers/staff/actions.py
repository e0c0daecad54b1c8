"""What the web pages and the JSON API share: the staff actions on a ticket, the
queue's filters, and the loading of a ticket's full record.

Each turns plain input (a form or a JSON body, as a mapping of strings) into one model
method call. Lookups that fail are input errors naming the field; the caller has
already loaded the ticket in scope and checked `ticket.permits(user, action)`, and
commits afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.serializers import serialize_ticket_detail
from models import Message, OutboxMessage, Region, StaffUser, Ticket, TicketEvent, TicketNote
from models.ticket import CATEGORIES, STATUSES, TABS, InvalidInput, QueueFilter

MAX_PER_PAGE = 100

# URL segment → permission name (Ticket.permits).
ACTIONS = {
    "claim": "claim",
    "release": "release",
    "assign": "assign",
    "transfer": "transfer",
    "notes": "note",
    "reply": "reply",
    "resolve": "resolve",
    "reopen": "reopen",
    "route": "route",
}

# What the page says after each action succeeded.
DONE = {
    "claim": "已认领，请尽快联系她",
    "release": "已释放，工单回到待认领队列",
    "assign": "已指派",
    "transfer": "已转办",
    "notes": "备注已保存",
    "reply": "回复已提交发送",
    "resolve": "已办结，等待回访",
    "reopen": "已重新打开",
    "route": "分类已更正",
}


def perform(session: Session, user: StaffUser, ticket: Ticket, action: str, data: Mapping[str, Any], now: datetime) -> Any:
    """Do `action` (a key of ACTIONS) to `ticket`; raises TicketError subclasses."""
    if action == "claim":
        return ticket.claim(session, user, now)
    if action == "release":
        return ticket.release(session, user, _str(data, "reason"), now)
    if action == "assign":
        return ticket.assign(session, user, _staff(session, user, data, "assignee", required=True), now)
    if action == "transfer":
        region = _region(session, user, data)
        assignee = _staff(session, user, data, "assignee", required=False)
        return ticket.transfer(session, user, region, assignee, _str(data, "reason"), now)
    if action == "notes":
        return ticket.add_note(session, user, _str(data, "text"), now)
    if action == "reply":
        return ticket.reply(session, user, _str(data, "text"), now)
    if action == "resolve":
        return ticket.resolve(session, user, _str(data, "outcome"), _str(data, "note"), now)
    if action == "reopen":
        return ticket.reopen(session, user, _str(data, "reason"), now)
    if action == "route":
        category, subcategory, urgent = _route(data)
        return ticket.correct_route(session, user, category, now, subcategory, urgent)
    raise ValueError(f"unknown action {action!r}")


def _str(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput("应为文本", field)
    return value


def _route(data: Mapping[str, Any]) -> tuple[str, str | None, bool | None]:
    """Category, subcategory (checked against the lexicon in force) and urgency of a correction."""
    from handlers.app import runtime

    category = _str(data, "category")
    subcategory = _str(data, "subcategory").strip() or None
    if not category and _str(data, "route"):  # the ticket page's one select: "consultation/anti_dv_law"
        category, _, sub = _str(data, "route").partition("/")
        subcategory = sub or None
    known = runtime().router.lexicon.category(category)
    if subcategory is not None and (known is None or known.subcategory(subcategory) is None):
        raise InvalidInput("这个分类下没有这个子类", "subcategory")
    urgent = data.get("urgent")
    if isinstance(urgent, str):  # a form's checkbox or select
        urgent = {"": None, "true": True, "1": True, "on": True, "false": False, "0": False}.get(urgent.lower(), urgent)
    if urgent is not None and not isinstance(urgent, bool):
        raise InvalidInput("urgent 应为 true 或 false", "urgent")
    return category, subcategory, urgent


def _region(session: Session, user: StaffUser, data: Mapping[str, Any]) -> Region:
    code = _str(data, "region").strip()
    if not code:
        raise InvalidInput("请选择区域", "region")
    region = Region.by_code(session, code)
    # Unknown and out of scope read the same, so codes outside one's subtree do not leak.
    if region is None or not user.sees(region):
        raise InvalidInput("区域不存在或不在您的管辖范围内", "region")
    return region


def _staff(session: Session, user: StaffUser, data: Mapping[str, Any], field: str, required: bool) -> StaffUser | None:
    username = _str(data, field).strip()
    if not username:
        if required:
            raise InvalidInput("请选择工作人员", field)
        return None
    staff = StaffUser.by_username(session, username)
    if staff is None or not staff.active or not user.sees(staff.region):
        raise InvalidInput("找不到该工作人员，或其不在您的管辖范围内", field)
    return staff


def queue_filters(
    session: Session, user: StaffUser, args: Mapping[str, str], default_tab: str = "unclaimed"
) -> tuple[QueueFilter, dict[str, str]]:
    """The queue's filters from query arguments, and an error per argument that was wrong
    (a wrong argument is dropped, so the page still shows something useful)."""
    errors: dict[str, str] = {}
    filters = QueueFilter()
    tab = args.get("tab", "") or default_tab
    if tab in TABS:
        filters.tab = tab
    else:
        errors["tab"] = "没有这个标签页"
    category = args.get("category", "")
    if category in CATEGORIES:
        filters.category = category
    elif category:
        errors["category"] = "分类应为咨询、调解或服务"
    status = args.get("status", "")
    if status in STATUSES:
        filters.status = status
    elif status:
        errors["status"] = "没有这个状态"
    code = args.get("region", "").strip()
    if code:
        region = Region.by_code(session, code)
        if region is None or not user.sees(region):
            errors["region"] = "区域不存在或不在您的管辖范围内"
        else:
            filters.region = region
    filters.urgent = args.get("urgent", "") in ("1", "true", "on")
    text = args.get("q", "")
    if len(text) > 100:
        errors["q"] = "搜索词最多 100 个字"
    else:
        filters.text = text
    return filters, errors


def page_args(args: Mapping[str, str], default_per_page: int) -> tuple[int, int, dict[str, str]]:
    """`page` and `per_page` from query arguments (1-based; per_page at most 100)."""
    errors: dict[str, str] = {}
    page, per_page = 1, default_per_page
    raw_page, raw_per_page = args.get("page", ""), args.get("per_page", "")
    if raw_page:
        if raw_page.isdigit() and 1 <= int(raw_page) <= 10_000:
            page = int(raw_page)
        else:
            errors["page"] = "页码应为 1 到 10000 之间的整数"
    if raw_per_page:
        if raw_per_page.isdigit() and 1 <= int(raw_per_page) <= MAX_PER_PAGE:
            per_page = int(raw_per_page)
        else:
            errors["per_page"] = f"每页条数应为 1 到 {MAX_PER_PAGE} 之间的整数"
    return page, per_page, errors


def ticket_detail(session: Session, ticket: Ticket, now: datetime) -> dict[str, Any]:
    """The ticket's whole record, serialised: transcript with delivery states, notes, trail."""
    messages = Message.transcript(session, ticket)
    deliveries = {
        item.message_id: item
        for item in session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id))
    }
    author_ids = {m.author_id for m in messages if m.author_id}
    authors = (
        {u.id: u for u in session.scalars(select(StaffUser).where(StaffUser.id.in_(author_ids)))}
        if author_ids else {}
    )
    return serialize_ticket_detail(
        ticket, now,
        messages=messages, deliveries=deliveries, authors=authors,
        notes=TicketNote.on(session, ticket), events=TicketEvent.trail(session, ticket),
    )
