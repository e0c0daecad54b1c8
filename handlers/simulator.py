"""The chat simulator (`/simulator`): try the whole flow without an official account.

Each message typed on the page is built into a push exactly as WeChat builds one, signed
with the account's token, and sent through the real `/wechat` view; the reply shown is
the passive reply that view returned. Not available in production.

It also sends a location and an image as WeChat does (the image's file is kept at once, as
the worker would keep it from WeChat's media API), and her conversation survives a reload:
the page keeps her simulated openid in localStorage and reads her history from here.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time

import xmltodict
from flask import Blueprint, Flask, current_app, jsonify, render_template, request


from sqlalchemy import select

from bot.channels.wechat import sign
from bot.media import Fetched, MediaKeeper
from handlers.context import runtime
from models import Message, OutboxMessage, utcnow

bp = Blueprint("simulator", __name__)
ACCOUNT = "gh_simulator"
MAX_TEXT = 2000
# The simulated place a location is sent from (a point in the county seat of the demo).
LATITUDE, LONGITUDE = 30.5728, 104.0668
# What an uploaded image may be, by its first bytes.
IMAGE_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG": "image/png", b"GIF8": "image/gif"}


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
    # Room for one image as base64 and no more.
    request.max_content_length = runtime().settings.media.max_bytes * 4 // 3 + 8192
    data = request.get_json(silent=True) or {}
    user, text, kind = str(data.get("user", "")), str(data.get("text", "")), str(data.get("kind", "text"))
    if not _valid_user(user):
        return jsonify(message="模拟用户无效，请刷新页面"), 422
    image = None
    if kind == "image":
        image = _image(data.get("data"))
        if image is None:
            limit = runtime().settings.media.max_bytes // (1024 * 1024)
            return jsonify(message=f"请选择一张 JPG、PNG 或 GIF 图片（不超过 {limit} MB）"), 422
    elif kind == "location":
        text = text.strip()[:100]
    elif not text.strip() or len(text) > MAX_TEXT:
        return jsonify(message=f"请输入1到{MAX_TEXT}个字"), 422
    media_id = f"sim-{secrets.token_hex(12)}" if image else None
    push = _push(user, text, kind, media_id)
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
    if image is not None:
        # The file the worker would have fetched from WeChat's media API, kept the same way.
        MediaKeeper(runtime().db, runtime().settings, runtime().write_lock, _Uploaded(*image)).keep_media_id(
            media_id, utcnow()
        )
    return jsonify(reply=reply)


@bp.get("/simulator/history")
def history():
    """Her conversation so far (both directions), for the page after a reload."""
    user = request.args.get("user", "")
    if not _valid_user(user):
        return jsonify(message="参数无效"), 422
    with runtime().db.session() as session:
        lines = session.execute(
            select(Message.direction, Message.kind, Message.text, Message.author_id)
            .where(Message.channel == "wechat", Message.channel_user == user).order_by(Message.id)
        ).all()
        after = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.channel == "wechat", OutboxMessage.channel_user == user)
            .order_by(OutboxMessage.id.desc()).limit(1)
        )
    return jsonify(after=after or 0, messages=[
        {"who": "me" if line.direction == "in" else ("bot staff" if line.author_id else "bot"), "kind": line.kind,
         "text": line.text}
        for line in lines
    ])


@bp.get("/simulator/messages")
def messages():
    """Messages staff (or the follow-up job) sent her after the passive replies, newest last."""
    user, after = request.args.get("user", ""), request.args.get("after", "0")
    if not _valid_user(user) or not after.isdecimal():
        return jsonify(message="参数无效"), 422
    with runtime().db.session() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.text)
            .where(OutboxMessage.channel == "wechat", OutboxMessage.channel_user == user, OutboxMessage.id > int(after))
            .order_by(OutboxMessage.id)
        ).all()
    return jsonify(messages=[{"id": row.id, "text": row.text} for row in rows])


def _valid_user(user: str) -> bool:
    return user.startswith("sim-") and 4 < len(user) <= 64


class _Uploaded:
    """The uploaded image, served as WeChat's media API would serve it."""

    def __init__(self, content_type: str, content: bytes) -> None:
        self.fetched = Fetched(content, content_type)

    def fetch(self, media_id: str, max_bytes: int) -> Fetched:
        return self.fetched


def _image(data: object) -> tuple[str, bytes] | None:
    """(type, bytes) of an uploaded image given as base64, if it is one and not too large."""
    if not isinstance(data, str) or len(data) > runtime().settings.media.max_bytes * 4 // 3 + 4:
        return None
    try:
        content = base64.b64decode(data.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        return None
    content_type = next((kind for magic, kind in IMAGE_MAGIC.items() if content.startswith(magic)), None)
    return (content_type, content) if content_type and content else None


def _push(user: str, text: str, kind: str, media_id: str | None = None) -> str:
    """The XML WeChat would POST for this message (text, location, image, or a subscribe event)."""
    now = int(time.time())
    msg_id = str(secrets.randbelow(10**18) + 10**18)
    if kind == "subscribe":
        fields = {"MsgType": "event", "Event": "subscribe"}
    elif kind == "location":
        fields = {"MsgType": "location", "Location_X": str(LATITUDE), "Location_Y": str(LONGITUDE), "Scale": "15",
                  "Label": text or "我的位置", "MsgId": msg_id}
    elif kind == "image":
        fields = {"MsgType": "image", "PicUrl": f"https://example.invalid/{media_id}", "MediaId": media_id,
                  "MsgId": msg_id}
    else:
        fields = {"MsgType": "text", "Content": text, "MsgId": msg_id}
    message = {"ToUserName": ACCOUNT, "FromUserName": user, "CreateTime": str(now), **fields}
    return xmltodict.unparse({"xml": message}, full_document=False)
