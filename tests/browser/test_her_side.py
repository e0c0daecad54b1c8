"""What she sent, as the caseworker sees it in chromium at phone and desktop sizes: her safe
time first, her photo in the transcript."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from bot.intake import Intake
from bot.media import MediaKeeper
from models import utcnow
from tests.bot.her import Her
from tests.browser.test_workspace import log_in
from tests.handlers.staff.factories import make_staff

# A 2x2 PNG (red), small enough to read here.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a73"
    "0000001649444154789c63f8cfc0f09f81e13f03c37f0600240d05fd2a4f1b5b0000000049454e44ae426082"
)
SHOTS = os.environ.get("NIANGJIA_SCREENSHOTS", "")


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 1366, "height": 900}])
def test_her_safe_time_comes_first_and_her_photo_shows(live_server, browser, db, settings, router, fake_apis, viewport):
    make_staff(db, "boss", "supervisor", "T01", "县妇联督办")
    fake_apis.wechat_media["img-b"] = ("image/png", PNG)
    her = Her(db, Intake(router, settings), user="o-browser", now=utcnow())
    her.say("我不敢打电话，他会听见")
    her.say("明天下午3点")
    her.send("image", media_id="img-b")
    MediaKeeper(db, settings, threading.Lock()).keep_due(her.now)

    page = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
    log_in(page, live_server, "boss")
    page.goto(f"{live_server}/staff/tickets/{her.ticket().reference}")
    safe = page.locator("#safe-time")
    assert safe.is_visible() and "明天下午3点" in safe.inner_text()
    assert safe.bounding_box()["y"] < page.locator("#transcript").bounding_box()["y"]
    assert safe.bounding_box()["y"] < viewport["height"]  # on the first screen, even on a phone
    photo = page.locator("img.her-media")
    photo.scroll_into_view_if_needed()
    assert page.evaluate("img => img.complete && img.naturalWidth", photo.element_handle()) == 2
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"ticket-{viewport['width']}.png"), full_page=True)
