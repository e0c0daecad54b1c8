"""Two `niangjia serve` instances (two workers each) on different ports, sharing one
PostgreSQL and one Redis: a message retried on both at once makes one ticket, her
conversation goes on whichever instance takes the next message, and each instance has
its own gunicorn control socket."""

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
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import func, select

from models import InboundReceipt, Ticket
from tests.conftest import PG_URL
from tests.wechat import text_xml

TOKEN = "scale-out-token"
REDIS_URL = "redis://127.0.0.1:6379/2"
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
def instances(db, tmp_path):
    ports = [free_port(), free_port()]
    processes = []
    for n, port in enumerate(ports):
        env = {
            **os.environ, "NIANGJIA_DATABASE_URL": PG_URL, "NIANGJIA_WECHAT_TOKEN": TOKEN,
            "NIANGJIA_WECHAT_ENCODING_AES_KEY": "", "NIANGJIA_WECHAT_TOKEN_STORE": REDIS_URL,
            "NIANGJIA_INTAKE_DEFAULT_REGION": "T01", "NIANGJIA_LOG_LEVEL": "WARNING",
            "NIANGJIA_WEBHOOK_SPOOL_DIR": str(tmp_path / f"spool-{n}"), "XDG_RUNTIME_DIR": str(tmp_path),
            # The two instances share one counter file of this test's own: the repository's
            # instance/ file would carry the last run's counts into this one.
            "NIANGJIA_LIMITS_STORE": str(tmp_path / "ratelimits.db"),
        }
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "handlers", "serve", "--port", str(port), "--workers", "2"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        ))
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base in bases:
            for _ in range(600):  # bounded: up to a minute for jieba to load
                try:
                    if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            else:
                pytest.fail(f"{base} did not start")
        yield bases, ports, tmp_path, processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a graceful stop that hangs must not hang the suite
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


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

    session = requests.Session()

    def post(base: str, xml: str) -> str:
        query, body = signed(xml)
        response = session.post(f"{base}/wechat?{query}", data=body, timeout=30)
        assert response.status_code == 200
        return response.text

    # The same message, retried on both instances at once, 8 copies: one ticket each.
    pushes = [text_xml(f"o-scale-{n}", GRIEVANCE, msg_id=7300000000000000000 + n) for n in range(10)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda job: post(bases[job % 2], pushes[job // 8]), range(len(pushes) * 8)))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 10
        assert s.scalar(select(func.count()).select_from(InboundReceipt)) == 10
    # Every copy got the same answer with the same reference (the reply's CreateTime is its own).
    contents = [re.search(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", a, re.S).group(1) for a in answers]
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

