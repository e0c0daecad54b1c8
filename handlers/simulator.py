"""The chat simulator (`/simulator`): try the whole flow without an official account.

Each message typed on the page is built into a push exactly as WeChat builds one, signed
with the account's token, and sent through the real `/wechat` view; the reply shown is
the passive reply that view returned. Not available in production.
"""

from __future__ import annotations

import secrets
import time

import xmltodict
from flask import Blueprint, Flask, current_app, jsonify, render_template, request


from sqlalchemy import select

from bot.channels.wechat import sign
from handlers.app import runtime
from models import OutboxMessage

bp = Blueprint("simulator", __name__)
ACCOUNT = "gh_simulator"
MAX_TEXT = 2000


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.before_request
def only_outside_production():
    if runtime().settings.production:
        # Its pushes are signed with the account's token: on a live service anyone could
        # write as any woman. Said plainly, for the IT person who followed a bookmark.
        return "404 模拟器只在开发和测试环境中提供，正式环境（production）不开放。", 404, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/simulator")
def page() -> str:
    return render_template("simulator.html", user=f"sim-{secrets.token_hex(4)}")


@bp.post("/simulator/send")
def send():
    # A custom header cannot be sent by a cross-site form: this is the page's own script.
    if request.headers.get("X-Niangjia-Simulator") != "1":
        return jsonify(message="请从模拟器页面发送"), 400
    data = request.get_json(silent=True) or {}
    user, text = str(data.get("user", "")), str(data.get("text", ""))
    if not user.startswith("sim-") or not 4 < len(user) <= 64:
        return jsonify(message="模拟用户无效，请刷新页面"), 422
    if not text.strip() or len(text) > MAX_TEXT:
        return jsonify(message=f"请输入1到{MAX_TEXT}个字"), 422
    push = _push(user, text, data.get("kind", "text"))
    token = runtime().settings.wechat.token
    crypto = runtime().endpoint("wechat").crypto
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    query = {"timestamp": timestamp, "nonce": nonce, "signature": sign(token, timestamp, nonce)}
    data = push.encode("utf-8")
    if crypto is not None:  # an EncodingAESKey: push as WeChat does in safe mode
        envelope = xmltodict.parse(crypto.encrypt_message(push, nonce, timestamp))["xml"]
        query.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
        data = f"<xml><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>".encode("utf-8")
    with current_app.test_client() as client:
        response = client.post("/wechat", query_string=query, data=data, content_type="text/xml")
    body = response.get_data(as_text=True)
    if response.status_code != 200:
        return jsonify(message="发送失败", status=response.status_code), 502
    if body.startswith("<xml>") and crypto is not None:
        sealed = xmltodict.parse(body)["xml"]
        body = crypto.decrypt_message(body, sealed["MsgSignature"], sealed["TimeStamp"], sealed["Nonce"])
    reply = xmltodict.parse(body)["xml"].get("Content", "") if body.startswith("<xml>") else ""
    return jsonify(reply=reply)


@bp.get("/simulator/messages")
def messages():
    """Messages staff (or the follow-up job) sent her after the passive replies, newest last."""
    user, after = request.args.get("user", ""), request.args.get("after", "0")
    if not user.startswith("sim-") or not after.isdecimal():
        return jsonify(message="参数无效"), 422
    with runtime().db.session() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.text)
            .where(OutboxMessage.channel == "wechat", OutboxMessage.channel_user == user, OutboxMessage.id > int(after))
            .order_by(OutboxMessage.id)
        ).all()
    return jsonify(messages=[{"id": row.id, "text": row.text} for row in rows])


def _push(user: str, text: str, kind: str) -> str:
    """The XML WeChat would POST for this message (text, or a subscribe event)."""
    now = int(time.time())
    if kind == "subscribe":
        fields = {"MsgType": "event", "Event": "subscribe"}
    else:
        fields = {"MsgType": "text", "Content": text, "MsgId": str(secrets.randbelow(10**18) + 10**18)}
    message = {"ToUserName": ACCOUNT, "FromUserName": user, "CreateTime": str(now), **fields}
    return xmltodict.unparse({"xml": message}, full_document=False)
