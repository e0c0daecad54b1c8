"""Signed WeChat text pushes for the webhook bench: the message mix, the signing, the pools.

Signed the way WeChat signs (sha1 of the sorted token, timestamp and nonce, in the query
string), written here from the protocol rather than borrowed from the project, so a
mistake in the project's protocol code cannot cancel itself out. The floor, WeRoBot and
Niangjia are all sent the very same pushes.

The mix for one timed run (Niangjia's realistic traffic):
- grievance: a first message from a woman never seen before (the labelled corpus in
  data/corpus/dev.jsonl, so the router opens a ticket, asks her to choose, or flags it urgent);
- follow-up: a woman who already has an open ticket (opened in the untimed seeding phase)
  adds to it;
- greeting: a newcomer says hello (routed to "other": she gets the menu, no ticket);
- retry: an exact repeat (same MsgId, body and signature) of a push sent a little earlier,
  as WeChat does when an answer is late.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

TOKEN = "niangjia-bench-token"
ACCOUNT = "gh_0123456789ab"
# A reply the floor and WeRoBot give to every message, about as long as Niangjia's.
FIXED_REPLY = "我们收到了，您不是一个人。工作人员会在24小时内联系您。想补充情况，直接在这里发消息。"

MIX = {"grievance": 0.45, "follow_up": 0.35, "greeting": 0.15, "retry": 0.05}
# A retry repeats a push sent between RETRY_MIN_BACK and RETRY_MAX_BACK pushes earlier on
# the same wrk thread: late enough that the first delivery has usually been answered.
RETRY_MIN_BACK, RETRY_MAX_BACK = 32, 400

CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus" / "dev.jsonl"

# Used when the corpus is not there (the bench must run on any checkout).
FALLBACK_GRIEVANCES = [
    "请问协议离婚需要准备什么材料？冷静期是多久？",
    "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下",
    "我想报名参加巾帼家政的育婴师培训，在哪里报名？",
    "他又喝多了拿着刀在门口骂，我和孩子锁在卧室里",
]
# Clear first messages that open a ticket: the seeding phase gives follow-up users one each.
SEED_GRIEVANCES = [
    "请问协议离婚需要准备什么材料？冷静期是多久？",
    "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下",
    "我想报名参加巾帼家政的育婴师培训，在哪里报名？",
    "怀孕五个月被公司辞退了，这合法吗？产假工资怎么算",
    "楼上邻居天天半夜装修，说了好几次都不听，想请社区调解",
    "创业担保贷款怎么申请？我想开个小网店",
]
FOLLOW_UPS = [
    "补充一下，他昨天晚上又回来闹了",
    "我白天要上班，下午五点以后方便接电话",
    "我把相关的材料都拍照留着了，需要的话可以发给你们",
    "孩子今年六岁，现在跟着我住",
    "请问大概什么时候有人联系我？",
    "我住在城关街道幸福社区，离妇联不远",
    "他说如果我去找人就不给生活费了",
    "谢谢你们，我再想想怎么跟家里说",
]
GREETINGS = ["你好", "您好", "在吗", "有人吗", "你好，请问是妇联吗", "谢谢", "好的，谢谢"]


def sign(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's signature of a push: sha1 of the sorted token, timestamp and nonce."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode("utf-8")).hexdigest()


def text_xml(user: str, content: str, msg_id: int, create_time: int) -> str:
    """A text push as WeChat sends it (one line, so a pool file holds one push a line)."""
    return (
        "<xml>"
        f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId>"
        "</xml>"
    )


def load_grievances(path: Path = CORPUS) -> list[str]:
    """First messages from the labelled corpus that belong to a route (not "other")."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return list(FALLBACK_GRIEVANCES)
    texts = []
    for line in lines:
        if line.strip():
            record = json.loads(line)
            if record.get("category") != "other" and "]]>" not in record["text"]:
                texts.append(record["text"].replace("\n", " ").replace("\t", " "))
    return texts or list(FALLBACK_GRIEVANCES)


@dataclass(frozen=True)
class Push:
    """One signed delivery: what it is, whom it is from, and the request that carries it."""

    kind: str  # grievance | follow_up | greeting | retry | seed
    user: str
    msg_id: int
    query: str
    body: str

    @property
    def line(self) -> str:
        """The push as one line of a wrk pool file: query string, tab, body."""
        return f"{self.query}\t{self.body}"


class Mix:
    """Makes pushes: a deterministic stream for a seed, fresh MsgIds and openids throughout."""

    def __init__(
        self, token: str = TOKEN, seed: int = 20261121, id_base: int | None = None, grievances: list[str] | None = None
    ) -> None:
        self.token = token
        self.rng = random.Random(seed)
        self.grievances = grievances if grievances is not None else load_grievances()
        # WeChat's MsgIds are 64-bit numbers; by default unique across invocations too.
        self._next_id = id_base if id_base is not None else 23_000_000_000_000_000 + int(time.time()) * 1_000_000
        self._openid_chars = string.ascii_letters + string.digits + "-_"
        self.seeded_users: list[str] = []

    def openid(self) -> str:
        # WeChat openids are 28 characters starting with "o".
        return "o" + "".join(self.rng.choices(self._openid_chars, k=27))

    def push(self, kind: str, user: str, content: str, now: int) -> Push:
        self._next_id += 1
        timestamp = str(now)
        nonce = str(self.rng.randrange(10**9, 10**10))
        query = urlencode(
            {"signature": sign(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, "openid": user}
        )
        return Push(kind, user, self._next_id, query, text_xml(user, content, self._next_id, now))

    def seed(self, users: int, now: int | None = None) -> list[Push]:
        """First messages that give `users` new women an open ticket, for later follow-ups."""
        now = now or int(time.time())
        pushes = []
        for i in range(users):
            user = self.openid()
            self.seeded_users.append(user)
            pushes.append(self.push("seed", user, SEED_GRIEVANCES[i % len(SEED_GRIEVANCES)], now))
        return pushes

    def stream(self, count: int, now: int | None = None) -> list[Push]:
        """`count` pushes in the timed mix; follow-ups need `seed` to have been called."""
        now = now or int(time.time())
        kinds, weights = zip(*MIX.items())
        pushes: list[Push] = []
        for i in range(count):
            kind = self.rng.choices(kinds, weights)[0]
            if kind == "follow_up" and not self.seeded_users:
                kind = "grievance"
            if kind == "retry":
                if i < RETRY_MIN_BACK:
                    kind = "grievance"
                else:
                    back = self.rng.randint(RETRY_MIN_BACK, min(RETRY_MAX_BACK, i))
                    original = pushes[i - back]
                    while original.kind == "retry":  # repeat an original, not a repeat
                        back += 1
                        original = pushes[i - back] if back <= i else pushes[0]
                    pushes.append(Push("retry", original.user, original.msg_id, original.query, original.body))
                    continue
            if kind == "grievance":
                pushes.append(self.push(kind, self.openid(), self.rng.choice(self.grievances), now))
            elif kind == "follow_up":
                pushes.append(self.push(kind, self.rng.choice(self.seeded_users), self.rng.choice(FOLLOW_UPS), now))
            else:
                pushes.append(self.push(kind, self.openid(), self.rng.choice(GREETINGS), now))
        return pushes


def iter_lines(pushes: list[Push]) -> Iterator[str]:
    for push in pushes:
        yield push.line + "\n"
