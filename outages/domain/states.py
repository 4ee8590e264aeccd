"""The status machines of incidents, crew dispatches and customer reports."""

from __future__ import annotations

# Incidents
PLANNED = "PLANNED"
SUSPECTED = "SUSPECTED"
CONFIRMED = "CONFIRMED"
RESTORED = "RESTORED"
CLOSED = "CLOSED"
CANCELLED = "CANCELLED"

INCIDENT_TRANSITIONS: dict[str, frozenset[str]] = {
    # Planned works start (the supply is cut) or are called off.
    PLANNED: frozenset({CONFIRMED, CANCELLED}),
    # A suspect is confirmed by a dispatcher, or dropped (false alarm, regrouped).
    SUSPECTED: frozenset({CONFIRMED, CANCELLED}),
    # Cancelled only when opened in error: its interruption records go with it.
    CONFIRMED: frozenset({RESTORED, CANCELLED}),
    # Supply lost again after a restoration is a new incident: compensation and
    # the reliability records of the first one are already settled.
    RESTORED: frozenset({CLOSED}),
    CLOSED: frozenset(),
    CANCELLED: frozenset(),
}
LIVE = frozenset({PLANNED, SUSPECTED, CONFIRMED})
OFF_SUPPLY = frozenset({SUSPECTED, CONFIRMED})

# Dispatches
DISPATCHED = "DISPATCHED"
EN_ROUTE = "EN_ROUTE"
ON_SITE = "ON_SITE"
CREW_RESTORED = "RESTORED"
CREW_CANCELLED = "CANCELLED"

DISPATCH_TRANSITIONS: dict[str, frozenset[str]] = {
    DISPATCHED: frozenset({EN_ROUTE, CREW_CANCELLED}),
    EN_ROUTE: frozenset({ON_SITE, CREW_CANCELLED}),
    ON_SITE: frozenset({CREW_RESTORED}),
    CREW_RESTORED: frozenset(),
    CREW_CANCELLED: frozenset(),
}
DISPATCH_LIVE = frozenset({DISPATCHED, EN_ROUTE, ON_SITE})

# Reports (outages and streetlights)
RECEIVED = "RECEIVED"
LINKED = "LINKED"
SCHEDULED = "SCHEDULED"
FIXED = "FIXED"
REJECTED = "REJECTED"

REPORT_TRANSITIONS: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({LINKED, SCHEDULED, REJECTED}),
    LINKED: frozenset({FIXED, REJECTED}),
    SCHEDULED: frozenset({FIXED}),
    FIXED: frozenset(),
    REJECTED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, machine: str, current: str, target: str):
        super().__init__(f"A {machine} cannot go from {current} to {target}.")
        self.machine = machine
        self.current = current
        self.target = target


def _check(machine: str, table: dict[str, frozenset[str]], current: str, target: str) -> None:
    if target not in table.get(current, frozenset()):
        raise IllegalTransition(machine, current, target)


def check_incident(current: str, target: str) -> None:
    _check("incident", INCIDENT_TRANSITIONS, current, target)


def check_dispatch(current: str, target: str) -> None:
    _check("dispatch", DISPATCH_TRANSITIONS, current, target)


def check_report(current: str, target: str) -> None:
    _check("report", REPORT_TRANSITIONS, current, target)
