"""Labels the staff pages and the API show for the models' values (presentation, not
model): the queue's tabs and the channels a ticket came by."""

from __future__ import annotations

from models.ticket import CHANNELS

# Queue tabs (models/queue.py), in the order they are shown.
TAB_LABELS = {"unclaimed": "待认领", "mine": "我的工单", "open": "未办结", "done": "已办结", "all": "全部"}
CHANNEL_LABELS = dict(zip(CHANNELS, ("微信公众号", "Telegram", "电话", "来访"), strict=True))
