"""A stand-in for WeChat's servers: builds, signs and encrypts pushes like they do.

The signing and encryption are wechatpy's own (WeChatSigner, WeChatCrypto), not the
project's, so a mistake in the project's protocol code cannot cancel itself out here.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass
from typing import Any

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

ACCOUNT = "gh_0123456789ab"
_ids = itertools.count(6_900_000_000_000_000_001)


def signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def text_xml(user: str, content: str, msg_id: int | None = None, create_time: int | None = None) -> str:
    return (
        "<xml>"
        f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id or next(_ids)}</MsgId>"
        "</xml>"
    )


def event_xml(user: str, event: str, key: str = "", create_time: int | None = None) -> str:
    key_xml = f"<EventKey><![CDATA[{key}]]></EventKey>" if key else ""
    return (
        "<xml>"
        f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{key_xml}"
        "</xml>"
    )


@dataclass
class Reply:
    status: int
    body: str
    fields: dict[str, Any] | None  # the passive reply's XML fields, decrypted if needed

    @property
    def content(self) -> str:
        return (self.fields or {}).get("Content", "")


class FakeWeChat:
    def __init__(self, client, token: str, aes_key: str, appid: str) -> None:
        self.client = client
        self.token = token
        self.crypto = WeChatCrypto(token, aes_key, appid)

    def params(self, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
        """A push's query string; like WeChat, a fresh random nonce for every push."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or str(random.randrange(10**9, 10**10))
        return {"timestamp": ts, "nonce": nonce, "signature": signature(self.token, ts, nonce), "openid": "o-test"}

    def post(self, xml: str | bytes, mode: str = "plain", params: dict[str, str] | None = None) -> Reply:
        """POST a push in plain, compatible or safe (aes) mode and read the reply."""
        query = params or self.params()
        body = xml.encode("utf-8") if isinstance(xml, str) else xml
        if mode in ("safe", "compatible"):
            envelope = xmltodict.parse(self.crypto.encrypt_message(xml, query["nonce"], query["timestamp"]))["xml"]
            query = {**query, "encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]}
            encrypt = f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt>"
            if mode == "safe":
                body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>{encrypt}</xml>".encode()
            else:  # compatible mode carries the plaintext fields and the ciphertext
                body = xml.replace("</xml>", encrypt + "</xml>").encode("utf-8")
        response = self.client.post("/wechat", query_string=query, data=body, content_type="text/xml")
        text = response.get_data(as_text=True)
        fields = None
        if response.status_code == 200 and text.startswith("<xml>"):
            fields = xmltodict.parse(text)["xml"]
            if "Encrypt" in fields:
                plain = self.crypto.decrypt_message(text, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
                fields = xmltodict.parse(plain)["xml"]
        return Reply(response.status_code, text, fields)

    def send_text(self, user: str, content: str, mode: str = "plain", **kwargs: Any) -> Reply:
        return self.post(text_xml(user, content, **kwargs), mode=mode)
