"""/staff/dashboard and its exports: the same numbers as the API, each drilling down to its tickets."""

from __future__ import annotations

import csv
import io
import json
import re

import openpyxl
import pytest
from sqlalchemy import select

from models import AuditEvent
from tests.handlers.api.test_views import Api
from tests.handlers.staff.factories import login, make_staff, token_for
from tests.stats_scenario import build, expected


@pytest.fixture
def scenario(db, wechat, worker, client):
    return build(db, wechat, worker, client)


def window(s):
    return {"region": "T", "from": s.first, "to": s.last}


def page_of(client, s, **extra):
    response = client.get("/staff/dashboard", query_string={**window(s), **extra})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def queue_total(client, url: str) -> int:
    """The count of the tab a number links to, on the queue it opens."""
    tab = re.search(r"tab=(\w+)", url).group(1)
    html = client.get(url).get_data(as_text=True)
    return int(re.search(rf'data-tab="{tab}">(\d+)<', html).group(1))


def test_the_page_shows_the_apis_numbers_with_definitions(scenario, db, client):
    login(client, "city")
    html = page_of(client, scenario)
    want = expected(db, scenario)
    for name in ("response_rate", "first_reply_rate", "on_time_resolution_rate", "resolution_rate",
                 "satisfaction_rate", "mediation_success_rate", "redo_rate", "reopen_rate"):
        row = re.search(rf'<tr id="rate-{name}">(.*?)</tr>', html, re.S).group(1)
        assert f"{want[name] * 100:.1f}%" in row, name
        assert "<details><summary>" in row  # its definition one tap away
    assert '<span class="n">8</span><span class="l">新建工单</span>' in html
    assert '<span class="n">2</span><span class="l">当前超期（全部）</span>' in html
    assert "数字每 60 秒统计一次，本页数字统计于" in html
    # The trend's last week holds every case of the design (all within the last 50 hours).
    data = json.loads(re.search(r'<script type="application/json" id="dash-data">(.*?)</script>', html, re.S).group(1))
    week = data["trend"][-1]
    assert week["total"] == want["total"]
    for name in ("response_rate", "resolution_rate", "satisfaction_rate"):
        assert week[name] == pytest.approx(want[name]), name
    assert sum(w["total"] for w in data["trend"]) == want["total"]  # Old, 60 days back, is before the eight weeks
    # The overdue list names D and Old with their lights; the urgent list E with its time to claim.
    overdue = re.search(r'<table class="dash-table" id="overdue">(.*?)</table>', html, re.S).group(1)
    assert scenario.refs["D"] in overdue and scenario.refs["Old"] in overdue and "light red" in overdue
    urgent = re.search(r'id="urgent">(.*?)</table>', html, re.S).group(1)
    assert scenario.refs["E"] in urgent and re.search(r"\d+ 分钟", urgent)
    load = re.search(r'id="load">(.*?)</table>', html, re.S).group(1)
    assert re.search(r"李姐</td><td>测试县</td><td class=\"num\"><a [^>]*>2</a>", load)  # E and G


def test_every_count_drills_down_to_as_many_tickets(scenario, db, client):
    login(client, "city")
    html = page_of(client, scenario)
    links = re.findall(r'<td class="num"><a href="(/staff/\?[^"]+)">(\d+)</a>', html)
    assert len(links) >= 10
    for url, shown in links:
        assert queue_total(client, url.replace("&amp;", "&")) == int(shown), url


# Each rate's numerator and denominator in the design (tests/stats_scenario.py), by case.
RATE_CASES = {
    "response_rate": ("ACEFG", "ABCDEFG"),
    "first_reply_rate": ("ABC", "ABCF"),
    "on_time_resolution_rate": ("ABC", "ABCF"),
    "resolution_rate": ("ABCF", "ABCFG"),
    "satisfaction_rate": ("ABC", "ABCF"),
    "mediation_success_rate": ("C", "BC"),
    "redo_rate": ("H", "ABCDEFGH"),
    "reopen_rate": ("G", "ABCFG"),
}


def test_a_rate_drills_down_to_exactly_its_numerator_and_denominator(scenario, db, client):
    login(client, "city")
    html = page_of(client, scenario)
    body = Api(client, token_for(db, "city")).get("/stats", **window(scenario)).json
    for name, (met, base) in RATE_CASES.items():
        row = re.search(rf'<tr id="rate-{name}">(.*?)</tr>', html, re.S).group(1)
        (met_url, met_shown), (base_url, base_shown) = re.findall(r'<td class="num"><a href="([^"]+)">(\d+)</a>', row)
        assert "part=met" in met_url and "part=base" in base_url, name
        assert (int(met_shown), int(base_shown)) == (len(met), len(base)), name
        assert int(met_shown) / int(base_shown) == pytest.approx(body[name], abs=1e-4), name  # the API's rate
        for url, cases in ((met_url, met), (base_url, base)):
            url = url.replace("&amp;", "&")
            assert queue_total(client, url) == len(cases), (name, url)
            listed = client.get(url).get_data(as_text=True)
            shown = {key for key, ref in scenario.refs.items() if ref in listed}
            assert shown == set(cases), (name, url)


def test_a_rate_drill_down_without_dates_is_refused_with_a_reason(scenario, client):
    login(client, "city")
    response = client.get("/staff/", query_string={"tab": "all", "region": "T", "rate": "response_rate"})
    assert "比率的工单需要起止日期" in response.get_data(as_text=True)
    response = client.get("/staff/", query_string={"tab": "all", "rate": "no_such_rate", "from": scenario.first,
                                                    "to": scenario.last})
    assert "没有这个比率" in response.get_data(as_text=True)


def test_small_regions_are_shown_but_not_ranked(scenario, db, client, app):
    login(client, "city")
    app.extensions["niangjia"].settings.stats.rank_min = 2
    ranking = re.search(r'id="ranking">(.*?)</table>', page_of(client, scenario), re.S).group(1)
    t01, t02 = re.findall(r"<tr>(.*?)</tr>", ranking.split("<tbody>")[1], re.S)
    # Response rate: 测试县 4 of 6 in time (ranked), 邻县 1 of 1 (too few to rank, shown all the same).
    t01_rate = re.search(r'data-rate="response_rate">(.*?)</td>', t01, re.S).group(1)
    t02_rate = re.search(r'data-rate="response_rate">(.*?)</td>', t02, re.S).group(1)
    assert "66.7%" in t01_rate and "第 1" in t01_rate
    assert "100.0%" in t02_rate and "样本少" in t02_rate and "第" not in t02_rate


def test_caseworkers_do_not_see_the_dashboard_and_other_regions_are_404(db, client, app):
    make_staff(db, "li", "caseworker", "T01")
    make_staff(db, "boss", "supervisor", "T01")
    login(client, "li")
    assert client.get("/staff/dashboard").status_code == 404
    assert client.get("/staff/dashboard/monthly.xlsx").status_code == 404
    client = app.test_client()
    login(client, "boss")
    assert client.get("/staff/dashboard").status_code == 200
    assert client.get("/staff/dashboard", query_string={"region": "T02"}).status_code == 404
    bad = client.get("/staff/dashboard", query_string={"from": "2026-02-30"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.get_data(as_text=True)


def _xlsx(response):
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(response.data)).active


def test_the_monthly_report_has_its_layout_and_the_numbers(scenario, db, client):
    login(client, "city")
    sheet = _xlsx(client.get("/staff/dashboard/monthly.xlsx", query_string=window(scenario)))
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert "测试市" in rows[0][0] and scenario.first in rows[0][0] and scenario.last in rows[0][0]
    header = rows[2]
    assert header[:7] == ["区域", "工单量", "按时签收", "按时首次答复", "按期办结", "未办结", "超期"]
    assert header[-1] == "不满意"
    body = {r[0]: dict(zip(header, r)) for r in rows[3:]}
    assert list(body) == ["测试县", "邻县", "合计"]
    want = expected(db, scenario)
    total = body["合计"]
    assert total["工单量"] == want["total"] == body["测试县"]["工单量"] + body["邻县"]["工单量"]
    assert (total["按时签收"], total["按时首次答复"], total["按期办结"]) == (5, 3, 3)
    assert (total["未办结"], total["超期"], total["不满意"]) == (4, 1, 1)  # D E G H open; D overdue; F 不满意
    for label, key in (("响应率", "response_rate"), ("满意率", "satisfaction_rate"), ("调解成功率", "mediation_success_rate")):
        assert total[label] == pytest.approx(want[key])
    # 邻县 had one case (F): in time to claim, late otherwise, not satisfied.
    assert (body["邻县"]["响应率"], body["邻县"]["按期办结率"], body["邻县"]["不满意"]) == (1, 0, 1)
    assert body["邻县"]["调解成功率"] is None  # no mediation there: empty, not 0


def test_exports_hold_no_personal_data_and_are_audited(scenario, db, client):
    login(client, "city")
    ticket_csv = client.get("/staff/export.csv", query_string={**window(scenario), "tab": "all"})
    assert ticket_csv.status_code == 200 and ticket_csv.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(ticket_csv.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(lines) == 1 + 8 and {scenario.refs[k] for k in "ABCDEFGH"} == {line[0] for line in lines[1:]}
    regions = _xlsx(client.get("/staff/dashboard/regions.xlsx", query_string=window(scenario)))
    region_rows = list(regions.iter_rows(values_only=True))
    assert region_rows[-1][1] == "合计" and region_rows[-1][2] == 8
    tickets_xlsx = _xlsx(client.get("/staff/export.xlsx", query_string={**window(scenario), "tab": "all"}))
    everything = " ".join(str(v) for row in tickets_xlsx.iter_rows(values_only=True) for v in row)
    everything += ticket_csv.get_data(as_text=True)
    for secret in ("o-a", "o-b", "o-old", "婆婆", "抚养权", "巾帼家政", "拿着刀"):
        assert secret not in everything, secret
    with db.session() as session:
        audited = [(e.detail["what"], e.actor.username) for e in
                   session.scalars(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id))]
    assert audited == [("tickets", "city"), ("regions", "city"), ("tickets", "city")]


def test_calls_and_visits_are_named_in_the_channel_counts(db, client):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    make_staff(db, "boss", "supervisor", "T01")
    token = token_for(db, "li")
    for channel in ("phone", "visit"):
        recorded = client.post("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"},
                               json={"channel": channel, "text": "婆婆天天骂我，想请妇联来调解", "region": "T0101",
                                     "anonymous": True})
        assert recorded.status_code == 201, recorded.json
    login(client, "boss")
    html = client.get("/staff/dashboard").get_data(as_text=True)
    channels = re.findall(r'channel=(\w+)">([^<]+)</a>', html)
    assert ("phone", "电话") in channels and ("visit", "来访") in channels, channels
