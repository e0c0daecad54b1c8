"""Writes tests/data/hostile_requests.jsonl, the corpus tests/handlers/test_hostile_requests.py sends (run it from the repository root to regenerate)."""
import base64, json

def R(chunk, n):
    """A long run, written out by the test (keeps the data file small)."""
    return "\u27e6rep:" + base64.b64encode(chunk.encode("utf-8", "surrogatepass")).decode() + f":{n}\u27e7"

out = []
def add(target, name, **req):
    out.append({"id": f"{target}-{len(out):03d}-{name}", "target": target, **req})

ACC = "gh_0123456789ab"
def text_push(user="o-hostile", content="你好", msg_id="6900000000000000777", ctime="{now}", msgtype="text", extra=""):
    return (f"<xml><ToUserName><![CDATA[{ACC}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{ctime}</CreateTime><MsgType><![CDATA[{msgtype}]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>{extra}</xml>")

# -- /wechat: authentication -------------------------------------------------------
for ts in ["", "abc", "-1", "9" * 310, "1e10", " 1", "１２３４５６７８９０", "0x10", "1" * 11, "99999999999999999999", "nan", "\u0661\u0662"]:
    add("wechat", "unsigned-timestamp", method="POST", path="/wechat", query={"timestamp": ts, "nonce": "1", "signature": "0" * 40}, body=text_push())
for q in [{}, {"timestamp": "{now}"}, {"nonce": "1"}, {"timestamp": "{now}", "nonce": "1"},
          {"timestamp": "{now}", "nonce": "1", "signature": R("x", 5000)},
          {"timestamp": "{now}", "nonce": "1", "signature": "\u00e9" * 40},
          {"timestamp": "{now}", "nonce": "1", "signature": "", "encrypt_type": "aes", "msg_signature": "x"}]:
    add("wechat", "unsigned-query", method="POST", path="/wechat", query=q, body=text_push())
for q in [{"echostr": "x"}, {"timestamp": "9" * 400, "nonce": "1", "signature": "a", "echostr": "x"}, {"timestamp": "{now}", "nonce": "", "signature": "a"}]:
    add("wechat", "get-check", method="GET", path="/wechat", query=q)
# -- /wechat: signed, hostile bodies ---------------------------------------------------
bodies = {
    "empty": "", "xml-empty": "<xml/>", "not-xml": "hello", "broken": "<xml><MsgType>text", "json": '{"a": 1}',
    "dtd": '<!DOCTYPE xml [<!ENTITY a "b">]><xml><MsgType>text</MsgType></xml>',
    "billion-laughs": '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><xml>&lol2;</xml>',
    "xxe": '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>',
    "no-msgtype": "<xml><FromUserName>o</FromUserName><CreateTime>1</CreateTime></xml>",
    "unknown-msgtype": text_push(msgtype="hologram"),
    "msgtype-dict": text_push(msgtype="text]]><X>1</X><![CDATA["),
    "content-element": text_push(content="]]><b>粗</b><![CDATA["),
    "content-nested-xml": text_push().replace("<Content><![CDATA[你好]]></Content>", "<Content><a><b>1</b></a></Content>"),
    "two-contents": text_push().replace("</xml>", "<Content>second</Content></xml>"),
    "from-empty": text_push(user=""), "from-129": text_push(user="o" * 129), "from-10000": text_push(user=R("o", 10000)),
    "from-nested": text_push().replace("<FromUserName><![CDATA[o-hostile]]></FromUserName>", "<FromUserName><a>1</a></FromUserName>"),
    "from-missing": text_push().replace("<FromUserName><![CDATA[o-hostile]]></FromUserName>", ""),
    "msgid-200": text_push(msg_id="9" * 200), "msgid-5000": text_push(msg_id=R("9", 5000)), "msgid-neg": text_push(msg_id="-5"),
    "msgid-float": text_push(msg_id="1.5"), "msgid-text": text_push(msg_id="abc"), "msgid-2^64": text_push(msg_id=str(2**64)),
    "msgid-empty": text_push(msg_id=""), "msgid-exp": text_push(msg_id="1e30"),
    "ctime-huge": text_push(ctime="9" * 30), "ctime-neg": text_push(ctime="-100"), "ctime-float": text_push(ctime="1.5"),
    "ctime-text": text_push(ctime="now"), "ctime-empty": text_push(ctime=""), "ctime-400": text_push(ctime="9" * 400),
    "nul-ref": text_push(content="]]>&#0;<![CDATA["), "bad-char-ref": text_push(content="]]>&#xD800;<![CDATA["),
    "control-chars": text_push(content="\x01\x02\x1f"), "very-long-text": text_push(content=R("打", 20000)),
    "only-spaces": text_push(content="    "), "emoji-only": text_push(content="😀😀"), "rtl": text_push(content="\u202e我\u202d"),
    "cdata-in-cdata": text_push(content="]]]]><![CDATA[>"), "pi": '<?php echo 1; ?><xml/>', "comment-only": "<!-- x -->",
    "xml-decl-latin1": '<?xml version="1.0" encoding="ISO-8859-1"?>' + text_push(content="caf"),
    "deep-nesting": "<xml>" + R("<a>", 5000) + R("</a>", 5000) + "</xml>",
    "many-attrs": "<xml " + " ".join(f'a{i}="1"' for i in range(2000)) + "/>",
    "location-nan": text_push(msgtype="location", extra="<Location_X>nan</Location_X><Location_Y>1</Location_Y><Label>x</Label>"),
    "location-inf": text_push(msgtype="location", extra="<Location_X>inf</Location_X><Location_Y>1</Location_Y><Label>x</Label>"),
    "location-999": text_push(msgtype="location", extra="<Location_X>999</Location_X><Location_Y>1</Location_Y><Label>x</Label>"),
    "location-text": text_push(msgtype="location", extra="<Location_X>north</Location_X><Location_Y>1</Location_Y><Label>x</Label>"),
    "location-huge": text_push(msgtype="location", extra=f"<Location_X>{'9'*400}</Location_X><Location_Y>1</Location_Y><Label>x</Label>"),
    "location-missing": text_push(msgtype="location"),
    "location-label-nested": text_push(msgtype="location", extra="<Location_X>1</Location_X><Location_Y>1</Location_Y><Label><a>1</a></Label>"),
    "image-no-media": text_push(msgtype="image"), "image-media-300": text_push(msgtype="image", extra=f"<MediaId>{'m'*300}</MediaId><PicUrl>x</PicUrl>"),
    "voice-recognition-nested": text_push(msgtype="voice", extra="<MediaId>m</MediaId><Format>amr</Format><Recognition><a>1</a></Recognition>"),
    "voice-empty": text_push(msgtype="voice", extra="<MediaId>m</MediaId><Format>amr</Format><Recognition></Recognition>"),
    "event-unknown": text_push(msgtype="event", extra="<Event>teleport</Event>"),
    "event-missing": text_push(msgtype="event"),
    "event-click-key-nested": text_push(msgtype="event", extra="<Event>CLICK</Event><EventKey><a>1</a></EventKey>"),
    "event-click-key-long": text_push(msgtype="event", extra=f"<Event>CLICK</Event><EventKey>{'K'*5000}</EventKey>"),
    "event-subscribe-from-long": text_push(user="u" * 300, msgtype="event", extra="<Event>subscribe</Event>"),
    "link": text_push(msgtype="link", extra="<Title>t</Title><Description>d</Description><Url>javascript:alert(1)</Url>"),
    "video": text_push(msgtype="video", extra="<MediaId>m</MediaId><ThumbMediaId>t</ThumbMediaId>"),
}
for name, body in bodies.items():
    add("wechat", f"signed-{name}", method="POST", path="/wechat", query="{signed}", body=body)
add("wechat", "signed-latin1-bytes", method="POST", path="/wechat", query="{signed}", body_b64=base64.b64encode(b"<xml><Content>\xff\xfe</Content></xml>").decode())
add("wechat", "signed-utf16", method="POST", path="/wechat", query="{signed}", body_b64=base64.b64encode(text_push().encode("utf-16")).decode())
add("wechat", "signed-nul-byte", method="POST", path="/wechat", query="{signed}", body_b64=base64.b64encode(text_push(content="a\x00b").encode()).decode())
add("wechat", "signed-too-big", method="POST", path="/wechat", query="{signed}", body="<xml>" + R("a", 70000) + "</xml>")
for enc in ["", "not-base64!!", "QUJD", R("A", 5000), "]]><x>1</x><![CDATA["]:
    add("wechat", "safe-mode-bad-encrypt", method="POST", path="/wechat", query="{signed-aes}",
        body=f"<xml><ToUserName><![CDATA[{ACC}]]></ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>")
add("wechat", "safe-mode-no-encrypt", method="POST", path="/wechat", query="{signed-aes}", body=f"<xml><ToUserName>{ACC}</ToUserName></xml>")
add("wechat", "safe-mode-encrypt-nested", method="POST", path="/wechat", query="{signed-aes}", body="<xml><Encrypt><a>1</a></Encrypt></xml>")
for m in ["PUT", "DELETE", "PATCH"]:
    add("wechat", "method", method=m, path="/wechat", query="{signed}", body=text_push())

# -- /telegram ---------------------------------------------------------------------
def upd(**message):
    base = {"message_id": 1, "from": {"id": 9400, "is_bot": False, "first_name": "x"}, "chat": {"id": 9400, "type": "private"}, "date": "{now}", "text": "你好"}
    for k, v in message.items():
        if v is ...:
            base.pop(k, None)
        else:
            base[k] = v
    return {"update_id": 600000001, "message": base}
for secret in [None, "", "wrong", "tg-secret-token ", "TG-SECRET-TOKEN", R("x", 5000)]:
    add("telegram", "secret", method="POST", path="/telegram", secret=secret, json=upd())
raw_bodies = {
    "not-json": "hello", "empty": "", "null": "null", "number": "1", "string": '"x"', "array": "[]", "array-of-update": "[{\"update_id\": 1}]",
    "nan-update-id": '{"update_id": NaN}', "inf-date": '{"update_id": 1, "message": {"chat": {"id": 1}, "date": Infinity, "text": "x"}}',
    "1e309-date": '{"update_id": 1, "message": {"chat": {"id": 1}, "date": 1e309, "text": "x"}}',
    "huge-int-date": '{"update_id": 1, "message": {"chat": {"id": 1}, "date": ' + R("9", 4000) + ', "text": "x"}}',
    "huge-int-5000": '{"update_id": ' + R("9", 5000) + "}",
    "deep-array": R("[", 30000) + R("]", 30000), "deep-object": R('{"a":', 20000) + "1" + R("}", 20000),
    "dup-keys": '{"update_id": 1, "update_id": "x"}', "lone-surrogate-text": '{"update_id": 1, "message": {"chat": {"id": 1}, "date": 1700000000, "text": "\\ud800"}}',
    "nul-text": '{"update_id": 1, "message": {"chat": {"id": 1}, "date": 1700000000, "text": "a\\u0000b"}}',
    "bom": "\ufeff{\"update_id\": 1}", "trailing-garbage": '{"update_id": 1} xx', "too-big": '{"update_id": 1, "x": "' + R("a", 70000) + '"}',
}
for name, raw in raw_bodies.items():
    add("telegram", f"raw-{name}", method="POST", path="/telegram", secret="ok", body=raw)
add("telegram", "raw-latin1", method="POST", path="/telegram", secret="ok", body_b64=base64.b64encode(b'{"update_id": 1, "x": "\xff"}').decode())
values = {"null": None, "true": True, "float": 1.5, "neg": -1, "huge": 10**30, "str": "1", "list": [1], "dict": {"a": 1}, "empty-str": ""}
for field in ["update_id"]:
    for vname, v in values.items():
        u = upd(); u[field] = v
        add("telegram", f"{field}-{vname}", method="POST", path="/telegram", secret="ok", json=u)
for field in ["date", "text", "chat", "photo", "location", "voice", "caption", "message_id"]:
    for vname, v in values.items():
        msg = {field: v}
        if field in ("photo", "location", "voice", "caption"):
            msg["text"] = ...
        add("telegram", f"{field}-{vname}", method="POST", path="/telegram", secret="ok", json=upd(**msg))
for vname, v in values.items():
    add("telegram", f"chat-id-{vname}", method="POST", path="/telegram", secret="ok", json=upd(chat={"id": v, "type": "private"}))
photos = {"ints": [1, 2], "strings": ["a"], "no-file-id": [{"width": 1}], "file-id-int": [{"file_id": 5}], "size-str": [{"file_id": "a", "file_size": "big"}],
          "size-huge": [{"file_id": "a", "file_size": 10**40}], "file-id-long": [{"file_id": "f" * 300}], "nested": [[{"file_id": "a"}]], "nulls": [None]}
for name, photo in photos.items():
    add("telegram", f"photo-{name}", method="POST", path="/telegram", secret="ok", json=upd(text=..., photo=photo))
locations = {"strings": {"latitude": "1", "longitude": "2"}, "missing": {}, "nan-str": {"latitude": "NaN", "longitude": 1},
             "out-of-range": {"latitude": 91, "longitude": 0}, "bool": {"latitude": True, "longitude": False}, "huge": {"latitude": 10**400, "longitude": 1}}
for name, loc in locations.items():
    add("telegram", f"location-{name}", method="POST", path="/telegram", secret="ok", json=upd(text=..., location=loc))
for name, text in {"surrogate": "\ud83d", "nul": "\x00", "rtl": "\u202e", "long": R("打", 5000), "start-long": "/start " + R("x", 5000), "start-nul": "/start\x00"}.items():
    add("telegram", f"text-{name}", method="POST", path="/telegram", secret="ok", json=upd(text=text))
add("telegram", "edited-weird", method="POST", path="/telegram", secret="ok", json={"update_id": 5, "edited_message": [1, 2]})
add("telegram", "message-list", method="POST", path="/telegram", secret="ok", json={"update_id": 5, "message": [1, 2]})
add("telegram", "message-string", method="POST", path="/telegram", secret="ok", json={"update_id": 5, "message": "hi"})
add("telegram", "method-get", method="GET", path="/telegram", secret="ok")

# -- /staff ----------------------------------------------------------------------------
for user, pw in [("\x00", "x"), (R("a", 10000), "x"), ("admin", "\x00" * 10), ("\ud800", "x"), ("' OR 1=1 --", "x"), ("", ""), ("admin", R("p", 100000))]:
    add("staff", "login-form", method="POST", path="/staff/login", form={"username": user, "password": pw}, csrf=True)
add("staff", "login-no-csrf", method="POST", path="/staff/login", form={"username": "li", "password": "x"})
add("staff", "login-next-evil", method="GET", path="/staff/login", query={"next": "//evil.example/\x00"})
for q in [{"q": "\x00"}, {"q": "\ud800"}, {"q": "%"}, {"q": "_"}, {"q": R("a", 5000)}, {"page": "9" * 400}, {"page": "-1"}, {"page": "1.5"},
          {"page": "0"}, {"tab": "\x00"}, {"tab": R("x", 1000)}, {"region": "\x00"}, {"region": "Z" * 500}, {"category": "\ud800"},
          {"status": "[]"}, {"urgent": "\x00"}, {"per_page": "9" * 100}]:
    add("staff", "queue-args", method="GET", path="/staff/", query=q, login=True)
for ref in ["NJ%00X", "%ED%A0%80", R("N", 3000), "..%2F..%2Fetc", "NJ-20261121-0042'", "%25", "{ref}%00"]:
    add("staff", "ticket-path", method="GET", path=f"/staff/tickets/{ref}", login=True, raw_path=True)
for action, form in [("notes", {"text": "\x00"}), ("notes", {"text": "\ud800"}), ("notes", {"text": R("n", 200000)}), ("reply", {"text": "\ud800"}),
                     ("reply", {"text": "\x00"}), ("resolve", {"outcome": "\x00", "note": "x"}), ("resolve", {"outcome": R("x", 1000)}),
                     ("transfer", {"region": "\x00"}), ("transfer", {"region": "\ud800"}), ("assign", {"assignee": "\x00"}),
                     ("route", {"category": "\ud800"}), ("route", {"category": "x" * 500}), ("release", {"reason": "\x00"}),
                     ("reopen", {"reason": "\ud800"}), ("claim", {}), ("nonsense", {})]:
    add("staff", f"act-{action}", method="POST", path=f"/staff/tickets/{{ref}}/{action}", form=form, login=True, csrf=True)
add("staff", "act-no-csrf", method="POST", path="/staff/tickets/{ref}/notes", form={"text": "x"}, login=True)
add("staff", "unattended-caseworker", method="GET", path="/staff/unattended", login=True)

# -- /api/v1 -----------------------------------------------------------------------------
for auth in ["", "Bearer", "Bearer ", "Bearer \x00", "Bearer " + R("x", 10000), "Basic abc", "bearer nj_x", "Bearer nj_\u00ed\u00a0\u0080"]:
    add("api", "auth", method="GET", path="/api/v1/me", headers={"Authorization": auth})
for q in [{"q": "\x00"}, {"page": "9" * 400}, {"page": "-5"}, {"per_page": "10000000"}, {"per_page": "1e3"}, {"tab": "\ud800"},
          {"region": "\x00"}, {"category": R("x", 3000)}, {"urgent": "maybe"}, {"status": "%00"}]:
    add("api", "tickets-args", method="GET", path="/api/v1/tickets", query=q, bearer=True)
for ref in ["NJ%00X", R("N", 5000), "%ED%A0%80", "{ref}%00", "..%2F"]:
    add("api", "ticket-path", method="GET", path=f"/api/v1/tickets/{ref}", bearer=True, raw_path=True)
api_bodies = {"array": "[]", "string": '"x"', "number": "1", "null": "null", "nan": "NaN", "deep": R("[", 30000) + R("]", 30000),
              "surrogate": '{"text": "\\udfff"}', "nul": '{"text": "\\u0000"}', "text-number": '{"text": 5}', "text-list": '{"text": ["a"]}',
              "text-dict": '{"text": {"a": 1}}', "text-huge": '{"text": ' + R("9", 5000) + "}", "broken": '{"text": ', "empty-object": "{}",
              "dup": '{"text": "a", "text": 1}', "too-big": '{"text": "' + R("a", 70000) + '"}'}
for action in ["notes", "reply", "resolve", "transfer", "assign", "route", "release", "reopen"]:
    for name in (["surrogate", "nul", "text-number", "text-dict"] if action != "notes" else list(api_bodies)):
        body = api_bodies[name]
        if action != "notes":
            field = {"reply": "text", "resolve": "outcome", "transfer": "region", "assign": "assignee", "route": "category", "release": "reason", "reopen": "reason"}[action]
            body = body.replace('"text"', f'"{field}"')
        add("api", f"act-{action}-{name}", method="POST", path=f"/api/v1/tickets/{{ref}}/{action}", body=body, bearer=True, content_type="application/json")
add("api", "act-form-encoded", method="POST", path="/api/v1/tickets/{ref}/notes", form={"text": "x"}, bearer=True)
add("api", "act-unknown", method="POST", path="/api/v1/tickets/{ref}/explode", body="{}", bearer=True, content_type="application/json")
add("api", "act-method", method="DELETE", path="/api/v1/tickets/{ref}", bearer=True)

with open("tests/data/hostile_requests.jsonl", "w", encoding="utf-8") as f:
    for entry in out:
        f.write(json.dumps(entry, ensure_ascii=True) + "\n")
from collections import Counter
print(len(out), Counter(e["target"] for e in out))
