"""Erlang C staffing: how many agents an interval needs to answer a share of its
contacts within a target time, and the FTE to roster for them.

Definitions (A = offered traffic in Erlangs, N = agents, AHT = average handle time):

- A = contacts × AHT / interval length (both in seconds).
- Erlang B by the recursion B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1)). Every step
  stays between 0 and 1, so it works for tens of thousands of agents where Aᴺ/N!
  overflows a float from about 170 agents on.
- Erlang C (probability that a contact waits) = N·B / (N − A·(1 − B)), defined only for
  N > A: with N ≤ A the queue grows without bound (`UnstableLoad`).
- Service level(t) = 1 − C·exp(−(N − A)·t / AHT); ASA = C·AHT / (N − A); occupancy = A/N.
- Agents needed = the smallest N > A whose service level is at least the target (an
  equal value meets it) and, when a maximum occupancy is given, whose occupancy is at
  most that maximum.
- FTE = ⌈N / (1 − shrinkage)⌉ in exact rational arithmetic: as floats, 21 / (1 − 0.3)
  is 30.000000000000004 and would be rounded up to 31.

The exact inputs (contacts, AHT, shares) are `Fraction`s built from ints, `Decimal`s or
decimal strings; a float is refused, so the FTE rounding trap cannot come back in. The
probabilities themselves (B, C, the exponential) are floats: they are transcendental
anyway and are only compared with the target, exactly, as Python compares a float with
a Fraction.

A day plan applies this to each interval of a forecast. The day's FTE is the FTE of its
busiest interval: one shift covers the whole span planned, so everyone rostered is
there at the peak (domain.md's worked example: 1,200 contacts in an 8-hour single
shift, AHT 330 s, 90 % in 20 s → 19 agents → 28 FTE at 30 % shrinkage). The agent-hours
(Σ agents × interval length) and paid hours (agent-hours / (1 − shrinkage)) are given
too, for rosters with staggered shifts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

# Far beyond any contact centre; it bounds the search so that an impossible target or
# maximum occupancy ends with an answer instead of a long loop.
MAX_AGENTS = 50_000

Exact = int | Decimal | Fraction | str


class StaffingError(ValueError):
    """A staffing question with no answer; `field` names the input to change."""

    field = ""

    def __init__(self, message: str = "", *, field: str | None = None, **details):
        super().__init__(message or self.__class__.__name__)
        if field is not None:
            self.field = field
        self.details = details


class InvalidStaffingInput(StaffingError):
    """An input out of its range (negative volume, shrinkage of 100 %, …)."""


class EmptyForecast(InvalidStaffingInput):
    """A day plan without a single interval."""

    field = "contacts"


class UnstableLoad(StaffingError):
    """N ≤ A: the agents cannot keep up with the traffic, the queue grows without end."""

    field = "agents"


class TargetUnreachable(StaffingError):
    """No number of agents up to MAX_AGENTS meets the target (a 100 % service level, or
    a maximum occupancy so low that it needs more agents than that)."""

    field = "target_service_level"


class TrafficTooHigh(StaffingError):
    """More traffic than MAX_AGENTS agents could carry."""

    field = "contacts"


def exact(value: Exact, *, field: str) -> Fraction:
    """`value` as an exact Fraction; floats are refused (see the module's FTE note)."""
    if isinstance(value, float | bool):
        raise TypeError(f"{field}: pass an int, Decimal, Fraction or decimal string, not {value!r}")
    try:
        result = Fraction(value)
    except (ValueError, ZeroDivisionError, ArithmeticError) as exc:
        raise InvalidStaffingInput(f"{field}: not a number: {value!r}", field=field) from exc
    return result


def _require(condition: bool, message: str, *, field: str) -> None:
    if not condition:
        raise InvalidStaffingInput(message, field=field)


def traffic_erlangs(*, contacts: Exact, aht_seconds: Exact, interval_seconds: Exact) -> Fraction:
    """A = contacts × AHT / interval length, exactly."""
    volume = exact(contacts, field="contacts")
    aht = exact(aht_seconds, field="aht_seconds")
    interval = exact(interval_seconds, field="interval_minutes")
    _require(volume >= 0, "contacts must be 0 or more", field="contacts")
    _require(aht > 0, "aht_seconds must be more than 0", field="aht_seconds")
    _require(interval > 0, "the interval must be longer than 0", field="interval_minutes")
    return volume * aht / interval


def _erlang_b_steps(traffic: float):
    """B(1), B(2), … by the stable recursion (each value in ]0, 1])."""
    b = 1.0
    n = 0
    while True:
        n += 1
        b = traffic * b / (n + traffic * b)
        yield n, b


def erlang_b(agents: int, traffic: Exact) -> float:
    """Blocking probability with `agents` servers and no queue."""
    load = exact(traffic, field="traffic")
    _require(agents >= 0, "agents must be 0 or more", field="agents")
    _require(load >= 0, "traffic must be 0 or more", field="traffic")
    b = 1.0
    steps = _erlang_b_steps(float(load))
    for _ in range(agents):
        _, b = next(steps)
    return b


def _erlang_c_from_b(agents: int, traffic: Fraction, b: float) -> float:
    # N − A·(1 − B) = (N − A) + A·B, with N − A taken exactly: with A just below N a float
    # A could round up to N and leave a zero.
    gap = float(agents - traffic)
    return agents * b / (gap + float(traffic) * b)


def _check_stable(agents: int, traffic: Fraction) -> None:
    if agents <= traffic:
        raise UnstableLoad(
            f"{agents} agents cannot carry {float(traffic):.4f} Erlangs: N must exceed A",
            agents=agents,
            traffic=traffic,
        )


def erlang_c(agents: int, traffic: Exact) -> float:
    """Probability that a contact waits; UnstableLoad unless agents > traffic."""
    load = exact(traffic, field="traffic")
    _check_stable(agents, load)
    return _erlang_c_from_b(agents, load, erlang_b(agents, load))


@dataclass(frozen=True)
class Staffing:
    """The figures of one interval. With no traffic nothing is waited for, so the
    service level, ASA and occupancy are None (not 100 % or 0 s)."""

    traffic: Fraction
    agents: int
    probability_of_waiting: float | None
    service_level: float | None
    asa_seconds: float | None
    occupancy: Fraction | None
    fte: int


def _figures(
    *, agents: int, traffic: Fraction, b: float, aht: Fraction, answer: Fraction
) -> tuple[float, float, float]:
    """(C, service level, ASA) for agents > traffic, from B(agents)."""
    c = _erlang_c_from_b(agents, traffic, b)
    gap = agents - traffic
    level = 1.0 - c * math.exp(-float(gap * answer / aht))
    return c, level, c * float(aht / gap)


def service_level(
    *, agents: int, traffic: Exact, aht_seconds: Exact, target_answer_seconds: Exact
) -> float:
    """Share of contacts answered within `target_answer_seconds`."""
    load = exact(traffic, field="traffic")
    aht = exact(aht_seconds, field="aht_seconds")
    answer = exact(target_answer_seconds, field="target_answer_seconds")
    _require(aht > 0, "aht_seconds must be more than 0", field="aht_seconds")
    _require(answer >= 0, "target_answer_seconds must be 0 or more", field="target_answer_seconds")
    _check_stable(agents, load)
    return _figures(agents=agents, traffic=load, b=erlang_b(agents, load), aht=aht, answer=answer)[
        1
    ]


def average_speed_of_answer(*, agents: int, traffic: Exact, aht_seconds: Exact) -> float:
    """ASA in seconds: the mean wait over all contacts, C·AHT / (N − A)."""
    load = exact(traffic, field="traffic")
    aht = exact(aht_seconds, field="aht_seconds")
    _require(aht > 0, "aht_seconds must be more than 0", field="aht_seconds")
    _check_stable(agents, load)
    return erlang_c(agents, load) * float(aht / (agents - load))


def occupancy(*, agents: int, traffic: Exact) -> Fraction:
    """Share of the agents' time spent handling contacts, A / N (N > A)."""
    load = exact(traffic, field="traffic")
    _check_stable(agents, load)
    return load / agents


def fte(*, agents: int, shrinkage: Exact) -> int:
    """⌈agents / (1 − shrinkage)⌉, exactly: the staff to roster so that `agents` are on
    the phones once breaks, training and absence (the shrinkage) are taken out."""
    share = exact(shrinkage, field="shrinkage")
    _require(0 <= share < 1, "shrinkage must be at least 0 and below 1", field="shrinkage")
    _require(agents >= 0, "agents must be 0 or more", field="agents")
    return math.ceil(Fraction(agents) / (1 - share))


def _shares(
    target_service_level: Exact, shrinkage: Exact, max_occupancy: Exact | None
) -> tuple[Fraction, Fraction, Fraction | None]:
    target = exact(target_service_level, field="target_service_level")
    _require(
        0 < target <= 1,
        "target_service_level must be above 0 and at most 1",
        field="target_service_level",
    )
    share = exact(shrinkage, field="shrinkage")
    _require(0 <= share < 1, "shrinkage must be at least 0 and below 1", field="shrinkage")
    ceiling = None
    if max_occupancy is not None:
        ceiling = exact(max_occupancy, field="max_occupancy")
        _require(
            0 < ceiling <= 1,
            "max_occupancy must be above 0 and at most 1",
            field="max_occupancy",
        )
    if target == 1:
        # C > 0 for every finite N, so 100 % is approached but never met; only a float
        # underflow would pretend otherwise.
        raise TargetUnreachable(
            "a 100 % service level is never reached", field="target_service_level"
        )
    return target, share, ceiling


def agents_needed(
    *,
    traffic: Exact,
    aht_seconds: Exact,
    target_service_level: Exact,
    target_answer_seconds: Exact,
    shrinkage: Exact,
    max_occupancy: Exact | None = None,
) -> Staffing:
    """The smallest N > A meeting the service level target (inclusive) and the maximum
    occupancy, with its figures and FTE."""
    load = exact(traffic, field="traffic")
    aht = exact(aht_seconds, field="aht_seconds")
    answer = exact(target_answer_seconds, field="target_answer_seconds")
    _require(load >= 0, "traffic must be 0 or more", field="contacts")
    _require(aht > 0, "aht_seconds must be more than 0", field="aht_seconds")
    _require(answer >= 0, "target_answer_seconds must be 0 or more", field="target_answer_seconds")
    target, share, ceiling = _shares(target_service_level, shrinkage, max_occupancy)
    if load == 0:
        return Staffing(load, 0, None, None, None, None, 0)

    # Both constraints only get easier as N grows (C falls, N − A rises, A/N falls), so
    # the answer is the first N from the lowest candidate that meets the service level.
    lowest = math.floor(load) + 1
    if lowest > MAX_AGENTS:
        raise TrafficTooHigh(
            f"{float(load):.1f} Erlangs need more than {MAX_AGENTS} agents",
            traffic=load,
            limit=MAX_AGENTS,
        )
    if ceiling is not None:
        by_occupancy = math.ceil(load / ceiling)
        if by_occupancy > MAX_AGENTS:
            raise TargetUnreachable(
                f"an occupancy of at most {float(ceiling):.4f} needs {by_occupancy} agents",
                field="max_occupancy",
                agents=by_occupancy,
                limit=MAX_AGENTS,
            )
        lowest = max(lowest, by_occupancy)

    for n, b in _erlang_b_steps(float(load)):
        if n > MAX_AGENTS:
            break
        if n < lowest:
            continue
        c, level, asa = _figures(agents=n, traffic=load, b=b, aht=aht, answer=answer)
        if level >= target:
            return Staffing(
                traffic=load,
                agents=n,
                probability_of_waiting=c,
                service_level=level,
                asa_seconds=asa,
                occupancy=load / n,
                fte=math.ceil(Fraction(n) / (1 - share)),
            )
    raise TargetUnreachable(
        f"no staffing up to {MAX_AGENTS} agents meets the target",
        field="target_service_level",
        limit=MAX_AGENTS,
    )


def interval_staffing(
    *,
    contacts: Exact,
    interval_minutes: int,
    aht_seconds: Exact,
    target_service_level: Exact,
    target_answer_seconds: Exact,
    shrinkage: Exact,
    max_occupancy: Exact | None = None,
) -> Staffing:
    """One interval: its traffic from the volume, then the agents it needs."""
    _require(
        isinstance(interval_minutes, int) and interval_minutes > 0,
        "the interval must be a positive number of minutes",
        field="interval_minutes",
    )
    load = traffic_erlangs(
        contacts=contacts, aht_seconds=aht_seconds, interval_seconds=interval_minutes * 60
    )
    return agents_needed(
        traffic=load,
        aht_seconds=aht_seconds,
        target_service_level=target_service_level,
        target_answer_seconds=target_answer_seconds,
        shrinkage=shrinkage,
        max_occupancy=max_occupancy,
    )


@dataclass(frozen=True)
class DayPlan:
    interval_minutes: int
    intervals: tuple[Staffing, ...]
    contacts: Fraction
    peak_agents: int
    peak_index: int | None
    agent_hours: Fraction
    paid_hours: Fraction
    fte: int
    shrinkage: Fraction


def staffing_plan(
    *,
    contacts_per_interval: Sequence[Exact],
    interval_minutes: int,
    aht_seconds: Exact,
    target_service_level: Exact,
    target_answer_seconds: Exact,
    shrinkage: Exact,
    max_occupancy: Exact | None = None,
) -> DayPlan:
    """Each interval's staffing, and the day's figures (see the module docstring).

    An error in one interval carries its position as `details["interval"]`."""
    if not contacts_per_interval:
        raise EmptyForecast("the forecast has no interval")
    _require(
        isinstance(interval_minutes, int) and interval_minutes > 0,
        "the interval must be a positive number of minutes",
        field="interval_minutes",
    )
    plans = []
    for index, contacts in enumerate(contacts_per_interval):
        try:
            plans.append(
                interval_staffing(
                    contacts=contacts,
                    interval_minutes=interval_minutes,
                    aht_seconds=aht_seconds,
                    target_service_level=target_service_level,
                    target_answer_seconds=target_answer_seconds,
                    shrinkage=shrinkage,
                    max_occupancy=max_occupancy,
                )
            )
        except StaffingError as exc:
            exc.details.setdefault("interval", index)
            raise
    share = exact(shrinkage, field="shrinkage")
    peak = max(plans, key=lambda p: p.agents)
    agent_hours = Fraction(sum(p.agents for p in plans) * interval_minutes, 60)
    return DayPlan(
        interval_minutes=interval_minutes,
        intervals=tuple(plans),
        contacts=sum((exact(c, field="contacts") for c in contacts_per_interval), Fraction(0)),
        peak_agents=peak.agents,
        peak_index=plans.index(peak) if peak.agents else None,
        agent_hours=agent_hours,
        paid_hours=agent_hours / (1 - share),
        fte=peak.fte,
        shrinkage=share,
    )
