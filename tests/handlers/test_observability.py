"""Request ids in responses and log lines, /metrics for Prometheus, and logs that never
hold her words, phone or ID number."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import replies
from bot.spool import Spool
from handlers.cli import fresh_metrics_dir
from tests.handlers.staff.factories import make_ticket
from tests.wechat import text_xml

PHONE = "13812345678"
ID_NUMBER = "110101199003071234"
WORDS = f"他昨天又打我了，我的身份证号是{ID_NUMBER}，电话{PHONE}"
ROOT = Path(__file__).resolve().parents[2]


def sample(body: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus's text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def scrape(client, **kwargs) -> str:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_every_response_carries_a_request_id_and_a_sane_incoming_one_is_kept(client):
    fresh = client.get("/staff/login").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", fresh)
    assert client.get("/staff/login").headers["X-Request-ID"] != fresh
    kept = client.get("/staff/login", headers={"X-Request-ID": "nginx-7f3a9c21e4"})
    assert kept.headers["X-Request-ID"] == "nginx-7f3a9c21e4"
    hostile = client.get("/staff/login", headers={"X-Request-ID": "x<script>alert(1)</script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["X-Request-ID"])


def test_log_lines_carry_the_request_id_and_never_her_words_phone_or_id(client, wechat, caplog):
    caplog.set_level(logging.INFO)
    push = text_xml("o-logged", WORDS)
    params = wechat.params()
    wechat.post(push, params=params)
    caplog.clear()
    retry = client.post("/wechat", query_string=params, data=push.encode(), content_type="text/xml")
    request_id = retry.headers["X-Request-ID"]
    # The retry is logged ("duplicate delivery ... answered as before") inside the request.
    lines = [r for r in caplog.records if r.name.startswith(("bot", "handlers"))]
    assert lines and all(r.request_id == request_id for r in lines)
    formatter = logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    logged = "\n".join(formatter.format(r) for r in caplog.records)
    assert f"[{request_id}]" in logged
    for secret in (WORDS, PHONE, ID_NUMBER, "打我"):
        assert secret not in logged


def test_metrics_count_messages_latency_outbox_and_overdue_tickets(client, wechat, db):
    before = scrape(client)
    wechat.send_text("o-metrics", "婆婆天天跟我吵架，能不能请妇联来帮忙调解一下")
    make_ticket(db, user="o-late", claim_within=timedelta(hours=-1))  # a claim deadline past
    after = scrape(client)
    route = {"channel": "wechat", "route": "mediation", "urgent": "false"}
    assert sample(after, "niangjia_messages_in_total", **route) == sample(before, "niangjia_messages_in_total", **route) + 1
    assert sample(after, "niangjia_webhook_seconds_count", channel="wechat") >= (
        sample(before, "niangjia_webhook_seconds_count", channel="wechat") + 1
    )
    assert sample(after, "niangjia_overdue_tickets", deadline="claim") == 1
    assert "niangjia_outbox_messages{" in after and "niangjia_sweep_runs" in after


def test_a_delivery_that_cannot_be_stored_counts_as_a_fallback_reply(app, client, wechat, db, tmp_path):
    before = sample(scrape(client), "niangjia_fallback_replies_total", channel="wechat")
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE inbound_receipt"))
    # Nor can the spool keep it: its directory would have to live inside a file.
    (tmp_path / "not-a-directory").write_text("")
    app.extensions["niangjia"].__dict__["spool"] = Spool(tmp_path / "not-a-directory" / "spool")
    reply = wechat.send_text("o-unlucky", "你好")
    assert reply.content == replies.FALLBACK
    assert sample(scrape(client), "niangjia_fallback_replies_total", channel="wechat") == before + 1


def test_metrics_are_for_this_machine_or_the_bearer_of_the_token(app, client, settings):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    settings.metrics.token = "scrape-secret"
    from handlers.app import create_app

    guarded = create_app(settings, router=app.extensions["niangjia"].router).test_client()
    assert guarded.get("/metrics").status_code == 404  # loopback is not enough now
    auth = {"Authorization": "Bearer scrape-secret"}
    assert guarded.get("/metrics", headers=auth, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200


def test_serve_empties_the_multiprocess_dir_and_processes_add_up(tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_999.db").write_bytes(b"stale")
    saved = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    try:
        fresh_metrics_dir(directory)
        assert list(directory.iterdir()) == []
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    finally:
        if saved is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = saved
    run = lambda code: subprocess.run(  # noqa: E731
        [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    for _ in range(2):  # two processes, as two gunicorn workers (or the sweep's own process)
        run("from bot import metrics; metrics.sweep_ran()")
    scraped = run("from bot import metrics; print(metrics.exposition().decode())")
    assert sample(scraped, "niangjia_sweep_runs_total", outcome="ok") == 2


def test_each_sweep_is_counted_ok_or_failed(app, client, tmp_path):
    from bot import sla
    from models import Database, utcnow

    runtime = app.extensions["niangjia"]
    before = sample(scrape(client), "niangjia_sweep_runs_total", outcome="ok")
    sla.sweep(runtime.db, runtime.settings, utcnow())
    assert sample(scrape(client), "niangjia_sweep_runs_total", outcome="ok") == before + 1

    failed = sample(scrape(client), "niangjia_sweep_runs_total", outcome="failed")
    away = Database(f"sqlite:///{tmp_path / 'no-such-dir' / 'niangjia.db'}")  # cannot be opened
    try:
        with pytest.raises(Exception):
            sla.sweep(away, runtime.settings, utcnow())
    finally:
        away.dispose()
    assert sample(scrape(client), "niangjia_sweep_runs_total", outcome="failed") == failed + 1
