"""Everything the bot says to a woman, in one place.

Replies name the route only by its broad category (咨询/调解/服务): a subcategory such
as 反家暴 on her screen could put her at risk if someone else reads her phone, and no
reply ever repeats her own words.
"""

from __future__ import annotations

SAFETY = (
    "如果您现在有危险，请立即拨打110报警；也可以拨打妇女维权公益服务热线12338。"
    "请尽量先到安全的地方（邻居、亲友家或派出所）。"
)

MENU = (
    "您好，这里是妇联“娘家人”。直接把遇到的事告诉我们就可以，我们会转给合适的工作人员：\n"
    "1 咨询（婚姻家庭、法律政策）\n"
    "2 调解（家庭矛盾、邻里纠纷）\n"
    "3 服务（就业创业、健康、心理、法律援助等）\n"
    "发“查询”可以看工单进度。遇到危险请立即拨打110。"
)

WELCOME = (
    "欢迎来到妇联“娘家人”，这里有人听您说。\n"
    "您发来的内容只有负责您事情的工作人员能看到，我们不会对外透露。\n\n" + MENU
)

CHOOSE = (
    "谢谢您告诉我们。为了转给最合适的工作人员，请回复数字：\n"
    "1 咨询（想了解法律、政策）\n"
    "2 调解（希望我们出面协调）\n"
    "3 服务（需要具体的帮助或资源）"
)

CREATED = (
    "我们收到了，您不是一个人。\n"
    "您的工单号：{reference}（查询时报这个号就可以）。\n"
    "这件事已转到“{category}”，工作人员会在{claim_within}内联系您。"
    "想补充情况，直接在这里发消息。"
)

URGENT_CREATED = (
    SAFETY + "\n"
    "我们已把您的求助列为紧急，工作人员会优先联系您。\n"
    "工单号：{reference}。方便时可以继续在这里告诉我们您在哪里、怎么联系您。"
)

ADDED = "已收到，已补充到您的工单 {reference}。负责的工作人员会看到。"

URGENT_ADDED = SAFETY + "\n已通知工作人员优先处理您的工单 {reference}。"

IMAGE_ADDED = "图片已收到，已作为材料附在您的工单 {reference} 中。"
IMAGE_NO_TICKET = "图片已收到。请再用文字简单说说遇到了什么，我们好转给合适的工作人员。"

LOCATION_ADDED = "位置已收到，已记在您的工单 {reference} 中。"
LOCATION_NO_TICKET = "位置已收到。请再用文字简单说说遇到了什么，我们好安排就近的工作人员。"

VOICE_UNCLEAR = "这段语音没能听清。方便的话请再说一次，或者打字告诉我们。"

NO_TICKETS = "您目前还没有工单。直接把遇到的事告诉我们就可以。"
STATUS_HEADER = "您的工单："
STATUS_LINE = "{reference}  {category}  {status}"

FALLBACK = (
    "抱歉，系统刚才没能处理您的消息，请稍后再发一次。" + SAFETY
)


def claim_within(hours: int, minutes: int | None = None) -> str:
    """'24小时' or '30分钟': how soon someone will be in touch, in words."""
    if minutes is not None:
        return f"{minutes}分钟"
    if hours % 24 == 0 and hours >= 48:
        return f"{hours // 24}天"
    return f"{hours}小时"
