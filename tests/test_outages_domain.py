"""The pure rules of outage management: classes, triage, targets, estimates,
compensation slices, IEEE 1366 indices and the status machines."""

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from outages.domain import reliability, rules, states

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=PARIS)
FR = rules.CompensationTerms(
    threshold_minutes=300, slice_minutes=300, amount_per_kva=Decimal("2.00"), max_slices=40
)


@pytest.mark.parametrize(
    ("customers", "safety", "priority", "planned", "expected", "reason"),
    [
        (1, False, 0, False, "P3", "single_customer"),
        (0, False, 0, False, "P3", "single_customer"),
        (2, False, 0, False, "P1", "several_households"),
        (350, False, 4, False, "P1", "several_households"),
        (1, False, 1, False, "P2", "priority_register"),
        (1, True, 0, False, "P1", "safety"),
        (0, True, 0, True, "P1", "safety"),
        (800, False, 3, True, "P3", "planned"),
    ],
)
def test_classification_proposes_a_class_with_its_reason(
    customers, safety, priority, planned, expected, reason
):
    proposal = rules.classify(
        customers_affected=customers,
        safety_critical=safety,
        priority_customers=priority,
        planned=planned,
    )
    assert proposal.klass == expected
    assert proposal.reasons[0] == reason


def test_several_households_is_a_setting():
    kwargs = {"safety_critical": False, "priority_customers": 0, "planned": False}
    assert rules.classify(customers_affected=3, several_households=5, **kwargs).klass == "P3"
    assert rules.classify(customers_affected=5, several_households=5, **kwargs).klass == "P1"


@pytest.mark.parametrize(
    ("hazards", "text", "critical"),
    [
        (["SMOKE"], "", True),
        (["FALLEN_LINE"], "", True),
        ([], "Il y a de la fumée qui sort du compteur", True),
        ([], "des ETINCELLES au poteau", True),
        ([], "le transfo bourdonne très fort", True),
        ([], "a power line is down across the road", True),
        ([], "câble tombé sur la chaussée", True),
        ([], "Plus de courant depuis 20 h, tout le quartier", False),
        ([], "", False),
    ],
)
def test_safety_triage_from_ticks_or_words(hazards, text, critical):
    assert rules.is_safety_critical(hazards=hazards, description=text) is critical


@pytest.mark.parametrize(
    ("minutes", "slices", "amount"),
    [
        (4 * 60 + 59, 0, "0.00"),  # 4:59 earns nothing
        (5 * 60, 1, "12.00"),  # 5:00 is the first whole slice: 2 € × 6 kVA
        (9 * 60 + 59, 1, "12.00"),
        (10 * 60, 2, "24.00"),  # 10:00 two slices
        (200 * 60, 40, "480.00"),  # the cap: 40 slices
        (250 * 60, 40, "480.00"),  # past the cap still 40
    ],
)
def test_compensation_slices_at_the_boundaries(minutes, slices, amount):
    got = rules.compensation(minutes_off=minutes, kva=Decimal("6"), terms=FR)
    assert got.slices == slices
    assert got.amount == Decimal(amount)


def test_compensation_rounds_fractional_kva_to_the_cent():
    got = rules.compensation(minutes_off=600, kva=Decimal("9.5"), terms=FR)
    assert got.amount == Decimal("38.00")


def test_whole_minutes_across_the_autumn_clock_change():
    # 26 Oct 2025: 02:00–03:00 happens twice; five wall-clock hours are six real ones.
    start = datetime(2025, 10, 26, 0, 30, tzinfo=PARIS)
    end = datetime(2025, 10, 26, 5, 30, tzinfo=PARIS)
    assert rules.whole_minutes(start, end) == 360


def test_targets():
    assert rules.on_site_target(area_class="URBAN", urban_hours=4, rural_hours=24) == timedelta(
        hours=4
    )
    assert rules.on_site_target(area_class="RURAL", urban_hours=4, rural_hours=24) == timedelta(
        hours=24
    )
    kw = {"several_households": 2, "network_hours": 6, "isolated_hours": 24}
    assert rules.mttr_target(customers_affected=120, **kw) == timedelta(hours=6)
    assert rules.mttr_target(customers_affected=1, **kw) == timedelta(hours=24)


def test_first_estimate_is_the_median_of_history():
    estimate = rules.first_estimate(
        started_at=T0, history_minutes=[60, 90, 120, 150, 600], fallback_minutes=180, min_samples=5
    )
    assert estimate.at == T0 + timedelta(minutes=120)
    assert estimate.from_history and estimate.samples == 5


def test_first_estimate_falls_back_with_low_confidence_on_thin_history():
    estimate = rules.first_estimate(
        started_at=T0, history_minutes=[60, 90], fallback_minutes=180, min_samples=5
    )
    assert estimate.at == T0 + timedelta(minutes=180)
    assert estimate.confidence == "LOW"
    assert not estimate.from_history and estimate.samples == 2


def test_tight_history_gives_high_confidence():
    estimate = rules.first_estimate(
        started_at=T0,
        history_minutes=[100, 110, 120, 120, 130, 140],
        fallback_minutes=1,
        min_samples=5,
    )
    assert estimate.confidence == "HIGH"


def test_reliability_indices_worked_by_hand():
    """An area of 200 customers, June 2026 (30 days = 43 200 minutes):

    - incident A: 50 customers off 120 min  → 6 000 customer-minutes
    - incident B: 30 customers off 40 min   → 1 200 customer-minutes
    - incident C: 20 customers off 2 min    → momentary (≤ 3 min), MAIFI only
    - incident D: 10 customers off exactly 3 min → momentary too (not more than 3)
    - one record started on 31 May: another period, not counted

    SAIFI = (50 + 30) / 200 = 0.4
    SAIDI = (6 000 + 1 200) / 200 = 36 min
    CAIDI = 36 / 0.4 = 90 min
    MAIFI = (20 + 10) / 200 = 0.15
    ASAI  = 1 − 7 200 / (200 × 43 200) = 0.99916666…
    """
    june = datetime(2026, 6, 1, tzinfo=PARIS)
    july = datetime(2026, 7, 1, tzinfo=PARIS)

    def batch(n, start, minutes):
        return [reliability.Record(start, start + timedelta(minutes=minutes))] * n

    records = (
        batch(50, june + timedelta(days=2), 120)
        + batch(30, june + timedelta(days=9), 40)
        + batch(20, june + timedelta(days=12), 2)
        + batch(10, june + timedelta(days=20), 3)
        + batch(40, june - timedelta(hours=2), 600)
    )
    got = reliability.indices(
        records=records,
        customers_served=200,
        period_start=june,
        period_end=july,
        sustained_threshold_minutes=3,
    )
    assert got.sustained_interruptions == 80
    assert got.momentary_interruptions == 30
    assert got.saifi == pytest.approx(0.4, abs=1e-12)
    assert got.saidi == pytest.approx(36.0, abs=1e-9)
    assert got.caidi == pytest.approx(90.0, abs=1e-9)
    assert got.maifi == pytest.approx(0.15, abs=1e-12)
    assert got.asai == pytest.approx(1 - 7200 / (200 * 43200), abs=1e-12)


def test_asai_uses_the_real_length_of_a_month_with_a_clock_change():
    # March 2026 loses an hour on the 29th: 743 hours, not 744.
    march = datetime(2026, 3, 1, tzinfo=PARIS)
    april = datetime(2026, 4, 1, tzinfo=PARIS)
    got = reliability.indices(
        records=[reliability.Record(march, march + timedelta(minutes=743))],
        customers_served=1,
        period_start=march,
        period_end=april,
        sustained_threshold_minutes=3,
    )
    assert got.asai == pytest.approx(1 - 743 / (743 * 60), abs=1e-12)


def test_no_customers_no_indices():
    got = reliability.indices(
        records=[],
        customers_served=0,
        period_start=T0,
        period_end=T0 + timedelta(days=1),
        sustained_threshold_minutes=3,
    )
    assert got.saifi is None and got.asai is None


def test_availability():
    assert reliability.availability(minutes_off=0, supply_points=2, period_minutes=100) == 1.0
    assert reliability.availability(
        minutes_off=50, supply_points=2, period_minutes=100
    ) == pytest.approx(0.75)


ALL_INCIDENT = list(states.INCIDENT_TRANSITIONS)
ILLEGAL_INCIDENT = [
    (a, b) for a in ALL_INCIDENT for b in ALL_INCIDENT if b not in states.INCIDENT_TRANSITIONS[a]
]


@pytest.mark.parametrize(("current", "target"), ILLEGAL_INCIDENT)
def test_illegal_incident_transitions_raise(current, target):
    with pytest.raises(states.IllegalTransition):
        states.check_incident(current, target)


ALL_DISPATCH = list(states.DISPATCH_TRANSITIONS)


@pytest.mark.parametrize(
    ("current", "target"),
    [(a, b) for a in ALL_DISPATCH for b in ALL_DISPATCH if b not in states.DISPATCH_TRANSITIONS[a]],
)
def test_illegal_dispatch_transitions_raise(current, target):
    with pytest.raises(states.IllegalTransition):
        states.check_dispatch(current, target)


ALL_REPORT = list(states.REPORT_TRANSITIONS)


@pytest.mark.parametrize(
    ("current", "target"),
    [(a, b) for a in ALL_REPORT for b in ALL_REPORT if b not in states.REPORT_TRANSITIONS[a]],
)
def test_illegal_report_transitions_raise(current, target):
    with pytest.raises(states.IllegalTransition):
        states.check_report(current, target)


def test_the_crew_path_is_legal_step_by_step():
    path = ["DISPATCHED", "EN_ROUTE", "ON_SITE", "RESTORED"]
    for a, b in itertools.pairwise(path):
        states.check_dispatch(a, b)
