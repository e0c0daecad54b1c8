"""The conversation with a woman, as a table of states: one small step per state.

Her problem opens a ticket at once (so nothing is lost if she goes quiet and she has a
reference from the first reply); the steps after it fill in where she lives and how to
reach her, and end with a summary she confirms. Urgent messages get safety guidance
first and skip nothing that matters: the ticket is urgent before any question.

The state lives in the `conversation` table, so any process can take the next message.
Each state has one step (`STATES`); a step reads the message and returns an `Outcome`:
what to say, the next state and what it remembers. Steps read and change plain rows
through a `Desk`, which writes them at the end of the delivery. Commands (her 撤回, 人工,
查询 ...) are words in bot/data/words.yaml, each naming an action here (`COMMANDS`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot import replies
from bot.alerts import AlertTicket, on_duty, raise_alert
from bot.inbound import Inbound
from bot.review import forget, sample_for_review
from bot.routing import Route, Router
from bot.safetime import parse_safe_time
from bot.settings import Settings
from bot.words import Words, find_mobile, shipped
from sqlalchemy import update

from models.conversation import Conversation
from models.desk import ConversationRow, Desk, FollowUpRow, MessageRow, RegionRow, TicketRow

log = logging.getLogger(__name__)

# What the dialogue says back, and the ticket it concerns (the entry points' answer).
Reply = tuple[str | None, TicketRow | None]

# Up to this long, a message in a step that expects a short answer is taken as a try at one.
SHORT_ANSWER = 6
URGENT_FALLBACK_CATEGORY = "consultation"
# Her safe time is kept in her words, up to the column's length.
SAFE_TIME_CHARS = 100
# How many finished tickets 查询 lists besides every open one.
STATUS_FINISHED = 5
# The question each intake step asks, to ask again after a detour.
QUESTIONS = {"ask_region": replies.ASK_REGION, "ask_contact": replies.ASK_CONTACT, "confirm": replies.CONFIRM_AGAIN}


def parse_mobile(text: str) -> str | None:
    """A mainland mobile number anywhere in her words (full-width, spaces, dashes, +86), or None."""
    return find_mobile(text)


def looks_like_place(text: str) -> bool:
    """Whether a failed region answer was still meant as a place name (short, or ends like one)."""
    text = text.strip().rstrip("。.！!，,")
    return len(text) <= SHORT_ANSWER or text.endswith(shipped().place_suffixes)


def mask_mobile(number: str) -> str:
    return f"{number[:3]}****{number[-4:]}"


@dataclass
class Turn:
    """One message being handled: what every step needs."""

    desk: Desk
    inbound: Inbound
    now: datetime
    conversation: ConversationRow
    message: MessageRow
    # Her text's route, once someone needed it (or handed in, routed ahead of the turn).
    routed: Route | None = None
    # What the state's step needs (`State.needs`), loaded before the step runs.
    ticket: TicketRow | None = None
    follow_up: FollowUpRow | None = None

    @property
    def text(self) -> str:
        return self.inbound.text.strip()


@dataclass(frozen=True)
class Outcome:
    """What a step (or a command) comes to: what she is told, the ticket it concerns, and
    where her conversation goes next."""

    text: str | None
    ticket: TicketRow | None = None
    # The next state and all it remembers; None: she stays where she is, memory unchanged.
    state: str | None = None
    data: dict = field(default_factory=dict)
    # A detour: the step that reads this same message next (her words answered another question).
    again: str | None = None

    def to(self, state: str, **data: Any) -> Outcome:
        """The same answer, with the conversation moving to `state`."""
        return replace(self, state=state, data=data)

    @classmethod
    def detour(cls, state: str, data: dict, step: str | None = None) -> Outcome:
        """Nothing said yet: move to `state`, whose step (or `step`'s) reads this same message."""
        return cls(None, None, state, data, again=step or state)


@dataclass(frozen=True)
class State:
    """A state of the conversation: the step that reads her next message in it."""

    step: str
    # What the step works on: "ticket" (the conversation's) or "follow_up" (a pending one).
    # Without it (gone, or answered elsewhere) she is back at idle: the one guard.
    needs: str | None = None
    # An intake question, forgotten when she goes quiet past the session timeout.
    expires: bool = False


STATES = {
    "idle": State("idle"),
    "choose_route": State("choose_route", expires=True),
    "ask_region": State("ask_region", needs="ticket", expires=True),
    "choose_region": State("choose_region", expires=True),
    "ask_contact": State("ask_contact", needs="ticket", expires=True),
    "confirm": State("confirm", needs="ticket", expires=True),
    "confirm_action": State("confirm_action", expires=True),
    "new_or_add": State("new_or_add", expires=True),
    "ask_safe_time": State("ask_safe_time", expires=True),
    # Follow-up states wait for the follow-up job (bot/followup.py).
    "follow_up_solved": State("follow_up_solved", needs="follow_up"),
    "follow_up_satisfaction": State("follow_up_satisfaction", needs="follow_up"),
}
INTAKE_STATES = {name for name, state in STATES.items() if state.expires}

# Her commands, in any state: a command's words (bot/data/words.yaml) → its action here.
COMMANDS = {
    "reset": "reset",
    "withdraw": "ask_withdraw",
    "human": "ask_for_person",
    "erase": "ask_erase",
    "status": "show_status",
}


class Dialogue:
    def __init__(self, router: Router, settings: Settings) -> None:
        self.router = router
        self.reference_prefix = settings.intake.reference_prefix
        self.default_region = settings.intake.default_region
        # Looked up once per process: tickets are filed there until she names her place.
        self._default_region_id: int | None = None
        self.settings = settings
        self.words: Words = shipped()
        self.policy = settings.policy
        self.session_timeout = timedelta(minutes=settings.dialogue.session_timeout_minutes)
        self.steps: dict[str, Callable[[Turn], Outcome]] = {
            name: getattr(self, state.step) for name, state in STATES.items()
        }
        unknown = set(self.words.commands) - set(COMMANDS)
        if unknown:
            raise ValueError(f"{', '.join(sorted(unknown))}: commands in the word table with no action (COMMANDS)")
        self.commands: dict[str, Callable[[Turn], Outcome]] = {
            name: getattr(self, action) for name, action in COMMANDS.items()
        }

    # -- entry points ---------------------------------------------------------

    def text(self, desk: Desk, inbound: Inbound, now: datetime, route: Route | None = None) -> Reply:
        """Her text (or transcribed voice) message, in whatever state she is; `route`, if
        given, is her stripped text's route (Intake.route_ahead)."""
        conversation = desk.conversation(inbound.channel, inbound.user)
        turn = Turn(desk, inbound, now, conversation, self.store(desk, inbound), route)
        prefix = ""
        if conversation.state in INTAKE_STATES and now - conversation.updated_at > self.session_timeout:
            settled = self.settle_unanswered(desk, conversation, now) if conversation.state == "new_or_add" else None
            conversation.move("idle", now)
            prefix = (settled[0] if settled else replies.EXPIRED) + "\n"
        outcome = self.command(turn)
        if outcome is not None:
            self._apply(turn, outcome)
        else:
            outcome = self._step(turn, conversation.state)
        text, ticket = outcome.text, outcome.ticket
        sample_for_review(self, turn, ticket)
        if ticket is not None and conversation.state != "ask_safe_time" and self.words.silent(turn.text):
            outcome = self._ask_safe_time(turn, ticket, text)
            self._apply(turn, outcome)
            text = outcome.text
        conversation.updated_at = now
        return (prefix + text if text and prefix else text), ticket

    def location(self, desk: Desk, inbound: Inbound, now: datetime) -> Reply:
        """A WeChat / Telegram location: her region when asked for it, else evidence."""
        conversation = desk.conversation(inbound.channel, inbound.user)
        # She is active now (and a conversation begun by a location has no time yet).
        conversation.updated_at = now
        turn = Turn(desk, inbound, now, conversation, self.store(desk, inbound))
        ticket = self._conversation_ticket(desk, conversation) or desk.open_ticket_for(inbound.channel, inbound.user)
        if ticket is None:
            return replies.LOCATION_NO_TICKET, None
        turn.message.ticket_id = ticket.id
        ticket.record("location_added", actor_type="woman")
        added = replies.LOCATION_ADDED.format(reference=ticket.reference)
        if conversation.state not in ("ask_region", "choose_region"):
            return added, ticket
        matches = desk.regions_matching(inbound.label) if inbound.label else []
        if len(matches) == 1:
            outcome = self._set_region(turn, ticket, matches[0])
        else:
            outcome = Outcome(added + "\n" + replies.ASK_CONTACT, ticket).to(
                "ask_contact", ticket_id=ticket.id, unconfirmed=conversation.data.get("unconfirmed")
            )
        self._apply(turn, outcome)
        return outcome.text, outcome.ticket

    def store(self, desk: Desk, inbound: Inbound, ticket: TicketRow | None = None) -> MessageRow:
        """Her message as a transcript line (attached to a ticket once there is one)."""
        return desk.add_message(
            MessageRow(
                inbound.channel,
                inbound.user,
                "in",
                inbound.sent_at,
                kind=inbound.kind,
                text=inbound.label if inbound.kind == "location" else inbound.text,
                media_id=inbound.media_id,
                media_state="pending" if _kept_media(inbound) else None,
                latitude=inbound.latitude,
                longitude=inbound.longitude,
                ticket_id=ticket.id if ticket else None,
            )
        )

    def _step(self, turn: Turn, name: str) -> Outcome:
        """Her message read by the step of state `name` (and by the next, on a detour)."""
        while True:
            state = STATES.get(name, STATES["idle"])
            if state.needs == "ticket":
                turn.ticket = self._conversation_ticket(turn.desk, turn.conversation)
                missing = turn.ticket is None
            elif state.needs == "follow_up":
                turn.follow_up = self._follow_up(turn)
                missing = turn.follow_up is None
            else:
                missing = False
            if missing:
                turn.conversation.move("idle", turn.now)
                name = "idle"
                continue
            outcome = self.steps[state.step](turn)
            self._apply(turn, outcome)
            if outcome.again is None:
                return outcome
            name = outcome.again

    @staticmethod
    def _apply(turn: Turn, outcome: Outcome) -> None:
        if outcome.state is not None:
            turn.conversation.move(outcome.state, turn.now, **outcome.data)

    def _route(self, turn: Turn) -> Route:
        if turn.routed is None:
            turn.routed = self.router.route(turn.text)
        return turn.routed

    # -- commands that work in every state ------------------------------------

    def command(self, turn: Turn) -> Outcome | None:
        """A command by its meaning (bot/data/words.yaml), in whatever state she is."""
        text = turn.text
        command = self.words.command(text)
        if command is not None:
            return self.commands[command](turn)
        added = self.words.added_text(text)
        if added is not None:
            ticket = turn.desk.open_ticket_for(turn.inbound.channel, turn.inbound.user)
            if ticket is not None:
                return self._add(turn, ticket, self.router.route(added))
        return None

    def show_status(self, turn: Turn) -> Outcome:
        return Outcome(self.status(turn.desk, turn.inbound))

    def ask_for_person(self, turn: Turn) -> Outcome:
        ticket = turn.desk.open_ticket_for(turn.inbound.channel, turn.inbound.user)
        if ticket is None:
            return Outcome(replies.HUMAN_NO_TICKET)
        turn.message.ticket_id = ticket.id
        ticket.record("person_requested", actor_type="woman", notify_assignee=ticket.assignee_id)
        return Outcome(replies.HUMAN_REQUESTED.format(reference=ticket.reference), ticket)

    def ask_withdraw(self, turn: Turn) -> Outcome:
        ticket = turn.desk.open_ticket_for(turn.inbound.channel, turn.inbound.user)
        if ticket is None:
            return Outcome(replies.NO_OPEN_TICKET)
        turn.message.ticket_id = ticket.id
        return Outcome(replies.WITHDRAW_CONFIRM.format(reference=ticket.reference), ticket).to(
            "confirm_action", action="withdraw", ticket_id=ticket.id
        )

    def ask_erase(self, turn: Turn) -> Outcome:
        return Outcome(replies.ERASE_CONFIRM).to("confirm_action", action="erase")

    def reset(self, turn: Turn) -> Outcome:
        """Start afresh; a ticket opened in this very conversation and not yet confirmed is withdrawn
        (never an urgent one: she may be typing 取消 because someone is watching)."""
        ticket = self._conversation_ticket(turn.desk, turn.conversation)
        if ticket is not None and turn.conversation.data.get("unconfirmed") and not ticket.urgent and ticket.is_open:
            ticket.withdraw(turn.now, reason="restarted by her before confirming")
        return Outcome(replies.RESET + "\n" + replies.MENU).to("idle")

    # -- the steps -------------------------------------------------------------

    def idle(self, turn: Turn) -> Outcome:
        route = self._route(turn)
        noise = not route.urgent and route.category == "other" and self.words.is_noise(turn.text)
        open_ticket = turn.desk.open_ticket_for(turn.inbound.channel, turn.inbound.user)
        if open_ticket is not None:
            if noise:
                # Kept on her ticket for the caseworker, but not announced as news.
                turn.message.ticket_id = open_ticket.id
                return Outcome(replies.NOISE_OPEN_TICKET.format(reference=open_ticket.reference), open_ticket)
            # "不方便说话" is about her open ticket, not a new matter: she is not asked to choose.
            if self._other_matter(route, open_ticket) and (route.urgent or not self.words.silent(turn.text)):
                if route.urgent:
                    # Danger is never held up by a question. Beside a family matter it belongs
                    # to it (raised to urgent); beside a sign-up it is a ticket of its own.
                    if open_ticket.category != "service":
                        return self._add(turn, open_ticket, route)
                    return self._open(turn, route, route.category, route.subcategory)
                return Outcome(replies.NEW_OR_ADD.format(reference=open_ticket.reference)).to(
                    "new_or_add", ticket_id=open_ticket.id, route=route.to_dict(),
                    pending=[turn.desk.message_id(turn.message)],
                )
            return self._add(turn, open_ticket, route)
        if noise:
            return Outcome(replies.NOISE)
        if route.urgent:
            category = route.category if route.category != "other" else URGENT_FALLBACK_CATEGORY
            return self._open(turn, route, category, route.subcategory)
        hint = turn.conversation.data.get("hint")
        if route.needs_choice and hint:
            return self._open(turn, route, hint, None, chosen=True)
        if route.needs_choice:
            return Outcome(replies.CHOOSE).to("choose_route", pending=[turn.desk.message_id(turn.message)])
        if route.category == "other":
            return Outcome(replies.MENU)
        return self._open(turn, route, route.category, route.subcategory)

    def choose_route(self, turn: Turn) -> Outcome:
        chosen = self.words.exact_answer("route", turn.text)
        if chosen is not None:
            return self._open(turn, None, chosen, None, chosen=True)
        route = self._route(turn)
        pending = turn.conversation.data.get("pending", [])
        if route.urgent or (not route.needs_choice and route.category != "other"):
            return Outcome.detour("idle", {"pending": pending})
        return Outcome(replies.CHOOSE).to("choose_route", pending=[*pending, turn.desk.message_id(turn.message)])

    def new_or_add(self, turn: Turn) -> Outcome:
        """Her answer to "a new matter, or more of ticket NJ-…?"."""
        data = turn.conversation.data
        ticket = self._conversation_ticket(turn.desk, turn.conversation)
        if self.words.means("new_matter", turn.text) or ticket is None or not ticket.is_open:
            # Her waiting messages (data["pending"]) go to the new ticket.
            route = _route_from(data["route"])
            return self._open(turn, route, route.category, route.subcategory)
        turn.desk.attach_messages(data.get("pending", []), ticket.id)
        if self.words.means("same_matter", turn.text):
            return self._add(turn, ticket, _route_from(data["route"])).to("idle")
        # Neither: what she wrote first stays with the ticket she has, and this is read afresh.
        ticket.record("message_added", actor_type="woman", notify_assignee=ticket.assignee_id)
        return Outcome.detour("idle", {})

    def settle_unanswered(self, desk: Desk, conversation: ConversationRow, now: datetime) -> Reply | None:
        """Her "new or add?" went unanswered past the session timeout. Each matter its own
        ticket: what she wrote opens one as the router read it, filed where her open ticket
        is (never appended unasked to a different matter, never left loose); the text tells
        her its reference. None if it was settled already (the worker's job, her next message)."""
        data = conversation.data
        previous = self._conversation_ticket(desk, conversation)
        taken = desk.connection.execute(
            update(Conversation.__table__)
            .where(Conversation.id == conversation.id, Conversation.state == "new_or_add",
                   Conversation.updated_at == conversation.updated_at)
            .values(state="idle", updated_at=now)
        ).rowcount
        conversation.move("idle", now)
        if taken != 1 or "route" not in data:
            return None
        route = _route_from(data["route"])
        ticket = desk.open_ticket(
            reference_prefix=self.reference_prefix, channel=conversation.channel, channel_user=conversation.channel_user,
            category=route.category, subcategory=route.subcategory, urgent=False, confidence=route.confidence,
            keywords=list(route.keywords), explanation=route.explanation,
            region_id=previous.region_id if previous else self._default_region_id or self._find_default_region(desk),
            now=now, deadlines=self.policy.deadlines(now, route.category, False), policy=self.policy,
        )
        desk.attach_messages(data.get("pending", []), ticket.id)
        ticket.record("new_or_add_unanswered", previous=previous.reference if previous else None)
        log.info("ticket %s opened on %s: new-or-add question unanswered", ticket.reference, ticket.channel)
        return replies.NEW_MATTER_UNANSWERED.format(
            reference=ticket.reference, category=replies.CATEGORY_NAMES[route.category]
        ), ticket

    def _ask_safe_time(self, turn: Turn, ticket: TicketRow, said: str | None) -> Outcome:
        """She cannot talk: the silent options, and when it is safe to contact her. The step
        she was at is taken up again after her answer."""
        conversation = turn.conversation
        resume = {"state": conversation.state, "data": dict(conversation.data)}
        ticket.record("cannot_talk", actor_type="woman")
        options = self.settings.dialogue.silent_options or replies.SILENT_OPTIONS
        text = "\n".join(part for part in (said, options, replies.ASK_SAFE_TIME) if part)
        return Outcome(text, ticket).to("ask_safe_time", ticket_id=ticket.id, resume=resume)

    def ask_safe_time(self, turn: Turn) -> Outcome:
        """Her safe time: kept on the ticket in her words, and the clocks wait for it."""
        ticket = self._conversation_ticket(turn.desk, turn.conversation)
        resume = turn.conversation.data.get("resume") or {"state": "idle", "data": {}}
        if ticket is None:
            return Outcome.detour(resume["state"], resume["data"], step="idle")
        turn.message.ticket_id = ticket.id
        if self.words.means("no_safe_time", turn.text):
            text = replies.SAFE_TIME_NONE
        else:
            words = turn.text[: SAFE_TIME_CHARS]
            until = parse_safe_time(turn.text, turn.now) or turn.now + timedelta(
                hours=self.settings.dialogue.safe_time_hours
            )
            ticket.change(safe_contact_time=words, updated_at=turn.now)
            ticket.record("safe_time_given", actor_type="woman", until=until.isoformat(timespec="minutes"))
            if ticket.is_open and ticket.paused_at is None:
                ticket.pause_for_her(turn.now, "safe_time", until)
            text = replies.SAFE_TIME_RECORDED
        question = QUESTIONS.get(resume["state"])
        return Outcome(text + "\n" + question if question else text, ticket).to(resume["state"], **resume["data"])

    def _other_matter(self, route: Route, ticket: TicketRow) -> bool:
        """Whether her words are clearly about something else than her open ticket."""
        return not route.needs_choice and route.category not in ("other", ticket.category)

    def ask_region(self, turn: Turn) -> Outcome:
        ticket = turn.ticket
        turn.message.ticket_id = ticket.id
        if self.words.means("skip", turn.text):
            return self._ask_contact(turn, ticket)
        if self.words.means("change", turn.text):
            return Outcome(replies.CHANGE_REGION, ticket)
        mobile = parse_mobile(turn.text)
        if mobile:
            # The answer to the next question: kept, and the place asked again.
            self._take_mobile(turn, ticket, mobile)
            return Outcome(replies.MOBILE_TAKEN + replies.ASK_REGION, ticket).to(
                "ask_region", **{**turn.conversation.data, "have_contact": True}
            )
        return self._region_answer(turn, ticket)

    def _region_answer(self, turn: Turn, ticket: TicketRow) -> Outcome:
        """Her words taken as the place she lives: one match is set, several are offered."""
        matches = turn.desk.regions_matching(turn.text)
        if len(matches) == 1:
            return self._set_region(turn, ticket, matches[0])
        if matches:
            options = "\n".join(f"{n} {region.display_name}" for n, region in enumerate(matches, start=1))
            return Outcome(replies.REGION_OPTIONS.format(options=options), ticket).to(
                "choose_region", ticket_id=ticket.id, unconfirmed=turn.conversation.data.get("unconfirmed"),
                options=[region.id for region in matches],
            )
        return self._not_an_answer(
            turn, ticket, replies.REGION_NOT_FOUND, replies.ASK_REGION, attempt=looks_like_place(turn.text)
        )

    def choose_region(self, turn: Turn) -> Outcome:
        ticket = self._conversation_ticket(turn.desk, turn.conversation)
        options = turn.conversation.data.get("options", [])
        if self.words.means("change", turn.text):
            return Outcome(replies.CHANGE_REGION, ticket).to("ask_region", **_keep(turn.conversation))
        if ticket is not None and turn.text.isdecimal() and 1 <= int(turn.text) <= len(options):
            turn.message.ticket_id = ticket.id
            region = turn.desk.region(options[int(turn.text) - 1])
            if region is not None:
                return self._set_region(turn, ticket, region)
        return Outcome.detour("ask_region", _keep(turn.conversation))

    def ask_contact(self, turn: Turn) -> Outcome:
        ticket = turn.ticket
        turn.message.ticket_id = ticket.id
        mobile = parse_mobile(turn.text)
        if mobile:
            self._take_mobile(turn, ticket, mobile)
            return self._summary(turn, ticket)
        digits = sum(c.isdecimal() for c in turn.text)
        if digits < 5 and self.words.means("anonymous", turn.text):
            ticket.change(contact_phone=None)
            ticket.record("contact_given", actor_type="woman", kind="anonymous")
            return self._summary(turn, ticket)
        if self.words.means("change", turn.text):
            return Outcome(replies.CHANGE_REGION, ticket).to("ask_region", **_keep(turn.conversation))
        if digits < 5 and looks_like_place(turn.text) and turn.desk.regions_matching(turn.text):
            # The answer to the step before: her place, taken; the number is still asked.
            return self._region_answer(turn, ticket)
        attempt = len(turn.text) <= SHORT_ANSWER or digits >= 5
        return self._not_an_answer(turn, ticket, replies.CONTACT_INVALID, replies.ASK_CONTACT, attempt=attempt)

    def _take_mobile(self, turn: Turn, ticket: TicketRow, mobile: str) -> None:
        ticket.change(contact_phone=mobile)
        ticket.record("contact_given", actor_type="woman", kind="mobile")
        # Her number is personal data: the transcript keeps only that she gave one.
        turn.message.text = replies.MOBILE_PLACEHOLDER

    def confirm(self, turn: Turn) -> Outcome:
        ticket = turn.ticket
        turn.message.ticket_id = ticket.id
        if self.words.means("confirm", turn.text):
            ticket.record("confirmed", actor_type="woman")
            return Outcome(
                replies.CONFIRMED.format(reference=ticket.reference, claim_within=self._claim_within(ticket)), ticket
            ).to("idle")
        if turn.text == "2" or self.words.means("change", turn.text):
            if self.words.means("change_contact", turn.text):
                return self._ask_contact(turn, ticket)
            return Outcome(replies.CHANGE_REGION, ticket).to("ask_region", **_keep(turn.conversation))
        mobile = parse_mobile(turn.text)
        if mobile:
            self._take_mobile(turn, ticket, mobile)
            return self._summary(turn, ticket)
        return self._not_an_answer(
            turn, ticket, replies.CONFIRM_AGAIN, replies.CONFIRM_AGAIN, attempt=len(turn.text) <= SHORT_ANSWER
        )

    def confirm_action(self, turn: Turn) -> Outcome:
        action = turn.conversation.data.get("action")
        ticket = self._conversation_ticket(turn.desk, turn.conversation)
        if not self.words.means("agree", turn.text):
            return Outcome(replies.ACTION_KEPT).to("idle")
        if action == "withdraw" and ticket is not None and ticket.is_open:
            turn.message.ticket_id = ticket.id
            ticket.withdraw(turn.now, reason="withdrawn by her")
            return Outcome(replies.WITHDRAWN.format(reference=ticket.reference), ticket).to("idle")
        if action == "erase":
            self.erase(turn)
            return Outcome(replies.ERASED).to("idle")
        return Outcome(replies.ACTION_KEPT).to("idle")

    def follow_up_solved(self, turn: Turn) -> Outcome:
        follow_up = turn.follow_up
        turn.message.ticket_id = follow_up.ticket.id
        answer = self.words.exact_answer("solved", turn.text)
        if answer is None:
            return self._not_an_answer(
                turn, follow_up.ticket, replies.FOLLOW_UP_AGAIN, replies.FOLLOW_UP,
                attempt=len(turn.text) <= SHORT_ANSWER,
            )
        if answer is False:
            follow_up.not_solved(turn.now)
            return Outcome(replies.REOPENED.format(reference=follow_up.ticket.reference), follow_up.ticket).to("idle")
        return Outcome(replies.ASK_SATISFACTION, follow_up.ticket).to(
            "follow_up_satisfaction", **_keep(turn.conversation)
        )

    def follow_up_satisfaction(self, turn: Turn) -> Outcome:
        follow_up = turn.follow_up
        turn.message.ticket_id = follow_up.ticket.id
        satisfaction = self.words.exact_answer("satisfaction", turn.text)
        if satisfaction is None:
            return self._not_an_answer(
                turn, follow_up.ticket, replies.SATISFACTION_AGAIN, replies.ASK_SATISFACTION,
                attempt=len(turn.text) <= SHORT_ANSWER,
            )
        follow_up.solved_with(satisfaction, turn.now)
        return Outcome(replies.THANKS, follow_up.ticket).to("idle")

    # -- pieces the steps share -------------------------------------------------

    def _open(
        self, turn: Turn, route: Route | None, category: str, subcategory: str | None, chosen: bool = False
    ) -> Outcome:
        """Open her ticket, give it the messages that waited for it, and ask where she lives."""
        urgent = bool(route and route.urgent)
        # Her own intent to harm herself: the router's policy (bot/decide.py) or her words.
        self_harm = urgent and (bool(route and route.self_harm) or self.words.self_harm(turn.text))
        if self_harm:
            # Her own life at risk: the counselling route, whatever else she mentioned.
            category, subcategory = "service", "counselling"
        explanation = route.explanation if route else ""
        if chosen:
            explanation = f"{category}: chosen by her" + (f" (router unsure: {route.explanation})" if route else "")
        keywords = [*route.keywords, *(k for k in route.urgent_keywords if k not in route.keywords)] if route else []
        ticket = turn.desk.open_ticket(
            reference_prefix=self.reference_prefix,
            channel=turn.inbound.channel,
            channel_user=turn.inbound.user,
            category=category,
            subcategory=subcategory,
            urgent=urgent,
            confidence=1.0 if chosen else (route.confidence if route else 0.0),
            keywords=keywords,
            explanation=explanation,
            region_id=self._default_region_id or self._find_default_region(turn.desk),
            now=turn.now,
            deadlines=self.policy.deadlines(turn.now, category, urgent),
            policy=self.policy,
        )
        turn.message.ticket_id = ticket.id
        pending = turn.conversation.data.get("pending", [])
        if pending:
            turn.desk.attach_messages(pending, ticket.id)
        asked = {"ticket_id": ticket.id, "unconfirmed": not urgent}
        log.info("ticket %s opened on %s: %s urgent=%s", ticket.reference, ticket.channel, category, urgent)
        if urgent:
            reached = self._alert(turn, ticket, "urgent at intake", list(route.urgent_keywords))
            text = (replies.URGENT_CREATED if reached else replies.URGENT_CREATED_QUEUED).format(
                reference=ticket.reference, safety=replies.SAFETY_SELF_HARM if self_harm else replies.SAFETY,
            )
            return Outcome(text + "\n" + replies.COUNSELLING if self_harm else text, ticket).to("ask_region", **asked)
        return Outcome(replies.CREATED.format(
            opener=replies.OPENERS.get(subcategory or "", replies.OPENERS[category]),
            reference=ticket.reference,
            category=replies.CATEGORY_NAMES[category],
            claim_within=self._claim_within(ticket),
        ), ticket).to("ask_region", **asked)

    def _add(self, turn: Turn, ticket: TicketRow, route: Route, question: str | None = None) -> Outcome:
        """More of her story for an open ticket; danger in it raises the ticket to urgent."""
        turn.message.ticket_id = ticket.id
        ticket.change(updated_at=turn.now)
        ticket.record("message_added", actor_type="woman", notify_assignee=ticket.assignee_id)
        if ticket.paused_at is not None and ticket.pause_reason == "awaiting_her":
            ticket.resume(self.policy, turn.now, why="she wrote")
        self_harm = self.words.self_harm(turn.text)
        if route.urgent and ticket.mark_urgent(list(route.urgent_keywords), self.policy, turn.now):
            reached = self._alert(turn, ticket, "marked urgent by a later message")
            log.warning("ticket %s raised to urgent", ticket.reference)
            text = (replies.URGENT_ADDED if reached else replies.URGENT_ADDED_QUEUED).format(
                reference=ticket.reference, safety=replies.SAFETY_SELF_HARM if self_harm else replies.SAFETY,
            )
            if self_harm:
                text += "\n" + replies.COUNSELLING
            return Outcome(text + "\n" + question if question else text, ticket)
        if self_harm:
            text = replies.SAFETY_SELF_HARM + "\n" + replies.COUNSELLING
            return Outcome(text + "\n" + question if question else text, ticket)
        if self.words.silent(turn.text):
            # Answered by the silent options that follow, not with "added".
            return Outcome(question or "", ticket)
        if question:
            return Outcome(replies.ADDED_THEN.format(reference=ticket.reference, question=question), ticket)
        return Outcome(replies.ADDED.format(reference=ticket.reference), ticket)

    def _alert(self, turn: Turn, ticket: TicketRow, reason: str, keywords: list[str] | None = None) -> bool:
        """Alert staff to an urgent ticket; whether someone can be reached now (a notifier
        configured for her region, or staff of her region with the workspace open)."""
        connection = turn.desk.connection
        about = AlertTicket(ticket.id, ticket.reference, ticket.category, ticket.region_id, ticket.assignee_id)
        notified = raise_alert(
            connection, self.settings, about, kind="urgent", audience="chain", region_id=ticket.region_id,
            now=turn.now, due=ticket.claim_due_at,
        )
        watching = on_duty(connection, ticket.region_id, turn.now)
        ticket.record("urgent_alert", reason=reason, keywords=keywords or [], notifiers=notified, on_duty=watching)
        return bool(notified or watching)

    def _not_an_answer(self, turn: Turn, ticket: TicketRow, retry: str, question: str, attempt: bool) -> Outcome:
        """Not the answer asked for. A failed attempt at one (`attempt`) is asked again with
        `retry`; anything else is more of her story, added to the ticket before asking
        again; danger in it always raises the ticket to urgent first."""
        route = self._route(turn)
        if route.urgent or not attempt:
            return self._add(turn, ticket, route, question=question)
        return Outcome(retry, ticket)

    def _set_region(self, turn: Turn, ticket: TicketRow, region: RegionRow) -> Outcome:
        if ticket.region_id != region.id:
            previous = turn.desk.region(ticket.region_id)
            ticket.record(
                "region_set", actor_type="woman", region=region.code, previous=previous.code if previous else None
            )
            ticket.change(region_id=region.id)
        if turn.conversation.data.get("have_contact"):
            return self._summary(turn, ticket)
        return self._ask_contact(turn, ticket)

    def _ask_contact(self, turn: Turn, ticket: TicketRow) -> Outcome:
        return Outcome(replies.ASK_CONTACT, ticket).to("ask_contact", **_keep(turn.conversation))

    def _summary(self, turn: Turn, ticket: TicketRow) -> Outcome:
        contact = mask_mobile(ticket.contact_phone) if ticket.contact_phone else replies.CONTACT_HERE
        return Outcome(replies.SUMMARY.format(
            reference=ticket.reference,
            category=replies.CATEGORY_NAMES[ticket.category] + (replies.URGENT_MARK if ticket.urgent else ""),
            region=region.display_name if (region := turn.desk.region(ticket.region_id)) else "",
            contact=contact,
        ), ticket).to("confirm", **_keep(turn.conversation))

    def erase(self, turn: Turn) -> None:
        """Her words that never became part of a case are blanked; the erasure is recorded."""
        inbound = turn.inbound
        erased = turn.desk.erase_loose_messages(inbound.channel, inbound.user)
        forget(turn)
        turn.message.text = ""
        for ticket in turn.desk.tickets_of(inbound.channel, inbound.user):
            ticket.record("erasure_requested", actor_type="woman", loose_messages_erased=erased)
        log.info("erasure on %s: %d loose messages blanked", inbound.channel, erased)

    def status(self, desk: Desk, inbound: Inbound) -> str:
        tickets = desk.tickets_of(inbound.channel, inbound.user)
        if not tickets:
            return replies.NO_TICKETS
        # Every open matter of hers, then the latest finished ones.
        open_tickets = [ticket for ticket in tickets if ticket.is_open]
        finished = [ticket for ticket in tickets if not ticket.is_open][: max(0, STATUS_FINISHED - len(open_tickets))]
        lines = [replies.STATUS_HEADER]
        for ticket in open_tickets + finished:
            lines.append(
                replies.STATUS_LINE.format(
                    reference=ticket.reference,
                    category=replies.CATEGORY_NAMES[ticket.category],
                    status=replies.STATUS_NAMES[ticket.status],
                )
            )
        return "\n".join(lines)

    def _conversation_ticket(self, desk: Desk, conversation: ConversationRow) -> TicketRow | None:
        ticket_id = conversation.data.get("ticket_id")
        return desk.ticket(ticket_id) if ticket_id else None

    def _follow_up(self, turn: Turn) -> FollowUpRow | None:
        follow_up_id = turn.conversation.data.get("follow_up_id")
        follow_up = turn.desk.follow_up(follow_up_id) if follow_up_id else None
        return follow_up if follow_up is not None and follow_up.pending else None

    def _find_default_region(self, desk: Desk) -> int:
        """Where tickets are filed until she names her place; kept for the process once found."""
        if self.default_region:
            region = desk.region_by_code(self.default_region)
            if region is not None:
                self._default_region_id = region.id
                return region.id
            # Not kept: it may be imported while the service runs.
            log.warning("intake.default_region %s does not exist; filing under the root", self.default_region)
        root = desk.root_region()
        if root is None:
            raise LookupError("no region to file tickets under: run `niangjia init-db` (or import regions)")
        if not self.default_region:
            self._default_region_id = root.id
        return root.id

    def _claim_within(self, ticket: TicketRow) -> str:
        span = self.policy.durations(ticket.category, ticket.urgent).claim
        return replies.claim_within(span, working_days=self.policy.working_time and not ticket.urgent)


def _kept_media(inbound: Inbound) -> bool:
    """Her image or voice, whose file the worker fetches (WeChat deletes it after 3 days)."""
    return bool(inbound.media_id) and inbound.kind in ("image", "voice") and inbound.channel in ("wechat", "telegram")


def _route_from(data: dict) -> Route:
    """A route kept in the conversation's memory, as the router gave it."""
    return Route(**{**data, "keywords": tuple(data["keywords"]), "urgent_keywords": tuple(data["urgent_keywords"])})


def _keep(conversation: ConversationRow) -> dict:
    """The parts of the conversation's memory that carry from step to step."""
    return {k: v for k, v in conversation.data.items() if k in ("ticket_id", "unconfirmed", "follow_up_id", "have_contact")}

