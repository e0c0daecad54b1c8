"""Files for supervisors: CSV and Excel of the rows behind a view, and the 月报 layout.

Written with XlsxWriter: it only writes (which is all we do), streams rows with its
`constant_memory` mode, and needs nothing else. No file holds personal data: no phone,
no message text, no openid / chat id; references, regions, routes, times and staff
usernames only.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from urllib.parse import quote

import xlsxwriter
from flask import Response
from sqlalchemy.orm import Session, joinedload

from handlers.labels import CATEGORY_LABELS, OUTCOME_LABELS, RATE_LABELS, STATUS_LABELS, window_label
from models import StaffUser, Ticket
from models.clocks import CHINA_TZ
from models.stats import RATES, Counts, Report
from models.ticket import QueueFilter

FORMATS = ("csv", "xlsx")
MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_ROWS = 200_000
MONTHLY_RATES = ("response_rate", "first_reply_rate", "on_time_resolution_rate", "resolution_rate",
                 "satisfaction_rate", "mediation_success_rate")


def attachment(filename: str) -> str:
    return f"attachment; filename=\"{filename.encode('ascii', 'replace').decode()}\"; filename*=UTF-8''{quote(filename)}"


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else value


def _csv_safe(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to a spreadsheet (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def send(fmt: str, name: str, header: list[str], rows: list[list[Any]], title: str) -> Response:
    """The rows as a CSV (UTF-8 with BOM, so Excel reads the Chinese) or an .xlsx download."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows([[_csv_safe(_cell(v)) for v in row] for row in rows])
        body = "\ufeff" + buffer.getvalue()
    else:
        body = _xlsx(title, header, rows, {i for i, label in enumerate(header) if label.endswith("率")})
    return Response(body, mimetype=MIMETYPES[fmt], headers={"Content-Disposition": attachment(f"{name}.{fmt}")})


def _xlsx(title: str, header: list[str], rows: list[list[Any]], percent_columns: set[int] = frozenset()) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet("数据")
    bold = book.add_format({"bold": True})
    percent = book.add_format({"num_format": "0.0%"})
    sheet.write_row(0, 0, header, bold)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            value = _cell(value)
            if value == "":
                continue
            sheet.write(r, c, value, percent if c in percent_columns else None)
    sheet.freeze_panes(1, 0)
    book.set_properties({"title": title})
    book.close()
    return buffer.getvalue()


# -- the rows ---------------------------------------------------------------------------

TICKET_HEADER = ["工单号", "创建时间", "区域代码", "区域", "分类", "细分类别", "渠道", "紧急", "状态", "承办人",
                 "签收时限", "签收时间", "首次答复时限", "首次答复时间", "办结时限", "办结时间", "关闭时间",
                 "办结结果", "督办级别", "获批延期", "退单次数", "重办"]


def ticket_rows(session: Session, user: StaffUser, filters: QueueFilter, now: datetime) -> tuple[list[str], list[list[Any]]]:
    """The tickets a queue view with `filters` holds, newest first, without her personal data."""
    query = Ticket.listing(session, user, filters).options(joinedload(Ticket.region), joinedload(Ticket.assignee))
    rows = []
    for t in session.scalars(query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(MAX_ROWS)):
        rows.append([
            t.reference, t.created_at, t.region.code, t.region.name, CATEGORY_LABELS.get(t.category, t.category),
            t.subcategory, t.channel, "是" if t.urgent else "否", STATUS_LABELS.get(t.status, t.status),
            t.assignee.username if t.assignee else None, t.claim_due_at, t.claimed_at, t.first_reply_due_at,
            t.first_response_at, t.resolve_due_at, t.resolved_at, t.closed_at,
            OUTCOME_LABELS.get(t.outcome) if t.outcome else None, t.escalation_level or 0, t.extensions or 0,
            t.returns or 0, "是" if t.redo_of_id else "否",
        ])
    return TICKET_HEADER, rows


REGION_HEADER = ["区域代码", "区域", "工单量", "未办结", "超期", "按时签收", "签收应计", "按时首次答复", "首次答复应计",
                 "按时办结", "办结应计", "回访作答", "已解决", "满意度评价", "满意+基本满意", "不满意",
                 *[RATE_LABELS[name][0] for name in MONTHLY_RATES]]


def _region_row(code: str, name: str, c: Counts) -> list[Any]:
    return [code, name, c.total, c.open_now, c.overdue_now, c.claim_met, c.claim_due, c.reply_met, c.reply_due,
            c.resolve_met, c.resolve_due, c.answered, c.solved, c.rated, c.satisfied, c.not_satisfied,
            *[c.rate(name) for name in MONTHLY_RATES]]


def region_rows(current: Report) -> tuple[list[str], list[list[Any]]]:
    """One row per child region (and the region's own tickets, if any), then the total."""
    rows = [_region_row(region.code, region.name, counts) for region, counts in current.children]
    if current.own.total or current.own.claim_due or current.own.answered:
        rows.append(_region_row(current.region.code, f"{current.region.name}（本级）", current.own))
    rows.append(_region_row("", "合计", current.total))
    return REGION_HEADER, rows


MONTHLY_HEADER = ["区域", "工单量", "按时签收", "按时首次答复", "按期办结", "未办结", "超期",
                  *[RATE_LABELS[name][0] for name in MONTHLY_RATES], "不满意"]


def monthly_xlsx(current: Report) -> bytes:
    """月报: a title row (region, period), a header, one row per child region, a total row."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet("月报")
    title = book.add_format({"bold": True, "font_size": 14, "align": "center"})
    head = book.add_format({"bold": True, "border": 1, "align": "center", "text_wrap": True, "bg_color": "#F2F2F2"})
    cell = book.add_format({"border": 1})
    percent = book.add_format({"border": 1, "num_format": "0.0%"})
    total_cell = book.add_format({"border": 1, "bold": True})
    total_percent = book.add_format({"border": 1, "bold": True, "num_format": "0.0%"})
    region, window = current.region, current.window
    width = len(MONTHLY_HEADER)
    sheet.merge_range(0, 0, 0, width - 1, f"{region.name}（{region.code}）娘家人工单月报　{window_label(window)}", title)
    sheet.merge_range(1, 0, 1, width - 1,
                      f"统计于 {current.now.astimezone(CHINA_TZ):%Y-%m-%d %H:%M:%S}（北京时间）；比率无分母时留空", None)
    sheet.write_row(2, 0, MONTHLY_HEADER, head)
    lines = [(r.name, c) for r, c in current.children]
    if current.own.total or current.own.claim_due or current.own.answered:
        lines.append((f"{region.name}（本级）", current.own))
    lines.append(("合计", current.total))
    for offset, (name, c) in enumerate(lines):
        row = 3 + offset
        last = offset == len(lines) - 1
        plain, pct = (total_cell, total_percent) if last else (cell, percent)
        values = [name, c.total, c.claim_met, c.reply_met, c.resolve_met, c.open_now, c.overdue_now]
        sheet.write_row(row, 0, values, plain)
        for i, rate_name in enumerate(MONTHLY_RATES):
            value = c.rate(rate_name)
            if value is None:
                sheet.write_blank(row, len(values) + i, None, pct)
            else:
                sheet.write_number(row, len(values) + i, value, pct)
        sheet.write_number(row, width - 1, c.not_satisfied, plain)
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, width - 1, 11)
    sheet.set_row(2, 32)
    book.close()
    return buffer.getvalue()
