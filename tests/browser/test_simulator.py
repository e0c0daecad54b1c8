"""The chat simulator in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

from sqlalchemy import select

from models import OutboxMessage, Ticket, utcnow


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
