"""Reads of the KPI API for BI tools (docs/kpi-api.md): snapshot rows with their KPIs,
the configured targets and the interval alerts.

Only the snapshot table is read, never the raw records: a BI tool polling a year of
days must cost the same two queries (count and page) as one polling a single day.
Today's rows are as fresh as the last beat build (`built_at`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from tickets.models import Queue

from ..domain import metrics
from ..domain import snapshots as snap
from ..models import KpiAlert, KpiSnapshot, SnapshotDimension, SnapshotKind
from . import TILE_FIGURES, _kpi_targets, kpi_target_settings

# The longest range one request may ask for, per grain: beyond it a BI tool is asked
# to split its extraction, so no request scans an unbounded slice of the table.
MAX_INTERVAL_DAYS = 31
MAX_DAY_DAYS = 400
MAX_MONTHS = 60

_ROW_FIELDS = (
    "kind",
    "period_start",
    "period_end",
    "dimension",
    "key",
    "answer_target_seconds",
    "built_at",
    *snap.ADDITIVE,
    *snap.STOCKS,
)


def months_between(first: dt.date, last: dt.date) -> int:
    """How many calendar months [first, last] touches (both included)."""
    return (last.year - first.year) * 12 + last.month - first.month + 1


def kpi_api_range_error(*, grain: str, day_from: dt.date, day_to: dt.date) -> str | None:
    """Why a range is refused for a grain, or None when it is acceptable."""
    if day_from > day_to:
        return "Must be on or after from."
    if grain == SnapshotKind.MONTH:
        if months_between(day_from, day_to) > MAX_MONTHS:
            return f"At most {MAX_MONTHS} months (those of from and to included) for grain MONTH."
        return None
    limit = MAX_INTERVAL_DAYS if grain == SnapshotKind.INTERVAL else MAX_DAY_DAYS
    if (day_to - day_from).days + 1 > limit:
        return f"At most {limit} days (from and to included) for grain {grain}."
    return None


def _range_bounds(grain: str, day_from: dt.date, day_to: dt.date) -> tuple[dt.datetime, ...]:
    """The UTC instants between which the selected periods start. A month is selected
    when a day of the range falls in it, so 2026-03-15..2026-03-15 gives March."""
    if grain == SnapshotKind.MONTH:
        return metrics.local_month_bounds(day_from)[0], metrics.local_month_bounds(day_to)[1]
    return metrics.local_day_bounds(day_from)[0], metrics.local_day_bounds(day_to)[1]


@dataclass(frozen=True)
class FigureRow:
    """One snapshot row as the API shows it: its ingredients and their KPIs."""

    grain: str
    period_start: dt.datetime
    period_end: dt.datetime
    dimension: str
    key: str
    answer_target_seconds: int
    built_at: dt.datetime
    in_progress: bool
    figures: snap.Figures

    @property
    def backlog_ageing(self) -> dict[str, int]:
        # Every bucket, empty ones as 0, so that a BI table has fixed columns.
        return dict(self.figures.ageing)


class FigureRows:
    """The selected rows, lazily: the paginator counts them and slices out one page,
    which is all that is read from the database."""

    ordered = True  # the paginator warns about unordered lists

    def __init__(self, rows: QuerySet, *, now: dt.datetime):
        self._rows = rows
        self._now = now

    def count(self) -> int:
        return self._rows.count()

    def __len__(self) -> int:
        return self.count()

    def _row(self, row: dict) -> FigureRow:
        return FigureRow(
            grain=row["kind"],
            period_start=row["period_start"],
            period_end=row["period_end"],
            dimension=row["dimension"],
            key=row["key"],
            answer_target_seconds=row["answer_target_seconds"],
            built_at=row["built_at"],
            # The period has not ended: its row can only be partial.
            in_progress=row["period_end"] > self._now,
            figures=snap.Figures.from_mapping(row),
        )

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._row(row) for row in self._rows[index]]
        return self._row(self._rows[index])

    def __iter__(self):
        return (self._row(row) for row in self._rows)


def kpi_api_figures(
    *,
    grain: str,
    day_from: dt.date,
    day_to: dt.date,
    now: dt.datetime,
    dimension: str | None = None,
    key: str | None = None,
) -> FigureRows:
    """The snapshot rows of a grain whose period starts in the Paris days
    [day_from, day_to] (for MONTH: in the months they touch), optionally of one
    dimension and one key, ordered by (period_start, dimension, key) — unique for a
    grain, so pages never overlap. The range is the caller's to check
    (`kpi_api_range_error`)."""
    start, end = _range_bounds(grain, day_from, day_to)
    rows = KpiSnapshot.objects.filter(kind=grain, period_start__gte=start, period_start__lt=end)
    if dimension is not None:
        rows = rows.filter(dimension=dimension)
    if key is not None:
        rows = rows.filter(key=key)
    return FigureRows(
        rows.order_by("period_start", "dimension", "key").values(*_ROW_FIELDS), now=now
    )


# --- Targets ---------------------------------------------------------------------------

_UNITS = {"asa": "seconds", "aht": "seconds", "mttr": "seconds", "nps": "points"}


@dataclass(frozen=True)
class TargetRow:
    """A target of the dashboard. `dimension` and `key` are None for the default that
    applies to every cell, or name the one cell with its own (the billing queue)."""

    kpi: str
    figure: str
    rule: str
    low: float | None
    high: float | None
    amber_band: float
    unit: str
    dimension: str | None = None
    key: str | None = None


def _target_rows(goals: dict, dimension: str | None, key: str | None) -> list[TargetRow]:
    return [
        TargetRow(
            kpi=code,
            figure=TILE_FIGURES[code],
            rule=goal.rule,
            low=goal.low,
            high=goal.high,
            amber_band=goal.band,
            unit=_UNITS.get(code, "percent"),
            dimension=dimension,
            key=key,
        )
        for code, goal in goals.items()
        if goal is not None
    ]


def kpi_api_targets() -> list[TargetRow]:
    """The targets the dashboard rates its tiles against (same parameters, same
    rules): the defaults, then each queue's own where it differs from them."""
    settings = kpi_target_settings()
    default = _kpi_targets(settings, dimension=SnapshotDimension.OVERALL, key="")
    rows = _target_rows(default, None, None)
    for queue in Queue.values:
        own = _kpi_targets(settings, dimension=SnapshotDimension.QUEUE, key=queue)
        changed = {code: goal for code, goal in own.items() if goal != default[code]}
        rows += _target_rows(changed, SnapshotDimension.QUEUE, queue)
    return rows


# --- Alerts ----------------------------------------------------------------------------


def kpi_api_alerts(*, open_only: bool | None = None) -> QuerySet[KpiAlert]:
    """Interval alerts, newest first: only the open ones (True), only the cleared ones
    (False) or all (None)."""
    alerts = KpiAlert.objects.all()
    if open_only is not None:
        alerts = alerts.filter(cleared_at__isnull=open_only)
    return alerts.order_by("-raised_at", "-pk")
