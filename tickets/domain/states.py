"""The ticket status machine: an explicit table of allowed moves."""

from __future__ import annotations

from datetime import datetime, timedelta

NEW = "NEW"
OPEN = "OPEN"
WAITING_CUSTOMER = "WAITING_CUSTOMER"
WAITING_THIRD_PARTY = "WAITING_THIRD_PARTY"
RESOLVED = "RESOLVED"
CLOSED = "CLOSED"
ALL = (NEW, OPEN, WAITING_CUSTOMER, WAITING_THIRD_PARTY, RESOLVED, CLOSED)

TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({OPEN, WAITING_CUSTOMER, WAITING_THIRD_PARTY, RESOLVED}),
    OPEN: frozenset({WAITING_CUSTOMER, WAITING_THIRD_PARTY, RESOLVED}),
    WAITING_CUSTOMER: frozenset({OPEN, RESOLVED}),
    WAITING_THIRD_PARTY: frozenset({OPEN, RESOLVED}),
    # A customer reply reopens a resolved ticket (within the reopen window).
    RESOLVED: frozenset({OPEN, CLOSED}),
    CLOSED: frozenset(),
}
WAITING = frozenset({WAITING_CUSTOMER, WAITING_THIRD_PARTY})
ACTIVE = frozenset({NEW, OPEN, WAITING_CUSTOMER, WAITING_THIRD_PARTY})


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str):
        super().__init__(f"A ticket cannot go from {current} to {target}.")
        self.current = current
        self.target = target


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, target)


def customer_reply_target(
    *, current: str, resolved_at: datetime | None, now: datetime, reopen_days: int
) -> str | None:
    """Where a customer's reply moves the ticket, or None if it stays put.

    A reply after the reopen window on a resolved ticket starts a new ticket
    instead (the caller decides), and a closed ticket never reopens.
    """
    if current == WAITING_CUSTOMER:
        return OPEN
    if current == RESOLVED:
        if resolved_at is not None and now - resolved_at <= timedelta(days=reopen_days):
            return OPEN
        return None
    return None
