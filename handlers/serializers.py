"""Turning models into plain data for JSON and the CLI."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from models import Message, OutboxMessage, Region, StaffUser, Ticket, TicketEvent, TicketNote
from models.outbox import OUTBOX_STATUS_LABELS
from models.region import LEVEL_LABELS
from models.ticket import CATEGORY_LABELS, CHINA_TZ, OUTCOME_LABELS, OUTCOMES, STATUS_LABELS


def serialize_ticket_row(ticket: Ticket) -> dict[str, Any]:
    """The fields of a ticket list: no personal data."""
    return {
        "reference": ticket.reference,
        "category": ticket.category,
        "subcategory": ticket.subcategory,
        "urgent": ticket.urgent,
        "status": ticket.status,
        "region": ticket.region.code,
        "created": ticket.created_at.isoformat(timespec="seconds"),
    }


# -- the staff workspace -------------------------------------------------------

# What a caseworker should know about a failed delivery, by WeChat errcode.
DELIVERY_HINTS = {
    "45015": "她超过 48 小时没有给公众号发消息，公众号不能再主动发给她。请电话联系，或等她再次留言。",
    "45047": "客服消息条数已达上限，需等她再次留言后才能继续发送。",
    "43004": "她已取消关注公众号，消息无法送达。请改用电话联系。",
    "43019": "她已将公众号拉黑，消息无法送达。",
    "40003": "她的微信身份无效（可能不是本公众号的用户）。",
    "45002": "消息太长，请分成几条发送。",
    "40001": "公众号凭证失效，系统会自动重试；如持续失败请联系管理员。",
    "42001": "公众号凭证过期，系统会自动重试；如持续失败请联系管理员。",
}
_ERRCODE = re.compile(r"\b(4\d{4})\b")

EVENT_LABELS = {
    "created": "工单创建",
    "message_added": "她补充了留言",
    "image_added": "她发来图片",
    "voice_added": "她发来语音",
    "location_added": "她发来位置",
    "marked_urgent": "标为紧急",
    "urgent_cleared": "取消紧急",
    "urgent_alert": "紧急提醒",
    "viewed": "查看工单",
    "claimed": "认领",
    "released": "释放",
    "assigned": "指派",
    "transferred": "转办",
    "note_added": "添加备注",
    "replied": "回复她",
    "resolved": "办结",
    "reopened": "重新打开",
    "route_corrected": "更正分类",
    "follow_up_asked": "发起回访",
    "region_set": "她说明了所在地区",
    "contact_given": "她留了联系方式",
    "confirmed": "她确认了工单",
    "person_requested": "她要求人工联系",
    "withdrawn": "撤销",
    "erasure_requested": "她要求删除信息",
    "delivery_failed": "消息发送失败",
    "closed": "关闭",
}
ACTOR_LABELS = {"system": "系统", "woman": "她本人"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def serialize_region(region: Region) -> dict[str, Any]:
    return {"code": region.code, "name": region.name, "level": region.level,
            "level_label": LEVEL_LABELS.get(region.level, region.level), "path": region.path}


def serialize_staff(user: StaffUser) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "role_label": user.role_label, "region": serialize_region(user.region)}


def serialize_ticket_summary(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """A ticket in a queue: route, state and deadline, no personal data."""
    due = ticket.due_at
    return {
        "reference": ticket.reference,
        "category": ticket.category,
        "category_label": CATEGORY_LABELS.get(ticket.category, ticket.category),
        "subcategory": ticket.subcategory,
        "urgent": ticket.urgent,
        "status": ticket.status,
        "status_label": STATUS_LABELS.get(ticket.status, ticket.status),
        "keywords": list(ticket.route_keywords or []),
        "region": {"code": ticket.region.code, "name": ticket.region.name},
        "assignee": (
            {"username": ticket.assignee.username, "display_name": ticket.assignee.display_name}
            if ticket.assignee else None
        ),
        "created_at": _iso(ticket.created_at),
        "due_at": _iso(due),
        "seconds_left": int((due - now).total_seconds()) if due else None,
        "overdue": bool(due and due < now),
        "outcome": ticket.outcome,
        "outcome_label": OUTCOME_LABELS.get(ticket.outcome) if ticket.outcome else None,
    }


def serialize_delivery(item: OutboxMessage) -> dict[str, Any]:
    """Where a reply to her stands: pending, sending, sent or failed (with why)."""
    match = _ERRCODE.search(item.last_error or "") if item.status == "failed" else None
    return {
        "status": item.status,
        "status_label": OUTBOX_STATUS_LABELS.get(item.status, item.status),
        "attempts": item.attempts,
        "error": item.last_error or None,
        "hint": DELIVERY_HINTS.get(match.group(1)) if match else None,
        "sent_at": _iso(item.sent_at),
    }


def serialize_message(message: Message, delivery: OutboxMessage | None, authors: dict[int, StaffUser]) -> dict[str, Any]:
    author = authors.get(message.author_id) if message.author_id else None
    data: dict[str, Any] = {
        "id": message.id,
        "direction": message.direction,
        "kind": message.kind,
        "text": message.text,
        "at": _iso(message.created_at),
        "author": author.display_name if author else None,
        "delivery": serialize_delivery(delivery) if delivery else None,
    }
    if message.media_id:
        data["media_id"] = message.media_id
    if message.latitude is not None and message.longitude is not None:
        data["location"] = {"latitude": message.latitude, "longitude": message.longitude}
    return data


def serialize_note(note: TicketNote) -> dict[str, Any]:
    return {"id": note.id, "text": note.text, "author": note.author.display_name, "at": _iso(note.created_at)}


def serialize_event(event: TicketEvent) -> dict[str, Any]:
    actor = event.actor.display_name if event.actor else ACTOR_LABELS.get(event.actor_type, event.actor_type)
    return {
        "action": event.action,
        "label": EVENT_LABELS.get(event.action, event.action),
        "actor": actor,
        "actor_type": event.actor_type,
        "at": _iso(event.at),
        "detail": event.detail or {},
    }


def serialize_ticket_detail(
    ticket: Ticket,
    now: datetime,
    *,
    messages: list[Message],
    deliveries: dict[int, OutboxMessage],
    authors: dict[int, StaffUser],
    notes: list[TicketNote],
    events: list[TicketEvent],
) -> dict[str, Any]:
    """Everything on the ticket page: the summary, her transcript and contact, the trail."""
    data = serialize_ticket_summary(ticket, now)
    data.update(
        channel=ticket.channel,
        contact_phone=ticket.contact_phone,
        route={
            "category": ticket.category,
            "subcategory": ticket.subcategory,
            "keywords": list(ticket.route_keywords or []),
            "explanation": ticket.route_explanation,
            "confidence": ticket.confidence,
        },
        claim_due_at=_iso(ticket.claim_due_at),
        resolve_due_at=_iso(ticket.resolve_due_at),
        claimed_at=_iso(ticket.claimed_at),
        first_response_at=_iso(ticket.first_response_at),
        resolved_at=_iso(ticket.resolved_at),
        resolution={
            "outcome": ticket.outcome,
            "outcome_label": OUTCOME_LABELS.get(ticket.outcome) if ticket.outcome else None,
            "note": ticket.resolution_note or "",
        } if ticket.outcome else None,
        outcomes=[{"value": o, "label": OUTCOME_LABELS[o]} for o in OUTCOMES.get(ticket.category, ())],
        messages=[serialize_message(m, deliveries.get(m.id), authors) for m in messages],
        attachments=[
            serialize_message(m, None, authors) for m in messages if m.kind in ("image", "voice", "location")
        ],
        notes=[serialize_note(n) for n in notes],
        events=[serialize_event(e) for e in events],
    )
    return data


def china_time(value: datetime | str | None, fmt: str = "%m-%d %H:%M") -> str:
    """A timestamp as staff read it (China Standard Time)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(CHINA_TZ).strftime(fmt)


def time_left_label(seconds: int | None) -> str:
    """"剩 3 小时" / "超期 2 天": the queue's deadline column."""
    if seconds is None:
        return ""
    span = abs(seconds)
    if span < 3600:
        amount = f"{max(span // 60, 1)} 分钟"
    elif span < 2 * 86400:
        amount = f"{span // 3600} 小时"
    else:
        amount = f"{span // 86400} 天"
    return f"超期 {amount}" if seconds < 0 else f"剩 {amount}"
