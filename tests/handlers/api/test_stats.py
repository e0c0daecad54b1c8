"""GET /api/v1/stats: the issue's keys, each number checked against a designed set of cases."""

from __future__ import annotations

import pytest

from tests.handlers.api.test_views import Api
from tests.handlers.staff.factories import make_staff, token_for
from tests.stats_scenario import build, expected


@pytest.fixture
def scenario(db, wechat, worker, client):
    return build(db, wechat, worker, client)


def test_every_number_matches_the_designed_cases(scenario, db, client):
    city = Api(client, token_for(db, "city"))
    body = city.get("/stats", region="T", **{"from": scenario.first, "to": scenario.last}).json
    want = expected(db, scenario)
    assert set(body) == set(want)
    for key, value in want.items():
        if isinstance(value, float):
            assert body[key] == pytest.approx(value, abs=1e-4), key
        else:
            assert body[key] == value, key


def test_a_county_sees_its_own_tickets_and_its_children(scenario, db, client):
    boss = Api(client, token_for(db, "boss"))
    body = boss.get("/stats", region="T01", **{"from": scenario.first, "to": scenario.last}).json
    # A and C are in 测试社区 (under 测试街道 T0101); the rest were filed at the county itself.
    assert body["total"] == 7 and body["by_region"] == {"T0101": 2, "T01": 5}
    assert body["overdue"] == 2  # D and Old


def test_a_rate_with_nothing_to_count_is_null_never_zero(db, client):
    make_staff(db, "city", "supervisor", "T")
    body = Api(client, token_for(db, "city")).get("/stats", **{"from": "2020-01-01", "to": "2020-01-31"}).json
    assert body["total"] == 0 and body["by_region"] == {"T01": 0, "T02": 0}
    rates = [k for k in body if k.endswith("_rate") or "hours" in k]
    assert len(rates) == 11 and all(body[k] is None for k in rates)


@pytest.fixture
def api(db, client):
    make_staff(db, "li", "caseworker", "T01")
    make_staff(db, "boss", "supervisor", "T01")
    make_staff(db, "admin", "admin", "T")
    return lambda name: Api(client, token_for(db, name))


def test_a_region_outside_the_scope_or_unknown_is_404(api):
    boss = api("boss")
    assert boss.get("/stats", region="T02").status_code == 404
    assert boss.get("/stats", region="T").status_code == 404
    assert boss.get("/stats", region="NOPE").status_code == 404
    assert boss.get("/stats", region="T0101").status_code == 200
    assert api("admin").get("/stats", region="T02").status_code == 200


def test_a_caseworker_gets_403(api):
    response = api("li").get("/stats")
    assert response.status_code == 403 and response.json["error"] == "forbidden"


@pytest.mark.parametrize("params, field", [
    ({"from": "2026-13-01"}, "from"),
    ({"from": "20261201"}, "from"),
    ({"to": "yesterday"}, "to"),
    ({"from": "2026-12-10", "to": "2026-12-01"}, "to"),
    ({"from": "2000-01-01", "to": "2026-01-01"}, "to"),
    ({"period": "decade"}, "period"),
])
def test_bad_input_is_422_naming_the_field(api, params, field):
    response = api("boss").get("/stats", **params)
    assert response.status_code == 422 and response.json["field"] == field


def test_the_window_is_china_dates_with_to_inclusive(api, db):
    from datetime import datetime, timezone

    from tests.handlers.staff.factories import make_ticket

    # 2026-11-30 16:30 UTC is 1 December 00:30 in China; 2026-12-01 15:59 UTC is still 1 December there.
    make_ticket(db, user="o-1", now=datetime(2026, 11, 30, 16, 30, tzinfo=timezone.utc))
    make_ticket(db, user="o-2", now=datetime(2026, 12, 1, 15, 59, tzinfo=timezone.utc))
    make_ticket(db, user="o-3", now=datetime(2026, 12, 1, 16, 0, tzinfo=timezone.utc))
    make_ticket(db, user="o-4", now=datetime(2026, 11, 30, 15, 59, tzinfo=timezone.utc))
    one_day = api("boss").get("/stats", **{"from": "2026-12-01", "to": "2026-12-01"}).json
    assert one_day["total"] == 2
    assert api("boss").get("/stats", **{"from": "2026-11-30", "to": "2026-12-02"}).json["total"] == 4


def test_the_stats_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").json
    operation = document["paths"]["/stats"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"region", "from", "to"}
    schema = document["components"]["schemas"]["Stats"]
    assert {"total", "by_status", "by_category", "by_region", "response_rate", "overdue"} <= set(schema["required"])
    assert {"404", "422"} <= set(operation["responses"])


def test_dates_typed_over_a_preset_period_make_a_custom_window(api):
    body = api("boss").get("/stats", period="week", **{"from": "2026-01-05", "to": "2026-01-11"}).json
    assert (body["from"], body["to"]) == ("2026-01-05", "2026-01-11")


def test_numbers_are_reused_for_cache_seconds_and_exact_with_zero(api, db, app):
    from tests.handlers.staff.factories import make_ticket

    boss = api("boss")
    make_ticket(db, user="o-1")
    assert boss.get("/stats").json["total"] == 1
    make_ticket(db, user="o-2")
    assert boss.get("/stats").json["total"] == 1, "counted at most once a minute (stats.cache_seconds)"
    app.extensions["niangjia"].settings.stats.cache_seconds = 0
    assert boss.get("/stats").json["total"] == 2
