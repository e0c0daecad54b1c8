"""The sweep: 催办 at yellow, 督办 up the grid, urgent alarms, safe-time resumes; exactly once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.sla import sweep
from models import AlertDelivery, Database, StaffAlert, StaffUser, Ticket, TicketEvent
from tests.bot.her import GRIEVANCE
from tests.handlers.staff.factories import make_staff, make_ticket

# Monday 23 November 2026, 09:00 China time: a working day.
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)
M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def urgent_ticket(db, region="T010101", now=T0) -> str:
    """An urgent ticket opened at `now` on the policy's urgent clocks (30m / 2h / 3d)."""
    reference = make_ticket(db, region=region, urgent=True, now=now, claim_within=30 * M)
    with db.transaction() as session:
        ticket = Ticket.by_reference(session, reference)
        ticket.first_reply_due_at, ticket.resolve_due_at = now + 2 * H, now + 3 * D
        ticket.clocks_changed(now)
    return reference


def trail(db, reference, *actions):
    with db.session() as session:
        ticket = Ticket.by_reference(session, reference)
        return [(e.action, e.detail) for e in session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action.in_(actions))
            .order_by(TicketEvent.id))]


def alerts(db):
    with db.session() as session:
        return [(a.kind, a.level, a.audience, a.region.code) for a in session.scalars(select(StaffAlert).order_by(StaffAlert.id))]


def test_a_yellow_clock_reminds_the_region_then_the_assignee(db, settings):
    ref = urgent_ticket(db)
    assert sweep(db, settings, T0 + 10 * M)["reminded"] == 0
    assert sweep(db, settings, T0 + 25 * M)["reminded"] == 1  # 80% of 30 minutes
    assert trail(db, ref, "reminded") == [("reminded", {"clock": "claim", "to": "caseworkers"})]
    assert alerts(db) == [("reminded", 0, "caseworkers", "T010101")]
    # Nothing new in the same window: the reminder went out once.
    assert sweep(db, settings, T0 + 26 * M)["reminded"] == 0
    li = make_staff(db, "li", region="T010101")
    with db.transaction() as session:
        ticket = Ticket.by_reference(session, ref)
        ticket.claim(session, session.get(StaffUser, li), T0 + 27 * M)
    # First reply due at T0+2h turns yellow at T0+96m: this time the assignee is reminded.
    assert sweep(db, settings, T0 + 100 * M)["reminded"] == 1
    assert trail(db, ref, "reminded")[-1] == ("reminded", {"clock": "first_reply", "to": "assignee"})


def test_a_new_ticket_waits_for_no_sweep_until_a_clock_turns_yellow(db, settings, her):
    # Her ticket carries its first look from the moment it opens: the sweeps before its
    # first yellow take no write transaction for it (each new ticket used to cost one, on
    # the next sweep), and the reminder and the escalation still come on time.
    her.say(GRIEVANCE)
    ticket = her.ticket()
    opened = ticket.created_at
    yellow = settings.policy.yellow("claim", ticket.claim_due_at, ticket.category, ticket.urgent)
    assert opened + M < yellow
    assert sweep(db, settings, opened + M)["looked"] == 0
    assert sweep(db, settings, yellow - M)["looked"] == 0
    assert sweep(db, settings, yellow)["reminded"] == 1
    assert trail(db, ticket.reference, "reminded") == [("reminded", {"clock": "claim", "to": "caseworkers"})]
    assert sweep(db, settings, ticket.claim_due_at)["escalated"] == 1


def test_a_missed_deadline_climbs_one_region_each_period_to_the_maximum(db, settings):
    ref = make_ticket(db, region="T010101", now=T0, claim_within=D)  # mediation, Monday 09:00
    sweep(db, settings, T0 + D)
    assert [d["level"] for _, d in trail(db, ref, "escalated")] == [1]
    sweep(db, settings, T0 + D + 12 * H)
    assert len(trail(db, ref, "escalated")) == 1
    sweep(db, settings, T0 + 2 * D)
    sweep(db, settings, T0 + 3 * D)
    sweep(db, settings, T0 + 10 * D)
    escalated = trail(db, ref, "escalated")
    assert [(d["level"], d["region"]) for _, d in escalated] == [(1, "T010101"), (2, "T0101"), (3, "T01")]
    assert [a for a in alerts(db) if a[0] == "escalated"] == [
        ("escalated", 1, "supervisors", "T010101"), ("escalated", 2, "supervisors", "T0101"),
        ("escalated", 3, "supervisors", "T01"),
    ]
    with db.session() as session:
        assert Ticket.by_reference(session, ref).escalation_level == 3


def test_a_sweep_that_was_down_for_days_escalates_every_missed_level_at_once(db, settings):
    ref = make_ticket(db, region="T010101", now=T0, claim_within=D)
    sweep(db, settings, T0 + 10 * D)
    assert [d["level"] for _, d in trail(db, ref, "escalated")] == [1, 2, 3]


def test_an_unclaimed_urgent_ticket_past_its_claim_clock_alerts_the_whole_chain(db, settings):
    ref = urgent_ticket(db)
    counts = sweep(db, settings, T0 + 31 * M)
    assert counts["alerted"] == 1 and counts["escalated"] == 1
    assert ("alerted", 0, "chain", "T010101") in alerts(db)
    assert trail(db, ref, "alerted")[0][1]["reason"].startswith("urgent ticket unclaimed")


def test_a_claimed_ticket_is_not_escalated_for_its_claim_clock(db, settings):
    ref = urgent_ticket(db)
    li = make_staff(db, "li", region="T010101")
    with db.transaction() as session:
        Ticket.by_reference(session, ref).claim(session, session.get(StaffUser, li), T0 + 5 * M)
    sweep(db, settings, T0 + 40 * M)
    assert trail(db, ref, "escalated", "alerted") == []


def test_a_paused_ticket_is_not_chased_and_resumes_when_her_safe_time_comes(db, settings):
    ref = make_ticket(db, region="T010101", now=T0, claim_within=D)
    li = make_staff(db, "li", region="T010101")
    with db.transaction() as session:
        ticket = Ticket.by_reference(session, ref)
        ticket.pause(session, session.get(StaffUser, li), "safe_time", T0 + 3 * D, T0 + H)
    assert sweep(db, settings, T0 + 2 * D)["escalated"] == 0
    assert sweep(db, settings, T0 + 3 * D)["resumed"] == 1
    with db.session() as session:
        ticket = Ticket.by_reference(session, ref)
        # 23 hours were left of the claim clock on Monday 10:00; resumed Thursday 09:00.
        assert ticket.paused_at is None
        assert ticket.claim_due_at == T0 + 3 * D + 23 * H
    assert [a for a, _ in trail(db, ref, "paused", "resumed")] == ["paused", "resumed"]


def test_an_alert_names_reference_route_region_and_deadline_never_her_words_or_number(db, settings):
    settings.notify.wecom = "http://127.0.0.1:9/robot"
    ref = make_ticket(db, region="T010101", now=T0, claim_within=D, phone="13812345678")
    sweep(db, settings, T0 + D)
    with db.session() as session:
        alert = session.scalars(select(StaffAlert)).one()
        assert ref in alert.text and "调解" in alert.text and "测试社区" in alert.text and "11-24 09:00" in alert.text
        assert "婆婆" not in alert.text and "13812345678" not in alert.text
        assert [(d.via, d.target) for d in session.scalars(select(AlertDelivery))] == [("wecom", "http://127.0.0.1:9/robot")]


def _concurrent_sweeps(settings, now, count=2):
    """`count` sweeps at once, each with its own engine, as separate processes would be."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        db = Database(settings.database_url)
        try:
            barrier.wait()
            results.append(sweep(db, settings, now, write_lock=db.write_lock))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_two_sweeps_at_once_send_each_reminder_and_escalation_exactly_once(db, settings):
    refs = [make_ticket(db, region="T010101", user=f"o-{n}", now=T0, claim_within=D) for n in range(12)]
    urgent = urgent_ticket(db)
    results = _concurrent_sweeps(settings, T0 + 3 * D)
    assert sum(r["escalated"] for r in results) == 13 * 3  # the urgent one is at level 3 too
    for ref in refs:
        assert [d["level"] for _, d in trail(db, ref, "escalated")] == [1, 2, 3]
    assert len(trail(db, urgent, "alerted")) == 1
    assert len([a for a in alerts(db) if a[0] == "escalated"]) == 13 * 3


@pytest.mark.postgres
def test_concurrent_sweeps_on_postgresql_escalate_once(db, settings):
    assert db.dialect == "postgresql"
    refs = [make_ticket(db, region="T010101", user=f"o-{n}", now=T0, claim_within=D) for n in range(20)]
    results = _concurrent_sweeps(settings, T0 + D, count=4)
    assert sum(r["escalated"] for r in results) == 20
    for ref in refs:
        assert len(trail(db, ref, "escalated")) == 1


def test_the_trail_says_cuiban_and_duban_with_its_level_in_chinese(db, settings, client):
    from tests.handlers.staff.factories import login

    ref = make_ticket(db, region="T010101", now=T0, claim_within=D)
    sweep(db, settings, T0 + 20 * H)  # yellow: 80% of a working day
    sweep(db, settings, T0 + 2 * D)
    make_staff(db, "county-boss", role="supervisor", region="T01")
    login(client, "county-boss")
    html = client.get(f"/staff/tickets/{ref}").get_data(as_text=True)
    assert "催办 · 签收临期" in html and "督办 一级" in html and "督办 二级" in html


def test_the_first_reply_clock_stops_when_a_reply_reaches_her_not_when_it_is_queued(db, worker, fake_apis):
    from models import utcnow

    ref = make_ticket(db, user="o-reply-clock")
    li = make_staff(db, "li", region="T01")
    with db.transaction() as session:
        ticket = Ticket.by_reference(session, ref)
        ticket.claim(session, session.get(StaffUser, li), utcnow())
        ticket.reply(session, session.get(StaffUser, li), "您好，我是李姐", utcnow())
    with db.session() as session:
        queued = Ticket.by_reference(session, ref)
        assert queued.first_response_at is None and queued.next_due_at == queued.first_reply_due_at
    worker.run_once()
    assert fake_apis.texts_to("o-reply-clock") == ["您好，我是李姐"]
    with db.session() as session:
        heard = Ticket.by_reference(session, ref)
        assert heard.first_response_at is not None and heard.next_due_at == heard.resolve_due_at
