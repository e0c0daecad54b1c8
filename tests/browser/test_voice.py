"""Her voice on the ticket page, in Debian's chromium: WeChat sends AMR, which no browser
plays; the kept file plays (the audio element reads its duration)."""

from __future__ import annotations

import threading
from pathlib import Path

from bot.intake import Intake
from bot.media import MediaKeeper
from tests.bot.test_dialogue import GRIEVANCE, Her
from tests.browser.test_workspace import log_in
from tests.handlers.staff.factories import make_staff

VOICE = (Path(__file__).parent.parent / "data" / "voice.amr").read_bytes()  # real AMR-NB, 1.6 s

DURATION = """() => new Promise(resolve => {
    const audio = document.querySelector("audio");
    audio.addEventListener("loadedmetadata", () => resolve(audio.duration), {once: true});
    audio.addEventListener("error", () => resolve(-1), {once: true});
    audio.preload = "metadata";
    audio.load();
})"""


def test_her_wechat_voice_plays_on_the_ticket_page(live_server, browser, db, settings, router, fake_apis):
    from models import utcnow

    make_staff(db, "li", "caseworker", "T01", "李姐")
    fake_apis.wechat_media["voice-1"] = ("audio/amr", VOICE)
    her = Her(db, Intake(router, settings), now=utcnow())
    her.say(GRIEVANCE)
    her.send("voice", media_id="voice-1", text="我打字慢，用语音说一下")
    assert MediaKeeper(db, settings, threading.Lock()).keep_due(her.now) == 1
    reference = her.ticket().reference

    page = browser.new_context(locale="zh-CN").new_page()
    log_in(page, live_server, "li")
    page.goto(f"{live_server}/staff/tickets/{reference}")
    duration = page.evaluate(DURATION)
    assert 1.4 < duration < 1.9, duration
