"""Fake WeChat, 企业微信 robot and Telegram API servers on 127.0.0.1 that speak their real HTTP API.

They record what they were sent and can be told to refuse (WeChat errcode 45015: the
48-hour customer-service window is closed; Telegram 403: the bot was blocked) or to fail
a number of times before succeeding.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

ACCESS_TOKEN = "FAKE_ACCESS_TOKEN"


@dataclass
class FakeApis:
    bot_token: str
    wechat_sent: list[dict[str, Any]] = field(default_factory=list)
    telegram_sent: list[dict[str, Any]] = field(default_factory=list)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    # 企业微信 group robots (keys that exist) and what they were sent; WeChat template messages.
    wecom_keys: set[str] = field(default_factory=lambda: {"robot-key"})
    wecom_sent: list[dict[str, Any]] = field(default_factory=list)
    template_sent: list[dict[str, Any]] = field(default_factory=list)
    # openids whose 48-hour window is closed; Telegram chat ids that blocked the bot.
    wechat_window_closed: set[str] = field(default_factory=set)
    telegram_blocked: set[int] = field(default_factory=set)
    # Temporary media (media/get): media id -> (content type, bytes); ids asked for.
    wechat_media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    media_requests: list[str] = field(default_factory=list)
    # Telegram files (getFile, then /file/bot<token>/<path>): file id -> (file path, bytes);
    # the file ids asked for.
    telegram_files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    telegram_file_requests: list[str] = field(default_factory=list)
    # Answer this many sends with a server error first.
    failures_before_success: int = 0
    # Recipients (openid, or chat id as text) whose sends are received and recorded, then
    # answered only after this many seconds: the request went out, the answer is late.
    hang: dict[str, float] = field(default_factory=dict)
    # ("received" | "answered", recipient) in the order they happened.
    events: list[tuple[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def wecom_url(self, key: str = "robot-key") -> str:
        """A 企业微信 group robot's webhook URL, as the robot's settings page shows it."""
        return f"{self.base}/cgi-bin/webhook/send?key={key}"

    def texts_to(self, user: str) -> list[str]:
        return [m["text"]["content"] for m in self.wechat_sent if m["touser"] == user] + [
            m["text"] for m in self.telegram_sent if str(m["chat_id"]) == user
        ]


def start(bot_token: str) -> FakeApis:
    apis = FakeApis(bot_token)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a hang it asked for): nobody left to answer

        def hold(self, recipient: str) -> None:
            with lock:
                apis.events.append(("received", recipient))
            if recipient in apis.hang:
                time.sleep(apis.hang[recipient])
            with lock:
                apis.events.append(("answered", recipient))

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/cgi-bin/token":
                query = parse_qs(url.query)
                apis.token_requests.append(query)
                if query.get("grant_type") != ["client_credential"]:
                    return self.reply(200, {"errcode": 40002, "errmsg": "invalid grant_type"})
                return self.reply(200, {"access_token": ACCESS_TOKEN, "expires_in": 7200})
            if url.path == "/cgi-bin/media/get":
                query = parse_qs(url.query)
                if query.get("access_token") != [ACCESS_TOKEN]:
                    return self.reply(200, {"errcode": 40001, "errmsg": "invalid credential"})
                media_id = query.get("media_id", [""])[0]
                apis.media_requests.append(media_id)
                if media_id not in apis.wechat_media:
                    return self.reply(200, {"errcode": 40007, "errmsg": "invalid media_id"})
                content_type, content = apis.wechat_media[media_id]
                # As WeChat serves a file: its type, length and a download name.
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Content-disposition", f'attachment; filename="{media_id}"')
                self.end_headers()
                self.wfile.write(content)
                return None
            if url.path == f"/bot{apis.bot_token}/getFile":
                file_id = parse_qs(url.query).get("file_id", [""])[0]
                apis.telegram_file_requests.append(file_id)
                if file_id not in apis.telegram_files:
                    return self.reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"})
                path, content = apis.telegram_files[file_id]
                return self.reply(200, {"ok": True, "result": {
                    "file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(content), "file_path": path,
                }})
            prefix = f"/file/bot{apis.bot_token}/"
            if url.path.startswith(prefix):
                files = {path: content for path, content in apis.telegram_files.values()}
                content = files.get(url.path[len(prefix):])
                if content is None:
                    return self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                # As Telegram's file server answers: bytes, no particular type.
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
                return None
            self.reply(404, {"errcode": 404, "errmsg": "not found"})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length", 0))
            payload = json.loads(self.rfile.read(length) or b"{}")
            with lock:
                if apis.failures_before_success > 0:
                    apis.failures_before_success -= 1
                    return self.reply(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
            if url.path == "/cgi-bin/message/custom/send":
                if parse_qs(url.query).get("access_token") != [ACCESS_TOKEN]:
                    return self.reply(200, {"errcode": 40001, "errmsg": "invalid credential"})
                if payload.get("touser") in apis.wechat_window_closed:
                    return self.reply(200, {"errcode": 45015, "errmsg": "response out of time limit"})
                apis.wechat_sent.append(payload)
                self.hold(str(payload.get("touser")))
                return self.reply(200, {"errcode": 0, "errmsg": "ok"})
            if url.path == "/cgi-bin/webhook/send":
                # 企业微信 group robot: the key in the URL is the credential.
                if parse_qs(url.query).get("key", [""])[0] not in apis.wecom_keys:
                    return self.reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
                kind = payload.get("msgtype")
                if kind not in ("text", "markdown") or not isinstance(payload.get(kind, {}).get("content"), str):
                    return self.reply(200, {"errcode": 40008, "errmsg": "invalid message type"})
                apis.wecom_sent.append(payload)
                return self.reply(200, {"errcode": 0, "errmsg": "ok"})
            if url.path == "/cgi-bin/message/template/send":
                if parse_qs(url.query).get("access_token") != [ACCESS_TOKEN]:
                    return self.reply(200, {"errcode": 40001, "errmsg": "invalid credential"})
                if not payload.get("template_id"):
                    return self.reply(200, {"errcode": 40037, "errmsg": "invalid template_id"})
                apis.template_sent.append(payload)
                return self.reply(200, {"errcode": 0, "errmsg": "ok", "msgid": len(apis.template_sent)})
            if url.path == f"/bot{apis.bot_token}/sendMessage":
                text = payload.get("text")
                if not isinstance(text, str) or not 1 <= len(text) <= 4096:
                    return self.reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: text is empty"})
                if payload.get("chat_id") in apis.telegram_blocked:
                    return self.reply(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
                apis.telegram_sent.append(payload)
                self.hold(str(payload.get("chat_id")))
                return self.reply(200, {"ok": True, "result": {"message_id": len(apis.telegram_sent), "text": text}})
            self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    apis.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=apis.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return apis
