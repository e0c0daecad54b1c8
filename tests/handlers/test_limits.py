"""Abuse limits: a flood from one sender is slowed and told so kindly, others are not;
the API is limited per token and per address; the counters are shared by processes."""

from __future__ import annotations

from sqlalchemy import func, select

from bot import replies
from handlers.limits import SQLiteCounters
from models import Message
from tests.handlers.staff.factories import make_staff, token_for
from tests.wechat import text_xml

FLOOD = "在吗在吗在吗"


def inbound_count(db, user: str) -> int:
    with db.session() as session:
        return session.scalar(
            select(func.count()).select_from(Message).where(Message.channel_user == user, Message.direction == "in")
        )


def test_a_flood_from_one_openid_is_slowed_and_told_kindly_while_others_pass(wechat, db, settings):
    allowed = 20
    assert settings.limits.webhook_per_sender.startswith(f"{allowed}/minute")
    answers = [wechat.send_text("o-flood", f"{FLOOD}{n}", mode="safe") for n in range(allowed + 5)]
    assert [a.status for a in answers] == [200] * (allowed + 5)
    slowed = answers[allowed:]
    # Still a valid passive reply (decrypted by the fake WeChat), asking her to wait.
    assert all(a.content == replies.SLOW_DOWN for a in slowed)
    assert all(a.fields["ToUserName"] == "o-flood" for a in slowed)
    assert "110" in slowed[0].content
    assert replies.SLOW_DOWN not in {a.content for a in answers[:allowed]}
    assert inbound_count(db, "o-flood") == allowed  # the slowed ones were not stored
    # Someone else writing meanwhile is answered as always.
    other = wechat.send_text("o-someone-else", "婆婆天天跟我吵架，想请妇联调解", mode="safe")
    assert other.status == 200 and other.content != replies.SLOW_DOWN
    assert inbound_count(db, "o-someone-else") == 1


def test_telegram_floods_are_told_in_the_webhook_answer(telegram, settings):
    settings_limit = int(settings.limits.webhook_per_sender.split("/")[0])
    responses = [telegram.send_text(4242, f"hello {n}") for n in range(settings_limit + 1)]
    last = responses[-1]
    assert last.status_code == 200
    assert last.get_json() == {"method": "sendMessage", "chat_id": 4242, "text": replies.SLOW_DOWN}


def test_the_api_is_limited_per_token(app, client, db, settings):
    settings.limits.api_per_token = "3/minute"
    make_staff(db, "li", "caseworker", "T01")
    from handlers.app import create_app

    limited = create_app(settings, router=app.extensions["niangjia"].router).test_client()
    mine = {"Authorization": f"Bearer {token_for(db, 'li')}"}
    theirs = {"Authorization": f"Bearer {token_for(db, 'li')}"}
    # One count across the API's routes, not one per route.
    statuses = [limited.get(path, headers=mine).status_code for path in ("/api/v1/me", "/api/v1/regions", "/api/v1/tickets", "/api/v1/me")]
    assert statuses == [200, 200, 200, 429]
    refused = limited.get("/api/v1/me", headers=mine)
    assert refused.get_json()["error"] == "too_many_requests" and "Retry-After" in refused.headers
    assert limited.get("/api/v1/me", headers=theirs).status_code == 200


def test_the_api_is_limited_per_address(app, db, settings):
    settings.limits.api_per_address = "2/minute"
    from handlers.app import create_app

    limited = create_app(settings, router=app.extensions["niangjia"].router).test_client()
    here = [limited.get(path, environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code for path in ("/api/v1/me", "/api/v1/tickets", "/api/v1/regions")]
    assert here == [401, 401, 429]
    assert limited.get("/api/v1/me", environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 401


def test_counters_are_shared_by_processes_and_windows_end_on_the_clock(tmp_path):
    now = [1000.0]
    uri = f"niangjia+sqlite://{tmp_path / 'counters.db'}"
    one, two = SQLiteCounters(uri, clock=lambda: now[0]), SQLiteCounters(uri, clock=lambda: now[0])
    assert one.incr("k", 60) == 1
    assert two.incr("k", 60) == 2  # another connection (as another process has) counts on
    assert one.get("k") == 2 and two.get_expiry("k") == 1060.0
    now[0] = 1061.0
    assert one.get("k") == 0
    assert two.incr("k", 60) == 1  # a new window
