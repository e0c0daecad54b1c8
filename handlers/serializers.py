"""Turning models into plain data for JSON and the CLI."""

from __future__ import annotations

from typing import Any

from models import Ticket


def serialize_ticket_row(ticket: Ticket) -> dict[str, Any]:
    """The fields of a ticket list: no personal data."""
    return {
        "reference": ticket.reference,
        "category": ticket.category,
        "subcategory": ticket.subcategory,
        "urgent": ticket.urgent,
        "status": ticket.status,
        "region": ticket.region.code,
        "created": ticket.created_at.isoformat(timespec="seconds"),
    }
