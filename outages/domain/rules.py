"""Classification, safety triage, restoration targets and estimates, compensation.

Every figure comes in as an argument (the services read the configurable values);
nothing here reads the clock or the database.
"""

from __future__ import annotations

import statistics
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

P1, P2, P3 = "P1", "P2", "P3"


# Python subtracts and adds two datetimes that share a tzinfo on the wall clock, so
# across a clock change "01:30 + 2 h" in Paris would be one real hour. Instants are
# compared and moved in UTC.
def elapsed(start: datetime, end: datetime) -> timedelta:
    return end.astimezone(UTC) - start.astimezone(UTC)


def later(instant: datetime, delta: timedelta) -> datetime:
    return (instant.astimezone(UTC) + delta).astimezone(instant.tzinfo)


# --- Classification -------------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    klass: str
    reasons: tuple[str, ...]


def classify(
    *,
    customers_affected: int,
    safety_critical: bool,
    priority_customers: int,
    planned: bool,
    several_households: int = 2,
) -> Classification:
    """Propose a class; a dispatcher may override it with a reason.

    A hazard on the public network is P1 whatever the count: the public notice
    and the crew target matter more than how many homes are off. Planned works
    are information (P3) unless something dangerous happens during them.
    """
    if safety_critical:
        return Classification(P1, ("safety",))
    if planned:
        return Classification(P3, ("planned",))
    if customers_affected >= several_households:
        reasons = ["several_households"]
        if priority_customers:
            reasons.append("priority_register")
        return Classification(P1, tuple(reasons))
    if priority_customers:
        return Classification(P2, ("priority_register",))
    return Classification(P3, ("single_customer",))


# --- Safety triage ----------------------------------------------------------------

# What a reporter can tick; any of them means "phone the emergency line now".
HAZARDS = ("SMOKE", "SPARKS", "HUMMING", "FALLEN_LINE", "FIRE")

_HAZARD_WORDS = (
    "fumee",
    "smoke",
    "etincelle",
    "spark",
    "bourdonn",
    "humming",
    "buzzing",
    "grésil",
    "gresill",
    "cable tombe",
    "fil tombe",
    "ligne tombee",
    "ligne a terre",
    "fallen line",
    "line down",
    "line is down",
    "lines down",
    "wire is down",
    "power line down",
    "wire down",
    "feu",
    "fire",
    "incendie",
    "brule",
    "burning",
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_safety_critical(*, hazards: list[str] | tuple[str, ...], description: str) -> bool:
    """Ticked hazards, or words for them in the free text (accents ignored)."""
    if any(h in HAZARDS for h in hazards):
        return True
    folded = _fold(description)
    return any(_fold(word) in folded for word in _HAZARD_WORDS)


# --- Targets ------------------------------------------------------------------------


def on_site_target(*, area_class: str, urban_hours: float, rural_hours: float) -> timedelta:
    return timedelta(hours=rural_hours if area_class == "RURAL" else urban_hours)


def mttr_target(
    *, customers_affected: int, several_households: int, network_hours: float, isolated_hours: float
) -> timedelta:
    """Network faults with several customers have the tighter target."""
    if customers_affected >= several_households:
        return timedelta(hours=network_hours)
    return timedelta(hours=isolated_hours)


def restore_duration(started_at: datetime, ended_at: datetime) -> timedelta:
    return elapsed(started_at, ended_at)


# --- First restoration estimate ------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    at: datetime
    confidence: str
    from_history: bool  # False: the fallback, history too thin
    samples: int


def first_estimate(
    *,
    started_at: datetime,
    history_minutes: list[float],
    fallback_minutes: float,
    min_samples: int,
) -> Estimate:
    """The median repair time of past incidents with the same cause and area class.

    Few samples make the median unreliable, so the fallback is used and said to be
    a low-confidence figure; the spread of the samples gives the confidence.
    """
    if len(history_minutes) < min_samples:
        return Estimate(
            later(started_at, timedelta(minutes=fallback_minutes)),
            "LOW",
            from_history=False,
            samples=len(history_minutes),
        )
    median = statistics.median(history_minutes)
    q = statistics.quantiles(history_minutes, n=4)
    spread = (q[2] - q[0]) / median if median else 1.0
    confidence = "HIGH" if spread <= 0.5 else "MEDIUM" if spread <= 1.0 else "LOW"
    return Estimate(
        later(started_at, timedelta(minutes=median)),
        confidence,
        from_history=True,
        samples=len(history_minutes),
    )


# --- Compensation ------------------------------------------------------------------


@dataclass(frozen=True)
class CompensationTerms:
    threshold_minutes: int
    slice_minutes: int
    amount_per_kva: Decimal
    max_slices: int


@dataclass(frozen=True)
class Entitlement:
    slices: int
    amount: Decimal


def compensation(*, minutes_off: int, kva: Decimal, terms: CompensationTerms) -> Entitlement:
    """Whole slices only: 4 h 59 earns nothing, 5 h 00 one slice, 10 h 00 two."""
    if minutes_off < terms.threshold_minutes:
        return Entitlement(0, Decimal("0.00"))
    slices = min(minutes_off // terms.slice_minutes, terms.max_slices)
    amount = (terms.amount_per_kva * Decimal(kva) * slices).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    return Entitlement(slices, amount)


def whole_minutes(started_at: datetime, ended_at: datetime) -> int:
    return int(elapsed(started_at, ended_at).total_seconds() // 60)
