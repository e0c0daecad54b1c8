"""Sampling her messages that did not become a ticket, for supervisors to label (issue 17).

A greeting, noise, a menu answer, "other", a command with nothing behind it: the router
learns nothing from them unless someone says what they were. A configured share of them
(`learning.review_sample_rate`) is kept, numbers masked, on the review page; which share is
fixed by a hash of the channel's message id, so a redelivery or a test gets the same choice.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from models.review import ReviewSample

if TYPE_CHECKING:
    from bot.dialogue import Dialogue, Turn
    from models.desk import TicketRow


def chosen(channel: str, message_id: str, rate: float) -> bool:
    """Whether the message with this channel id falls in the sampled share `rate`."""
    if rate <= 0:
        return False
    digest = hashlib.sha256(f"{channel}:{message_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def sample_for_review(dialogue: Dialogue, turn: Turn, ticket: TicketRow | None) -> bool:
    """After a step: keep her message for review if it is text that joined no ticket and falls
    in the share. A line kept waiting for her 1/2/3 choice is taken too: if it joins her ticket
    after all, the review page no longer shows it and retention deletes it (models/review.py),
    so the lines she left behind (she cancelled, the conversation expired) cost the delivery
    nothing to find."""
    inbound, message = turn.inbound, turn.message
    if ticket is not None or message.ticket_id is not None or inbound.kind not in ("text", "voice"):
        return False
    if not message.text.strip() or not chosen(inbound.channel, inbound.message_id, dialogue.settings.learning.review_sample_rate):
        return False
    route = turn.routed or dialogue.router.route(turn.text)
    # Filed where her latest ticket is, else where tickets land before she names a place.
    latest = turn.desk.tickets_of(inbound.channel, inbound.user, limit=1)
    region_id = latest[0].region_id if latest else (dialogue._default_region_id or dialogue._find_default_region(turn.desk))
    return ReviewSample.take(
        turn.desk.connection, turn.desk.message_id(message), region_id, message.text, route.category,
        route.subcategory, route.urgent, route.confidence, turn.now,
    )


def forget(turn: Turn) -> int:
    """Her erasure reaches the samples of her loose lines too."""
    return ReviewSample.forget(turn.desk.connection, turn.inbound.channel, turn.inbound.user)
