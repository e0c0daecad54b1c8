"""The sweep (督办 up the grid): walk the tickets whose clocks need a look, and act.

Each ticket keeps `sweep_at` (when it next needs a look: a clock turning yellow, a
deadline, the next escalation period, her safe time) and `swept_until` (up to when a
sweep has looked). A sweep takes the tickets with `sweep_at <= now`, works out what
happened in (`swept_until`, `now`] (models/clocks.sweep_step) and moves `swept_until`
with a conditional UPDATE: only the sweep whose UPDATE matched records the reminders
and escalations, in the same transaction. So two sweeps at once (threads, processes,
two machines on PostgreSQL) send each reminder and each escalation exactly once: on
PostgreSQL the second UPDATE waits for the first to commit and then matches nothing; on
SQLite the writers take turns. A ticket the intake opens carries its first look already
(models/desk.py, `_first_look`): no sweep visits it before a clock of it turns yellow.

What it does, per ticket:
- a clock turns yellow: 催办 to the assignee (unclaimed: the region's caseworkers);
- a clock is missed: 督办 to the supervisors of the ticket's region (level 1), then after
  each further `escalation.every` still missed, of the next region up, to `max_level`;
- an urgent ticket still unclaimed past its claim clock: every supervisor in its chain;
- her safe time to be contacted has come: the clocks run again.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import metrics
from bot.alerts import AlertTicket, raise_alert
from bot.settings import Settings
from models import Database, Ticket, clocks

log = logging.getLogger(__name__)

BATCH = 200


def sweep(db: Database, settings: Settings, now: datetime, write_lock: AbstractContextManager | None = None,
          limit: int = 5000) -> dict[str, int]:
    """One sweep over the tickets due a look; counts of what it did."""
    try:
        counts = _sweep(db, settings, now, write_lock, limit)
    except Exception:
        metrics.sweep_ran("failed")
        raise
    metrics.sweep_ran("ok")
    return counts


def _sweep(db: Database, settings: Settings, now: datetime, write_lock: AbstractContextManager | None,
           limit: int) -> dict[str, int]:
    policy = settings.policy
    lock = write_lock or nullcontext()
    counts = {"looked": 0, "reminded": 0, "escalated": 0, "alerted": 0, "resumed": 0}
    with db.session() as session:
        due = list(session.scalars(
            select(Ticket.id).where(Ticket.sweep_at <= now).order_by(Ticket.sweep_at, Ticket.id).limit(limit)
        ))
    for ticket_id in due:
        with lock, db.transaction() as session:
            done = _sweep_one(session, ticket_id, policy, settings, now)
        for key, number in done.items():
            counts[key] += number
    if counts["reminded"] or counts["escalated"] or counts["alerted"]:
        log.info("sweep: %s", counts)
    return counts


def _sweep_one(session: Session, ticket_id: int, policy: clocks.Policy, settings: Settings, now: datetime) -> dict[str, int]:
    done = {"looked": 0, "reminded": 0, "escalated": 0, "alerted": 0, "resumed": 0}
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.sweep_at is None or ticket.sweep_at > now:
        return done  # another sweep got here first
    since = ticket.swept_until or ticket.created_at
    step = clocks.sweep_step(ticket, policy, since, now)
    previous_level = ticket.escalation_level or 0
    if not ticket.take_sweep(session, now, step):
        return done
    done["looked"] = 1
    about = AlertTicket(ticket.id, ticket.reference, ticket.category, ticket.region_id, ticket.assignee_id)
    connection = session.connection()
    due_of = dict(clocks.running(ticket))
    for name in step.reminders:
        audience = "assignee" if ticket.assignee_id else "caseworkers"
        ticket.record("reminded", clock=name, to=audience)
        raise_alert(connection, settings, about, kind="reminded", audience=audience, region_id=ticket.region_id,
                    now=now, clock=name, due=due_of.get(name))
        done["reminded"] += 1
    if step.level > previous_level:
        chain = ticket.region.chain()
        name, due = min(due_of.items(), key=lambda item: item[1])
        for level in range(previous_level + 1, step.level + 1):
            region = chain[min(level - 1, len(chain) - 1)]
            ticket.record("escalated", level=level, clock=name, region=region.code)
            raise_alert(connection, settings, about, kind="escalated", audience="supervisors", region_id=region.id,
                        now=now, level=level, clock=name, due=due)
            done["escalated"] += 1
    if step.urgent_unclaimed:
        ticket.record("alerted", reason="urgent ticket unclaimed past its claim deadline")
        raise_alert(connection, settings, about, kind="alerted", audience="chain", region_id=ticket.region_id,
                    now=now, clock="claim", due=ticket.claim_due_at)
        done["alerted"] += 1
    if ticket.paused_at is not None and ticket.pause_until is not None and ticket.pause_until <= now:
        ticket.resume(policy, now, why="safe_time_reached")
        done["resumed"] += 1
    return done
