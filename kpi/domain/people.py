"""Agent scorecards, the league table, the training list, quarterly NPS targets and the
channel mix, as plain rules over counts (docs/kpi-people.md).

The selectors gather the counts (snapshots, live cells, QA reviews, contacts); every
decision about who ranks, who needs training, what a quarter's target is and what a
routine call is lives here, so the tests can work each one out by hand.

Standard library only (no Django): the module is checked by import-linter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from . import targets

PARIS = ZoneInfo("Europe/Paris")

# --- Targets that the dashboard does not have ------------------------------------------

# QA score target, out of 100: a review scores the weighted share of the checklist met
# (docs/kpi-quality.md); 80 leaves room for one heavy criterion missed on a call.
QA_TARGET = 80.0
QA_AMBER_BAND = 5.0
# Under this monthly QA average an agent goes on the training list whatever else.
QA_FLOOR = 60.0
# Chatbot containment (issue 8): sessions the bot closed alone, out of all bot sessions.
CONTAINMENT_TARGET = 60.0
CONTAINMENT_AMBER_BAND = 5.0
# Routine phone calls, change against the same span a year before (issue 8): −40 %.
ROUTINE_CHANGE_TARGET = -40.0
ROUTINE_CHANGE_AMBER_BAND = 5.0
# Quarterly NPS targets climb by this many points over the previous quarter's actual.
NPS_QUARTER_STEP = 3.0

# --- League table and training list ----------------------------------------------------

# The four rated figures of a scorecard, in display order.
RATED = ("aht", "fcr", "csat", "qa")
# A month's league needs enough contacts for the figures to mean something.
LEAGUE_MIN_HANDLED = 20
LEAGUE_SIZE = 5
# AHT points lost per second outside the target range: 10 points a minute.
AHT_POINTS_PER_SECOND = Fraction(1, 6)
# An agent is listed for training with this many rated figures below target.
TRAINING_MIN_MISSES = 2
MISSED = frozenset({targets.AMBER, targets.RED})

# --- Channel mix ----------------------------------------------------------------------

# A chatbot session closed without a person: the only self-service the platform records
# as a contact (meter readings and payments in the portal are not contacts).
SELF_SERVICE_CHANNELS = frozenset({"CHATBOT"})
CONTAINED_CHANNEL = "CHATBOT"
HANDED_OFF_CHANNEL = "CHATBOT_HANDOFF"
ROUTINE_CHANNEL = "PHONE"
# Routine requests: those the portal, the app or the chatbot can serve on their own
# (explain a bill, pay, give a reading, move, change tariff). A dispute, a fault, an
# outage, a safety call, a complaint or a business contract is never routine, and a call
# whose issue is unknown (issue_key "queue:…", or empty) is not counted as routine.
ROUTINE_ISSUES = frozenset({"BILL_QUERY", "PAYMENT", "METER_READING", "MOVE", "TARIFF"})


# --- Scorecards ---------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> Fraction | None:
    return Fraction(100 * part, whole) if whole else None


@dataclass(frozen=True)
class AgentMonth:
    """One agent's ingredients for one Paris month: the snapshot counts (handled
    contacts and their handle time, judged first contacts, CSAT answers) and the month's
    QA reviews (average rounded to the hundredth, as on the quality pages)."""

    agent_id: int
    handled: int = 0
    handle_seconds_sum: int = 0
    fcr_eligible: int = 0
    fcr_resolved: int = 0
    csat_answers: int = 0
    csat_satisfied: int = 0
    qa_reviews: int = 0
    qa_average: Decimal | None = None
    critical_failures: int = 0

    # Exact values: a tie in the league is a real tie, not a float accident.
    @property
    def aht_exact(self) -> Fraction | None:
        return Fraction(self.handle_seconds_sum, self.handled) if self.handled else None

    @property
    def fcr_exact(self) -> Fraction | None:
        return _ratio(self.fcr_resolved, self.fcr_eligible)

    @property
    def csat_exact(self) -> Fraction | None:
        return _ratio(self.csat_satisfied, self.csat_answers)

    @property
    def qa_exact(self) -> Fraction | None:
        return None if self.qa_average is None else Fraction(self.qa_average)

    @property
    def is_empty(self) -> bool:
        return not (self.handled or self.fcr_eligible or self.csat_answers or self.qa_reviews)

    def value(self, code: str) -> float | None:
        """The figure rated against its target: AHT in seconds, the others 0–100."""
        exact = {
            "aht": self.aht_exact,
            "fcr": self.fcr_exact,
            "csat": self.csat_exact,
            "qa": self.qa_exact,
        }[code]
        return None if exact is None else float(exact)


def qa_target() -> targets.Target:
    return targets.Target.at_least(QA_TARGET, QA_AMBER_BAND)


def statuses(month: AgentMonth, goals: Mapping[str, targets.Target]) -> dict[str, str]:
    """Each rated figure's verdict (GREEN, AMBER, RED or NO_DATA)."""
    return {code: targets.rate(month.value(code), goals[code]) for code in RATED}


def below_target(verdicts: Mapping[str, str]) -> list[str]:
    """The rated figures that miss their target (amber or red), in display order. An
    undefined figure misses nothing."""
    return [code for code in RATED if verdicts.get(code) in MISSED]


# --- League table ----------------------------------------------------------------------------


def aht_points(aht: Fraction, *, low: float, high: float) -> Fraction:
    """100 inside the target range, minus 10 points per minute outside it, floor 0."""
    low_f, high_f = Fraction(low), Fraction(high)
    outside = low_f - aht if aht < low_f else aht - high_f if aht > high_f else Fraction(0)
    return max(Fraction(0), 100 - outside * AHT_POINTS_PER_SECOND)


def league_composite(month: AgentMonth, *, aht_low: float, aht_high: float) -> Fraction | None:
    """The mean of four 0–100 points: AHT points, FCR %, CSAT % and the QA average.
    None when one of them is undefined."""
    parts = (month.aht_exact, month.fcr_exact, month.csat_exact, month.qa_exact)
    if any(part is None for part in parts):
        return None
    aht, fcr, csat, qa = parts
    return (aht_points(aht, low=aht_low, high=aht_high) + fcr + csat + qa) / 4


def league_eligible(month: AgentMonth, *, min_handled: int = LEAGUE_MIN_HANDLED) -> bool:
    return month.handled >= min_handled and all(
        value is not None
        for value in (month.aht_exact, month.fcr_exact, month.csat_exact, month.qa_exact)
    )


@dataclass(frozen=True)
class LeagueEntry:
    rank: int
    agent_id: int
    composite: Fraction
    handled: int

    @property
    def composite_float(self) -> float:
        return float(self.composite)


def league(
    months: Iterable[AgentMonth],
    *,
    aht_low: float,
    aht_high: float,
    min_handled: int = LEAGUE_MIN_HANDLED,
    size: int = LEAGUE_SIZE,
) -> list[LeagueEntry]:
    """The best `size` eligible agents: composite (exact) highest first; on a tie, more
    contacts handled first; then the lower agent id, so the order never depends on the
    order the rows came in. Ranks are positions 1, 2, 3…: no shared rank."""
    scored = [
        (league_composite(m, aht_low=aht_low, aht_high=aht_high), m)
        for m in months
        if league_eligible(m, min_handled=min_handled)
    ]
    scored.sort(key=lambda pair: (-pair[0], -pair[1].handled, pair[1].agent_id))
    return [
        LeagueEntry(rank=n, agent_id=m.agent_id, composite=value, handled=m.handled)
        for n, (value, m) in enumerate(scored[:size], start=1)
    ]


# --- Training list --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingNeed:
    agent_id: int
    below: tuple[str, ...]  # rated figures below target, in display order
    critical_failures: int
    qa_under_floor: bool

    @property
    def reasons(self) -> tuple[str, ...]:
        """Which rules put the agent on the list: MISSES, CRITICAL, QA_FLOOR."""
        found = []
        if len(self.below) >= TRAINING_MIN_MISSES:
            found.append("MISSES")
        if self.critical_failures:
            found.append("CRITICAL")
        if self.qa_under_floor:
            found.append("QA_FLOOR")
        return tuple(found)


def training_need(month: AgentMonth, verdicts: Mapping[str, str]) -> TrainingNeed | None:
    """Listed when two or more rated figures miss their target, or the month has a
    critical QA failure, or the QA average is under the floor; None otherwise."""
    need = TrainingNeed(
        agent_id=month.agent_id,
        below=tuple(below_target(verdicts)),
        critical_failures=month.critical_failures,
        qa_under_floor=month.qa_average is not None and month.qa_average < Decimal(str(QA_FLOOR)),
    )
    return need if need.reasons else None


# --- Quarterly NPS targets ----------------------------------------------------------------


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_shift(quarter: date, steps: int) -> date:
    """The quarter `steps` quarters after (negative: before) `quarter`."""
    index = quarter.year * 4 + (quarter.month - 1) // 3 + steps
    return date(index // 4, 3 * (index % 4) + 1, 1)


def quarter_months(quarter: date) -> list[date]:
    first = quarter_start(quarter)
    return [date(first.year, first.month + n, 1) for n in range(3)]


@dataclass(frozen=True)
class NpsCounts:
    answers: int = 0
    promoters: int = 0
    detractors: int = 0

    def plus(self, other: NpsCounts) -> NpsCounts:
        return NpsCounts(
            self.answers + other.answers,
            self.promoters + other.promoters,
            self.detractors + other.detractors,
        )

    @property
    def nps(self) -> float | None:
        """% promoters − % detractors (docs/kpi.md); undefined without an answer."""
        if not self.answers:
            return None
        return 100 * (self.promoters - self.detractors) / self.answers


def nps_quarter_target(previous: float | None, *, configured: float) -> float:
    """The previous quarter's actual NPS + 3 points, never below the configured target;
    the configured target itself when the previous quarter has no NPS answer."""
    if previous is None:
        return float(configured)
    return max(float(configured), previous + NPS_QUARTER_STEP)


@dataclass(frozen=True)
class QuarterNps:
    quarter: date
    counts: NpsCounts
    target: float
    status: str
    in_progress: bool

    @property
    def nps(self) -> float | None:
        return self.counts.nps

    @property
    def number(self) -> int:
        """1 to 4."""
        return (self.quarter.month - 1) // 3 + 1


def nps_quarters(
    counts: Mapping[date, NpsCounts],
    *,
    last: date,
    shown: int,
    configured: float,
    today: date,
    band: float,
) -> list[QuarterNps]:
    """The `shown` quarters ending with `last`'s, oldest first, each rated against its
    target; `counts` is keyed by quarter start and needs the quarter before the first
    shown (its actual sets the first target)."""
    newest = quarter_start(last)
    rows = []
    for back in range(shown - 1, -1, -1):
        quarter = quarter_shift(newest, -back)
        previous = counts.get(quarter_shift(quarter, -1), NpsCounts()).nps
        goal = nps_quarter_target(previous, configured=configured)
        own = counts.get(quarter, NpsCounts())
        rows.append(
            QuarterNps(
                quarter=quarter,
                counts=own,
                target=goal,
                status=targets.Target.at_least(goal, band).status(own.nps),
                in_progress=quarter == quarter_start(today),
            )
        )
    return rows


# --- Channel mix ---------------------------------------------------------------------------


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The UTC instants where a Paris month starts and the next one starts."""
    first = month.replace(day=1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return (
        datetime.combine(first, time(0), tzinfo=PARIS).astimezone(UTC),
        datetime.combine(following, time(0), tzinfo=PARIS).astimezone(UTC),
    )


def mix_windows(
    month: date, *, now: datetime
) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """The month's span (to `now` while it runs) and the same span a year before: a
    month in progress is compared with the same days of last year's month, up to the same
    Paris wall-clock time (29 February → the end of last year's February)."""
    start, end = month_bounds(month)
    before_start, before_end = month_bounds(month.replace(year=month.year - 1))
    if now < end:
        end = max(start, now)
        local = now.astimezone(PARIS)
        try:
            same = local.replace(year=local.year - 1).astimezone(UTC)
        except ValueError:  # 29 February: last year's February has ended by then
            same = before_end
        before_end = min(before_end, max(before_start, same))
    return (start, end), (before_start, before_end)


@dataclass(frozen=True)
class ChannelShare:
    channel: str
    contacts: int
    percent: float


@dataclass(frozen=True)
class ChannelMix:
    """Inbound contacts that reached us, per channel, in the month's span; routine phone
    calls then and in the same span a year before."""

    counts: dict[str, int] = field(default_factory=dict)
    # Chatbot sessions the customer left without an answer (outcome ABANDONED): sessions,
    # but not contained.
    chatbot_abandoned: int = 0
    routine_calls: int = 0
    routine_calls_before: int = 0
    calls_without_issue: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def shares(self) -> list[ChannelShare]:
        """Most used channel first; a tie in channel code order."""
        total = self.total
        ordered = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        return [ChannelShare(ch, n, 100 * n / total) for ch, n in ordered if n and total]

    @property
    def self_service(self) -> int:
        return sum(self.counts.get(ch, 0) for ch in SELF_SERVICE_CHANNELS)

    @property
    def self_service_percent(self) -> float | None:
        return 100 * self.self_service / self.total if self.total else None

    @property
    def chatbot_sessions(self) -> int:
        return self.counts.get(CONTAINED_CHANNEL, 0) + self.counts.get(HANDED_OFF_CHANNEL, 0)

    @property
    def containment_percent(self) -> float | None:
        sessions = self.chatbot_sessions
        contained = self.counts.get(CONTAINED_CHANNEL, 0) - self.chatbot_abandoned
        return 100 * contained / sessions if sessions else None

    @property
    def routine_change_percent(self) -> float | None:
        """Undefined without a routine call in last year's span: no base to compare."""
        before = self.routine_calls_before
        return 100 * (self.routine_calls - before) / before if before else None


def containment_target() -> targets.Target:
    return targets.Target.at_least(CONTAINMENT_TARGET, CONTAINMENT_AMBER_BAND)


def routine_change_target() -> targets.Target:
    return targets.Target.at_most(ROUTINE_CHANGE_TARGET, ROUTINE_CHANGE_AMBER_BAND)
