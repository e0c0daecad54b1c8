"""A corpus of hostile requests to every entry point (tests/data/hostile_requests.jsonl):
none may get a 5xx, and none that is refused may leave a row behind."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from models import Conversation, InboundReceipt, Message, OutboxMessage, Ticket, TicketEvent, TicketNote
from tests.conftest import TELEGRAM_SECRET
from tests.handlers.staff.factories import csrf_from, login, make_staff, make_ticket, token_for

CORPUS = Path(__file__).resolve().parent.parent / "data" / "hostile_requests.jsonl"
ENTRIES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
CHUNK = 30
_RUN = re.compile("\u27e6rep:([A-Za-z0-9+/=]*):(\\d+)\u27e7")


def _chunks() -> list[tuple[str, int]]:
    by_target: dict[str, int] = {}
    for entry in ENTRIES:
        by_target[entry["target"]] = by_target.get(entry["target"], 0) + 1
    return [(target, start) for target, n in by_target.items() for start in range(0, n, CHUNK)]


def test_the_corpus_is_large_and_covers_every_entry_point():
    assert len(ENTRIES) >= 300
    assert {e["target"] for e in ENTRIES} == {"wechat", "telegram", "staff", "api"}


def _expand(value, now: str, ref: str):
    if isinstance(value, str):
        value = _RUN.sub(lambda m: base64.b64decode(m.group(1)).decode("utf-8", "surrogatepass") * int(m.group(2)), value)
        return value.replace("{now}", now).replace("{ref}", ref)
    if isinstance(value, dict):
        return {k: _expand(v, now, ref) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, now, ref) for v in value]
    return value


def _urlencode(fields: dict) -> bytes:
    # As a hostile client would put it on the wire: a lone surrogate becomes the bytes
    # ED A0 80 (invalid UTF-8), which the test client would refuse to encode at all.
    return "&".join(
        f"{quote(k.encode('utf-8', 'surrogatepass'))}={quote(str(v).encode('utf-8', 'surrogatepass'))}"
        for k, v in fields.items()
    ).encode("ascii")


def _rows(db) -> int:
    with db.session() as session:
        total = sum(
            session.scalar(select(func.count()).select_from(model))
            for model in (InboundReceipt, Message, Ticket, Conversation, OutboxMessage, TicketNote)
        )
        # Viewing a ticket is recorded (every access to her data is); nothing else may be.
        return total + session.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.action != "viewed"))


@pytest.mark.parametrize(("target", "start"), _chunks(), ids=lambda v: str(v))
def test_hostile_requests_get_no_5xx_and_a_refused_one_writes_nothing(app, db, wechat, target, start):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    reference = make_ticket(db, "T01")
    token = token_for(db, "li")
    client = app.test_client()
    if target == "staff":
        login(client, "li")
    entries = [e for e in ENTRIES if e["target"] == target][start:start + CHUNK]
    failures = []
    for entry in entries:
        now = str(int(time.time()))
        e = _expand(entry, now, reference)
        query = e.get("query") or {}
        if query == "{signed}":
            query = wechat.params()
        elif query == "{signed-aes}":
            query = {**wechat.params(), "encrypt_type": "aes", "msg_signature": "0" * 40}
        headers = dict(e.get("headers") or {})
        if "secret" in e and e["secret"] is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = TELEGRAM_SECRET if e["secret"] == "ok" else e["secret"]
        if e.get("bearer"):
            headers["Authorization"] = f"Bearer {token}"
        kwargs = {"method": e["method"], "headers": headers}
        path = e["path"]
        if query:
            path += "?" + _urlencode(query).decode("ascii")
        if "json" in e:
            kwargs["data"] = json.dumps(e["json"]).encode()
            kwargs["content_type"] = "application/json"
        elif "body_b64" in e:
            kwargs["data"] = base64.b64decode(e["body_b64"])
        elif "body" in e:
            kwargs["data"] = e["body"].encode("utf-8", "surrogatepass")
            kwargs["content_type"] = e.get("content_type", "text/xml")
        elif "form" in e:
            form = dict(e["form"])
            if e.get("csrf"):
                page = client.get("/staff/" if e.get("login") else "/staff/login", follow_redirects=True)
                form["csrf_token"] = csrf_from(page.get_data(as_text=True))
            kwargs["data"] = _urlencode(form)
            kwargs["content_type"] = "application/x-www-form-urlencoded"
        before = _rows(db)
        response = client.open(path, **kwargs)
        after = _rows(db)
        if response.status_code >= 500:
            failures.append(f"{entry['id']}: {response.status_code}")
        elif 400 <= response.status_code < 500 and after != before:
            failures.append(f"{entry['id']}: refused with {response.status_code} but wrote {after - before} rows")
        elif response.status_code >= 400 and not response.get_data():
            failures.append(f"{entry['id']}: {response.status_code} without a reason")
    assert not failures, "\n".join(failures)
