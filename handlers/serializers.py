"""Turning models into plain data for JSON and the CLI."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from models import ApiToken, AuditEvent, FollowUp, Message, OutboxMessage, Region, StaffUser, Ticket, TicketEvent, TicketNote
from models.clocks import LIGHTS, Clock, Policy
from handlers.labels import (
    CATEGORY_LABELS, CHANNEL_LABELS, CLOCK_LABELS, LEVEL_LABELS, OUTBOX_STATUS_LABELS, OUTCOME_LABELS,
    PAUSE_REASON_LABELS, ROLE_LABELS, SATISFACTION_LABELS, STATE_LABELS, STATUS_LABELS,
)
from models.ticket import CHINA_TZ, outcomes_for


def serialize_ticket_row(ticket: Ticket) -> dict[str, Any]:
    """The fields of a ticket list: no personal data."""
    return {
        "reference": ticket.reference,
        "category": ticket.category,
        "subcategory": ticket.subcategory,
        "urgent": ticket.urgent,
        "status": ticket.status,
        "region": ticket.region.code,
        # China time, as the pages show it (the offset keeps it unambiguous).
        "created": ticket.created_at.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
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
    "media_viewed": "查看她发来的图片或语音",
    "cannot_talk": "她不方便说话",
    "safe_time_given": "她说了安全联系时间",
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
    "follow_up_recorded": "登记电话回访",
    "region_set": "她说明了所在地区",
    "contact_given": "她留了联系方式",
    "confirmed": "她确认了工单",
    "person_requested": "她要求人工联系",
    "withdrawn": "撤销",
    "erasure_requested": "她要求删除信息",
    "delivery_failed": "消息发送失败",
    "delivery_unknown": "消息可能未送达，需核实",
    "closed": "关闭",
    "contacted": "电话联系了她",
    "paused": "暂停计时",
    "resumed": "恢复计时",
    "urgent_marked": "工作人员标为紧急",
    "urgent_unmarked": "工作人员取消紧急",
    "reminded": "催办",
    "escalated": "督办",
    "alerted": "紧急督办",
    "extension_requested": "申请延期",
    "extension_approved": "批准延期",
    "extension_refused": "驳回延期",
    "returned": "退单",
    "redo_linked": "关联为重办",
    "redone": "已被重办",
    "anonymised": "保存期满，个人信息已匿名化",
    "phone_revealed": "查看她的电话",
    "phone_searched": "按电话号码查到此工单",
}
LEVEL_NAMES = {1: "一级", 2: "二级", 3: "三级", 4: "四级", 5: "五级"}
ACTOR_LABELS = {"system": "系统", "woman": "她本人"}


def event_label(action: str, detail: dict[str, Any]) -> str:
    """The trail's line in Chinese: 督办 一级, 催办 · 签收, 暂停计时 · 等待她补充 …"""
    label = EVENT_LABELS.get(action, action)
    if action == "escalated":
        return f"{label} {LEVEL_NAMES.get(detail.get('level'), str(detail.get('level')) + '级')}"
    if action == "reminded" and detail.get("clock") in CLOCK_LABELS:
        return f"{label} · {CLOCK_LABELS[detail['clock']]}临期"
    if action in ("paused", "resumed") and detail.get("reason") in PAUSE_REASON_LABELS:
        return f"{label} · {PAUSE_REASON_LABELS[detail['reason']]}"
    return label


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def serialize_region(region: Region) -> dict[str, Any]:
    return {"code": region.code, "name": region.name, "level": region.level,
            "level_label": LEVEL_LABELS.get(region.level, region.level), "path": region.path}


def serialize_staff(user: StaffUser) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "role_label": ROLE_LABELS.get(user.role, user.role), "region": serialize_region(user.region)}


def serialize_clock(clock: Clock, now: datetime) -> dict[str, Any]:
    left = clock.left(now)
    return {
        "name": clock.name,
        "label": CLOCK_LABELS[clock.name],
        "due_at": _iso(clock.due_at),
        "state": clock.state,
        "state_label": STATE_LABELS[clock.state],
        "light": clock.light,
        "seconds_left": int(left.total_seconds()) if left is not None else None,
        "stopped_at": _iso(clock.stopped_at),
    }


def serialize_ticket_summary(ticket: Ticket, now: datetime, policy: Policy | None = None) -> dict[str, Any]:
    """A ticket in a queue: route, state and deadlines (each clock, given the policy), no personal data."""
    due = ticket.due_at
    clocks = ticket.clocks(policy, now) if policy is not None else []
    lights = [c.light for c in clocks if c.state in ("running", "paused")]
    extra: dict[str, Any] = {
        "escalation_level": ticket.escalation_level or 0,
        "paused": ticket.paused_at is not None,
    }
    if policy is not None:
        extra["clocks"] = [serialize_clock(c, now) for c in clocks]
        extra["light"] = max(lights, key=LIGHTS.index) if lights else None
    return extra | {
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
        "channel": ticket.channel,
        "channel_label": CHANNEL_LABELS.get(ticket.channel, ticket.channel),
        # She wrote since its assignee last opened it.
        "unread": ticket.unread_at is not None,
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
    if message.media_state:
        # Her file as the worker kept it (bot/media.py): stored, pending, failed, too_large, removed.
        data["media_state"] = message.media_state
    if message.latitude is not None and message.longitude is not None:
        data["location"] = {"latitude": message.latitude, "longitude": message.longitude}
    return data


def serialize_note(note: TicketNote) -> dict[str, Any]:
    return {"id": note.id, "text": note.text, "author": note.author.display_name, "at": _iso(note.created_at)}


def serialize_event(event: TicketEvent) -> dict[str, Any]:
    actor = event.actor.display_name if event.actor else ACTOR_LABELS.get(event.actor_type, event.actor_type)
    return {
        "action": event.action,
        "label": event_label(event.action, event.detail or {}),
        "actor": actor,
        "actor_type": event.actor_type,
        "at": _iso(event.at),
        "detail": event.detail or {},
    }


def serialize_ticket_detail(
    ticket: Ticket,
    now: datetime,
    policy: Policy,
    *,
    follow_up: FollowUp | None = None,
    messages: list[Message],
    deliveries: dict[int, OutboxMessage],
    authors: dict[int, StaffUser],
    notes: list[TicketNote],
    events: list[TicketEvent],
) -> dict[str, Any]:
    """Everything on the ticket page: the summary, her transcript and contact, the trail."""
    data = serialize_ticket_summary(ticket, now, policy)
    answered = follow_up is not None and follow_up.answered_at is not None
    data.update(
        first_reply_due_at=_iso(ticket.first_reply_due_at),
        pause=({"reason": ticket.pause_reason, "reason_label": PAUSE_REASON_LABELS.get(ticket.pause_reason or ""),
                "since": _iso(ticket.paused_at), "until": _iso(ticket.pause_until)} if ticket.paused_at else None),
        extension=({"until": _iso(ticket.extension_until), "reason": ticket.extension_reason}
                   if ticket.extension_until else None),
        extensions=ticket.extensions or 0,
        returns=ticket.returns or 0,
        redo_of=ticket.redo_of.reference if ticket.redo_of_id and ticket.redo_of else None,
        # Her two follow-up answers, apart: solved or not, then how satisfied.
        outcome_solved=follow_up.solved if answered else None,
        satisfaction=follow_up.satisfaction if answered else None,
        satisfaction_label=SATISFACTION_LABELS.get(follow_up.satisfaction or "") if answered else None,
        follow_up_expired=bool(follow_up and follow_up.expired),
    )
    data.update(
        channel=ticket.channel,
        contact_phone=ticket.contact_phone,
        # She cannot talk freely: when it is safe, in her words, read before anything else.
        safe_contact_time=ticket.safe_contact_time,
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
        outcomes=[{"value": o, "label": OUTCOME_LABELS[o]} for o in outcomes_for(ticket.category, ticket.subcategory)],
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


def serialize_account(user: StaffUser, now: datetime, throttled_until: datetime | None = None) -> dict[str, Any]:
    """A staff account as the admins' page lists it (never a hash or secret)."""
    return {
        **serialize_staff(user),
        "active": user.active,
        "two_step": user.uses_totp,
        "last_login_at": user.last_login_at,
        "created_at": user.created_at,
        "delayed": throttled_until is not None and throttled_until > now,
    }


def serialize_token(token: ApiToken) -> dict[str, Any]:
    return {"id": token.id, "hint": token.hint, "label": token.label, "username": token.user.username,
            "created_at": token.created_at, "revoked_at": token.revoked_at}


AUDIT_LABELS = {
    "login.ok": "登录", "login.failed": "登录失败", "logout": "退出（所有设备）",
    "user.added": "新建账号", "user.disabled": "停用账号", "user.enabled": "启用账号",
    "user.password_reset": "重置密码", "user.unlocked": "解除登录限制", "user.role_changed": "修改角色",
    "user.region_changed": "修改区域", "user.totp_on": "开启两步验证", "user.totp_off": "关闭两步验证",
    "token.issued": "签发令牌", "token.revoked": "吊销令牌",
    "review.viewed": "查看待标注样本", "review.labelled": "标注样本",
}


def serialize_audit(event: AuditEvent) -> dict[str, Any]:
    return {"at": event.created_at, "actor": event.actor_label, "action": event.action,
            "action_label": AUDIT_LABELS.get(event.action, event.action),
            "target": event.target.username if event.target else "", "address": event.address,
            "detail": ", ".join(f"{k}={v}" for k, v in sorted(event.detail.items()))}
