"""Everything the bot says to a woman, in one place.

Replies name the route only by its broad category (咨询/调解/服务): a subcategory such
as 反家暴 on her screen could put her at risk if someone else reads her phone, and no
reply ever repeats her own words.
"""

from __future__ import annotations

from datetime import timedelta

# What she reads for her case's route and state (models.ticket's CATEGORIES and STATUSES):
# the broad route only, never a subcategory.
CATEGORY_NAMES = {"consultation": "咨询", "mediation": "调解", "service": "服务", "other": "其他"}
STATUS_NAMES = {
    "new": "待认领",
    "claimed": "处理中",
    "resolved": "已办结，待回访",
    "closed": "已关闭",
    "withdrawn": "已撤销",
}

SAFETY = (
    "如果您现在有危险，请立即拨打110报警；也可以拨打妇女维权公益服务热线12338。"
    "请尽量先到安全的地方（邻居、亲友家或派出所）。"
)

# Her own intent to harm herself: the mental-health hotline beside 110.
SAFETY_SELF_HARM = (
    "如果您现在有伤害自己的念头，请立即拨打110或120；也可以拨打心理援助热线12356，"
    "有人24小时接听。请尽量待在有人陪着的地方。"
)
COUNSELLING = "我们会请心理咨询方面的工作人员联系您，您愿意的话也可以一直在这里和我们说。"

# She cannot talk now (he would hear): what she can do without a voice. Configurable
# (dialogue.silent_options): 12110 takes SMS only in provinces that opened it.
SILENT_OPTIONS = (
    "不方便说话没关系：您可以继续在这里打字，我们只用文字和您联系，不会给您打电话。"
    "遇到危险又不能出声时，可以发短信到12110报警（多数省份已开通，短信里写清地址和情况）。"
)
ASK_SAFE_TIME = "什么时间联系您比较安全？比如“明天上午9点以后”。不确定请回复“不知道”，我们只在这里联系您。"
SAFE_TIME_RECORDED = "已记下，工作人员会在您说的安全时间再联系您，之前只在这里用文字联系。"
SAFE_TIME_NONE = "好的，我们只在这里用文字和您联系，不会打电话。"

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

# She pressed a menu button (咨询 / 调解 / 服务) on the official account.
MENU_CHOSEN = "好的，“{category}”。请直接说说您遇到的事，我们会转给合适的工作人员。"

CHOOSE = (
    "谢谢您告诉我们。为了转给最合适的工作人员，请回复数字：\n"
    "1 咨询（想了解法律、政策）\n"
    "2 调解（希望我们出面协调）\n"
    "3 服务（需要具体的帮助或资源）"
)

# A sender over the webhook's per-sender limit: her message was not stored.
SLOW_DOWN = (
    "您发得有点快，这条消息我们没能记下来。请稍等一两分钟再发，我们一直在。\n" + SAFETY
)

ASK_REGION = "为了安排离您最近的工作人员，请告诉我们您住在哪个村或社区（也可以发送位置；不方便说请回复“跳过”）。"

# The first words of the first reply fit what she asked for: comfort for a grievance,
# plain thanks for a sign-up or a question (by route; a subcategory may have its own).
OPENERS = {
    "consultation": "我们收到了您的问题，会请懂政策法律的工作人员为您解答。",
    "mediation": "我们收到了，您不是一个人。",
    "service": "收到您的需求，谢谢您来找“娘家人”。",
    "counselling": "我们收到了，您不是一个人。",
    "anti_dv_law": "我们收到了，您不是一个人。",
}

CREATED = (
    "{opener}\n"
    "您的工单号：{reference}（查询时报这个号就可以），已转到“{category}”，"
    "工作人员会在{claim_within}内联系您。\n" + ASK_REGION
)

# The urgent replies promise only what is true: "notified" only when an alert went to a
# configured notifier or to staff with the workspace open (bot/alerts.py).
URGENT_CREATED = (
    "{safety}\n"
    "我们已把您的求助列为紧急，并已通知值班工作人员，会优先联系您。工单号：{reference}。\n"
    "方便时告诉我们您在哪个村或社区，也可以直接发送位置。"
)
URGENT_CREATED_QUEUED = (
    "{safety}\n"
    "我们已把您的求助列为紧急，排在所有工单最前面，工作人员一上线就会看到。"
    "现在有危险请先拨打110。工单号：{reference}。\n"
    "方便时告诉我们您在哪个村或社区，也可以直接发送位置。"
)

REGION_OPTIONS = "找到几个相近的地方，请回复数字：\n{options}\n都不是请回复“跳过”。"
REGION_NOT_FOUND = "没有找到这个地方。请说村或社区（街道、镇）的名字，或回复“跳过”。"

ASK_CONTACT = (
    "工作人员怎么联系您方便？请留一个手机号；"
    "不方便接电话请回复“匿名”，我们就在这里和您联系。"
)
CONTACT_INVALID = (
    "这一步需要的是联系方式：请发11位手机号（例如 139 1234 5678）；"
    "不想留号码请回复“匿名”，我们就在这里和您联系。"
)
MOBILE_TAKEN = "手机号已记下。"
# What the transcript keeps in place of a message that gave her number.
MOBILE_PLACEHOLDER = "［手机号已记录在工单联系方式中］"
CHANGE_REGION = "好的，重新填写。" + ASK_REGION

SUMMARY = (
    "请确认：\n"
    "工单号：{reference}\n"
    "事项：{category}\n"
    "地区：{region}\n"
    "联系方式：{contact}\n"
    "回复“确认”提交，回复“修改”重新填写地区和联系方式。"
)
# In the summary: how we will reach her when she left no number, and an urgent case's mark.
CONTACT_HERE = "匿名，在这里联系"
URGENT_MARK = "（紧急）"
CONFIRM_AGAIN = "已收到。请回复“确认”提交，或回复“修改”重新填写。"
CONFIRMED = (
    "已提交。工单号：{reference}。工作人员会在{claim_within}内联系您。\n"
    "想补充情况直接发消息；发“查询”看进度，发“撤销”可以撤回。"
)

RESET = "好的，已重新开始。"
EXPIRED = "上次的对话时间太久，已重新开始。"
WITHDRAW_CONFIRM = "确定要撤销工单 {reference} 吗？回复“确定”撤销，回复其他内容保留。"
WITHDRAWN = "工单 {reference} 已撤销。以后有需要，随时给我们发消息。"
NO_OPEN_TICKET = "您目前没有进行中的工单。"
HUMAN_REQUESTED = "已通知负责工单 {reference} 的工作人员，会尽快联系您。"
HUMAN_NO_TICKET = (
    "请先简单说说遇到了什么，我们马上转给工作人员。"
    "着急的话可以拨打妇女维权公益服务热线12338；遇到危险请拨打110。"
)
ERASE_CONFIRM = "确定要删除您在这里填写、但还没成为工单的内容吗？回复“确定”删除。"
ERASED = (
    "已删除。您还没成为工单的聊天内容和填写中的信息都已清除。"
    "已有工单的记录由负责的工作人员依规保管，不会外传。"
)
ACTION_KEPT = "好的，什么都没有改动。"

FOLLOW_UP = (
    "您好，您的工单 {reference} 已办结。问题解决了吗？\n"
    "回复 1 已解决\n回复 2 没有解决"
)
ASK_SATISFACTION = "您对这次的处理满意吗？\n回复 1 满意\n回复 2 基本满意\n回复 3 不满意"
FOLLOW_UP_AGAIN = "请回复数字 1 或 2。"
SATISFACTION_AGAIN = "请回复数字 1、2 或 3。"
REOPENED = "对不起，问题还没解决。工单 {reference} 已重新交给工作人员，会尽快联系您。"
THANKS = "谢谢您的评价。以后有需要，随时来找“娘家人”。"

ADDED = "已收到，已补充到您的工单 {reference}。负责的工作人员会看到。"
ADDED_THEN = ADDED + "\n{question}"

URGENT_ADDED = "{safety}\n已通知值班工作人员优先处理您的工单 {reference}。"
URGENT_ADDED_QUEUED = "{safety}\n您的工单 {reference} 已列为紧急，排在最前面，工作人员一上线就会看到。"

IMAGE_ADDED = "图片已收到，已作为材料附在您的工单 {reference} 中。"
IMAGE_NO_TICKET = "图片已收到。请再用文字简单说说遇到了什么，我们好转给合适的工作人员。"

LOCATION_ADDED = "位置已收到，已记在您的工单 {reference} 中。"
LOCATION_NO_TICKET = "位置已收到。请再用文字简单说说遇到了什么，我们好安排就近的工作人员。"

# A message with nothing in it to work on: no menu, no ticket, a gentle request.
NOISE = "我们在这里听您说。方便的话，用几句话说说发生了什么、需要什么帮助就可以。遇到危险请立即拨打110。"
NOISE_OPEN_TICKET = "我们在。想补充情况的话，直接说说发生了什么就可以（工单 {reference}）；发“查询”可以看进度。"
NEW_OR_ADD = "这是新的问题，还是工单 {reference} 的补充？回复 1 新问题，2 补充"
NEW_MATTER_UNANSWERED = (
    "您上次说的新情况已单独登记为工单 {reference}（{category}），工作人员会尽快联系您。"
    "如果它其实是之前问题的补充，直接告诉我们就好。"
)

VOICE_UNCLEAR = "这段语音没能听清。方便的话请再说一次，或者打字告诉我们。"

NO_TICKETS = "您目前还没有工单。直接把遇到的事告诉我们就可以。"
STATUS_HEADER = "您的工单："
STATUS_LINE = "{reference}  {category}  {status}"

# While the database is away her message is journaled (bot/spool.py) and answered with
# these; the conversation's real answer follows as soon as it is stored.
RECEIVED = "我们收到了您的消息，正在登记，稍后会在这里回复您。想补充情况可以继续发。"
URGENT_RECEIVED = SAFETY + "\n我们收到了您的求助，已列为紧急，工作人员会优先联系您。"

FALLBACK = (
    "抱歉，系统刚才没能处理您的消息，请稍后再发一次。" + SAFETY
)


def claim_within(span: timedelta, working_days: bool = False) -> str:
    """'30分钟', '2小时', '1个工作日': how soon someone will be in touch, in words."""
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}个工作日" if working_days else f"{seconds // 86400}天"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}小时"
    return f"{max(1, seconds // 60)}分钟"
