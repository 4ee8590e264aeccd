"""Snapshot ingredients and the KPI ratios read from them (docs/kpi.md, "Snapshots and
dashboard").

A snapshot row keeps counts and sums, never ratios: the month's ASA is the month's summed
waits over its summed answered contacts, which is exactly the ASA of the month's raw
contacts; an average of daily ASAs would not be. The set-based SQL that fills the rows
applies the predicates of `metrics` (offered, answered, handled, short abandon, repeat,
verdict of a commitment…); tests/test_kpi_snapshots.py checks every ratio below against
the `metrics` function of the same name on the same raw records.

Standard library only (no Django): the module is checked by import-linter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from . import metrics

# Microseconds: sums of waits and restoration times stay exact integers, so a month summed
# from its days equals the month built from the raw records, to the microsecond.
MICRO = 1_000_000

# Additive columns of a snapshot row (and of a live cell), in the order of the table.
ADDITIVE = (
    "contacts",  # every contact record of the cell, any channel or direction
    "offered",
    "answered",
    "answered_within_target",
    "abandoned",
    "short_abandons",
    "wait_us_sum",  # queue waits of the answered contacts
    "handled",
    "handle_seconds_sum",  # talk + hold + wrap of the handled contacts
    "fcr_eligible",
    "fcr_resolved",
    "attempts",
    "reached_queue",
    "repeat_eligible",
    "repeats",
    "csat_answers",
    "csat_satisfied",
    "nps_answers",
    "promoters",
    "detractors",
    "commitments_due",  # decided commitments (met or missed)
    "commitments_met",
    "restored_incidents",
    "restore_us_sum",
)
# Stocks measured at the end of the period: never summed over time.
STOCKS = ("backlog", "backlog_ageing")
AGEING_NAMES = tuple(name for name, _, _ in metrics.AGEING_BUCKETS)


def _percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def _mean(total: float, count: int) -> float | None:
    return total / count if count else None


@dataclass(frozen=True)
class Figures:
    """The ingredients of one cell (a period × a dimension value) and its KPIs."""

    contacts: int = 0
    offered: int = 0
    answered: int = 0
    answered_within_target: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    wait_us_sum: int = 0
    handled: int = 0
    handle_seconds_sum: int = 0
    fcr_eligible: int = 0
    fcr_resolved: int = 0
    attempts: int = 0
    reached_queue: int = 0
    repeat_eligible: int = 0
    repeats: int = 0
    csat_answers: int = 0
    csat_satisfied: int = 0
    nps_answers: int = 0
    promoters: int = 0
    detractors: int = 0
    commitments_due: int = 0
    commitments_met: int = 0
    restored_incidents: int = 0
    restore_us_sum: int = 0
    backlog: int = 0
    backlog_ageing: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, row) -> Figures:
        """From a database row (a dict or an object with the same attribute names)."""
        get = (
            row.get
            if isinstance(row, dict)
            else lambda name, default=None: getattr(row, name, default)
        )
        values = {name: int(get(name, 0) or 0) for name in ADDITIVE}
        values["backlog"] = int(get("backlog", 0) or 0)
        values["backlog_ageing"] = dict(get("backlog_ageing", None) or {})
        return cls(**values)

    def then(self, later: Figures) -> Figures:
        """This period followed by `later`: counts add up, stocks are the later ones."""
        values = {name: getattr(self, name) + getattr(later, name) for name in ADDITIVE}
        return Figures(**values, backlog=later.backlog, backlog_ageing=later.backlog_ageing)

    def with_backlog(self, backlog: int, ageing: dict[str, int]) -> Figures:
        return replace(self, backlog=backlog, backlog_ageing=dict(ageing))

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    # --- The KPIs of docs/kpi.md, from the ingredients -----------------------------------

    @property
    def asa_seconds(self) -> float | None:
        return _mean(self.wait_us_sum / MICRO, self.answered)

    @property
    def aht_seconds(self) -> float | None:
        return _mean(self.handle_seconds_sum, self.handled)

    @property
    def fcr_percent(self) -> float | None:
        return _percent(self.fcr_resolved, self.fcr_eligible)

    @property
    def csat_percent(self) -> float | None:
        return _percent(self.csat_satisfied, self.csat_answers)

    @property
    def nps(self) -> float | None:
        if not self.nps_answers:
            return None
        return 100 * (self.promoters - self.detractors) / self.nps_answers

    @property
    def abandonment_percent(self) -> float | None:
        return _percent(self.abandoned, self.offered)

    @property
    def service_level_percent(self) -> float | None:
        return _percent(self.answered_within_target, self.offered)

    @property
    def contact_success_percent(self) -> float | None:
        return _percent(self.reached_queue, self.attempts)

    @property
    def repeat_contact_percent(self) -> float | None:
        return _percent(self.repeats, self.repeat_eligible)

    @property
    def sla(self) -> metrics.Attainment:
        return metrics.Attainment(met=self.commitments_met, due=self.commitments_due)

    @property
    def sla_percent(self) -> float | None:
        return self.sla.percent

    @property
    def mttr_seconds(self) -> float | None:
        return _mean(self.restore_us_sum / MICRO, self.restored_incidents)

    @property
    def ageing(self) -> list[tuple[str, int]]:
        """Every bucket, in order, empty ones as 0."""
        return [(name, int(self.backlog_ageing.get(name, 0))) for name in AGEING_NAMES]


EMPTY = Figures()


def chain(periods: list[Figures]) -> Figures:
    """Consecutive periods, oldest first, as one: the month from its days."""
    total = EMPTY
    for period in periods:
        total = total.then(period)
    return total
