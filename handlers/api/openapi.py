"""The API's OpenAPI 3.1 document (served at /api/v1/openapi.json, validated in the tests)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from handlers.labels import OUTCOME_LABELS, RATE_LABELS
from models.clocks import CLOCKS, LIGHTS, PAUSE_REASONS
from models.clocks import STATES as CLOCK_STATES
from models.followup import SATISFACTION
from models.stats import RATES
from models.ticket import CATEGORIES, CHANNELS, OFFLINE_CHANNELS, STATUSES, TABS

ALL_OUTCOMES = sorted(OUTCOME_LABELS)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        401: "没有或无效的令牌",
        403: "在管辖范围内，但角色不允许",
        404: "工单不存在或不在管辖范围内（两者不作区分）",
        409: "工单状态不允许（例如已被他人认领：“已被 X 认领”）",
        422: "输入有误，field 指出是哪个字段",
    }
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in codes if code in text}


def _action(summary: str, body: dict[str, Any] | None, required: list[str], ok: dict[str, Any],
            ok_code: str = "200", description: str = "") -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": ["tickets"],
        "parameters": [{"$ref": "#/components/parameters/Reference"}],
        "responses": {ok_code: ok, **_errors(401, 403, 404, 409, 422)},
    }
    if description:
        operation["description"] = description
    if body is not None:
        operation["requestBody"] = {
            "required": bool(required),
            "content": {"application/json": {"schema": {
                "type": "object", "properties": body, "required": required, "additionalProperties": True,
            }}},
        }
    return {"post": operation}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    text = {"type": "string"}
    ticket_ok = _json({"type": "object", "properties": {"ticket": _ref("TicketSummary")}, "required": ["ticket"]},
                      "操作成功，返回工单当前状态")
    nullable = lambda schema: {"anyOf": [schema, {"type": "null"}]}  # noqa: E731
    error_schema = {
        "type": "object",
        "properties": {
            "error": {"type": "string", "examples": ["conflict"]},
            "message": {"type": "string", "examples": ["已被 李姐 认领"]},
            "field": {"type": "string", "description": "出错的字段（422）"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            "ticket": _ref("TicketSummary"),
        },
        "required": ["error", "message"],
    }
    region_brief = {"type": "object", "properties": {"code": text, "name": text}, "required": ["code", "name"]}
    staff_brief = {"type": "object", "properties": {"username": text, "display_name": text},
                   "required": ["username", "display_name"]}
    summary_props = {
        "reference": {"type": "string", "examples": ["NJ-20261121-0042"]},
        "category": {"type": "string", "enum": list(CATEGORIES)},
        "category_label": text,
        "subcategory": nullable(text),
        "urgent": {"type": "boolean"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "status_label": text,
        "keywords": {"type": "array", "items": text},
        "region": region_brief,
        "assignee": nullable(staff_brief),
        "created_at": {"type": "string", "format": "date-time"},
        "due_at": nullable({"type": "string", "format": "date-time"}),
        "seconds_left": nullable({"type": "integer", "description": "距下一期限的秒数，负数为超期"}),
        "overdue": {"type": "boolean"},
        "outcome": nullable({"type": "string", "enum": ALL_OUTCOMES}),
        "outcome_label": nullable(text),
        "escalation_level": {"type": "integer", "minimum": 0, "description": "督办级别，0 为未督办"},
        "paused": {"type": "boolean", "description": "计时是否暂停（等待她补充 / 她要求在安全时间联系）"},
        "clocks": {"type": "array", "items": _ref("Clock"), "description": "签收、首次答复、办结三个时限"},
        "light": nullable({"type": "string", "enum": list(LIGHTS), "description": "计时中的时限里最紧的信号灯"}),
        "channel": {"type": "string", "enum": list(CHANNELS),
                    "description": "线上（wechat、telegram）或线下（phone 来电、visit 来访）"},
        "channel_label": text,
        "unread": {"type": "boolean", "description": "认领后她又发来消息，承办人尚未打开工单"},
    }
    clock = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": list(CLOCKS)},
            "label": text,
            "due_at": nullable({"type": "string", "format": "date-time"}),
            "state": {"type": "string", "enum": list(CLOCK_STATES)},
            "state_label": text,
            "light": {"type": "string", "enum": list(LIGHTS)},
            "seconds_left": nullable({"type": "integer", "description": "距期限的秒数，负数为超期；停止后为空"}),
            "stopped_at": nullable({"type": "string", "format": "date-time"}),
        },
        "required": ["name", "due_at", "state", "light"],
    }
    delivery = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["pending", "sending", "sent", "failed", "unknown"]},
            "status_label": text,
            "attempts": {"type": "integer"},
            "error": nullable(text),
            "hint": nullable({"type": "string", "description": "失败原因的中文说明（如微信 45015：超过 48 小时）"}),
            "sent_at": nullable({"type": "string", "format": "date-time"}),
        },
        "required": ["status", "status_label"],
    }
    message = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "direction": {"type": "string", "enum": ["in", "out"]},
            "kind": text,
            "text": text,
            "at": {"type": "string", "format": "date-time"},
            "author": nullable(text),
            "delivery": nullable(_ref("Delivery")),
            "media_id": text,
            "media_state": {"type": "string", "enum": ["pending", "stored", "failed", "too_large", "removed"]},
            "location": {"type": "object", "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"}}},
        },
        "required": ["id", "direction", "kind", "text", "at"],
    }
    detail = {
        "allOf": [
            _ref("TicketSummary"),
            {
                "type": "object",
                "properties": {
                    "channel": text,
                    "contact_phone": nullable(text),
                    "safe_contact_time": nullable({"type": "string", "description": "她说的安全联系时间（原话）"}),
                    "route": {"type": "object", "properties": {
                        "category": text, "subcategory": nullable(text), "keywords": {"type": "array", "items": text},
                        "explanation": text, "confidence": {"type": "number"},
                    }},
                    "resolution": nullable({"type": "object", "properties": {
                        "outcome": text, "outcome_label": text, "note": text}}),
                    "outcomes": {"type": "array", "items": {"type": "object", "properties": {"value": text, "label": text}}},
                    "messages": {"type": "array", "items": _ref("Message")},
                    "attachments": {"type": "array", "items": _ref("Message")},
                    "notes": {"type": "array", "items": _ref("Note")},
                    "events": {"type": "array", "items": _ref("Event")},
                    "first_reply_due_at": nullable({"type": "string", "format": "date-time"}),
                    "pause": nullable({"type": "object", "properties": {
                        "reason": {"type": "string", "enum": list(PAUSE_REASONS)}, "reason_label": text,
                        "since": {"type": "string", "format": "date-time"},
                        "until": nullable({"type": "string", "format": "date-time"})}}),
                    "extension": nullable({"type": "object", "description": "待审批的延期申请", "properties": {
                        "until": {"type": "string", "format": "date-time"}, "reason": text}}),
                    "extensions": {"type": "integer", "description": "已批准的延期次数"},
                    "returns": {"type": "integer", "description": "退单次数"},
                    "redo_of": nullable({"type": "string", "description": "重办所关联的原工单号"}),
                    "outcome_solved": nullable({"type": "boolean", "description": "回访：她说问题是否解决"}),
                    "satisfaction": nullable({"type": "string", "enum": list(SATISFACTION)}),
                    "satisfaction_label": nullable(text),
                    "follow_up_expired": {"type": "boolean"},
                },
                "required": ["messages", "notes", "events", "route"],
            },
        ]
    }
    region = {
        "type": "object",
        "properties": {"code": text, "name": text, "level": {"type": "string", "enum": ["city", "county", "town", "village"]},
                       "level_label": text, "path": text, "parent": nullable(text)},
        "required": ["code", "name", "level", "path"],
    }
    staff = {
        "type": "object",
        "properties": {"username": text, "display_name": text,
                       "role": {"type": "string", "enum": ["caseworker", "supervisor", "admin"]},
                       "role_label": text, "region": _ref("Region")},
        "required": ["username", "display_name", "role", "region"],
    }

    def query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "娘家 Niangjia 工作台 API",
            "version": "1.0.0",
            "description": (
                "妇联“娘家人”接诉平台的工作人员接口。用 `niangjia issue-token 用户名` 取得令牌，"
                "以 `Authorization: Bearer <token>` 调用。每个用户只能看到其所属区域及下级区域的工单；"
                "范围外的工单一律 404。查看工单详情会记入工单的处理记录。"
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [{"name": "tickets", "description": "工单"}, {"name": "stats", "description": "统计"}, {"name": "account", "description": "账号与区域"}],
        "paths": {
            "/me": {"get": {"summary": "当前用户", "tags": ["account"],
                            "responses": {"200": _json(_ref("Staff"), "当前用户"), **_errors(401)}}},
            "/regions": {"get": {"summary": "管辖范围内的区域（网格）", "tags": ["account"], "responses": {
                "200": _json({"type": "object", "properties": {"items": {"type": "array", "items": _ref("Region")}},
                              "required": ["items"]}, "区域列表，按路径排序"),
                **_errors(401)}}},
            "/tickets": {"get": {
                "summary": "工单列表（筛选、分页）",
                "tags": ["tickets"],
                "description": "紧急优先，其次按最近的计时中期限；暂停计时的排在后面；done 与 all 按收到时间倒序。",
                "parameters": [
                    query("tab", "unclaimed 待认领 / mine 我的 / open 未办结 / done 已办结 / all 全部（默认）",
                          {"type": "string", "enum": list(TABS), "default": "all"}),
                    query("category", "分类", {"type": "string", "enum": list(CATEGORIES)}),
                    query("status", "状态", {"type": "string", "enum": list(STATUSES)}),
                    query("region", "区域代码（须在管辖范围内）", text),
                    query("urgent", "仅紧急", {"type": "string", "enum": ["1", "true"]}),
                    query("light", "信号灯：green 正常 / yellow 临期 / red 超期", {"type": "string", "enum": list(LIGHTS)}),
                    query("channel", "渠道：线上 wechat / telegram，线下 phone 来电 / visit 来访",
                          {"type": "string", "enum": list(CHANNELS)}),
                    query("q", "工单号、分流关键词、她的完整电话号码（精确匹配，记入审计），或她留言中的词"
                          "（仅在本人承办的工单中；督办人在管辖范围内）", {"type": "string", "maxLength": 100}),
                    query("page", "页码，从 1 开始", {"type": "integer", "minimum": 1, "default": 1}),
                    query("per_page", "每页条数", {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}),
                ],
                "responses": {
                    "200": _json({"type": "object", "properties": {
                        "items": {"type": "array", "items": _ref("TicketSummary")},
                        "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"},
                        "tab": {"type": "string"},
                        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                    }, "required": ["items", "page", "per_page", "total", "counts"]}, "一页工单"),
                    **_errors(401, 422),
                },
            }, "post": {
                "summary": "登记来电或来访（线下）为工单",
                "tags": ["tickets"],
                "description": "工作人员把电话或妇女之家来访记录为工单：按她讲述的内容自动分流，与线上工单同样计时、督办和统计。"
                               "紧急的会立即提醒。claim 为 true 时由登记人承办，来电或来访即记为首次联系。",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {
                        "channel": {"type": "string", "enum": list(OFFLINE_CHANNELS), "description": "phone 来电 / visit 来访"},
                        "text": {"type": "string", "maxLength": 4000, "description": "她讲述的情况（按她的原话记录）"},
                        "region": {"type": "string", "description": "她所在区域的代码（须在管辖范围内）"},
                        "phone": {"type": "string", "description": "她的电话：手机或带区号的座机"},
                        "anonymous": {"type": "boolean", "description": "不留电话（匿名）"},
                        "category": {"type": "string", "enum": list(CATEGORIES), "description": "不填则由系统分流"},
                        "claim": {"type": "boolean", "description": "由登记人承办"},
                    },
                    "required": ["channel", "text", "region"],
                    "additionalProperties": True,
                }}}},
                "responses": {"201": ticket_ok, **_errors(401, 422)},
            }},
            "/tickets/{reference}": {"get": {
                "summary": "工单详情（对话记录、联系方式、备注、处理记录）",
                "description": "含个人信息；每次查看都记入处理记录。",
                "tags": ["tickets"],
                "parameters": [{"$ref": "#/components/parameters/Reference"}],
                "responses": {"200": _json(_ref("TicketDetail"), "工单详情"), **_errors(401, 404)},
            }},
            "/tickets/{reference}/claim": _action(
                "认领", None, [], ticket_ok,
                description="原子操作：多人同时认领，只有一人成功，其余得到 409“已被 X 认领”。"),
            "/tickets/{reference}/release": _action("释放回队列", {"reason": text}, [], ticket_ok),
            "/tickets/{reference}/assign": _action(
                "指派（督办人、管理员）", {"assignee": {"type": "string", "description": "用户名"}}, ["assignee"], ticket_ok),
            "/tickets/{reference}/transfer": _action(
                "转办到另一区域或人员（督办人、管理员）",
                {"region": {"type": "string", "description": "区域代码"},
                 "assignee": {"type": "string", "description": "用户名（选填；不填则进入该区域待认领）"},
                 "reason": text},
                ["region", "reason"], ticket_ok),
            "/tickets/{reference}/notes": _action(
                "添加内部备注", {"text": {"type": "string", "maxLength": 4000}}, ["text"],
                _json({"type": "object", "properties": {"note": _ref("Note"), "ticket": _ref("TicketSummary")},
                       "required": ["note", "ticket"]}, "备注已保存"), ok_code="201"),
            "/tickets/{reference}/reply": _action(
                "回复她（经发件箱通过她的渠道发送）", {"text": {"type": "string", "maxLength": 600}}, ["text"],
                _json({"type": "object", "properties": {
                    "delivery": {"allOf": [_ref("Delivery"), {"type": "object", "properties": {"id": {"type": "integer"}}}]},
                    "ticket": _ref("TicketSummary")}, "required": ["delivery", "ticket"]}, "已排队发送"),
                ok_code="202"),
            "/tickets/{reference}/resolve": _action(
                "办结",
                {"outcome": {"type": "string", "enum": ALL_OUTCOMES,
                             "description": "咨询：answered / referred；调解：agreement / no_agreement / referred；"
                                            "服务：provided / referred / declined"},
                 "note": {"type": "string", "maxLength": 4000}},
                ["outcome"], ticket_ok),
            "/tickets/{reference}/reopen": _action("重新打开", {"reason": text}, ["reason"], ticket_ok),
            "/tickets/{reference}/route": _action(
                "更正分类（她的原话去掉电话和身份证号后留作分流模型的训练样本）",
                {"category": {"type": "string", "enum": list(CATEGORIES)},
                 "subcategory": {"type": "string", "description": "该分类下的子类键，如 anti_dv_law；不填则不分子类"},
                 "urgent": {"type": "boolean", "description": "同时更正紧急与否；不填则不变"}},
                ["category"], ticket_ok),
            "/tickets/{reference}/contact": _action(
                "登记电话联系（停止首次答复计时）", {"note": {"type": "string", "maxLength": 500}}, [], ticket_ok),
            "/tickets/{reference}/pause": _action(
                "暂停计时（等待她补充，或她要求在安全时间联系）",
                {"reason": {"type": "string", "enum": list(PAUSE_REASONS)},
                 "until": {"type": "string", "format": "date-time", "description": "safe_time 时必填：她方便联系的时间"}},
                ["reason"], ticket_ok),
            "/tickets/{reference}/resume": _action("恢复计时", None, [], ticket_ok),
            "/tickets/{reference}/urgent": _action(
                "标为紧急或取消紧急（记入处理记录；标为紧急即按紧急时限计时并提醒）",
                {"urgent": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 500}},
                ["urgent", "reason"], ticket_ok),
            "/tickets/{reference}/extend": _action(
                "申请延期（承办人，须在办结期限前）",
                {"until": {"type": "string", "format": "date-time"}, "reason": {"type": "string", "maxLength": 500}},
                ["until", "reason"], ticket_ok),
            "/tickets/{reference}/extension": _action(
                "审批延期（本区域督办人）", {"approve": {"type": "boolean"}}, ["approve"], ticket_ok),
            "/tickets/{reference}/return": _action(
                "退单：退回上级区域重新派单", {"reason": {"type": "string", "maxLength": 500}}, ["reason"], ticket_ok),
            "/tickets/{reference}/redo": _action(
                "关联为重办：她之前已关闭的工单（dialogue.redo_days 天内）",
                {"original": {"type": "string", "description": "原工单号"}}, ["original"], ticket_ok),
            "/tickets/{reference}/followup": _action(
                "登记回访（来电、来访工单：电话回访她后登记她的回答；已解决即关闭，未解决即重新办理）",
                {"solved": {"type": "boolean"},
                 "satisfaction": {"type": "string", "enum": list(SATISFACTION),
                                  "description": "已解决时必填；未解决时不记录（与她在对话中的回访相同）"},
                 "note": {"type": "string", "maxLength": 4000, "description": "回访记录，存为备注"}},
                ["solved"], ticket_ok),
            "/stats": {"get": {
                "summary": "统计：工单量、各项比率与时长（督办人、管理员）",
                "description": stats_description(),
                "tags": ["stats"],
                "parameters": [
                    query("region", "区域代码（默认本人所属区域）；范围外为 404", text),
                    query("from", "开始日期（北京时间，含），YYYY-MM-DD；默认本月 1 日", {"type": "string", "format": "date"}),
                    query("to", "结束日期（北京时间，含），YYYY-MM-DD；默认今天", {"type": "string", "format": "date"}),
                ],
                "responses": {"200": _json(_ref("Stats"), "统计结果；无分母的比率为 null"), **_errors(401, 403, 404, 422)},
            }},
            "/openapi.json": {"get": {"summary": "本文档", "tags": ["account"], "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3.1 文档"}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "niangjia issue-token 发放"}},
            "parameters": {
                "Reference": {"name": "reference", "in": "path", "required": True, "description": "工单号",
                              "schema": {"type": "string", "examples": ["NJ-20261121-0042"]}},
            },
            "responses": {
                f"E{code}": _json(_ref("Error"), description)
                for code, description in {
                    401: "没有或无效的令牌",
                    403: "在管辖范围内，但角色不允许",
                    404: "工单不存在或不在管辖范围内（两者不作区分）",
                    409: "工单状态不允许（例如已被他人认领）",
                    422: "输入有误，field 指出是哪个字段",
                }.items()
            },
            "schemas": {
                "Error": error_schema,
                "TicketSummary": {"type": "object", "properties": summary_props,
                                  "required": ["reference", "category", "urgent", "status", "region", "created_at"]},
                "TicketDetail": detail,
                "Clock": clock,
                "Delivery": delivery,
                "Message": message,
                "Note": {"type": "object", "properties": {"id": {"type": "integer"}, "text": text, "author": text,
                                                          "at": {"type": "string", "format": "date-time"}},
                         "required": ["id", "text", "author", "at"]},
                "Event": {"type": "object", "properties": {"action": text, "label": text, "actor": text, "actor_type": text,
                                                           "at": {"type": "string", "format": "date-time"},
                                                           "detail": {"type": "object"}},
                          "required": ["action", "actor_type", "at"]},
                "Region": region,
                "Staff": staff,
                "Stats": stats_schema(nullable),
            },
        },
    }


API_RATES = [name for name in RATES if name not in ("return_rate", "extension_rate")]


def stats_description() -> str:
    """Each rate's definition, as the dashboard shows it."""
    return "比率为 0 到 1 的小数。" + "；".join(f"{name}（{RATE_LABELS[name][0]}）：{RATE_LABELS[name][1]}" for name in API_RATES)


def stats_schema(nullable: Any) -> dict[str, Any]:
    """GET /stats: counts, rates (null without a denominator), hours."""
    counts = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
    ratio = nullable({"type": "number", "minimum": 0, "maximum": 1})
    hours = nullable({"type": "number", "minimum": 0})
    properties: dict[str, Any] = {
        "region": {"type": "string"},
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "total": {"type": "integer", "minimum": 0, "description": "期间内新建的工单"},
        "by_status": counts, "by_category": counts,
        "by_region": {**counts, "description": "下级区域代码 → 期间内新建的工单"},
        **{name: {**ratio, "description": f"{RATE_LABELS[name][0]}：{RATE_LABELS[name][1]}"} for name in API_RATES},
        "median_hours_to_claim": hours, "median_hours_to_resolve": hours, "p90_hours_to_resolve": hours,
        "overdue": {"type": "integer", "minimum": 0, "description": "当前超期（计时中的时限已过）的未办结工单"},
    }
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
