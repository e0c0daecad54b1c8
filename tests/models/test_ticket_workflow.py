"""Staff transitions on a ticket: each checks the state, records who did it, never commits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from handlers.messages import error_message  # the staff side words the models' refusals
from models import OutboxMessage, Region, StaffUser, Ticket, TicketNote, utcnow
from models.ticket import OUTCOMES, Conflict, InvalidInput, QueueFilter
from tests.handlers.staff.factories import make_staff, make_ticket


@pytest.fixture
def people(db):
    return {
        "li": make_staff(db, "li", "caseworker", "T01", "李姐"),
        "zhang": make_staff(db, "zhang", "caseworker", "T010101", "张姐"),
        "neighbour": make_staff(db, "neighbour", "caseworker", "T02", "邻县王姐"),
        "boss": make_staff(db, "boss", "supervisor", "T01", "县妇联督办"),
        "admin": make_staff(db, "admin", "admin", "T", "管理员"),
    }


def load(session, reference):
    return Ticket.by_reference(session, reference)


def user(session, username):
    return StaffUser.by_username(session, username)


def test_claim_records_the_claimer_and_never_commits(db, people):
    ref = make_ticket(db)
    with db.session() as session:
        ticket = load(session, ref)
        ticket.claim(session, user(session, "li"), utcnow())
        assert ticket.status == "claimed" and ticket.assignee.display_name == "李姐"
        assert ticket.claimed_at is not None
        session.rollback()  # the method did not commit: nothing sticks
    with db.session() as session:
        ticket = load(session, ref)
        assert ticket.status == "new" and ticket.assignee_id is None
        assert [e.action for e in ticket.events] == ["created"]


def test_second_claim_is_a_conflict_naming_who_has_it(db, people):
    ref = make_ticket(db)
    with db.transaction() as session:
        load(session, ref).claim(session, user(session, "li"), utcnow())
    with db.session() as session:
        with pytest.raises(Conflict) as taken:
            load(session, ref).claim(session, user(session, "boss"), utcnow())
    assert (taken.value.code, taken.value.params) == ("claimed_by", {"name": "李姐"})
    assert "已被 李姐 认领" in error_message(taken.value)


def test_stale_object_cannot_claim_what_another_session_claimed(db, people):
    ref = make_ticket(db)
    with db.session() as slow:
        stale = load(slow, ref)  # read while still new
        assert stale.status == "new"
        slow.commit()
        with db.transaction() as fast:
            load(fast, ref).claim(fast, user(fast, "li"), utcnow())
        with pytest.raises(Conflict) as taken:
            stale.claim(slow, user(slow, "boss"), utcnow())
    assert "李姐" in error_message(taken.value)


def test_release_returns_the_ticket_to_the_queue(db, people):
    ref = make_ticket(db)
    with db.transaction() as session:
        ticket = load(session, ref)
        li = user(session, "li")
        ticket.claim(session, li, utcnow())
        ticket.release(session, li, "不在我的网格", utcnow())
    with db.session() as session:
        ticket = load(session, ref)
        assert (ticket.status, ticket.assignee_id) == ("new", None)
        released = ticket.events[-1]
        assert released.action == "released" and released.detail["reason"] == "不在我的网格"
        assert released.actor_id == people["li"]


def test_assign_needs_a_colleague_who_works_in_the_tickets_region(db, people):
    ref = make_ticket(db, region="T010101")
    with db.transaction() as session:
        ticket, boss = load(session, ref), user(session, "boss")
        with pytest.raises(InvalidInput) as refused:
            ticket.assign(session, boss, user(session, "neighbour"), utcnow())
        assert refused.value.field == "assignee"
        ticket.assign(session, boss, user(session, "zhang"), utcnow())
    ticket = ticket_after(db, ref)
    assert ticket.status == "claimed" and ticket.assignee_id == people["zhang"]
    assert ticket.events[-1].action == "assigned" and ticket.events[-1].actor_id == people["boss"]


def ticket_after(db, ref):
    with db.session() as session:
        ticket = load(session, ref)
        ticket.events, ticket.region, ticket.assignee  # load them before the session closes
        return ticket


def test_transfer_moves_region_with_a_reason_and_back_to_that_queue(db, people):
    ref = make_ticket(db, region="T01")
    with db.transaction() as session:
        ticket, boss = load(session, ref), user(session, "boss")
        ticket.claim(session, user(session, "li"), utcnow())
        with pytest.raises(InvalidInput) as no_reason:
            ticket.transfer(session, boss, Region.by_code(session, "T010101"), None, "  ", utcnow())
        assert no_reason.value.field == "reason"
        with pytest.raises(InvalidInput) as outside:
            ticket.transfer(session, boss, Region.by_code(session, "T02"), None, "她住邻县", utcnow())
        assert outside.value.field == "region"
        ticket.transfer(session, boss, Region.by_code(session, "T010101"), None, "她住测试社区", utcnow())
    ticket = ticket_after(db, ref)
    assert ticket.region.code == "T010101" and ticket.status == "new" and ticket.assignee_id is None
    event = ticket.events[-1]
    assert event.action == "transferred"
    assert event.detail == {
        "reason": "她住测试社区", "from_region": "T01", "to_region": "T010101", "assignee": None,
        "previous_assignee": people["li"],
    }


def test_admin_may_transfer_across_counties_to_a_person(db, people):
    ref = make_ticket(db, region="T01")
    with db.transaction() as session:
        load(session, ref).transfer(
            session, user(session, "admin"), Region.by_code(session, "T02"), user(session, "neighbour"), "户籍在邻县", utcnow()
        )
    ticket = ticket_after(db, ref)
    assert (ticket.region.code, ticket.status, ticket.assignee_id) == ("T02", "claimed", people["neighbour"])


@pytest.mark.parametrize("category", sorted(OUTCOMES))
def test_resolve_takes_only_outcomes_that_fit_the_route(db, people, category):
    ref = make_ticket(db, category=category)
    wrong = next(o for outcomes in OUTCOMES.values() for o in outcomes if o not in OUTCOMES[category])
    with db.transaction() as session:
        ticket, li = load(session, ref), user(session, "li")
        ticket.claim(session, li, utcnow())
        with pytest.raises(InvalidInput) as refused:
            ticket.resolve(session, li, wrong, "", utcnow())
        assert refused.value.field == "outcome"
        ticket.resolve(session, li, OUTCOMES[category][0], "已电话说明", utcnow())
    ticket = ticket_after(db, ref)
    assert ticket.status == "resolved" and ticket.outcome == OUTCOMES[category][0]
    assert ticket.resolution_note == "已电话说明" and ticket.resolved_at is not None


def test_resolve_needs_a_claimed_ticket(db, people):
    ref = make_ticket(db)
    with db.session() as session:
        with pytest.raises(Conflict):
            load(session, ref).resolve(session, user(session, "li"), "agreement", "", utcnow())


def test_reopen_goes_back_to_the_assignee_and_clears_the_outcome(db, people):
    ref = make_ticket(db)
    with db.transaction() as session:
        ticket, li = load(session, ref), user(session, "li")
        ticket.claim(session, li, utcnow())
        ticket.resolve(session, li, "agreement", "", utcnow())
        with pytest.raises(InvalidInput):
            ticket.reopen(session, li, "", utcnow())
        ticket.reopen(session, li, "她说婆婆又闹了", utcnow())
    ticket = ticket_after(db, ref)
    assert (ticket.status, ticket.assignee_id, ticket.outcome, ticket.resolved_at) == ("claimed", people["li"], None, None)
    assert ticket.events[-1].detail == {"reason": "她说婆婆又闹了", "previous_outcome": "agreement"}


def test_correct_route_keeps_what_the_router_saw_for_tuning(db, people):
    ref = make_ticket(db, category="mediation")
    with db.transaction() as session:
        ticket = load(session, ref)
        ticket.correct_route(session, user(session, "boss"), "consultation", utcnow())
        with pytest.raises(InvalidInput):
            ticket.correct_route(session, user(session, "boss"), "consultation", utcnow())
    ticket = ticket_after(db, ref)
    assert ticket.category == "consultation" and ticket.subcategory is None
    detail = ticket.events[-1].detail
    assert ticket.events[-1].action == "route_corrected"
    assert detail["from_category"] == "mediation" and detail["to_category"] == "consultation"
    assert detail["keywords"] == ["婆婆", "调解"] and "婆婆" in detail["explanation"]


def test_reply_queues_delivery_and_records_no_text_in_the_trail(db, people):
    ref = make_ticket(db)
    with db.transaction() as session:
        ticket, li = load(session, ref), user(session, "li")
        with pytest.raises(Conflict) as unclaimed:
            ticket.reply(session, li, "您好", utcnow())
        assert unclaimed.value.code == "claim_before_reply" and "认领" in error_message(unclaimed.value)
        ticket.claim(session, li, utcnow())
        with pytest.raises(InvalidInput):
            ticket.reply(session, li, "   ", utcnow())
        item = ticket.reply(session, li, "您好，我是李姐", utcnow())
        assert item.status == "pending"
    with db.session() as session:
        ticket = load(session, ref)
        # Queued is not yet heard: the first-reply clock stops on delivery (tests/bot/test_delivery.py).
        assert ticket.first_response_at is None
        out = session.scalars(select(OutboxMessage)).one()
        assert (out.channel_user, out.text, out.message.author_id) == ("o-woman", "您好，我是李姐", people["li"])
        replied = ticket.events[-1]
        assert replied.action == "replied" and replied.detail == {"outbox": out.id}


def test_notes_are_stored_apart_and_recorded(db, people):
    ref = make_ticket(db)
    with db.transaction() as session:
        ticket = load(session, ref)
        note = ticket.add_note(session, user(session, "boss"), "已联系社区书记", utcnow())
    with db.session() as session:
        ticket = load(session, ref)
        assert [n.text for n in TicketNote.on(session, ticket)] == ["已联系社区书记"]
        assert ticket.events[-1].detail == {"note": note.id}


def test_permits_scope_then_role(db, people):
    ref = make_ticket(db, region="T010101")
    with db.transaction() as session:
        ticket = load(session, ref)
        li, zhang, neighbour, boss = (user(session, n) for n in ("li", "zhang", "neighbour", "boss"))
        assert not any(ticket.permits(neighbour, a) for a in ("view", "claim", "note"))
        assert ticket.permits(zhang, "view") and ticket.permits(li, "claim")
        assert not ticket.permits(li, "reply") and not ticket.permits(li, "transfer")
        ticket.claim(session, zhang, utcnow())
        assert ticket.permits(zhang, "reply") and ticket.permits(zhang, "resolve") and ticket.permits(zhang, "release")
        assert not ticket.permits(zhang, "assign") and not ticket.permits(zhang, "transfer")
        assert not ticket.permits(li, "resolve")
        assert ticket.permits(boss, "resolve") and ticket.permits(boss, "transfer") and ticket.permits(boss, "assign")


def test_queue_is_scoped_and_puts_urgent_then_nearest_deadline_first(db, people):
    now = utcnow()
    later = make_ticket(db, user="o-1", now=now, claim_within=timedelta(hours=20))
    sooner = make_ticket(db, user="o-2", now=now, claim_within=timedelta(hours=2))
    urgent = make_ticket(db, user="o-3", now=now, urgent=True, claim_within=timedelta(hours=23))
    village = make_ticket(db, user="o-4", region="T010101", now=now, claim_within=timedelta(hours=30))
    make_ticket(db, user="o-5", region="T02")
    with db.session() as session:
        li, zhang = user(session, "li"), user(session, "zhang")
        assert [t.reference for t in Ticket.queue(session, li, QueueFilter())] == [urgent, sooner, later, village]
        assert [t.reference for t in Ticket.queue(session, zhang, QueueFilter())] == [village]
        counts = Ticket.tab_counts(session, li, QueueFilter())
        assert counts == {"unclaimed": 4, "mine": 0, "open": 4, "done": 0, "all": 4}
        narrowed = QueueFilter(region=Region.by_code(session, "T010101"))
        assert Ticket.tab_counts(session, li, narrowed)["all"] == 1
        assert [t.reference for t in Ticket.queue(session, li, QueueFilter(text=sooner[-4:]))] == [sooner]
        assert len(Ticket.queue(session, li, QueueFilter(text="婆婆"))) == 4
        assert Ticket.find_visible(session, zhang, later) is None
        assert Ticket.find_visible(session, li, village.lower()).reference == village
        assert [t.reference for t in Ticket.queue(session, li, QueueFilter(text=village.lower()))] == [village]


def test_a_city_account_sees_the_whole_grid(db, people):
    refs = [make_ticket(db, user="o-1", region="T02"), make_ticket(db, user="o-2", region="T010101")]
    with db.session() as session:
        admin = user(session, "admin")
        assert sorted(t.reference for t in Ticket.queue(session, admin, QueueFilter(tab="all"))) == sorted(refs)
        assert Ticket.tab_counts(session, admin, QueueFilter())["all"] == 2


def test_a_city_account_does_not_see_another_citys_tree(db, people):
    ours = make_ticket(db, user="o-1", region="T02")
    with db.transaction() as session:
        Region.create(session, "X", "另一个市", "city")
    theirs = make_ticket(db, user="o-3", region="X")
    with db.session() as session:
        admin = user(session, "admin")
        assert [t.reference for t in Ticket.queue(session, admin, QueueFilter(tab="all"))] == [ours]
        assert Ticket.tab_counts(session, admin, QueueFilter())["all"] == 1
        assert Ticket.find_visible(session, admin, theirs) is None


def test_recording_does_not_load_the_whole_trail(db, people):
    ref = make_ticket(db)
    with db.transaction() as session:
        ticket = load(session, ref)
        for _ in range(3):
            ticket.record_view(user(session, "li"), "web")
        assert "events" not in ticket.__dict__  # the collection was never loaded
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
        assert [e.action for e in load(session, ref).events] == ["created", "viewed", "viewed", "viewed"]
