"""Contact records from outside systems: one CDR (or CSV line) checked and normalised.

The format is documented in docs/telephony-cdr.md; this module is its single source of
truth. It is pure: the caller passes `now` and does the lookups (ticket, agent, account)
and the insert. The same rules serve JSON (typed values) and CSV (every value a string,
an empty cell meaning "absent"), so the two ways in cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from accounts.domain import phone_normalise

from .routing import CATEGORY_QUEUE

# Every channel a customer can use; SYSTEM rows are the platform's own (incident tickets).
CHANNELS = (
    "PHONE",
    "EMAIL",
    "PORTAL",
    "CHAT",
    "CHATBOT_HANDOFF",
    "CHATBOT",
    "SOCIAL",
    "APP",
    "LETTER",
    "IN_PERSON",
)
# INCIDENT is the outage command tickets' internal queue: no customer waits in it.
QUEUES = ("BILLING", "METERING", "OUTAGE", "COMMERCIAL", "COMPLAINTS", "GENERAL")
OUTCOMES = ("REACHED_QUEUE", "BUSY", "BLOCKED", "CLOSED")
REACHED_QUEUE = "REACHED_QUEUE"
DIRECTIONS = ("inbound", "outbound")
FIELDS = (
    "external_id",
    "channel",
    "direction",
    "queue",
    "outcome",
    "offered_at",
    "answered_at",
    "ended_at",
    "wrap_up_ended_at",
    "talk_seconds",
    "hold_seconds",
    "wrap_seconds",
    "abandoned",
    "agent_email",
    "caller",
    "ticket_reference",
    "category",
    "first_contact",
    "resolved",
)
EXTERNAL_ID_MAX = 100
# A single interaction longer than a day is a broken record, not a long call.
DURATION_MAX = 86_400
# Telephony clocks drift a little; a record further ahead than this is refused.
FUTURE_TOLERANCE = timedelta(minutes=5)
EARLIEST = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
REFERENCE_RE = re.compile(r"^PN-\d{4}-\d{6}$")
TRUE_TEXT = {"true", "1", "yes"}
FALSE_TEXT = {"false", "0", "no"}


@dataclass(frozen=True)
class ContactRow:
    """A valid record, normalised; lookups still to do: `agent_email`, `caller`
    (an account by phone) and `ticket_reference`."""

    external_id: str
    channel: str
    inbound: bool
    queue: str
    outcome: str
    offered_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    wrap_up_ended_at: datetime | None
    talk_seconds: int
    hold_seconds: int
    wrap_seconds: int
    abandoned: bool
    agent_email: str
    caller: str
    ticket_reference: str
    category: str
    first_contact: bool
    resolved_first_contact: bool | None

    @property
    def key(self) -> tuple[str, str]:
        """What makes a record unique (the database's constraint)."""
        return (self.channel, self.external_id)


class _Row:
    """Reads one raw record, collecting (field, message) errors instead of stopping."""

    def __init__(self, data: dict, *, text: bool):
        self.data = data
        self.text = text
        self.errors: list[tuple[str, str]] = []

    def error(self, name: str, message: str) -> None:
        self.errors.append((name, message))

    def raw(self, name: str) -> Any:
        value = self.data.get(name)
        if self.text and isinstance(value, str) and not value.strip():
            return None
        return value

    def string(self, name: str, *, required=False, max_length: int = 200) -> str:
        value = self.raw(name)
        if value is None:
            if required:
                self.error(name, "This field is required.")
            return ""
        if not isinstance(value, str):
            self.error(name, "Must be a string.")
            return ""
        value = value.strip()
        if required and not value:
            self.error(name, "This field may not be blank.")
        elif len(value) > max_length:
            self.error(name, f"Ensure this field has no more than {max_length} characters.")
            return ""
        return value

    def choice(self, name: str, choices: tuple[str, ...], *, default: str | None = None) -> str:
        value = self.string(name, required=default is None, max_length=40)
        if not value:
            return default or ""
        if value not in choices:
            self.error(name, f'"{value}" is not a valid choice ({", ".join(choices)}).')
            return default or ""
        return value

    def instant(self, name: str, *, required=False) -> datetime | None:
        value = self.string(name, required=required, max_length=40)
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.error(name, "Enter an ISO-8601 date and time.")
            return None
        if parsed.tzinfo is None:
            self.error(name, "Give a time zone offset (or Z).")
            return None
        return parsed

    def seconds(self, name: str) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        if self.text and isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        # bool is an int in Python; true is not a duration.
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, "Must be a whole number of seconds.")
            return None
        if not 0 <= value <= DURATION_MAX:
            self.error(name, f"Must be between 0 and {DURATION_MAX}.")
            return None
        return value

    def flag(self, name: str) -> bool | None:
        value = self.raw(name)
        if value is None:
            return None
        if self.text and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in TRUE_TEXT | FALSE_TEXT:
                return lowered in TRUE_TEXT
        if not isinstance(value, bool):
            self.error(name, "Must be true or false.")
            return None
        return value


def _whole_seconds(delta: timedelta) -> int:
    return max(0, round(delta.total_seconds()))


def contact_row_parse(
    data: Any, *, now: datetime, text: bool = False
) -> tuple[ContactRow | None, list[tuple[str, str]]]:
    """One record checked against the documented format: the normalised row, or None
    and every (field, message) wrong with it. `text` reads CSV cells (all strings)."""
    if not isinstance(data, dict):
        return None, [("record", "Must be an object.")]
    row = _Row(data, text=text)
    external_id = row.string("external_id", required=True, max_length=EXTERNAL_ID_MAX)
    channel = row.choice("channel", CHANNELS, default="PHONE")
    direction = row.choice("direction", DIRECTIONS, default="inbound")
    queue = row.choice("queue", QUEUES)
    outcome = row.choice("outcome", OUTCOMES, default=REACHED_QUEUE)
    offered = row.instant("offered_at", required=True)
    answered = row.instant("answered_at")
    ended = row.instant("ended_at")
    wrap_ended = row.instant("wrap_up_ended_at")
    talk = row.seconds("talk_seconds")
    hold = row.seconds("hold_seconds")
    wrap = row.seconds("wrap_seconds")
    abandoned = row.flag("abandoned")
    agent_email = row.string("agent_email", max_length=254).lower()
    caller = row.string("caller", max_length=32)
    reference = row.string("ticket_reference", max_length=20).upper()
    category = row.choice("category", tuple(CATEGORY_QUEUE), default="")
    first_contact = row.flag("first_contact")
    resolved = row.flag("resolved")

    if offered is not None:
        if offered > now + FUTURE_TOLERANCE:
            row.error("offered_at", "Cannot be in the future.")
        elif offered < EARLIEST:
            row.error("offered_at", "Cannot be before 2000.")
    # Each instant follows the one before it; an error names the later field.
    previous = offered
    for name, instant in (
        ("answered_at", answered),
        ("ended_at", ended),
        ("wrap_up_ended_at", wrap_ended),
    ):
        if instant is None:
            continue
        if previous is not None and instant < previous:
            row.error(name, "Cannot be earlier than the previous instant of the contact.")
        previous = instant
    if wrap_ended is not None and ended is None:
        row.error("wrap_up_ended_at", "Needs ended_at.")
    if reference and not REFERENCE_RE.match(reference):
        row.error("ticket_reference", "Use the form PN-YYYY-NNNNNN.")
    if caller and len(phone_normalise(caller).lstrip("+")) < 4:
        row.error("caller", "Enter a phone number.")
    if agent_email and "@" not in agent_email[1:-1]:
        row.error("agent_email", "Enter a valid e-mail address.")

    inbound = direction == "inbound"
    if outcome != REACHED_QUEUE and answered is not None:
        row.error("answered_at", f"A {outcome} attempt never reached anyone.")
    if abandoned and answered is not None:
        row.error("abandoned", "An answered contact is not abandoned.")
    if abandoned and not inbound:
        row.error("abandoned", "Only an inbound contact can be abandoned.")
    if abandoned and outcome != REACHED_QUEUE:
        row.error("abandoned", "Only a contact that reached a queue can be abandoned.")
    if row.errors:
        return None, row.errors

    if abandoned is None:
        # Waited in a queue and hung up before anyone answered.
        abandoned = inbound and outcome == REACHED_QUEUE and answered is None
    hold = hold or 0
    if talk is None:
        talk = (
            max(0, _whole_seconds(ended - answered) - hold)
            if answered is not None and ended is not None
            else 0
        )
    if wrap is None:
        wrap = (
            _whole_seconds(wrap_ended - ended)
            if wrap_ended is not None and ended is not None
            else 0
        )
    return (
        ContactRow(
            external_id=external_id,
            channel=channel,
            inbound=inbound,
            queue=queue,
            outcome=outcome,
            offered_at=offered,
            answered_at=answered,
            ended_at=ended,
            wrap_up_ended_at=wrap_ended,
            talk_seconds=talk,
            hold_seconds=hold,
            wrap_seconds=wrap,
            abandoned=abandoned,
            agent_email=agent_email,
            caller=phone_normalise(caller) if caller else "",
            ticket_reference=reference,
            category=category,
            first_contact=bool(first_contact),
            resolved_first_contact=resolved,
        ),
        [],
    )


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def customer_key(
    *, account_id: int | None = None, user_id: int | None = None, contact: str = ""
) -> str:
    """Who the customer is, for the repeat-contact rate (docs/kpi.md): the account when
    known, else the login, else the e-mail address or phone number given; "" when
    nobody is known (a social handle, a blank)."""
    if account_id:
        return f"acct:{account_id}"
    if user_id:
        return f"user:{user_id}"
    text = contact.strip()
    if EMAIL_RE.match(text):
        return f"mail:{text.lower()}"
    if text and not any(ch.isalpha() for ch in text):
        normalised = phone_normalise(text)
        if len(normalised.lstrip("+")) >= 4:
            return f"tel:{normalised}"
    return ""


def issue_key(*, category: str = "", queue: str = "") -> str:
    """What the contact was about: the ticket category, else only its queue is known."""
    if category:
        return category
    return f"queue:{queue}" if queue else ""
