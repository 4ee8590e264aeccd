"""The KPI formulas of docs/kpi.md ("Definitions"), over plain records.

Each function takes the records of one cell (a period, and a queue, a channel, an agent
or everything) and returns the figure, or None when it is undefined: no contact answered
has no ASA, which is not an ASA of 0 s. The selectors and snapshot builders only choose
the records and map rows to these dataclasses; every rule about which record counts lives
here, so a snapshot, a live figure and a test cannot disagree.

Periods are Europe/Paris local: a day runs from local midnight to local midnight (23 h on
the last Sunday of March, 25 h on the last Sunday of October), a month from the 1st at
local midnight. Intervals of 15, 30 or 60 minutes are real elapsed time from local
midnight; their keys are UTC instants, because two wall-clock 02:00 exist on an October
DST day and Python compares two datetimes sharing one tzinfo by their wall clock.

Standard library only (no Django): the module is checked by import-linter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

PARIS = "Europe/Paris"
# Channels where a customer waits live for a person: queue-time figures apply to them.
REAL_TIME_CHANNELS = frozenset({"PHONE", "CHAT", "CHATBOT_HANDOFF"})
REACHED_QUEUE = "REACHED_QUEUE"
# Attempts refused for lack of capacity. CLOSED (outside opening hours) is not counted.
FAILED_ATTEMPTS = frozenset({"BUSY", "BLOCKED"})
# A caller who hangs up within this many seconds never really waited (misdial, IVR slip).
SHORT_ABANDON_SECONDS = 5
# Default answer-time target of the service level, in seconds (domain.md: 20 s).
SERVICE_LEVEL_SECONDS = 20
REPEAT_WINDOW = timedelta(days=7)
INTERVAL_MINUTES = (15, 30, 60)
# Customer-facing backlog only: SYSTEM tickets are the outage command tickets.
NOT_BACKLOG_CHANNELS = frozenset({"SYSTEM"})
# Ageing buckets of an open ticket, [lower, upper) in days of real elapsed time.
AGEING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-1d", 0, 1),
    ("1-3d", 1, 3),
    ("3-7d", 3, 7),
    ("7-14d", 7, 14),
    ("14-30d", 14, 30),
    ("30d+", 30, None),
)


# --- Records --------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactRecord:
    """One tickets.Contact row."""

    offered_at: datetime
    channel: str
    queue: str
    agent_id: int | None = None
    inbound: bool = True
    outcome: str = REACHED_QUEUE
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    talk_seconds: int = 0
    hold_seconds: int = 0
    wrap_seconds: int = 0
    abandoned: bool = False
    first_contact: bool = False
    resolved_first_contact: bool | None = None
    customer_key: str = ""
    issue_key: str = ""


@dataclass(frozen=True)
class SurveyRecord:
    """One answered tickets.Survey, with its ticket's queue and channel and the ticket's
    assignee as the agent: a survey needs no contact record to count."""

    answered_at: datetime
    csat: int | None
    nps: int | None
    queue: str = ""
    channel: str = ""
    agent_id: int | None = None


@dataclass(frozen=True)
class TicketRecord:
    """`resolved_spans`: when the ticket was RESOLVED or CLOSED, from its STATUS events:
    (resolved, reopened) pairs, the last one open-ended (None) unless it was reopened.
    A reopened ticket keeps its old resolved_at, so that column alone cannot say."""

    created_at: datetime
    queue: str
    channel: str
    agent_id: int | None = None  # the assignee
    resolved_spans: tuple[tuple[datetime, datetime | None], ...] = ()
    merged: bool = False


@dataclass(frozen=True)
class CommitmentRecord:
    """One clock (tickets.ClockInstance) or other dated promise to a customer.
    `commitment` is its label in the breakdown, e.g. "BILLING / Accusé de réception 24 h"."""

    commitment: str
    due_at: datetime
    status: str  # MET | BREACHED | RUNNING | PAUSED | CANCELLED
    met_at: datetime | None = None


@dataclass(frozen=True)
class IncidentRecord:
    started_at: datetime
    ended_at: datetime | None
    status: str  # outages.IncidentStatus
    planned: bool = False
    klass: str = ""


@dataclass(frozen=True)
class Attainment:
    met: int
    due: int

    @property
    def percent(self) -> float | None:
        return _percent(self.met, self.due)


def _utc(instant: datetime) -> datetime:
    """Python subtracts and compares two datetimes of the same tzinfo by their wall clock
    (an hour wrong across a DST change); in UTC the arithmetic is real elapsed time."""
    return instant.astimezone(UTC)


def _seconds(start: datetime, end: datetime) -> float:
    return (_utc(end) - _utc(start)).total_seconds()


def _percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


# --- Contacts: who counts -------------------------------------------------------------


def queue_wait_seconds(contact: ContactRecord) -> float | None:
    """Answered: answered_at − offered_at. Abandoned: ended_at − offered_at (when the
    caller hung up). Otherwise unknown."""
    if contact.answered_at is not None:
        return _seconds(contact.offered_at, contact.answered_at)
    if contact.abandoned and contact.ended_at is not None:
        return _seconds(contact.offered_at, contact.ended_at)
    return None


def is_short_abandon(contact: ContactRecord, *, short_seconds: int = SHORT_ABANDON_SECONDS):
    wait = queue_wait_seconds(contact)
    return contact.abandoned and wait is not None and wait < short_seconds


def is_offered(contact: ContactRecord, *, short_seconds: int = SHORT_ABANDON_SECONDS) -> bool:
    """The denominator of abandonment and service level: inbound, on a real-time
    channel, reached a queue, and not a short abandon."""
    return (
        contact.inbound
        and contact.channel in REAL_TIME_CHANNELS
        and contact.outcome == REACHED_QUEUE
        and not is_short_abandon(contact, short_seconds=short_seconds)
    )


def is_answered(contact: ContactRecord) -> bool:
    return (
        contact.inbound
        and contact.channel in REAL_TIME_CHANNELS
        and contact.outcome == REACHED_QUEUE
        and contact.answered_at is not None
        and not contact.abandoned
    )


def is_handled(contact: ContactRecord) -> bool:
    """An agent spent time on it: answered, inbound or outbound, on a real-time channel."""
    return (
        contact.channel in REAL_TIME_CHANNELS
        and contact.answered_at is not None
        and not contact.abandoned
    )


# --- Contacts: the figures ---------------------------------------------------------------


def asa_seconds(contacts: Iterable[ContactRecord]) -> float | None:
    """Mean of answered_at − offered_at over the answered inbound real-time contacts."""
    return _mean([queue_wait_seconds(c) for c in contacts if is_answered(c)])


def aht_seconds(contacts: Iterable[ContactRecord]) -> float | None:
    """Mean of talk + hold + wrap over the handled contacts."""
    return _mean(
        [c.talk_seconds + c.hold_seconds + c.wrap_seconds for c in contacts if is_handled(c)]
    )


def fcr_percent(contacts: Iterable[ContactRecord]) -> float | None:
    """First contacts resolved there and then, among first contacts with a verdict."""
    judged = [c for c in contacts if c.first_contact and c.resolved_first_contact is not None]
    return _percent(sum(c.resolved_first_contact for c in judged), len(judged))


def abandonment_percent(
    contacts: Iterable[ContactRecord], *, short_seconds: int = SHORT_ABANDON_SECONDS
) -> float | None:
    offered = [c for c in contacts if is_offered(c, short_seconds=short_seconds)]
    return _percent(sum(c.abandoned for c in offered), len(offered))


def service_level_percent(
    contacts: Iterable[ContactRecord],
    *,
    answer_seconds: int = SERVICE_LEVEL_SECONDS,
    short_seconds: int = SHORT_ABANDON_SECONDS,
) -> float | None:
    """Offered contacts answered within `answer_seconds` (inclusive), over offered."""
    offered = [c for c in contacts if is_offered(c, short_seconds=short_seconds)]
    within = sum(is_answered(c) and queue_wait_seconds(c) <= answer_seconds for c in offered)
    return _percent(within, len(offered))


def contact_success_percent(contacts: Iterable[ContactRecord]) -> float | None:
    """Inbound real-time attempts that reached a queue, over those that reached one or
    were turned away busy or blocked; attempts outside opening hours are left out."""
    attempts = [
        c
        for c in contacts
        if c.inbound
        and c.channel in REAL_TIME_CHANNELS
        and (c.outcome == REACHED_QUEUE or c.outcome in FAILED_ATTEMPTS)
    ]
    return _percent(sum(c.outcome == REACHED_QUEUE for c in attempts), len(attempts))


def _repeat_eligible(contact: ContactRecord) -> bool:
    return (
        contact.inbound
        and contact.outcome == REACHED_QUEUE
        and not contact.abandoned
        and bool(contact.customer_key)
        and bool(contact.issue_key)
    )


def repeat_flags(
    contacts: Iterable[ContactRecord], *, window: timedelta = REPEAT_WINDOW
) -> dict[int, bool]:
    """For each eligible contact (by its index in `contacts`): whether the same customer
    made an eligible contact on the same issue strictly earlier, at most `window` before.
    The caller passes the 7 days before the period as history."""
    listed = list(contacts)
    by_thread: dict[tuple[str, str], list[tuple[datetime, int]]] = defaultdict(list)
    for index, contact in enumerate(listed):
        if _repeat_eligible(contact):
            thread = (contact.customer_key, contact.issue_key)
            by_thread[thread].append((_utc(contact.offered_at), index))
    flags: dict[int, bool] = {}
    for entries in by_thread.values():
        entries.sort()
        latest_before: datetime | None = None  # the last instant strictly earlier
        current: datetime | None = None
        for offered, index in entries:
            if offered != current:
                latest_before, current = current, offered
            flags[index] = latest_before is not None and offered - latest_before <= window
    return flags


def repeat_contact_percent(
    contacts: Iterable[ContactRecord],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    window: timedelta = REPEAT_WINDOW,
) -> float | None:
    """Share of the eligible contacts offered in [start, end) that are repeats. Contacts
    before `start` only serve as history."""
    listed = list(contacts)
    flags = repeat_flags(listed, window=window)
    counted = [
        flag
        for index, flag in flags.items()
        if (start is None or _utc(listed[index].offered_at) >= _utc(start))
        and (end is None or _utc(listed[index].offered_at) < _utc(end))
    ]
    return _percent(sum(counted), len(counted))


# --- Surveys -----------------------------------------------------------------------------


def csat_percent(surveys: Iterable[SurveyRecord]) -> float | None:
    """Share of 4 and 5 among the CSAT answers (1–5)."""
    answers = [s.csat for s in surveys if s.csat is not None]
    return _percent(sum(a >= 4 for a in answers), len(answers))


def nps(surveys: Iterable[SurveyRecord]) -> float | None:
    """% of 9–10 minus % of 0–6 among the NPS answers (0–10), from −100 to +100."""
    answers = [s.nps for s in surveys if s.nps is not None]
    if not answers:
        return None
    promoters = sum(a >= 9 for a in answers)
    detractors = sum(a <= 6 for a in answers)
    return 100 * (promoters - detractors) / len(answers)


# --- Tickets -----------------------------------------------------------------------------


def is_open_at(ticket: TicketRecord, at: datetime) -> bool:
    moment = _utc(at)
    if ticket.merged or ticket.channel in NOT_BACKLOG_CHANNELS or _utc(ticket.created_at) > moment:
        return False
    return not any(
        _utc(start) <= moment and (end is None or moment < _utc(end))
        for start, end in ticket.resolved_spans
    )


def backlog(tickets: Iterable[TicketRecord], *, at: datetime) -> int:
    """Open customer tickets at the instant `at`. A stock, so 0 is a real figure."""
    return sum(is_open_at(t, at) for t in tickets)


def ageing_bucket(age: timedelta) -> str:
    for name, lower, upper in AGEING_BUCKETS:
        if age >= timedelta(days=lower) and (upper is None or age < timedelta(days=upper)):
            return name
    return AGEING_BUCKETS[0][0]  # created after `at` cannot happen for an open ticket


def backlog_ageing(tickets: Iterable[TicketRecord], *, at: datetime) -> dict[str, int]:
    """Open tickets at `at` per age bucket (at − created_at), every bucket present."""
    counts = {name: 0 for name, _, _ in AGEING_BUCKETS}
    for ticket in tickets:
        if is_open_at(ticket, at):
            counts[ageing_bucket(_utc(at) - _utc(ticket.created_at))] += 1
    return counts


# --- Commitments and incidents ---------------------------------------------------------------


def commitment_verdict(record: CommitmentRecord, *, now: datetime) -> bool | None:
    """True met, False missed, None not counted (not decided yet, paused or withdrawn)."""
    if record.status == "MET":
        return record.met_at is not None and _utc(record.met_at) <= _utc(record.due_at)
    if record.status == "BREACHED":
        return False
    if record.status == "RUNNING" and _utc(record.due_at) < _utc(now):
        return False  # the promise is already broken, whether or not the sweep has run
    return None


def sla_attainment(records: Iterable[CommitmentRecord], *, now: datetime) -> Attainment:
    """Every decided commitment counts once, whichever kind it is."""
    verdicts = [commitment_verdict(r, now=now) for r in records]
    decided = [v for v in verdicts if v is not None]
    return Attainment(met=sum(decided), due=len(decided))


def sla_attainment_by_commitment(
    records: Iterable[CommitmentRecord], *, now: datetime
) -> dict[str, Attainment]:
    groups: dict[str, list[CommitmentRecord]] = defaultdict(list)
    for record in records:
        groups[record.commitment].append(record)
    result = {name: sla_attainment(group, now=now) for name, group in sorted(groups.items())}
    return {name: value for name, value in result.items() if value.due}


def mttr_seconds(incidents: Iterable[IncidentRecord]) -> float | None:
    """Mean restoration time of unplanned incidents restored (RESTORED or CLOSED)."""
    return _mean(
        [
            _seconds(i.started_at, i.ended_at)
            for i in incidents
            if not i.planned and i.status in {"RESTORED", "CLOSED"} and i.ended_at is not None
        ]
    )


# --- Periods and breakdowns -------------------------------------------------------------------


def local_day_bounds(day: date, tz: str = PARIS) -> tuple[datetime, datetime]:
    """The UTC instants where a local day starts and ends."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def local_month_bounds(month: date, tz: str = PARIS) -> tuple[datetime, datetime]:
    first = month.replace(day=1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return local_day_bounds(first, tz)[0], local_day_bounds(following, tz)[0]


def local_day(instant: datetime, tz: str = PARIS) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


def local_month(instant: datetime, tz: str = PARIS) -> date:
    return local_day(instant, tz).replace(day=1)


def _check_minutes(minutes: int) -> None:
    # Paris moves by whole hours, so these sizes keep every boundary on :00/:15/:30/:45.
    if minutes not in INTERVAL_MINUTES:
        raise ValueError(f"An interval is 15, 30 or 60 minutes, not {minutes}.")


def interval_start(instant: datetime, *, minutes: int = 30, tz: str = PARIS) -> datetime:
    """The UTC start of the interval holding `instant`, counted from local midnight."""
    _check_minutes(minutes)
    day_start, _ = local_day_bounds(local_day(instant, tz), tz)
    step = timedelta(minutes=minutes)
    return day_start + ((instant.astimezone(UTC) - day_start) // step) * step


def day_intervals(day: date, *, minutes: int = 30, tz: str = PARIS) -> list[datetime]:
    """Every interval start of a local day: 48 half-hours, 46 on 29 March 2026, 50 on
    25 October 2026."""
    _check_minutes(minutes)
    start, end = local_day_bounds(day, tz)
    step = timedelta(minutes=minutes)
    return [start + step * n for n in range(int((end - start) / step))]


GRAINS = ("15min", "30min", "60min", "day", "month")


def period_key(instant: datetime, grain: str, *, tz: str = PARIS) -> datetime | date:
    """An interval's UTC start, a local day, or a local month's first day."""
    if grain == "day":
        return local_day(instant, tz)
    if grain == "month":
        return local_month(instant, tz)
    if grain in GRAINS:
        return interval_start(instant, minutes=int(grain.removesuffix("min")), tz=tz)
    raise ValueError(f"Unknown grain {grain!r} (one of {', '.join(GRAINS)}).")


R = TypeVar("R")


def breakdown(
    records: Iterable[R],
    figure: Callable[[list[R]], object],
    *,
    instant: Callable[[R], datetime],
    grain: str,
    dimension: str | None = None,
    tz: str = PARIS,
) -> dict[tuple[datetime | date, object], object]:
    """`figure` per (period, dimension value) cell; `dimension` is an attribute name
    ("queue", "channel", "agent_id") or None for overall (the value is then None).
    Only cells with records appear; a cell missing, or a None figure, shows "—"."""
    cells: dict[tuple[datetime | date, object], list[R]] = defaultdict(list)
    for record in records:
        value = getattr(record, dimension) if dimension else None
        cells[(period_key(instant(record), grain, tz=tz), value)].append(record)
    return {key: figure(group) for key, group in sorted(cells.items(), key=_cell_order)}


def _cell_order(item):
    (period, value), _ = item
    return (period, value is None, str(value))
