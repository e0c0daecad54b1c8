"""Labels the staff pages and the API show for the models' values (presentation, not
model): the models keep the keys, the words live here (the engine's own staff words,
for alerts and accounts, in bot/labels.py, shared below; hers in bot/replies.py)."""

from __future__ import annotations

from bot.labels import CATEGORY_LABELS, CLOCK_LABELS, ROLE_LABELS
from models.stats import Window
from models.ticket import CHANNELS

__all__ = [
    "CATEGORY_LABELS", "CHANNEL_LABELS", "CLOCK_LABELS", "DASHBOARD_CHANNEL_LABELS", "DURATION_LABELS",
    "LEVEL_LABELS", "LIGHT_LABELS", "OUTBOX_STATUS_LABELS", "OUTCOME_LABELS", "PAUSE_REASON_LABELS",
    "PERIOD_LABELS", "RATE_LABELS", "ROLE_LABELS", "ROUTE_URGENT_REASON", "SATISFACTION_LABELS",
    "STATE_LABELS", "STATUS_LABELS", "TAB_LABELS", "TOTP_ISSUER", "window_label",
]

# Queue tabs (models/queue.py), in the order they are shown.
TAB_LABELS = {"unclaimed": "待认领", "mine": "我的工单", "open": "未办结", "done": "已办结", "all": "全部"}
CHANNEL_LABELS = dict(zip(CHANNELS, ("微信公众号", "Telegram", "电话", "来访"), strict=True))
# The dashboard's channel breakdown names the official account shorter.
DASHBOARD_CHANNEL_LABELS = {**CHANNEL_LABELS, "wechat": "微信"}

# models.ticket.STATUSES
STATUS_LABELS = {
    "new": "待认领",
    "claimed": "处理中",
    "resolved": "已办结，待回访",
    "closed": "已关闭",
    "withdrawn": "已撤销",
}
# models.ticket.OUTCOMES and VIOLENCE_OUTCOMES (办结结果).
OUTCOME_LABELS = {
    "answered": "已解答",
    "referred": "已转介",
    "agreement": "达成调解协议",
    "no_agreement": "未达成协议",
    "provided": "已提供服务",
    "declined": "本人谢绝",
    "protection_order_applied": "已申请人身安全保护令",
    "protection_order_granted": "已获人身安全保护令",
    "warning_letter": "公安已出具告诫书",
    "referred_police": "已转介公安",
    "referred_shelter": "已转介庇护场所",
    "referred_legal_aid": "已转介法律援助",
}

# models.clocks: a clock's states, its traffic light, why it may pause.
STATE_LABELS = {"running": "计时中", "paused": "已暂停", "met": "按时", "missed": "超期"}
LIGHT_LABELS = {"green": "正常", "yellow": "临期", "red": "超期"}
PAUSE_REASON_LABELS = {"awaiting_her": "等待她补充", "safe_time": "她要求在安全时间联系"}

# models.followup.SATISFACTION
SATISFACTION_LABELS = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
# models.outbox.OUTBOX_STATUSES
OUTBOX_STATUS_LABELS = {
    "pending": "待发送", "sending": "发送中", "sent": "已送达", "failed": "发送失败", "unknown": "不确定是否送达，请核实",
}
# models.region.LEVELS
LEVEL_LABELS = {"city": "市", "county": "县/区", "town": "镇/街道", "village": "村/社区"}

# models.stats.RATES → (name, definition shown one tap away).
RATE_LABELS = {
    "response_rate": ("响应率",
                      "按时签收的工单 ÷ 签收时限在期间内见分晓的工单（按时签收的按签收时间计，超时的按到期时间计；不含已撤销）"),
    "first_reply_rate": ("首次答复及时率",
                         "按时首次答复（回复已送达或已电话联系）的工单 ÷ 首次答复时限在期间内见分晓的工单"),
    "on_time_resolution_rate": ("按期办结率",
                                "按时办结的工单 ÷ 办结时限在期间内见分晓的工单（暂停与批准的延期顺延时限）"),
    "resolution_rate": ("解决率", "回访中她答“已解决”的 ÷ 期间内回访作答的"),
    "satisfaction_rate": ("满意率", "满意 + 基本满意 ÷ 期间内的满意度评价"),
    "mediation_success_rate": ("调解成功率", "达成调解协议且 90 天内未重办的调解工单 ÷ 期间内关闭的调解工单"),
    "redo_rate": ("重办率", "期间内新建的工单中关联为重办的 ÷ 期间内新建的工单"),
    "reopen_rate": ("重新打开率", "期间内新建、办结过又被重新打开的工单 ÷ 其中办结过的工单"),
    "return_rate": ("退单率", "期间内新建的工单中被退回上级的 ÷ 期间内新建的工单"),
    "extension_rate": ("延期率", "期间内新建的工单中获批延期的 ÷ 期间内新建的工单"),
}
# models.stats.DURATIONS (the clocks' medians) and PERIODS.
DURATION_LABELS = {"claim": "签收", "first_reply": "首次答复", "resolve": "办结"}
PERIOD_LABELS = {"week": "本周", "month": "本月", "quarter": "本季度"}

# The reason recorded when correcting a route changes its urgency too (Ticket.correct_route).
ROUTE_URGENT_REASON = "更正分流时一并更正"
# The name an authenticator app shows beside the code (StaffUser.totp_uri).
TOTP_ISSUER = "娘家人工作台"


def window_label(window: Window) -> str:
    """A models.stats.Window as staff read it (also kept in the audit trail's detail)."""
    return f"{window.first:%Y-%m-%d} 至 {window.last:%Y-%m-%d}"
