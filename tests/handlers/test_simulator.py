"""The chat simulator sends through the real /wechat path and shows its reply."""

from __future__ import annotations

from sqlalchemy import select

from models import InboundReceipt, Ticket

HEADERS = {"X-Niangjia-Simulator": "1"}


def test_simulated_grievance_goes_through_the_webhook_and_opens_a_ticket(client, db):
    page = client.get("/simulator")
    assert page.status_code == 200 and "聊天模拟器" in page.get_data(as_text=True)
    response = client.post(
        "/simulator/send", json={"user": "sim-abc123", "text": "婆婆天天跟我吵架，能不能请妇联来帮忙调解一下"}, headers=HEADERS
    )
    assert response.status_code == 200
    with db.session() as session:
        ticket = session.scalar(select(Ticket))
        receipt = session.scalar(select(InboundReceipt))
    assert ticket.channel_user == "sim-abc123" and ticket.category == "mediation"
    assert ticket.reference in response.get_json()["reply"]
    assert receipt.channel == "wechat"


def test_simulated_subscribe_gets_the_welcome(client):
    response = client.post("/simulator/send", json={"user": "sim-abc124", "text": "关注", "kind": "subscribe"}, headers=HEADERS)
    assert "欢迎" in response.get_json()["reply"]


def test_simulator_refuses_requests_without_its_header_or_with_bad_input(client, db):
    assert client.post("/simulator/send", json={"user": "sim-1", "text": "hi"}).status_code == 400
    assert client.post("/simulator/send", json={"user": "o-real", "text": "hi"}, headers=HEADERS).status_code == 422
    assert client.post("/simulator/send", json={"user": "sim-abc", "text": ""}, headers=HEADERS).status_code == 422
    assert client.post("/simulator/send", data="not json", headers=HEADERS).status_code == 422
    with db.session() as session:
        assert session.scalar(select(InboundReceipt)) is None


def test_simulator_is_refused_in_production_saying_why(app, client, db):
    app.extensions["niangjia"].settings.env = "production"
    page = client.get("/simulator")
    assert page.status_code == 404 and "正式环境" in page.get_data(as_text=True)
    assert client.post("/simulator/send", json={"user": "sim-1", "text": "你好"}, headers=HEADERS).status_code == 404
    with db.session() as session:
        assert session.scalar(select(InboundReceipt)) is None


def test_with_an_aes_key_the_simulator_pushes_in_safe_mode(settings, router, db):
    from handlers.app import create_app

    settings.wechat.mode = ""  # the default with an EncodingAESKey: safe, plaintext refused
    client = create_app(settings, router=router).test_client()
    response = client.post("/simulator/send", json={"user": "sim-safe1", "text": "你好"}, headers=HEADERS)
    assert response.status_code == 200 and response.get_json()["reply"]
