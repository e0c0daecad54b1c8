"""A supervisor labels sampled messages on the review page in a real browser, on a phone
(390×844) and a laptop (1366×900): nothing overflows, and a label takes the sample away."""

from __future__ import annotations

import os

from models import ReviewSample
from tests.browser.test_workspace import expect, log_in
from tests.handlers.staff.factories import make_staff
from tests.models.test_review import sample

SHOTS = os.environ.get("NIANGJIA_SCREENSHOTS")  # a folder: pages saved for a person to look at
LONG = "你好，我想问一下，就是那个，我也不知道该找谁，家里的事情说来话长，电话13812345678，" * 3


def test_a_supervisor_labels_samples_on_a_phone_and_a_laptop(live_server, browser, db):
    make_staff(db, "boss", "supervisor", "T01", "王主任")
    with db.transaction() as session:
        ids = [sample(session, "T01", text=text).id for text in ("你好", LONG, "今天天气怎么样", "查询")]
    for viewport, (first, second) in zip(({"width": 390, "height": 844}, {"width": 1366, "height": 900}),
                                         (ids[:2], ids[2:])):
        page = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
        log_in(page, live_server, "boss")
        page.get_by_role("link", name="样本标注").click()
        expect(page.get_by_role("heading", name="样本标注")).to_be_visible()
        card = page.locator(f"#sample-{first}")
        expect(card).to_be_visible()
        # Nothing wider than the screen: the long message wraps, the form fits.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/review-{viewport['width']}.png", full_page=True)
        card.get_by_role("button", name="不是求助").click()
        expect(page.get_by_text("已标为“不是求助”")).to_be_visible()
        expect(page.locator(f"#sample-{first}")).to_have_count(0)
        card = page.locator(f"#sample-{second}")
        card.locator("select").select_option(value="mediation/in_law_conflict")
        card.get_by_label("紧急").check()
        card.get_by_role("button", name="保存标注").click()
        expect(page.get_by_text("已保存标注")).to_be_visible()
        expect(page.locator(f"#sample-{second}")).to_have_count(0)
    expect(page.locator("#review-empty")).to_be_visible()
    with db.session() as session:
        labels = [(s.category, s.subcategory, s.urgent) for s in (session.get(ReviewSample, i) for i in ids)]
    assert labels == [("other", None, False), ("mediation", "in_law_conflict", True)] * 2
