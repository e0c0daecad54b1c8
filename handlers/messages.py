"""The staff pages' and the API's words for a refused action: the models, the engine and
the handlers raise a TicketError with a code and its parameters, and `error_message`
words it here (the same words on a page and in the API's "message")."""

from __future__ import annotations

from typing import Any

from handlers.labels import OUTCOME_LABELS, PAUSE_REASON_LABELS, STATUS_LABELS
from models.lifecycle import TicketError

# A transition's name, as "不能{action}" says it (Ticket._changed).
ACTION_VERBS = {
    "release": "释放", "assign": "指派", "transfer": "转办", "resolve": "办结", "reopen": "重新打开", "return": "退回",
}

MESSAGES = {
    # models/ticket.py and models/lifecycle.py: the transitions
    "claimed_by_you": "您已认领此工单",
    "claimed_by": "已被 {name} 认领",
    "cannot_claim": "工单{status}，不能认领",
    "changed": "工单当前{status}，不能{action}（可能刚被他人处理，请刷新）",
    "assignee_outside_region": "该工作人员不负责这个工单所在的区域",
    "admin_takes_no_tickets": "管理员不承办工单，请指派给个案工作者或督办人",
    "already_assignee": "工单已由该工作人员处理",
    "transfer_outside_scope": "只能转办到您管辖范围内的区域",
    "assignee_outside_chosen_region": "该工作人员不负责所选区域",
    "transfer_to_same": "请选择另一个区域或另一位工作人员",
    "offline_no_chat": "来电或来访登记的工单没有在线对话，请电话联系她并登记电话联系",
    "claim_before_reply": "请先认领工单再回复",
    "reopen_before_reply": "工单已办结；如需继续处理，请先重新打开",
    "choose_outcome": "请选择办结结果：{outcomes}",
    "choose_category": "请选择咨询、调解或服务",
    "same_route": "工单已经在这个分类",
    "route_after_done": "工单已办结，不能再改分类",
    "contact_after_done": "工单已办结，不能再登记联系",
    "choose_pause_reason": "请选择暂停原因：{reasons}",
    "safe_time_needed": "请填写她方便联系的时间（须晚于现在）",
    "pause_after_done": "工单已办结，无需暂停计时",
    "already_paused": "计时已暂停",
    "not_paused": "计时没有暂停",
    "urgent_after_done": "工单已办结，不能再改紧急程度",
    "already_urgent": "工单已是紧急",
    "already_not_urgent": "工单本来就不是紧急",
    "extend_not_assignee": "只有工单的承办人可以申请延期",
    "extension_pending": "已有一个延期申请待审批",
    "extend_after_deadline": "办结时限已过，不能再申请延期",
    "extension_not_later": "延期后的时限须晚于现在的办结时限",
    "decide_not_supervisor": "只有督办人可以审批延期",
    "no_extension_pending": "没有待审批的延期申请",
    "return_at_top": "工单已在最上级区域，无法退回",
    "redo_other_woman": "只能关联同一位求助人的工单",
    "redo_not_closed": "只能关联已关闭的工单",
    "redo_too_old": "原工单关闭已超过 {days} 天",
    "already_redo": "此工单已关联为重办",
    "text_required": "请填写内容",
    "reason_required": "请填写原因",
    "too_long": "最多 {limit} 个字",
    # models/canned.py
    "title_required": "请填写标题",
    "title_too_long": "标题最多 {limit} 个字",
    "reply_text_required": "请填写回复内容",
    "reply_text_too_long": "回复内容最多 {limit} 个字（一条微信客服消息）",
    "bad_routes": "适用分类应为咨询、调解或服务",
    # bot/offline.py: calls and visits
    "bad_channel": "渠道应为 phone（电话）或 visit（来访）",
    "account_required": "请记录她讲述的情况",
    "bad_category_or_empty": "分类应为咨询、调解或服务（或留空由系统分流）",
    "category_not_found": "系统无法判断分类，请选择咨询、调解或服务",
    "choose_satisfaction": "请选择她的满意度：满意、基本满意或不满意",
    "follow_up_online": "在线工单的回访在她的对话中进行，由她本人回复，无需登记",
    "follow_up_not_due": "工单不在待回访状态（尚未办结，或回访已登记）",
    # handlers: the request's input
    "body_not_object": "请求体应为 JSON 对象",
    "sample_taken": "这条样本已经有人标注过了",
    "choose_subcategory": "请选择咨询、调解或服务下的分类",
    "choose_decision": "请选择“保存标注”或“不是求助”",
    "original_required": "请填写她之前已关闭的工单号",
    "choose_solved": "请选择她说问题是否已经解决",
    "not_text": "应为文本",
    "unstorable_text": "含有无法保存的字符（空字符或不成对的代理字符），请删除后再提交",
    "not_boolean": "应为 true 或 false",
    "time_required": "请填写时间",
    "bad_time": "时间格式应为 2026-12-01T18:00",
    "unknown_subcategory": "这个分类下没有这个子类",
    "urgent_not_boolean": "urgent 应为 true 或 false",
    "region_required": "请选择区域",
    "region_out_of_scope": "区域不存在或不在您的管辖范围内",
    "staff_required": "请选择工作人员",
    "staff_out_of_scope": "找不到该工作人员，或其不在您的管辖范围内",
    "bad_phone": "电话号码不对：手机号 11 位，座机请带区号",
    "phone_or_anonymous": "请填写她的电话，或选择匿名（不留电话）",
    "admin_cannot_claim": "管理员不承办工单；请不要勾选“由我承办”",
}


def error_message(error: TicketError) -> str:
    """The words for a refused action (keys among its parameters become their labels)."""
    return MESSAGES[error.code].format(**_worded(error.code, error.params))


def _worded(code: str, params: dict[str, Any]) -> dict[str, Any]:
    worded = dict(params)
    if "status" in worded:
        worded["status"] = STATUS_LABELS.get(worded["status"], worded["status"])
    if "action" in worded:
        worded["action"] = ACTION_VERBS[worded["action"]]
    if "outcomes" in worded:
        worded["outcomes"] = "、".join(OUTCOME_LABELS[o] for o in worded["outcomes"])
    if code == "choose_pause_reason":
        worded["reasons"] = "、".join(PAUSE_REASON_LABELS.values())
    return worded
