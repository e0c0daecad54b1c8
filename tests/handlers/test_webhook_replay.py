"""Replays refused: a captured query string carries no other body, in any mode."""

from __future__ import annotations

from sqlalchemy import func, select

from handlers.app import create_app
from models import Message, Ticket
from tests.wechat import FakeWeChat, text_xml

HER = "o-her-openid"
GRIEVANCE = "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下"


def wechat_in(mode: str, settings, router) -> FakeWeChat:
    """A WeChat pushing to an app whose server URL is in `mode` ("" = the default)."""
    settings.wechat.mode = mode
    app = create_app(settings, router=router)
    app.config["TESTING"] = True
    return FakeWeChat(app.test_client(), settings.wechat.token, settings.wechat.encoding_aes_key, settings.wechat.appid)


def her_ticket(db) -> Ticket:
    with db.session() as session:
        return session.scalars(select(Ticket)).one()


def message_count(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Message))


def test_captured_query_string_cannot_read_or_withdraw_her_tickets(settings, router, db):
    wechat = wechat_in("plaintext", settings, router)
    captured = wechat.params()
    first = wechat.post(text_xml(HER, GRIEVANCE), params=captured)
    assert first.status == 200
    reference = her_ticket(db).reference
    assert reference in first.content
    lines = message_count(db)

    for words in ("查询", "撤销", "确定"):
        forged = wechat.post(text_xml(HER, words), params=captured)
        assert forged.status == 403
        assert reference not in forged.body and forged.fields is None

    ticket = her_ticket(db)
    assert ticket.status == "new"
    assert message_count(db) == lines


def test_the_platforms_identical_retry_is_answered_as_before(settings, router, db):
    wechat = wechat_in("plaintext", settings, router)
    captured = wechat.params()
    push = text_xml(HER, GRIEVANCE)
    replies = [wechat.post(push, params=captured) for _ in range(3)]
    assert [r.status for r in replies] == [200, 200, 200]
    assert len({r.content for r in replies}) == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_safe_mode_retry_with_the_same_ciphertext_is_answered(settings, router, db):
    wechat = wechat_in("safe", settings, router)
    captured = wechat.params()
    # FakeWeChat encrypts afresh (a new random prefix) on every post: build the
    # ciphertext once, as the platform's retry resends the same request.
    push = text_xml(HER, GRIEVANCE)
    body = wechat.crypto.encrypt_message(push, captured["nonce"], captured["timestamp"])
    import xmltodict

    envelope = xmltodict.parse(body)["xml"]
    query = {**captured, "encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]}
    raw = f"<xml><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    statuses = [
        wechat.client.post("/wechat", query_string=query, data=raw, content_type="text/xml").status_code
        for _ in range(2)
    ]
    assert statuses == [200, 200]


def test_an_aes_key_means_safe_mode_which_refuses_unencrypted_pushes(settings, router, db):
    wechat = wechat_in("", settings, router)
    refused = wechat.send_text(HER, GRIEVANCE, mode="plain")
    assert refused.status == 403
    assert message_count(db) == 0
    assert wechat.send_text(HER, GRIEVANCE, mode="safe").status == 200


def test_compatible_mode_takes_both(settings, router, db):
    wechat = wechat_in("compatible", settings, router)
    assert wechat.send_text(HER, GRIEVANCE, mode="plain").status == 200
    assert wechat.send_text(HER, "补充：他今天又骂我了", mode="safe").status == 200


def test_plaintext_mode_refuses_encrypted_pushes(settings, router, db):
    wechat = wechat_in("plaintext", settings, router)
    assert wechat.send_text(HER, GRIEVANCE, mode="safe").status == 400
    assert message_count(db) == 0


def test_the_pair_and_her_message_are_one_transaction(settings, router, db):
    # On SQLite each transaction is a writer's turn and a commit: the pair is remembered
    # in the message's own (bench/README.md, issue #13).
    from sqlalchemy import event

    wechat = wechat_in("plaintext", settings, router)
    engine = wechat.client.application.extensions["niangjia"].db.engine
    wechat.send_text(HER, GRIEVANCE)
    begun = []

    def began(connection):
        begun.append(connection)

    event.listen(engine, "begin", began)
    try:
        assert wechat.post(text_xml(HER, "补充：他今天又骂我了")).status == 200
    finally:
        event.remove(engine, "begin", began)
    assert len(begun) == 1


def test_a_pair_is_remembered_when_her_message_goes_to_the_spool(settings, router, db, monkeypatch):
    wechat = wechat_in("plaintext", settings, router)
    runtime = wechat.client.application.extensions["niangjia"]

    def broken(*args, **kwargs):
        raise RuntimeError("the engine failed")

    monkeypatch.setattr(runtime.intake, "receive", broken)
    captured = wechat.params()
    first = wechat.post(text_xml(HER, GRIEVANCE), params=captured)
    assert first.status == 200 and runtime.spool.holds("wechat", HER)
    forged = wechat.post(text_xml(HER, "查询"), params=captured)
    assert forged.status == 403
