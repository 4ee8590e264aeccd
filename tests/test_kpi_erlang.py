"""Erlang C staffing maths (kpi.domain.erlang), without a database: published values,
domain.md's worked example, the inclusive target, thousands of agents, unstable loads
and the exact FTE."""

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from kpi.domain import erlang

PUBLISHED = {  # 100 calls in 30 min, AHT 180 s, 80 % answered in 20 s
    "aht_seconds": 180,
    "target_service_level": "0.80",
    "target_answer_seconds": 20,
    "shrinkage": "0.30",
}


def log_space_erlang_c(agents: int, traffic: float) -> float:
    """Erlang C from its closed form, summed in log space: an independent check of the
    recursion where Aᴺ/N! itself would overflow a float."""
    log_a = math.log(traffic)
    logs = [k * log_a - math.lgamma(k + 1) for k in range(agents)]
    log_last = agents * log_a - math.lgamma(agents + 1) + math.log(agents / (agents - traffic))
    top = max([*logs, log_last])
    below = sum(math.exp(x - top) for x in logs)
    waiting = math.exp(log_last - top)
    return waiting / (below + waiting)


# --- Published values ---------------------------------------------------------------------


def test_published_example_100_calls_in_30_minutes():
    traffic = erlang.traffic_erlangs(contacts=100, aht_seconds=180, interval_seconds=1800)
    assert traffic == 10

    result = erlang.agents_needed(traffic=traffic, **PUBLISHED)

    assert result.agents == 14
    assert round(result.service_level, 4) == 0.8884
    assert round(result.asa_seconds, 2) == 7.84
    assert round(float(result.occupancy), 3) == 0.714
    assert result.occupancy == Fraction(10, 14)
    assert round(result.probability_of_waiting, 4) == 0.1741
    assert result.fte == 20  # ⌈14 / 0.7⌉ = 20 exactly
    # 13 agents fall short (79.6 %), so 14 is the first to meet 80 %.
    below = erlang.service_level(
        agents=13, traffic=traffic, aht_seconds=180, target_answer_seconds=20
    )
    assert round(below, 4) == 0.7956


def test_textbook_erlang_b_and_c_values():
    assert round(erlang.erlang_b(10, 5), 5) == 0.01838
    assert erlang.erlang_c(3, 2) == pytest.approx(4 / 9, abs=1e-12)  # exactly 4/9 by hand
    assert erlang.erlang_b(0, 7) == 1.0  # no agent: every contact is blocked
    assert erlang.average_speed_of_answer(agents=3, traffic=2, aht_seconds=60) == pytest.approx(
        4 / 9 * 60 / 1
    )
    assert erlang.occupancy(agents=3, traffic=2) == Fraction(2, 3)


def test_domain_worked_example_one_eight_hour_interval():
    """domain.md: 1,200 contacts in an 8-hour single shift, AHT about 5.5 min, 90 % in 20 s
    → 19 agents → 28 FTE. It holds with the day as one 480-minute interval, AHT exactly
    330 s and the default 30 % shrinkage: A = 1200 × 330 / 28800 = 13.75 Erlangs."""
    inputs = {
        "aht_seconds": 330,
        "target_service_level": "0.90",
        "target_answer_seconds": 20,
        "shrinkage": "0.30",
    }
    plan = erlang.staffing_plan(contacts_per_interval=[1200], interval_minutes=480, **inputs)

    only = plan.intervals[0]
    assert only.traffic == Fraction(55, 4)
    assert only.agents == 19 and only.fte == 28 and plan.fte == 28
    assert only.service_level >= 0.9
    assert (
        erlang.service_level(
            agents=18, traffic=only.traffic, aht_seconds=330, target_answer_seconds=20
        )
        < 0.9
    )
    assert plan.agent_hours == 19 * 8


def test_the_worked_example_spread_evenly_over_half_hours_gives_the_same_answer():
    """The same 1,200 contacts as 16 half-hours of 75: each is 13.75 Erlangs too, so
    every interval needs 19 agents and the day (one shift, peak rule) 28 FTE."""
    plan = erlang.staffing_plan(
        contacts_per_interval=[75] * 16,
        interval_minutes=30,
        aht_seconds=330,
        target_service_level="0.9",
        target_answer_seconds=20,
        shrinkage="0.3",
    )
    assert {p.agents for p in plan.intervals} == {19}
    assert plan.fte == 28
    assert plan.agent_hours == 16 * 19 * Fraction(1, 2) == 152
    assert plan.paid_hours == Fraction(1520, 7)
    assert plan.contacts == 1200


# --- The target is met inclusively, by the first N that meets it ------------------------------


def test_a_service_level_equal_to_the_target_meets_it():
    at_14 = erlang.service_level(agents=14, traffic=10, aht_seconds=180, target_answer_seconds=20)
    exact_target = Fraction(at_14)  # the float's exact value
    inputs = {**PUBLISHED, "traffic": 10}

    assert erlang.agents_needed(**{**inputs, "target_service_level": exact_target}).agents == 14
    just_above = Fraction(math.nextafter(at_14, 1))
    assert erlang.agents_needed(**{**inputs, "target_service_level": just_above}).agents == 15


@pytest.mark.parametrize("target", ["0.5", "0.8", "0.9", "0.95", "0.99", "0.999"])
@pytest.mark.parametrize("traffic", [Fraction(1, 3), 2, Fraction(55, 4), 47, 230])
def test_agents_needed_is_the_first_n_meeting_the_target(traffic, target):
    result = erlang.agents_needed(
        traffic=traffic,
        aht_seconds=240,
        target_service_level=target,
        target_answer_seconds=15,
        shrinkage="0.3",
    )
    goal = Fraction(target)
    assert result.agents > traffic
    assert result.service_level >= goal
    previous = result.agents - 1
    if previous > traffic:
        level = erlang.service_level(
            agents=previous, traffic=traffic, aht_seconds=240, target_answer_seconds=15
        )
        assert level < goal
    else:
        assert result.agents == math.floor(traffic) + 1


# --- Thousands of agents --------------------------------------------------------------------


@pytest.mark.parametrize(("traffic", "least", "most"), [(1900, 1900, 2000), (2400, 2401, 2500)])
def test_thousands_of_agents_do_not_overflow(traffic, least, most):
    # The closed form's numerator alone is out of a float's range.
    with pytest.raises(OverflowError):
        float(traffic) ** most / math.factorial(most)

    result = erlang.agents_needed(traffic=traffic, **PUBLISHED)

    assert least < result.agents < most
    assert math.isfinite(result.asa_seconds) and 0 < result.probability_of_waiting < 1
    assert result.service_level >= 0.8
    for n in (result.agents - 1, result.agents, result.agents + 25):
        assert erlang.erlang_c(n, traffic) == pytest.approx(
            log_space_erlang_c(n, traffic), rel=1e-9
        )


# --- Unstable loads ---------------------------------------------------------------------------


@pytest.mark.parametrize(("agents", "traffic"), [(10, 10), (9, 10), (10, Fraction(21, 2)), (0, 1)])
def test_agents_at_or_below_the_traffic_are_rejected(agents, traffic):
    with pytest.raises(erlang.UnstableLoad):
        erlang.erlang_c(agents, traffic)
    with pytest.raises(erlang.UnstableLoad):
        erlang.service_level(
            agents=agents, traffic=traffic, aht_seconds=180, target_answer_seconds=20
        )
    with pytest.raises(erlang.UnstableLoad):
        erlang.average_speed_of_answer(agents=agents, traffic=traffic, aht_seconds=180)
    with pytest.raises(erlang.UnstableLoad):
        erlang.occupancy(agents=agents, traffic=traffic)


def test_the_search_starts_just_above_the_traffic():
    # Any target low enough is met by the first stable N: floor(A) + 1, never A itself.
    low = {**PUBLISHED, "target_service_level": "0.000001"}
    assert erlang.agents_needed(traffic=10, **low).agents == 11
    assert erlang.agents_needed(traffic=Fraction(21, 2), **low).agents == 11
    # A just under an integer: N = 11 is stable although float(A) rounds to 11.0, and its
    # figures come out finite (N − A is taken exactly, so no division by zero).
    nearly = Fraction(11) - Fraction(1, 10**20)
    assert float(nearly) == 11.0
    asa = erlang.average_speed_of_answer(agents=11, traffic=nearly, aht_seconds=180)
    assert math.isfinite(asa) and asa > 1e20
    assert erlang.agents_needed(traffic=nearly, **low).agents == 12


# --- FTE in exact arithmetic ------------------------------------------------------------------


def test_21_agents_at_30_percent_shrinkage_are_30_fte_not_31():
    assert math.ceil(21 / (1 - 0.3)) == 31  # the float trap: 21 / 0.7 = 30.000000000000004
    assert erlang.fte(agents=21, shrinkage="0.30") == 30
    assert erlang.fte(agents=21, shrinkage=Decimal("0.3")) == 30
    assert erlang.fte(agents=21, shrinkage=Fraction(3, 10)) == 30
    assert erlang.fte(agents=22, shrinkage="0.3") == 32  # 31.43 rounds up
    assert erlang.fte(agents=19, shrinkage="0") == 19


def test_a_float_shrinkage_is_refused_and_100_percent_is_invalid():
    with pytest.raises(TypeError):
        erlang.fte(agents=21, shrinkage=0.3)
    for share in ("1", "1.5", "-0.1"):
        with pytest.raises(erlang.InvalidStaffingInput) as caught:
            erlang.fte(agents=21, shrinkage=share)
        assert caught.value.field == "shrinkage"


def test_a_plan_uses_the_exact_fte_in_each_interval():
    # 20 Erlangs and a target any stable N meets: the search stops at 21 agents, and
    # their FTE is the exact 30.
    result = erlang.agents_needed(
        traffic=20,
        aht_seconds=300,
        target_service_level="0.0001",
        target_answer_seconds=0,
        shrinkage="0.3",
    )
    assert (result.agents, result.fte) == (21, 30)


# --- Occupancy ceiling, unreachable targets, empty intervals --------------------------------------


def test_a_maximum_occupancy_adds_agents_and_is_inclusive():
    assert erlang.agents_needed(traffic=10, **PUBLISHED, max_occupancy="0.70").agents == 15
    # 10 / 14 is exactly 5/7: a ceiling of 5/7 keeps 14.
    assert erlang.agents_needed(traffic=10, **PUBLISHED, max_occupancy=Fraction(5, 7)).agents == 14
    loose = erlang.agents_needed(traffic=10, **PUBLISHED, max_occupancy="0.95")
    assert loose.agents == 14


def test_an_occupancy_needing_more_agents_than_the_limit_is_unreachable():
    with pytest.raises(erlang.TargetUnreachable) as caught:
        erlang.agents_needed(traffic=10, **PUBLISHED, max_occupancy="0.0001")
    assert caught.value.field == "max_occupancy"
    assert caught.value.details["agents"] == 100_000


def test_a_100_percent_service_level_is_never_reached():
    with pytest.raises(erlang.TargetUnreachable) as caught:
        erlang.agents_needed(traffic=10, **{**PUBLISHED, "target_service_level": "1"})
    assert caught.value.field == "target_service_level"


def test_traffic_beyond_the_agent_limit_is_refused():
    with pytest.raises(erlang.TrafficTooHigh):
        erlang.agents_needed(traffic=erlang.MAX_AGENTS, **PUBLISHED)


def test_an_interval_without_contacts_needs_nobody():
    result = erlang.agents_needed(traffic=0, **PUBLISHED)
    assert (result.agents, result.fte) == (0, 0)
    assert result.service_level is None and result.asa_seconds is None
    assert result.occupancy is None and result.probability_of_waiting is None


def test_a_day_plan_takes_the_peak_and_sums_agent_hours():
    plan = erlang.staffing_plan(
        contacts_per_interval=[0, 100, "40.5", 0],
        interval_minutes=30,
        **PUBLISHED,
    )
    agents = [p.agents for p in plan.intervals]
    assert agents[0] == agents[3] == 0 and agents[1] == 14
    assert plan.peak_agents == 14 and plan.peak_index == 1
    assert plan.fte == 20
    assert plan.agent_hours == Fraction(sum(agents), 2)
    assert plan.contacts == Fraction(281, 2)


def test_a_day_plan_names_the_interval_that_has_no_answer():
    with pytest.raises(erlang.TargetUnreachable) as caught:
        erlang.staffing_plan(
            contacts_per_interval=[1, 2, 500],
            interval_minutes=15,
            **PUBLISHED,
            max_occupancy="0.001",
        )
    assert caught.value.details["interval"] == 2
    with pytest.raises(erlang.EmptyForecast):
        erlang.staffing_plan(contacts_per_interval=[], interval_minutes=15, **PUBLISHED)


@pytest.mark.parametrize(
    ("contacts", "aht", "interval", "field"),
    [(-1, 180, 1800, "contacts"), (10, 0, 1800, "aht_seconds"), (10, 180, 0, "interval_minutes")],
)
def test_traffic_inputs_out_of_range_are_refused(contacts, aht, interval, field):
    with pytest.raises(erlang.InvalidStaffingInput) as caught:
        erlang.traffic_erlangs(contacts=contacts, aht_seconds=aht, interval_seconds=interval)
    assert caught.value.field == field
