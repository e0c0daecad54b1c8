"""The clock arithmetic: working days, lights, pauses and 督办 levels, over a clock the test sets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from models import clocks
from models.clocks import CHINA_TZ, Durations, Policy, add_working, parse_duration, working_between

D, H, M = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA_TZ)


def policy(**overrides) -> Policy:
    values = dict(
        urgent=Durations(30 * M, 2 * H, 3 * D),
        routes={
            "consultation": Durations(D, 2 * D, 3 * D),
            "mediation": Durations(D, 2 * D, 15 * D),
            "service": Durations(D, 3 * D, 15 * D),
        },
        working_time=True, yellow_at=0.8, escalate_every=D, max_level=3,
    )
    values.update(overrides)
    return Policy(**values)


@dataclass
class FakeTicket:
    """The columns the clocks read, without a database."""

    created_at: datetime
    category: str = "mediation"
    urgent: bool = False
    status: str = "new"
    claim_due_at: datetime | None = None
    first_reply_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    claimed_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    withdrawn_at: datetime | None = None
    updated_at: datetime | None = None
    paused_at: datetime | None = None
    pause_until: datetime | None = None
    escalation_level: int = 0

    @classmethod
    def opened(cls, p: Policy, at: datetime, **kw) -> FakeTicket:
        ticket = cls(created_at=at, **kw)
        for name, due in p.deadlines(at, ticket.category, ticket.urgent).items():
            setattr(ticket, f"{name}_due_at", due)
        return ticket


@pytest.mark.parametrize("text, span", [("45s", 45 * timedelta(seconds=1)), ("30m", 30 * M), ("24h", 24 * H), ("3d", 3 * D)])
def test_durations_read_as_written(text, span):
    assert parse_duration(text, "k") == span
    assert clocks.format_duration(span) in (text, "1d")


@pytest.mark.parametrize("bad", ["", "3", "3w", "-1d", "0m", "1.5h", True, None, "d3"])
def test_a_bad_duration_names_its_key(bad):
    with pytest.raises(ValueError, match="sla.urgent.claim"):
        parse_duration(bad, "sla.urgent.claim")


def test_a_working_day_from_friday_afternoon_ends_monday_afternoon():
    friday = cst(2026, 11, 20, 15, 0)
    assert add_working(friday, D) == cst(2026, 11, 23, 15, 0)
    assert working_between(friday, cst(2026, 11, 23, 15, 0)) == D


def test_national_day_holidays_are_skipped():
    # 2026-10-01..07 are the National Day holiday: a day from 30 September runs to 8 October.
    assert add_working(cst(2026, 9, 30, 10, 0), D) == cst(2026, 10, 8, 10, 0)


def test_a_tiaoxiu_saturday_counts_as_a_working_day():
    # Saturday 10 October 2026 is a 调休 working day; Sunday the 11th is not.
    assert add_working(cst(2026, 10, 9, 10, 0), D) == cst(2026, 10, 10, 10, 0)
    assert add_working(cst(2026, 10, 10, 10, 0), D) == cst(2026, 10, 12, 10, 0)


def test_a_clock_started_on_a_holiday_starts_on_the_next_working_day():
    assert add_working(cst(2026, 11, 21, 23, 0), 30 * M) == cst(2026, 11, 23, 0, 30)


def test_working_time_runs_backwards_too():
    assert add_working(cst(2026, 11, 23, 15, 0), -D) == cst(2026, 11, 20, 15, 0)
    assert working_between(cst(2026, 11, 23, 15, 0), cst(2026, 11, 20, 15, 0)) == -D


def test_urgent_clocks_run_around_the_clock_and_others_on_working_days():
    p = policy()
    saturday = cst(2026, 11, 21, 10, 0)
    urgent = p.deadlines(saturday, "mediation", urgent=True)
    assert urgent == {"claim": saturday + 30 * M, "first_reply": saturday + 2 * H, "resolve": saturday + 3 * D}
    normal = p.deadlines(saturday, "service", urgent=False)
    assert normal["claim"] == cst(2026, 11, 24, 0, 0)  # Monday counts in full
    assert normal["first_reply"] == cst(2026, 11, 26, 0, 0)


def test_without_working_time_every_clock_runs_around_the_clock():
    p = policy(working_time=False)
    saturday = cst(2026, 11, 21, 10, 0)
    assert p.deadlines(saturday, "mediation", urgent=False)["claim"] == saturday + D


def test_a_year_without_holiday_data_counts_monday_to_friday_and_warns(caplog):
    clocks.china_workday.cache_clear()
    with caplog.at_level(logging.WARNING, logger="models.clocks"):
        assert add_working(datetime(2099, 1, 2, 10, tzinfo=CHINA_TZ), D) == datetime(2099, 1, 5, 10, tzinfo=CHINA_TZ)
    assert "2099" in caplog.text and "chinesecalendar" in caplog.text
    assert clocks.china_workday(date(2099, 1, 3)) is False


def test_lights_go_green_yellow_red_as_the_clock_runs():
    p = policy()
    start = cst(2026, 11, 23, 9, 0)  # Monday
    ticket = FakeTicket.opened(p, start, urgent=True)
    light = lambda now: {c.name: (c.state, c.light) for c in clocks.clocks_of(ticket, p, now)}["claim"]
    assert light(start + 10 * M) == ("running", "green")
    assert light(start + 24 * M) == ("running", "yellow")  # 80% of 30 minutes
    assert light(start + 30 * M) == ("missed", "red")


def test_a_stopped_clock_is_met_or_missed_for_good():
    p = policy()
    start = cst(2026, 11, 23, 9, 0)
    ticket = FakeTicket.opened(p, start, urgent=True, status="claimed", claimed_at=start + 10 * M)
    ticket.first_response_at = start + 3 * H
    by_name = {c.name: c for c in clocks.clocks_of(ticket, p, start + 5 * H)}
    assert (by_name["claim"].state, by_name["claim"].light) == ("met", "green")
    assert (by_name["first_reply"].state, by_name["first_reply"].light) == ("missed", "red")
    assert by_name["resolve"].state == "running"
    assert clocks.next_due(ticket) == ticket.resolve_due_at


def test_a_paused_clock_keeps_its_light_and_resumes_with_the_time_it_had_left():
    p = policy()
    start = cst(2026, 11, 23, 9, 0)  # Monday
    ticket = FakeTicket.opened(p, start, status="claimed", claimed_at=start + H)
    ticket.paused_at = start + 2 * H  # first reply due Wednesday 09:00: 46 hours left
    assert clocks.running(ticket) == [] and clocks.next_due(ticket) is None
    states = {c.name: (c.state, c.light) for c in clocks.clocks_of(ticket, p, start + 10 * D)}
    assert states["first_reply"] == ("paused", "green")
    # Resumed on Friday 12:00: 46 working hours on, skipping the weekend.
    moved = clocks.resumed_deadlines(ticket, p, cst(2026, 11, 27, 12, 0))
    assert moved["first_reply_due_at"] == cst(2026, 12, 1, 10, 0)
    assert "claim_due_at" not in moved  # the claim clock had stopped


def test_a_clock_missed_before_the_pause_stays_missed():
    p = policy()
    due = cst(2026, 11, 23, 9, 0)
    assert p.resumed(due, due + H, due + D, urgent=True) == due


def test_marking_urgent_brings_each_open_clock_forward_never_back():
    p = policy()
    start = cst(2026, 11, 23, 9, 0)
    ticket = FakeTicket.opened(p, start, status="claimed", claimed_at=start + H)
    moved = clocks.urgent_deadlines(ticket, p, start + 2 * H)
    assert moved == {"first_reply_due_at": start + 4 * H, "resolve_due_at": start + 2 * H + 3 * D}


def test_escalation_climbs_one_level_per_period_to_the_maximum():
    p = policy()
    due = cst(2026, 11, 23, 9, 0)
    assert p.escalation_level(due, due - M, urgent=True) == 0
    assert p.escalation_level(due, due, urgent=True) == 1
    assert p.escalation_level(due, due + D - M, urgent=True) == 1
    assert p.escalation_level(due, due + D, urgent=True) == 2
    assert p.escalation_level(due, due + 10 * D, urgent=True) == 3
    # Non-urgent: the weekend does not count towards the next level.
    friday = cst(2026, 11, 27, 9, 0)
    assert p.escalation_level(friday, cst(2026, 11, 29, 23, 0), urgent=False) == 1
    assert p.escalation_level(friday, cst(2026, 11, 30, 9, 0), urgent=False) == 2


def test_a_sweep_step_reminds_at_yellow_then_escalates_and_says_when_to_look_next():
    p = policy()
    start = cst(2026, 11, 23, 9, 0)
    ticket = FakeTicket.opened(p, start, urgent=True)
    first = clocks.sweep_step(ticket, p, since=start, now=start + 25 * M)
    assert first.reminders == ["claim"] and first.level == 0
    assert first.next_look == start + 30 * M
    # The same window again finds nothing new; the due moment escalates and alerts.
    again = clocks.sweep_step(ticket, p, since=start + 25 * M, now=start + 31 * M)
    assert again.reminders == [] and again.level == 1 and again.urgent_unclaimed
    # Next: the first-reply clock's yellow (80% of 2 hours), before level 2 a day on.
    assert again.next_look == start + 96 * M
    ticket.escalation_level = 1
    later = clocks.sweep_step(ticket, p, since=start + 31 * M, now=start + 30 * M + D)
    assert later.level == 2 and not later.urgent_unclaimed


def test_a_sweep_that_first_looks_after_the_deadline_skips_the_reminder():
    p = policy()
    start = cst(2026, 11, 23, 9, 0)
    ticket = FakeTicket.opened(p, start, urgent=True)
    step = clocks.sweep_step(ticket, p, since=start, now=start + H)
    assert step.reminders == [] and step.level == 1


def test_a_paused_ticket_is_looked_at_again_when_her_safe_time_comes():
    p = policy()
    start = cst(2026, 11, 23, 9, 0)
    ticket = FakeTicket.opened(p, start, paused_at=start + H, pause_until=start + 8 * H)
    step = clocks.sweep_step(ticket, p, since=start, now=start + 2 * H)
    assert step.reminders == [] and step.level == 0 and step.next_look == start + 8 * H
