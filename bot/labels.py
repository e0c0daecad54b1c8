"""The words staff read for the models' values that the engine writes itself (alerts to
staff, account refusals); handlers/labels.py shows the same words on the pages and in the
API, so each lives here once. What she reads in her chat is bot/replies.py's."""

from __future__ import annotations

# Routes (models.ticket.CATEGORIES, and the router's "other").
CATEGORY_LABELS = {"consultation": "咨询", "mediation": "调解", "service": "服务", "other": "其他"}
# Service clocks (models.clocks.CLOCKS).
CLOCK_LABELS = {"claim": "签收", "first_reply": "首次答复", "resolve": "办结"}
# Staff roles (models.staff.ROLES).
ROLE_LABELS = {"caseworker": "个案工作者", "supervisor": "督办人", "admin": "管理员"}
