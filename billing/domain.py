"""Billing rules in pure Python: money, invoice lines and VAT, apportioning consumption
across tariff versions, the back-billing cap, instalment plans, and the states of
invoices and disputes.

Rounding rules (written once, used everywhere):

- amounts are `Decimal` euros; every line is rounded to the cent, half up, on its own;
- VAT is computed per rate on the sum of that rate's lines, then rounded to the cent, half
  up (never line by line, so a bill of many small lines carries no rounding drift);
- energy is kWh with three decimals (hourly data is whole Wh); a register read is whole
  kWh, spread across tariff versions pro rata to days, the last part taking the remainder
  so the parts add up exactly.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum

CENT = Decimal("0.01")
KWH = Decimal("0.001")
ZERO = Decimal("0")

# Back-billing: consumption older than this many months before the invoice date cannot be
# charged (FR: code de la consommation L224-11; GB: Ofgem's back-billing rule).
BACK_BILLING_MONTHS = {"FR": 14, "GB": 12}


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def kwh(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(KWH, rounding=ROUND_HALF_UP)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- Tariffs and invoice lines ------------------------------------------------------------


class LineKind(StrEnum):
    STANDING = "STANDING"
    ENERGY_BASE = "ENERGY_BASE"
    ENERGY_HP = "ENERGY_HP"
    ENERGY_HC = "ENERGY_HC"
    EXCISE = "EXCISE"
    ADJUSTMENT = "ADJUSTMENT"


ENERGY_KIND = {"BASE": LineKind.ENERGY_BASE, "HP": LineKind.ENERGY_HP, "HC": LineKind.ENERGY_HC}


@dataclass(frozen=True)
class Rates:
    """One tariff version's prices, excluding VAT: € per day and € per kWh."""

    standing_per_day: Decimal
    unit: dict[str, Decimal]  # register code (BASE, HP, HC) → € per kWh
    excise_per_kwh: Decimal
    vat_standing: Decimal  # 0.20 for 20 %
    vat_energy: Decimal


@dataclass(frozen=True)
class Segment:
    """A stretch of the billing period under one tariff version: [start, end) in days."""

    start: date
    end: date
    tariff_name: str
    rates: Rates
    kwh: dict[str, Decimal]  # register code → kWh consumed in the segment

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True)
class Line:
    kind: LineKind
    label: str
    quantity: Decimal
    unit: str  # "jour" or "kWh"
    unit_price: Decimal
    amount: Decimal  # excluding VAT, rounded to the cent
    vat_rate: Decimal
    start: date
    end: date


LABELS = {
    LineKind.STANDING: "Abonnement",
    LineKind.ENERGY_BASE: "Consommation (base)",
    LineKind.ENERGY_HP: "Consommation heures pleines",
    LineKind.ENERGY_HC: "Consommation heures creuses",
    LineKind.EXCISE: "Accise sur l'électricité",
}


def segment_lines(segment: Segment) -> list[Line]:
    """The lines of one segment: standing charge, one per register, then the excise."""
    r = segment.rates
    lines = [
        Line(
            LineKind.STANDING,
            LABELS[LineKind.STANDING],
            Decimal(segment.days),
            "jour",
            r.standing_per_day,
            money(r.standing_per_day * segment.days),
            r.vat_standing,
            segment.start,
            segment.end,
        )
    ]
    total_kwh = ZERO
    for code in ("BASE", "HP", "HC"):
        if code not in segment.kwh:
            continue
        if code not in r.unit:
            raise ValueError(f"The tariff {segment.tariff_name!r} has no {code} rate.")
        quantity = kwh(segment.kwh[code])
        total_kwh += quantity
        lines.append(
            Line(
                ENERGY_KIND[code],
                LABELS[ENERGY_KIND[code]],
                quantity,
                "kWh",
                r.unit[code],
                money(quantity * r.unit[code]),
                r.vat_energy,
                segment.start,
                segment.end,
            )
        )
    lines.append(
        Line(
            LineKind.EXCISE,
            LABELS[LineKind.EXCISE],
            total_kwh,
            "kWh",
            r.excise_per_kwh,
            money(total_kwh * r.excise_per_kwh),
            r.vat_energy,
            segment.start,
            segment.end,
        )
    )
    return lines


@dataclass(frozen=True)
class Totals:
    net: Decimal
    vat: Decimal
    gross: Decimal
    vat_by_rate: dict[Decimal, tuple[Decimal, Decimal]] = field(default_factory=dict)


def totals(lines: list[Line]) -> Totals:
    """Net, VAT per rate (on each rate's total, rounded once) and gross."""
    bases: dict[Decimal, Decimal] = {}
    for line in lines:
        bases[line.vat_rate] = bases.get(line.vat_rate, ZERO) + line.amount
    by_rate = {rate: (base, money(base * rate)) for rate, base in sorted(bases.items())}
    net = sum((base for base, _vat in by_rate.values()), ZERO)
    vat = sum((v for _base, v in by_rate.values()), ZERO)
    return Totals(money(net), money(vat), money(net + vat), by_rate)


def apportion(total: Decimal | int, weights: list[int], *, quantum: Decimal = KWH) -> list[Decimal]:
    """Split `total` in proportion to `weights` (days), each part rounded down to the
    quantum and the remainder given to the last part, so the parts add up exactly."""
    if not weights or sum(weights) <= 0:
        raise ValueError("apportion needs positive weights")
    total = Decimal(total)
    whole = sum(weights)
    parts = [
        (total * weight / whole).quantize(quantum, rounding=ROUND_DOWN) for weight in weights[:-1]
    ]
    parts.append(total - sum(parts, ZERO))
    return parts


# --- Back-billing ---------------------------------------------------------------------------


def back_billing_start(*, issued_on: date, jurisdiction: str) -> date:
    """The oldest day an invoice issued on `issued_on` may still charge."""
    return add_months(issued_on, -BACK_BILLING_MONTHS[jurisdiction])


@dataclass(frozen=True)
class CapResult:
    segments: list[Segment]
    written_off_kwh: Decimal  # consumption that may no longer be charged
    written_off_days: int


def cap_back_billing(segments: list[Segment], *, earliest: date) -> CapResult:
    """Drop the part of each segment before `earliest`: whole segments, or the days of a
    straddling one, its kWh pro rata to days (the kept part keeps the remainder)."""
    kept, lost_kwh, lost_days = [], ZERO, 0
    for seg in segments:
        if seg.end <= earliest:
            lost_kwh += sum(seg.kwh.values(), ZERO)
            lost_days += seg.days
            continue
        if seg.start >= earliest:
            kept.append(seg)
            continue
        before, after = (earliest - seg.start).days, (seg.end - earliest).days
        new_kwh = {}
        for code, value in seg.kwh.items():
            dropped, keep = apportion(value, [before, after])
            new_kwh[code] = keep
            lost_kwh += dropped
        lost_days += before
        kept.append(Segment(earliest, seg.end, seg.tariff_name, seg.rates, new_kwh))
    return CapResult(kept, lost_kwh, lost_days)


# --- Payment plans --------------------------------------------------------------------------

PLAN_MIN_INSTALMENTS, PLAN_MAX_INSTALMENTS = 3, 12


def instalments(*, total: Decimal, count: int, first_due: date) -> list[tuple[date, Decimal]]:
    """`count` monthly instalments from `first_due` (same day each month, clamped): equal
    cents, the first ones carrying the remaining cents, so they add up to `total`."""
    if not PLAN_MIN_INSTALMENTS <= count <= PLAN_MAX_INSTALMENTS:
        raise ValueError(
            f"A plan has {PLAN_MIN_INSTALMENTS} to {PLAN_MAX_INSTALMENTS} instalments."
        )
    cents = int(money(total) * 100)
    if cents <= 0:
        raise ValueError("Nothing to spread.")
    base, extra = divmod(cents, count)
    return [
        (add_months(first_due, i), Decimal(base + (1 if i < extra else 0)) / 100)
        for i in range(count)
    ]


def assistance_season(day: date) -> str:
    """Energy-assistance seasons run from 1 November to 31 October: "2026-2027"."""
    first = day.year if day.month >= 11 else day.year - 1
    return f"{first}-{first + 1}"


def extension_refusal(
    *, due: date, requested: date, today: date, max_days: int, already_extended: bool
) -> str | None:
    """Why a payment extension cannot be granted, or None. One per invoice, asked no later
    than 10 days after the due date, pushing it by at most `max_days`."""
    if already_extended:
        return "Cette facture a déjà bénéficié d'un report."
    if today > due + timedelta(days=10):
        return "Le report se demande au plus tard 10 jours après l'échéance."
    if requested <= due:
        return "La nouvelle échéance doit suivre l'échéance actuelle."
    if requested > due + timedelta(days=max_days):
        return f"Le report est d'au plus {max_days} jours."
    return None


# --- States -----------------------------------------------------------------------------


class IllegalTransition(Exception):
    def __init__(self, machine: str, source: str, target: str):
        super().__init__(f"{machine}: {source} → {target} is not allowed.")
        self.source, self.target = source, target


INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    "DRAFT": frozenset({"ISSUED", "CANCELLED"}),
    "ISSUED": frozenset({"CANCELLED"}),  # by a credit note, when rebilled
    "CANCELLED": frozenset(),
}

DISPUTE_TRANSITIONS: dict[str, frozenset[str]] = {
    "SUBMITTED": frozenset({"ACKNOWLEDGED"}),
    "ACKNOWLEDGED": frozenset({"INVESTIGATING", "ESCALATED"}),
    "INVESTIGATING": frozenset({"UPHELD", "REJECTED", "ESCALATED"}),
    # A supervisor decides an escalated dispute.
    "ESCALATED": frozenset({"UPHELD", "REJECTED"}),
    "UPHELD": frozenset({"CREDITED", "REFUNDED"}),
    "CREDITED": frozenset(),
    "REFUNDED": frozenset(),
    "REJECTED": frozenset(),
}
DISPUTE_OPEN = frozenset({"SUBMITTED", "ACKNOWLEDGED", "INVESTIGATING", "ESCALATED", "UPHELD"})


def check_transition(table: dict[str, frozenset[str]], machine: str, source: str, target: str):
    if target not in table.get(source, frozenset()):
        raise IllegalTransition(machine, source, target)
