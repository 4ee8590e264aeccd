"""The chat conversation: its status machine, live-chat hours and outcome rules.

Pure Python (no Django). The status values are those of ``kb.models.ConversationStatus``
and the outcomes those of ``kb.models.ConversationOutcome``.

Status machine
--------------
- BOT -> WAITING: hand-off to a person during live-chat hours.
- BOT -> CLOSED: contained (answered), abandoned (idle), or a message left outside
  live-chat hours (outcome HANDED_OFF: a ticket carries it to a person).
- WAITING -> LIVE: an agent picks the conversation up.
- WAITING -> CLOSED: never picked up (abandoned).
- LIVE -> CLOSED: the agent (or customer) ends the chat (outcome HANDED_OFF).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tickets.domain.calendar import BusinessCalendar, contact_centre_calendar, public_holidays

BOT = "BOT"
WAITING = "WAITING"
LIVE = "LIVE"
CLOSED = "CLOSED"

CONTAINED = "CONTAINED"
HANDED_OFF = "HANDED_OFF"
ABANDONED = "ABANDONED"

CONVERSATION_TRANSITIONS: dict[str, frozenset[str]] = {
    BOT: frozenset({WAITING, CLOSED}),
    WAITING: frozenset({LIVE, CLOSED}),
    LIVE: frozenset({CLOSED}),
    CLOSED: frozenset(),
}
OPEN = frozenset({BOT, WAITING, LIVE})
# Statuses the idle sweep closes (a LIVE chat is the agent's to close).
IDLE_SWEPT = frozenset({BOT, WAITING})

# An idle conversation (no customer message for this long while BOT or WAITING) is
# closed by the sweep.
IDLE_AFTER = timedelta(minutes=15)
# A waiting customer's poll moves the idle deadline on at most this often.
KEEP_WAITING_STEP = timedelta(minutes=1)
# Answers refused in a row before the bot hands over to a person.
MAX_FAILED_IN_ROW = 2


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str):
        super().__init__(f"A conversation cannot go from {current} to {target}.")
        self.current = current
        self.target = target


def check_transition(current: str, target: str) -> None:
    """Raise :class:`IllegalTransition` unless ``current -> target`` is in the table."""
    if target not in CONVERSATION_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, target)


def idle_outcome(*, status: str, customer_messages: int, accepted: int, failed_in_row: int) -> str:
    """Outcome of a conversation the idle sweep closes.

    - WAITING (handed over, never picked up): ABANDONED.
    - BOT: CONTAINED when the customer asked something and either accepted at least one
      answer or did not refuse the bot's last answer; ABANDONED when nothing was asked
      or the last answer was refused.
    """
    if status == WAITING:
        return ABANDONED
    if status != BOT:
        raise IllegalTransition(status, CLOSED)
    if customer_messages == 0:
        return ABANDONED
    if accepted > 0 or failed_in_row == 0:
        return CONTAINED
    return ABANDONED


def should_hand_off(*, failed_in_row: int) -> bool:
    return failed_in_row >= MAX_FAILED_IN_ROW


# --- Live-chat hours -------------------------------------------------------------------
# Documented constant (docs/self-service.md, "Handoff"): live chat is staffed with the
# contact centre, Mon-Fri 08:00-20:00 and Sat 09:00-13:00 Europe/Paris, closed on Sundays
# and French public holidays. The check is done in Paris wall-clock time date by date by
# tickets.domain.calendar, so it is right on both DST change days.
LIVE_CHAT_TZ = "Europe/Paris"


def live_chat_calendar(years: tuple[int, ...]) -> BusinessCalendar:
    return contact_centre_calendar(public_holidays("FR", years))


def live_chat_open(now: datetime) -> bool:
    """Whether a person can take a chat at the aware instant ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    year = now.year
    return live_chat_calendar((year - 1, year, year + 1)).is_open(now)
