"""SQLAlchemy models and their state changes. Imports neither `bot` nor `handlers`."""

from models.alert import AlertDelivery, StaffAlert
from models.audit import AuditEvent
from models.canned import CannedReply
from models.base import Base, utcnow
from models.conversation import Conversation
from models.db import Database
from models.followup import FollowUp
from models.learning import RouteExample, RouteModelRevision
from models.lexicon import LexiconRevision
from models.message import InboundReceipt, Message, WebhookNonce
from models.note import TicketNote
from models.outbox import OutboxMessage
from models.region import Region
from models.review import ReviewSample
from models.staff import StaffUser
from models.throttle import LoginThrottle, ThrottlePolicy
from models.ticket import ReferenceCounter, Ticket, TicketEvent, next_reference
from models.token import ApiToken
from models import stats  # the supervisor's numbers; defines the indexes they read by (migration 0015)
from models.stats_store import StoredReport

__all__ = [
    "AlertDelivery",
    "StaffAlert",
    "ApiToken",
    "AuditEvent",
    "CannedReply",
    "Base",
    "Conversation",
    "Database",
    "FollowUp",
    "InboundReceipt",
    "LexiconRevision",
    "LoginThrottle",
    "Message",
    "OutboxMessage",
    "ReferenceCounter",
    "Region",
    "ReviewSample",
    "RouteExample",
    "RouteModelRevision",
    "StaffUser",
    "StoredReport",
    "Ticket",
    "TicketEvent",
    "ThrottlePolicy",
    "TicketNote",
    "WebhookNonce",
    "next_reference",
    "stats",
    "utcnow",
]
