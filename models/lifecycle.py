"""A ticket's changes of state, each defined once for both shapes of a ticket.

A ticket is read two ways: the staff side loads the ORM `Ticket` (models/ticket.py); her
chat reads a plain `TicketRow` through the desk (models/desk.py), the hot path. Both
shapes take their transitions from `Lifecycle`, which says what each transition sets
and records; a shape says only how a change is written (`change`, `record`, `_write`).
The staff side checks its input and permissions first and writes with compare-and-set
(`Ticket._swap`); the desk writes her changes once, at the end of the delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models import clocks

OPEN_STATUSES = ("new", "claimed")
DONE_STATUSES = ("resolved", "closed")


class TicketError(Exception):
    """A staff action that cannot be done: a code and its parameters (keys and values, never
    words); each presentation words it (handlers/messages.py for the staff pages and the API)."""

    def __init__(self, code: str, field: str | None = None, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.params = params


class InvalidInput(TicketError):
    """The action's input is wrong (HTTP 422, naming the field)."""


class Conflict(TicketError):
    """The ticket is not in a state that allows the action, or someone got there first (409)."""


class Lifecycle:
    """The transitions; each never commits, records its event and keeps the clocks current.

    `by` is the staff member who acts (None: `actor_type` says who: "woman" or "system").
    """

    # Each shape has the ticket's columns as attributes (status, assignee_id, outcome, the
    # clocks' columns ...) and says how a change is written: the three methods below.

    def change(self, **values: Any) -> None:
        """Set columns (the shape decides when they are written)."""
        raise NotImplementedError

    def record(self, action: str, actor: Any = None, actor_type: str = "system", **detail: Any) -> Any:
        """Append a line to the audit trail."""
        raise NotImplementedError

    def _write(self, guard: tuple[Any, ...] | None, **values: Any) -> bool:
        """Set columns, if `guard` (conditions on the row as stored) holds; True if it did."""
        raise NotImplementedError

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def clocks_changed(self, now: datetime) -> None:
        """Keep the queue's nearest deadline current and have the sweep look again."""
        self.change(next_due_at=clocks.next_due(self), sweep_at=now, yellow_at=None)

    def reopen_to_work(
        self, now: datetime, reason: str, by: Any = None, actor_type: str = "system",
        guard: tuple[Any, ...] | None = None,
    ) -> bool:
        """Back to work after resolution: to the assignee if there is one, else the queue."""
        previous_outcome = self.outcome
        if not self._write(
            guard, status="claimed" if self.assignee_id else "new",
            resolved_at=None, closed_at=None, outcome=None, updated_at=now,
        ):
            return False
        self.record("reopened", actor=by, actor_type=actor_type, reason=reason, previous_outcome=previous_outcome)
        self.clocks_changed(now)
        return True

    def withdraw(self, now: datetime, reason: str, by: Any = None, actor_type: str = "woman") -> None:
        """She withdraws her case (撤销)."""
        self.change(status="withdrawn", withdrawn_at=now, updated_at=now)
        self.record("withdrawn", actor=by, actor_type=actor_type, reason=reason)
        self.clocks_changed(now)

    def close(self, now: datetime, actor_type: str, **detail: Any) -> None:
        """The end of the loop: after her rating, or when the follow-up went unanswered."""
        self.change(status="closed", closed_at=now, updated_at=now)
        self.record("closed", actor_type=actor_type, **detail)
        self.clocks_changed(now)

    def pause_clocks(
        self, now: datetime, reason: str, until: datetime | None, by: Any = None, actor_type: str = "system"
    ) -> None:
        """Stop the clocks while the ticket waits on her (until `until`, if given)."""
        self.change(paused_at=now, pause_until=until, pause_reason=reason, updated_at=now)
        self.record("paused", actor=by, actor_type=actor_type, reason=reason, until=until.isoformat() if until else None)
        self.clocks_changed(now)

    def resume(self, policy: clocks.Policy, now: datetime, by: Any = None, why: str = "staff") -> None:
        """The clocks run again, each with the time it had left when paused."""
        if self.paused_at is None:
            raise Conflict("not_paused")
        moved = clocks.resumed_deadlines(self, policy, now)
        reason = self.pause_reason
        self.change(paused_at=None, pause_until=None, pause_reason=None, updated_at=now, **moved)
        self.record("resumed", actor=by, reason=reason, why=why)
        self.clocks_changed(now)

    def make_urgent(
        self, policy: clocks.Policy, now: datetime, action: str, by: Any = None, actor_type: str = "system",
        **detail: Any,
    ) -> None:
        """Urgent now: every running clock is due no later than an urgent one started now.

        `action` names the event: staff mark it (urgent_marked), her words raise it (marked_urgent).
        """
        self.change(urgent=True, updated_at=now, **clocks.urgent_deadlines(self, policy, now))
        self.record(action, actor=by, actor_type=actor_type, **detail)
        self.clocks_changed(now)
