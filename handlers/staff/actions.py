"""What the web pages and the JSON API share: the staff actions on a ticket, the
queue's filters, and the loading of a ticket's full record.

Each turns plain input (a form or a JSON body, as a mapping of strings) into one model
method call. Lookups that fail are input errors naming the field; the caller has
already loaded the ticket in scope and checked `ticket.permits(user, action)`, and
commits afterwards.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.alerts import AlertTicket, raise_alert
from bot.dialogue import mask_mobile, parse_mobile
from bot.inbound import unstorable
from bot.offline import Account, CallBack, record_follow_up, record_offline
from handlers.context import runtime
from handlers.labels import CHANNEL_LABELS, ROUTE_URGENT_REASON
from handlers.messages import error_message
from handlers.serializers import serialize_ticket_detail
from models import (
    AuditEvent, FollowUp, Message, OutboxMessage, Region, StaffUser, Ticket, TicketEvent, TicketNote, utcnow,
)
from models.clocks import CHINA_TZ, LIGHTS, Policy
from models.desk import Desk, RegionRow
from models.stats import RATE_PARTS, RATES, Window, rate_members
from models.ticket import (
    CATEGORIES, CHANNELS, OFFLINE_CHANNELS, STATUSES, TABS, Conflict, InvalidInput, QueueFilter, TicketError,
)

log = logging.getLogger(__name__)

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
    "contact": "contact",
    "pause": "pause",
    "resume": "pause",
    "urgent": "urgent",
    "extend": "extend",
    "extension": "decide_extension",
    "return": "return",
    "redo": "redo",
    # 回访 of a call or a visit, taken down by whoever may resolve it (bot/offline.py).
    "followup": "resolve",
}

# Permissions only supervisors (and admins) hold; the refusal says so.
SUPERVISING = ("assign", "transfer", "decide_extension")
REFUSED_SUPERVISING = "只有督办人或管理员可以转办、指派、审批延期"
REFUSED_OTHERS = "只有认领人或督办人可以这样做"

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
    "contact": "已登记电话联系",
    "pause": "计时已暂停",
    "resume": "计时已恢复",
    "urgent": "紧急程度已更改",
    "extend": "延期申请已提交，等待督办人审批",
    "extension": "延期申请已处理",
    "return": "已退回上级区域重新派单",
    "redo": "已关联为重办",
    "followup": "已登记回访",
}


@dataclass(frozen=True)
class Acted:
    """How an action on a ticket went: `status` 200 (done: `result`, and `message` says
    so), or 403 / 409 / 422 with the `message` (and the input `field`) to show."""

    status: int
    message: str
    field: str | None = None
    result: Any = None


def refusal(action: str) -> str:
    """Why `user` may not do `action` (a key of ACTIONS): supervisors' work, or the assignee's."""
    return REFUSED_SUPERVISING if ACTIONS[action] in SUPERVISING else REFUSED_OTHERS


def act(
    session: Session, user: StaffUser, ticket: Ticket, action: str, data: Callable[[], Mapping[str, Any]],
    via: str,
) -> Acted:
    """The one way staff act on a ticket already loaded in scope, from the page or the API:
    authorise (403) → the model method (409 / 422, rolled back) → commit. `data` gives the
    input (read only once authorised); `via` names the caller in the log."""
    if not ticket.permits(user, ACTIONS[action]):
        return Acted(403, refusal(action))
    try:
        result = perform(session, user, ticket, action, data(), utcnow())
    except TicketError as error:
        session.rollback()
        return Acted(409 if isinstance(error, Conflict) else 422, error_message(error), error.field)
    session.commit()
    log.info("ticket %s: %s by staff %s%s", ticket.reference, action, user.id, via)
    return Acted(200, DONE[action], result=result)


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
        if ticket.correct_route(session, user, category, now, subcategory, urgent, policy(), ROUTE_URGENT_REASON):
            _alert_urgent(session, ticket, now)
        return None
    if action == "contact":
        return ticket.record_contact(session, user, _str(data, "note"), now)
    if action == "pause":
        return ticket.pause(session, user, _str(data, "reason"), _when(data, "until", required=False), now)
    if action == "resume":
        return ticket.resume(policy(), now, by=user)
    if action == "urgent":
        if ticket.set_urgent(user, _bool(data, "urgent"), _str(data, "reason"), policy(), now) and ticket.urgent:
            _alert_urgent(session, ticket, now)
        return None
    if action == "extend":
        return ticket.request_extension(user, _when(data, "until"), _str(data, "reason"), now)
    if action == "extension":
        return ticket.decide_extension(user, _bool(data, "approve"), now)
    if action == "return":
        return ticket.return_up(session, user, _str(data, "reason"), now)
    if action == "redo":
        reference = _str(data, "original").strip().upper()
        original = Ticket.find_visible(session, user, reference) if reference else None
        if original is None:
            raise InvalidInput("original_required", "original")
        return ticket.link_redo(session, user, original, runtime().settings.dialogue.redo_days, now)
    if action == "followup":
        # A phone or walk-in ticket has no chat to ask in: what she said on the phone settles
        # the follow-up as her chat answer would.
        if data.get("solved") in (None, ""):
            raise InvalidInput("choose_solved", "solved")
        answer = CallBack(_bool(data, "solved"), _str(data, "satisfaction").strip() or None, _str(data, "note"))
        return record_follow_up(session, ticket, user, answer, now)
    raise ValueError(f"unknown action {action!r}")


def _alert_urgent(session: Session, ticket: Ticket, now: datetime) -> None:
    """Staff made the ticket urgent: everyone whose scope holds it is alerted."""
    about = AlertTicket(ticket.id, ticket.reference, ticket.category, ticket.region_id, ticket.assignee_id)
    raise_alert(session.connection(), runtime().settings, about, kind="urgent", audience="chain",
                region_id=ticket.region_id, now=now, due=ticket.next_due_at)


def _str(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput("not_text", field)
    if unstorable(value):
        raise InvalidInput("unstorable_text", field)
    return value


def _bool(data: Mapping[str, Any], field: str) -> bool:
    """true/false from JSON, or "1"/"0" (and "true"/"false") from a form."""
    value = data.get(field)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "0", "false", "off"):
        return value.strip().lower() in ("1", "true", "on")
    raise InvalidInput("not_boolean", field)


def _when(data: Mapping[str, Any], field: str, required: bool = True) -> datetime | None:
    """A moment as ISO 8601 text; one without a zone is China time (what the page's picker sends)."""
    text = _str(data, field).strip()
    if not text:
        if required:
            raise InvalidInput("time_required", field)
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("bad_time", field) from None
    return moment.replace(tzinfo=CHINA_TZ) if moment.tzinfo is None else moment


def _route(data: Mapping[str, Any]) -> tuple[str, str | None, bool | None]:
    """Category, subcategory (checked against the lexicon in force) and urgency of a correction."""
    category = _str(data, "category")
    subcategory = _str(data, "subcategory").strip() or None
    if not category and _str(data, "route"):  # the ticket page's one select: "consultation/anti_dv_law"
        category, _, sub = _str(data, "route").partition("/")
        subcategory = sub or None
    known = runtime().router.lexicon.category(category)
    if subcategory is not None and (known is None or known.subcategory(subcategory) is None):
        raise InvalidInput("unknown_subcategory", "subcategory")
    urgent = data.get("urgent")
    if isinstance(urgent, str):  # a form's checkbox or select
        urgent = {"": None, "true": True, "1": True, "on": True, "false": False, "0": False}.get(urgent.lower(), urgent)
    if urgent is not None and not isinstance(urgent, bool):
        raise InvalidInput("urgent_not_boolean", "urgent")
    return category, subcategory, urgent


def _region(session: Session, user: StaffUser, data: Mapping[str, Any]) -> Region:
    code = _str(data, "region").strip()
    if not code:
        raise InvalidInput("region_required", "region")
    region = Region.by_code(session, code)
    # Unknown and out of scope read the same, so codes outside one's subtree do not leak.
    if region is None or not user.sees(region):
        raise InvalidInput("region_out_of_scope", "region")
    return region


def _staff(session: Session, user: StaffUser, data: Mapping[str, Any], field: str, required: bool) -> StaffUser | None:
    username = _str(data, field).strip()
    if not username:
        if required:
            raise InvalidInput("staff_required", field)
        return None
    staff = StaffUser.by_username(session, username)
    if staff is None or not staff.active or not user.sees(staff.region):
        raise InvalidInput("staff_out_of_scope", field)
    return staff


def record_call_or_visit(session: Session, user: StaffUser, data: Mapping[str, Any], now: datetime) -> Ticket:
    """A phone call or a walk-in visit as a ticket (线下): routed, clocked and alerted like
    a chat ticket (bot/offline.py); optionally claimed at once by who took it down, the
    call or visit itself then being the first contact. The caller commits."""
    channel = _str(data, "channel").strip()
    if channel not in OFFLINE_CHANNELS:
        raise InvalidInput("bad_channel", "channel")
    region = _region(session, user, data)
    anonymous = _bool(data, "anonymous") if data.get("anonymous") not in (None, "") else False
    typed = _str(data, "phone").strip()
    phone = None
    if typed and not anonymous:
        phone = phone_number(typed)
        if phone is None:
            raise InvalidInput("bad_phone", "phone")
    elif not anonymous:
        raise InvalidInput("phone_or_anonymous", "phone")
    category = _str(data, "category").strip() or None
    claim = _bool(data, "claim") if data.get("claim") not in (None, "") else False
    if claim and not user.takes_cases:
        raise InvalidInput("admin_cannot_claim", "claim")
    account = Account(channel, _str(data, "text"), RegionRow(region.id, region.code, region.name, region.level,
                                                             region.path, None), phone, category)
    session.flush()
    desk = Desk(session.connection())
    row = record_offline(desk, runtime().settings, runtime().router, account, now, user.id)
    desk.save()
    ticket = session.get(Ticket, row.id)
    if claim:
        ticket.claim(session, user, now)
        ticket.record_contact(session, user, CHANNEL_LABELS[channel] + "登记", now)
    return ticket


def queue_filters(
    session: Session, user: StaffUser, args: Mapping[str, str], default_tab: str = "unclaimed"
) -> tuple[QueueFilter, dict[str, str]]:
    """The queue's filters from query arguments, and an error per argument that was wrong
    (a wrong argument is dropped, so the page still shows something useful)."""
    errors: dict[str, str] = {}
    filters = QueueFilter()
    filters.tab = _choice(args, "tab", TABS, "没有这个标签页", errors, default=default_tab) or filters.tab
    filters.category = _choice(args, "category", CATEGORIES, "分类应为咨询、调解或服务", errors)
    filters.status = _choice(args, "status", STATUSES, "没有这个状态", errors)
    code = args.get("region", "").strip()
    if code:
        region = Region.by_code(session, code)
        if region is None or not user.sees(region):
            errors["region"] = "区域不存在或不在您的管辖范围内"
        else:
            filters.region = region
    filters.urgent = args.get("urgent", "") in ("1", "true", "on")
    filters.light = _choice(args, "light", LIGHTS, "信号灯应为 green、yellow 或 red", errors)
    filters.channel = _choice(args, "channel", CHANNELS, "渠道应为 " + "、".join(CHANNELS), errors)
    _drill_down_filters(session, user, args, filters, errors)
    text = args.get("q", "")
    if len(text) > 100:
        errors["q"] = "搜索词最多 100 个字"
    else:
        filters.text = text
        filters.phone = phone_number(text)
    return filters, errors


def _choice(
    args: Mapping[str, str], name: str, choices: tuple[str, ...], message: str, errors: dict[str, str],
    default: str = "",
) -> str | None:
    """An argument that must be one of `choices`: its value, or None (with `message` as
    its error when something else was given)."""
    value = args.get(name, "") or default
    if value in choices:
        return value
    if value:
        errors[name] = message
    return None


# A landline as staff type it: area code and number, with or without a dash.
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def phone_number(text: str) -> str | None:
    """A whole phone number typed or given (mobile in any common form, or a landline), normalised."""
    mobile = parse_mobile(text)
    if mobile:
        return mobile
    folded = re.sub(r"[\s()（）]", "", unicodedata.normalize("NFKC", text or ""))
    return folded.replace("-", "") if _LANDLINE.match(folded) else None


# A repeated look-up of the same number (the queue refreshing itself) is one audit entry.
PHONE_SEARCH_AUDIT_EVERY = timedelta(minutes=10)


def audit_phone_search(
    session: Session, user: StaffUser, filters: QueueFilter, found: list[Ticket], now: datetime, via: str,
    seen: dict[str, str] | None = None,
) -> None:
    """Searching by her phone number is on the record: who, when, which tickets it found
    (each ticket's trail too). `seen` (the web session's) keeps a refresh from repeating it."""
    if not filters.phone:
        return
    key = hashlib.sha256(f"{user.id}:{filters.phone}".encode()).hexdigest()[:16]
    if seen is not None:
        last = seen.get(key)
        if last and now - datetime.fromisoformat(last) < PHONE_SEARCH_AUDIT_EVERY:
            return
        for old in [k for k, at in seen.items() if now - datetime.fromisoformat(at) >= PHONE_SEARCH_AUDIT_EVERY]:
            del seen[old]  # the session cookie keeps only the window's look-ups
        seen[key] = now.isoformat()
    AuditEvent.record(
        session, now, "ticket.phone_search", actor=user, via=via, phone=mask_mobile(filters.phone),
        found=[t.reference for t in found],
    )
    for ticket in found:
        ticket.record("phone_searched", actor=user, via=via)


def _drill_down_filters(session: Session, user: StaffUser, args: Mapping[str, str], filters: QueueFilter,
                        errors: dict[str, str]) -> None:
    """The filters the dashboard's numbers link with: subcategory, assignee, created between dates."""
    if "sub" in args:
        sub = args.get("sub", "").strip()
        if len(sub) > 48:
            errors["sub"] = "细分类别最多 48 个字符"
        else:
            filters.subcategory = sub  # "" is "none given"
    username = args.get("assignee", "").strip()
    if username:
        staff = StaffUser.by_username(session, username)
        if staff is None or not user.sees(staff.region):
            errors["assignee"] = "没有这个工作人员，或其不在您的管辖范围内"
        else:
            filters.assignee_id = staff.id
    for name in ("from", "to"):
        raw = args.get(name, "").strip()
        if not raw:
            continue
        try:
            day = date.fromisoformat(raw) if len(raw) == 10 else None
        except ValueError:
            day = None
        if day is None:
            errors[name] = "日期格式应为 YYYY-MM-DD（北京时间）"
            continue
        start = datetime.combine(day, time(0), CHINA_TZ)
        if name == "from":
            filters.created_from = start
        else:
            filters.created_to = start + timedelta(days=1)
    rate = args.get("rate", "").strip()
    if rate:
        _rate_filter(session, rate, args.get("part", "base"), filters, errors)


def _rate_filter(session: Session, rate: str, part: str, filters: QueueFilter, errors: dict[str, str]) -> None:
    """`rate=NAME&part=base|met` with `from` and `to`: exactly the tickets behind that rate's
    denominator (or numerator) over those dates, as the dashboard counts them now. The
    dates are then the rate's window, not a creation filter."""
    if rate not in RATES:
        errors["rate"] = "没有这个比率"
        return
    if part not in RATE_PARTS:
        errors["part"] = "part 应为 base（分母）或 met（分子）"
        return
    if filters.created_from is None or filters.created_to is None:
        errors["rate"] = "比率的工单需要起止日期（from、to）"
        return
    first = filters.created_from.astimezone(CHINA_TZ).date()
    last = (filters.created_to - timedelta(days=1)).astimezone(CHINA_TZ).date()
    if last < first:
        errors["to"] = "结束日期不能早于开始日期"
        return
    filters.created_from = filters.created_to = None
    filters.members = rate_members(session, rate, part, Window(first, last), utcnow())


def page_args(args: Mapping[str, str], default_per_page: int) -> tuple[int, int, dict[str, str]]:
    """`page` and `per_page` from query arguments (1-based; per_page at most 100)."""
    errors: dict[str, str] = {}
    page, per_page = 1, default_per_page
    raw_page, raw_per_page = args.get("page", ""), args.get("per_page", "")
    if raw_page:
        if raw_page.isdecimal() and 1 <= int(raw_page) <= 10_000:
            page = int(raw_page)
        else:
            errors["page"] = "页码应为 1 到 10000 之间的整数"
    if raw_per_page:
        if raw_per_page.isdecimal() and 1 <= int(raw_per_page) <= MAX_PER_PAGE:
            per_page = int(raw_per_page)
        else:
            errors["per_page"] = f"每页条数应为 1 到 {MAX_PER_PAGE} 之间的整数"
    return page, per_page, errors


def policy() -> Policy:
    """The deadlines in force (config `sla:` / `escalation:`)."""
    return runtime().settings.policy


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
    follow_up = session.scalar(
        select(FollowUp).where(FollowUp.ticket_id == ticket.id).order_by(FollowUp.id.desc()).limit(1)
    )
    return serialize_ticket_detail(
        ticket, now, policy(), follow_up=follow_up,
        messages=messages, deliveries=deliveries, authors=authors,
        notes=TicketNote.on(session, ticket), events=TicketEvent.trail(session, ticket),
    )
