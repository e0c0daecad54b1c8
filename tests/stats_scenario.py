"""A designed set of cases with known outcomes, built through the real webhook (women write
on WeChat), the staff API (claim, reply, resolve, transfer, redo) and the worker (replies
delivered, follow-ups asked), for the statistics tests of every layer (API, page, exports).

Time is the test's: after a woman writes, her ticket's birth is moved back (she wrote
hours ago), and a clock the design says was missed is made due a minute ago before the
staff act. `Expected` counts what the design says, independently of models/stats.py.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from models import Ticket, utcnow
from models.clocks import CHINA_TZ
from tests.handlers.api.test_views import Api
from tests.handlers.staff.factories import make_staff, token_for

MEDIATION = "婆婆天天跟我吵架，嫌我生的是女儿，能不能请妇联来帮忙调解一下"
CONSULTATION = "我想咨询一下离婚后孩子抚养权归谁，法律怎么规定的"
SERVICE = "我想报名参加巾帼家政培训，找份工作"
URGENT = "他又喝多了拿着刀在门口，我和孩子躲在卧室里"


@dataclass
class Scenario:
    refs: dict[str, str] = field(default_factory=dict)
    first: str = ""  # the window, China dates, `to` inclusive
    last: str = ""


def write(wechat, user: str, text: str, place: str = "跳过") -> None:
    """Her whole intake: the problem, her place, no phone, confirmed."""
    for line in (text, place, "匿名", "确认"):
        assert wechat.send_text(user, line).status == 200


def latest(db, user: str) -> Ticket:
    with db.session() as session:
        return session.scalar(select(Ticket).where(Ticket.channel_user == user).order_by(Ticket.id.desc()).limit(1))


def born_earlier(db, ref: str, hours: float, with_deadlines: bool = False) -> None:
    """She wrote `hours` ago (and, if asked, every deadline moves back with her)."""
    shift = timedelta(hours=hours)
    with db.transaction() as session:
        ticket = Ticket.by_reference(session, ref)
        ticket.created_at -= shift
        if with_deadlines:
            ticket.claim_due_at -= shift
            ticket.first_reply_due_at -= shift
            ticket.resolve_due_at -= shift
        ticket.clocks_changed(utcnow())


def due_passed(db, ref: str, clock: str) -> None:
    """The clock fell due a minute ago."""
    with db.transaction() as session:
        ticket = Ticket.by_reference(session, ref)
        setattr(ticket, f"{clock}_due_at", utcnow() - timedelta(minutes=1))
        ticket.clocks_changed(utcnow())


def build(db, wechat, worker, client) -> Scenario:
    """Nine cases of the city 测试市 (T): see each line for its designed outcome."""
    make_staff(db, "li", "caseworker", "T01", "李姐")
    make_staff(db, "wang", "caseworker", "T02", "王姐")
    make_staff(db, "city", "supervisor", "T", "市妇联")
    make_staff(db, "boss", "supervisor", "T01", "县妇联")
    api = {name: Api(client, token_for(db, name)) for name in ("li", "wang", "city")}
    s = Scenario()

    def intake(key: str, user: str, text: str, place: str = "跳过", hours: float = 0) -> str:
        write(wechat, user, text, place)
        ref = latest(db, user).reference
        if hours:
            born_earlier(db, ref, hours)
        s.refs[key] = ref
        return ref

    def ok(response):
        assert response.status_code in (200, 202), response.json
        return response

    def follow_up(user: str, *answers: str) -> None:
        worker.run_once()  # asks about the resolved ticket
        for answer in answers:
            assert wechat.send_text(user, answer).status == 200
        worker.run_once()

    # A: consultation in 测试社区; claimed, answered and resolved in time; solved, 满意.
    a = intake("A", "o-a", CONSULTATION, "测试社区", hours=2)
    ok(api["li"].post(f"/tickets/{a}/claim"))
    ok(api["li"].post(f"/tickets/{a}/reply", json={"text": "您好，抚养权的规定是这样的……"}))
    worker.run_once()
    ok(api["li"].post(f"/tickets/{a}/resolve", json={"outcome": "answered"}))
    follow_up("o-a", "1", "1")
    # B: mediation at the county; claimed late, answered in time, an agreement; solved, 基本满意;
    # then she writes again and H redoes it (so its agreement does not count as a success).
    b = intake("B", "o-b", MEDIATION, hours=30)
    due_passed(db, b, "claim")
    ok(api["li"].post(f"/tickets/{b}/claim"))
    ok(api["li"].post(f"/tickets/{b}/reply", json={"text": "我们约个时间上门调解"}))
    worker.run_once()
    ok(api["li"].post(f"/tickets/{b}/resolve", json={"outcome": "agreement"}))
    follow_up("o-b", "1", "2")
    # C: mediation in 测试社区; all in time, resolved without a reply (the clock stops with
    # the case, as the ticket page says); an agreement; solved, 满意.
    c = intake("C", "o-c", MEDIATION, "测试社区", hours=1)
    ok(api["li"].post(f"/tickets/{c}/claim"))
    ok(api["li"].post(f"/tickets/{c}/resolve", json={"outcome": "agreement"}))
    follow_up("o-c", "1", "1")
    # D: service at the county, nobody claims it, its claim clock passed: overdue now.
    d = intake("D", "o-d", SERVICE, hours=50)
    due_passed(db, d, "claim")
    # E: urgent, claimed at once (ten minutes after she wrote).
    write(wechat, "o-e", URGENT)
    e = s.refs["E"] = latest(db, "o-e").reference
    born_earlier(db, e, 1 / 6)
    ok(api["li"].post(f"/tickets/{e}/claim"))
    # F: consultation moved to 邻县 (T02); claimed in time, first reply and resolution late;
    # solved, 不满意.
    f = intake("F", "o-f", CONSULTATION, hours=3)
    ok(api["city"].post(f"/tickets/{f}/transfer", json={"region": "T02", "reason": "她住在邻县"}))
    ok(api["wang"].post(f"/tickets/{f}/claim"))
    due_passed(db, f, "first_reply")
    ok(api["wang"].post(f"/tickets/{f}/reply", json={"text": "您好"}))
    worker.run_once()
    due_passed(db, f, "resolve")
    ok(api["wang"].post(f"/tickets/{f}/resolve", json={"outcome": "answered"}))
    follow_up("o-f", "1", "3")
    # G: mediation, no agreement; she says it is not solved: reopened, back to li.
    g = intake("G", "o-g", MEDIATION, hours=4)
    ok(api["li"].post(f"/tickets/{g}/claim"))
    ok(api["li"].post(f"/tickets/{g}/resolve", json={"outcome": "no_agreement"}))
    follow_up("o-g", "2")
    # H: B's woman writes again; the city supervisor links it as a redo of B.
    h = intake("H", "o-b", MEDIATION)
    ok(api["city"].post(f"/tickets/{h}/redo", json={"original": b}))
    # Old: two months ago, never claimed: outside the window, but overdue now.
    old = intake("Old", "o-old", CONSULTATION)
    born_earlier(db, old, 24 * 60, with_deadlines=True)

    today = utcnow().astimezone(CHINA_TZ).date()
    s.first, s.last = (today - timedelta(days=3)).isoformat(), today.isoformat()
    return s


def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(share * len(ordered)) - 1]


def hours_since_birth(db, s: Scenario, keys: str, column: str) -> list[float]:
    """Hours from her first message to `column`, for the cases `keys`, read from the rows."""
    with db.session() as session:
        tickets = [Ticket.by_reference(session, s.refs[k]) for k in keys]
        return [(getattr(t, column) - t.created_at).total_seconds() / 3600 for t in tickets]


def expected(db, s: Scenario) -> dict:
    """What the design says for 测试市 over the window, counted by hand."""
    claim_hours = hours_since_birth(db, s, "ABCEFG", "claimed_at")
    resolve_hours = hours_since_birth(db, s, "ABCF", "resolved_at")
    with db.session() as session:
        urgent_category = Ticket.by_reference(session, s.refs["E"]).category
    by_category = {"consultation": 2, "mediation": 4, "service": 1}
    by_category[urgent_category] += 1
    return {
        "region": "T", "from": s.first, "to": s.last,
        "total": 8,  # A-H; Old is outside the window
        "by_status": {"closed": 4, "new": 2, "claimed": 2},
        "by_category": by_category,
        "by_region": {"T01": 7, "T02": 1},
        "response_rate": 5 / 7,  # A C E F G in time; B D late; H not due yet
        "first_reply_rate": 3 / 4,  # A B C in time, F late; D E G H still running
        "on_time_resolution_rate": 3 / 4,  # A B C in time, F late
        "resolution_rate": 4 / 5,  # A B C F solved, G not
        "satisfaction_rate": 3 / 4,  # A 满意, B 基本满意, C 满意, F 不满意
        "mediation_success_rate": 1 / 2,  # C; B was redone
        "redo_rate": 1 / 8,  # H
        "reopen_rate": 1 / 5,  # G of A B C F G
        "median_hours_to_claim": statistics.median(claim_hours),
        "median_hours_to_resolve": statistics.median(resolve_hours),
        "p90_hours_to_resolve": nearest_rank(resolve_hours, 0.9),
        "overdue": 2,  # D and Old
    }
