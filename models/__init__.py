"""SQLAlchemy models and their state changes. Imports neither `bot` nor `handlers`."""

from models.base import Base, utcnow
from models.conversation import Conversation
from models.db import Database
from models.followup import FollowUp
from models.learning import RouteExample, RouteModelRevision
from models.lexicon import LexiconRevision
from models.message import InboundReceipt, Message
from models.note import TicketNote
from models.outbox import OutboxMessage
from models.region import Region
from models.staff import StaffUser
from models.ticket import ReferenceCounter, Ticket, TicketEvent, next_reference
from models.token import ApiToken

__all__ = [
    "ApiToken",
    "Base",
    "Conversation",
    "Database",
    "FollowUp",
    "InboundReceipt",
    "LexiconRevision",
    "Message",
    "OutboxMessage",
    "ReferenceCounter",
    "Region",
    "RouteExample",
    "RouteModelRevision",
    "StaffUser",
    "Ticket",
    "TicketEvent",
    "TicketNote",
    "next_reference",
    "utcnow",
]
