"""Targets of the dashboard tiles and their red / amber / green verdict (docs/kpi.md,
"Snapshots and dashboard").

The target values are configurable (accounts Parameter rows, read by the selectors); the
amber bands are fixed here: amber is "missed, but by less than the band", so a tile turns
amber before it turns red. A figure that is undefined (no contact answered…) is neither
met nor missed.

Standard library only (no Django): the module is checked by import-linter.
"""

from __future__ import annotations

from dataclasses import dataclass

GREEN = "GREEN"
AMBER = "AMBER"
RED = "RED"
NO_DATA = "NO_DATA"  # the figure is undefined for the period (docs/kpi.md: shown "—")
NO_TARGET = "NO_TARGET"  # a figure shown for information (the backlog)

# How far past its target a figure stays amber, in the figure's own unit.
AMBER_BANDS = {
    "asa": 5.0,  # seconds: 30 s target → amber from 30 s to under 35 s
    "aht": 30.0,  # seconds either side of the 4–6 min range
    "fcr": 5.0,  # percentage points
    "csat": 5.0,  # points
    "nps": 5.0,  # NPS points
    "abandonment": 2.0,  # points
    "service_level": 5.0,  # points
    "sla": 1.0,  # points: 99 % target → amber from 98 % to under 99 %
    "mttr": 3600.0,  # seconds: one hour past the restoration target
}


@dataclass(frozen=True)
class Target:
    """`at_least`: met when value ≥ low. `below`: met when value < high (strict, as in
    "ASA < 30 s"). `at_most`: met when value ≤ high. `between`: met when low ≤ value ≤
    high. `band` is the amber margin past the bound."""

    rule: str
    low: float | None = None
    high: float | None = None
    band: float = 0.0

    @classmethod
    def at_least(cls, low: float, band: float) -> Target:
        return cls("at_least", low=float(low), band=band)

    @classmethod
    def below(cls, high: float, band: float) -> Target:
        return cls("below", high=float(high), band=band)

    @classmethod
    def at_most(cls, high: float, band: float) -> Target:
        return cls("at_most", high=float(high), band=band)

    @classmethod
    def between(cls, low: float, high: float, band: float) -> Target:
        return cls("between", low=float(low), high=float(high), band=band)

    def status(self, value: float | None) -> str:
        if value is None:
            return NO_DATA
        if self.rule == "at_least":
            return GREEN if value >= self.low else AMBER if value >= self.low - self.band else RED
        if self.rule == "below":
            return GREEN if value < self.high else AMBER if value < self.high + self.band else RED
        if self.rule == "at_most":
            return GREEN if value <= self.high else AMBER if value <= self.high + self.band else RED
        if self.rule == "between":
            if self.low <= value <= self.high:
                return GREEN
            inside = self.low - self.band <= value <= self.high + self.band
            return AMBER if inside else RED
        raise ValueError(f"Unknown target rule {self.rule!r}.")


def rate(value: float | None, target: Target | None) -> str:
    if target is None:
        return NO_DATA if value is None else NO_TARGET
    return target.status(value)
