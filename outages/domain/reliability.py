"""Reliability indices after IEEE 1366, from raw customer interruptions.

One record is one customer (supply point) off supply from a start to an end. An
interruption longer than the sustained threshold counts in SAIFI, SAIDI and CAIDI;
one at or under it is momentary and counts in MAIFI only. A record belongs to the
period in which it started, and counts for its whole duration (IEEE 1366 practice),
so a storm that crosses midnight is not split across two days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .rules import elapsed


@dataclass(frozen=True)
class Record:
    started_at: datetime
    ended_at: datetime


@dataclass(frozen=True)
class Indices:
    customers_served: int
    sustained_interruptions: int
    momentary_interruptions: int
    customer_minutes: float
    saifi: float | None
    saidi: float | None
    caidi: float | None
    maifi: float | None
    asai: float | None


def indices(
    *,
    records: Iterable[Record],
    customers_served: int,
    period_start: datetime,
    period_end: datetime,
    sustained_threshold_minutes: float,
) -> Indices:
    """SAIFI and MAIFI in interruptions per customer, SAIDI and CAIDI in minutes,
    ASAI as a fraction of the customer-hours demanded in the period."""
    sustained = momentary = 0
    customer_minutes = 0.0
    for record in records:
        if not period_start <= record.started_at < period_end:
            continue
        minutes = elapsed(record.started_at, record.ended_at).total_seconds() / 60
        if minutes > sustained_threshold_minutes:
            sustained += 1
            customer_minutes += minutes
        else:
            momentary += 1
    return indices_from_totals(
        customers_served=customers_served,
        sustained_interruptions=sustained,
        momentary_interruptions=momentary,
        customer_minutes=customer_minutes,
        period_minutes=elapsed(period_start, period_end).total_seconds() / 60,
    )


def indices_from_totals(
    *,
    customers_served: int,
    sustained_interruptions: int,
    momentary_interruptions: int,
    customer_minutes: float,
    period_minutes: float,
) -> Indices:
    """The same indices from counts already summed (in SQL, per area and month), so
    that a report over many areas and months need not load every record. The split
    into sustained and momentary must use the same threshold as `indices`;
    `period_minutes` is real elapsed time (a month with a clock change has 743 or
    745 hours)."""
    sustained, momentary = sustained_interruptions, momentary_interruptions
    if customers_served <= 0:
        return Indices(0, sustained, momentary, customer_minutes, None, None, None, None, None)
    saifi = sustained / customers_served
    saidi = customer_minutes / customers_served
    caidi = saidi / saifi if sustained else None
    asai = 1 - customer_minutes / (customers_served * period_minutes) if period_minutes else None
    return Indices(
        customers_served=customers_served,
        sustained_interruptions=sustained,
        momentary_interruptions=momentary,
        customer_minutes=customer_minutes,
        saifi=saifi,
        saidi=saidi,
        caidi=caidi,
        maifi=momentary / customers_served,
        asai=asai,
    )


def availability(*, minutes_off: float, supply_points: int, period_minutes: float) -> float:
    """Share of the supply-point minutes of a period with supply (1.0 = none lost)."""
    if supply_points <= 0 or period_minutes <= 0:
        return 1.0
    return max(0.0, 1 - minutes_off / (supply_points * period_minutes))
