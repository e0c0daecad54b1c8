"""The chat simulator in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

from sqlalchemy import select

from models import Message, OutboxMessage, Ticket, utcnow


def test_woman_types_her_problem_and_sees_the_reference_then_a_staff_reply(live_server, browser, db):
    page = browser.new_page()
    page.goto(live_server + "/simulator")
    page.fill("#text", "婆婆天天跟我吵架，能不能请妇联来帮忙调解一下")
    page.click("button[type=submit]")
    page.wait_for_selector(".bubble.bot")
    with db.session() as session:
        ticket = session.scalar(select(Ticket))
    assert ticket.category == "mediation"
    assert ticket.reference in page.inner_text(".bubble.bot >> nth=0")

    page.fill("#text", "测试社区")
    page.press("#text", "Enter")
    page.wait_for_selector(".bubble.bot >> nth=1")
    assert "手机号" in page.inner_text(".bubble.bot >> nth=1")

    # A caseworker's reply travels by the outbox and shows up in the chat.
    with db.transaction() as session:
        ticket = session.get(Ticket, ticket.id)
        OutboxMessage.enqueue(
            session, channel="wechat", channel_user=ticket.channel_user,
            text="您好，我是城关街道的李姐，明天上午给您打电话。", now=utcnow(), ticket=ticket,
        )
    page.wait_for_selector(".bubble.staff", timeout=10_000)
    assert "李姐" in page.inner_text(".bubble.staff")
    assert page.inner_text("#user").startswith("sim-")


def test_she_sends_a_location_and_an_image_and_her_chat_survives_a_reload(live_server, browser, db, tmp_path):
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(live_server + "/simulator")
    user = page.inner_text("#user")
    page.fill("#text", "婆婆天天跟我吵架，能不能请妇联来帮忙调解一下")
    page.press("#text", "Enter")
    page.wait_for_selector(".bubble.bot")
    page.fill("#text", "测试社区")
    page.click("#location")
    page.wait_for_selector(".bubble.bot >> nth=1")
    assert "手机号" in page.inner_text(".bubble.bot >> nth=1")  # her place taken from the location
    page.set_input_files("#image", str(png))
    page.wait_for_selector(".bubble.bot >> nth=2")
    assert "图片已收到" in page.inner_text(".bubble.bot >> nth=2")
    page.screenshot(path=str(tmp_path / "simulator-390.png"))
    with db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.channel_user == user))
        lines = {m.kind: m for m in session.scalars(select(Message).where(Message.ticket_id == ticket.id))}
        assert lines["location"].latitude is not None and lines["location"].text == "测试社区"
        assert lines["image"].media_state == "stored"

    page.reload()
    page.wait_for_selector(".bubble.me >> nth=2")
    assert page.inner_text("#user") == user
    mine = page.locator(".bubble.me").all_inner_texts()
    assert mine[0].startswith("婆婆天天") and "[位置] 测试社区" in mine and "[图片]" in mine
    assert ticket.reference in page.inner_text(".bubble.bot >> nth=0")
