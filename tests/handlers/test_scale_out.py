"""Two `niangjia serve` instances (two workers each) on different ports, sharing one
PostgreSQL and one Redis: a message retried on both at once makes one ticket, her
conversation goes on whichever instance takes the next message, each instance has its
own gunicorn control socket, a sender or an address limited on one is limited on the
other, and the SLA sweep run by all four workers sends each alert once."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import redis
import requests
from sqlalchemy import func, select

from bot import replies
from models import AlertDelivery, InboundReceipt, Message, StaffAlert, Ticket, TicketEvent, utcnow
from tests.conftest import PG_URL
from tests.handlers.staff.factories import make_ticket
from tests.wechat import text_xml

TOKEN = "scale-out-token"
# The access-token store (as before) and, for counters and nonces, a db of this test's own.
TOKEN_STORE = "redis://127.0.0.1:6379/2"
REDIS_URL = "redis://127.0.0.1:6379/6"
GRIEVANCE = "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed(body: str) -> tuple[str, bytes]:
    # One nonce per message, as WeChat does: its retries repeat the pair with the same body,
    # and another body under a seen pair would be refused as a replay.
    ts, nonce = str(int(time.time())), str(int(hashlib.sha1(body.encode()).hexdigest()[:8], 16))
    signature = hashlib.sha1("".join(sorted([TOKEN, ts, nonce])).encode()).hexdigest()
    return urlencode({"timestamp": ts, "nonce": nonce, "signature": signature}), body.encode()


@pytest.fixture
def serve(db, tmp_path):
    """Start two instances (each `niangjia serve --workers 2`), with extra settings as
    environment variables; stopped when the test ends."""
    started: list[subprocess.Popen] = []
    # Redis db of this test's own, emptied first: a counter left by the last run would
    # slow this one down.
    redis.Redis.from_url(REDIS_URL).flushdb()

    def start(**extra: str) -> tuple[list[str], list[int], list[subprocess.Popen]]:
        ports = [free_port(), free_port()]
        processes = []
        for n, port in enumerate(ports):
            env = {
                **os.environ, "NIANGJIA_DATABASE_URL": PG_URL, "NIANGJIA_WECHAT_TOKEN": TOKEN,
                "NIANGJIA_WECHAT_ENCODING_AES_KEY": "", "NIANGJIA_WECHAT_TOKEN_STORE": TOKEN_STORE,
                # Rate-limit counters and webhook nonces: one Redis for both instances.
                "NIANGJIA_REDIS_URL": REDIS_URL,
                "NIANGJIA_INTAKE_DEFAULT_REGION": "T01", "NIANGJIA_LOG_LEVEL": "WARNING",
                "NIANGJIA_WEBHOOK_SPOOL_DIR": str(tmp_path / f"spool-{port}"), "XDG_RUNTIME_DIR": str(tmp_path),
                **extra,
            }
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "handlers", "serve", "--port", str(port), "--workers", "2"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            ))
        started.extend(processes)
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            for _ in range(600):  # bounded: up to a minute for jieba to load
                try:
                    if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            else:
                pytest.fail(f"{base} did not start")
        return bases, ports, processes

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a graceful stop that hangs must not hang the suite
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def instances(serve, tmp_path):
    bases, ports, processes = serve()
    return bases, ports, tmp_path, processes


def post(base: str, xml: str) -> str:
    query, body = signed(xml)
    response = requests.post(f"{base}/wechat?{query}", data=body, timeout=30)
    assert response.status_code == 200
    return response.text


def content(answer: str) -> str:
    return re.search(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", answer, re.S).group(1)


@pytest.mark.postgres
def test_two_instances_share_the_database_one_ticket_per_message_and_own_control_sockets(instances, db):
    bases, ports, runtime_dir, processes = instances
    # gunicorn opens its control socket once its workers are up, which can be just after
    # the first answer: wait for both (bounded) before comparing.
    wanted = sorted(f"niangjia-{port}.ctl" for port in ports)
    deadline = time.monotonic() + 30
    while sorted(p.name for p in runtime_dir.glob("niangjia-*.ctl")) != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(p.name for p in runtime_dir.glob("niangjia-*.ctl")) == wanted

    # The same message, retried on both instances at once, 8 copies: one ticket each.
    pushes = [text_xml(f"o-scale-{n}", GRIEVANCE, msg_id=7300000000000000000 + n) for n in range(10)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda job: post(bases[job % 2], pushes[job // 8]), range(len(pushes) * 8)))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 10
        assert s.scalar(select(func.count()).select_from(InboundReceipt)) == 10
    # Every copy got the same answer with the same reference (the reply's CreateTime is its own).
    contents = [content(a) for a in answers]
    for n in range(10):
        assert len(set(contents[n * 8:(n + 1) * 8])) == 1 and "工单号" in contents[n * 8]

    # Her conversation goes on on the other instance: her place, given to B, lands on her ticket.
    assert "手机号" in post(bases[1], text_xml("o-scale-0", "测试社区", msg_id=7300000000000000100))
    with db.session() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.channel_user == "o-scale-0"))
        assert ticket.region.code == "T010101"

    # Under load, instance A is killed with SIGKILL (master and workers): every message
    # either instance answered is stored; what A never answered, WeChat would send again.
    answered: list[int] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        msg_id = 7300000000000001000 + n
        try:
            query, body = signed(text_xml(f"o-load-{n % 40}", "补充一下，他昨天又来闹了", msg_id=msg_id))
            response = requests.post(f"{bases[n % 2]}/wechat?{query}", data=body, timeout=10)
        except requests.RequestException:
            return
        if response.status_code == 200:
            with lock:
                answered.append(msg_id)

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(send, n) for n in range(200)]
        for n, future in enumerate(futures):
            future.result()
            if n == 60:
                os.killpg(processes[0].pid, signal.SIGKILL)
    with db.session() as s:
        stored = set(s.scalars(select(InboundReceipt.dedup_key)))
    assert len(answered) >= 100  # B kept answering its half
    assert not [m for m in answered if str(m) not in stored]



@pytest.mark.postgres
def test_a_sender_or_an_address_limited_on_one_instance_is_limited_on_the_other(serve, db):
    # Windows of an hour: the test's few seconds never cross one, so no clock is involved.
    bases, _, _ = serve(NIANGJIA_LIMITS_WEBHOOK_PER_SENDER="5/hour", NIANGJIA_LIMITS_API_PER_ADDRESS="4/hour")
    a, b = bases

    # Five messages from her on A: answered as always. The sixth, on B: told to slow down.
    first = [content(post(a, text_xml("o-flood", f"在吗，我想问问离婚的事{n}", msg_id=7300000000000002000 + n)))
             for n in range(5)]
    assert replies.SLOW_DOWN not in first
    assert content(post(b, text_xml("o-flood", "在吗，还在吗", msg_id=7300000000000002005))) == replies.SLOW_DOWN
    # Someone else on B is answered as always; the slowed message was not stored.
    assert content(post(b, text_xml("o-other", GRIEVANCE, msg_id=7300000000000002006))) != replies.SLOW_DOWN
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(
            Message.channel_user == "o-flood", Message.direction == "in")) == 5

    # The API per address: four requests from here on A, the fifth on B is refused.
    assert [requests.get(f"{a}/api/v1/me", timeout=10).status_code for _ in range(4)] == [401] * 4
    refused = requests.get(f"{b}/api/v1/me", timeout=10)
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_requests"

    # The counters are Redis's (not a file on one machine): her count and the address's.
    counters = [key.decode() for key in redis.Redis.from_url(REDIS_URL).keys("LIMITS:*")]
    assert any("o-flood" in key for key in counters) and any("127.0.0.1" in key for key in counters)


@pytest.mark.postgres
def test_the_sweep_on_two_instances_sends_each_alert_exactly_once(serve, db, fake_apis):
    # The test's clock: the tickets were opened 30 days before now, so every deadline of
    # theirs is long past and each climbs all three levels in the first sweep, which every
    # worker (two per instance) runs as it starts. Nothing waits for a deadline.
    opened = utcnow() - timedelta(days=30)
    refs = [make_ticket(db, region="T010101", user=f"o-overdue-{n}", now=opened, claim_within=timedelta(days=1))
            for n in range(60)]
    serve(NIANGJIA_NOTIFY_WECOM=fake_apis.wecom_url())

    def settled() -> bool:
        with db.session() as s:
            climbed = s.scalar(select(func.count()).select_from(Ticket).where(Ticket.escalation_level == 3))
            pending = s.scalar(select(func.count()).select_from(AlertDelivery).where(AlertDelivery.status != "sent"))
        return climbed == len(refs) and pending == 0

    deadline = time.monotonic() + 120  # bounded: the workers' first round after start-up
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert settled()

    with db.session() as s:
        alerts = list(s.scalars(select(StaffAlert.text)))
        escalations = Counter(
            (e.ticket_id, e.detail["level"]) for e in s.scalars(select(TicketEvent).where(TicketEvent.action == "escalated"))
        )
    # Each ticket escalated once per level, and one alert for each escalation...
    assert sorted(escalations) == sorted((t, level) for t in {t for t, _ in escalations} for level in (1, 2, 3))
    assert len(escalations) == 3 * len(refs) and set(escalations.values()) == {1}
    assert sum("督办" in text for text in alerts) == 3 * len(refs)
    # ...and the robot received every alert, each exactly once.
    received = Counter(payload["text"]["content"] for payload in fake_apis.wecom_sent)
    assert received == Counter(alerts)
    assert set(received.values()) == {1}
