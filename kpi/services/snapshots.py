"""KPI snapshots: the cells of a Paris day (with its intervals) or month, written from the
raw records by one set-based statement (docs/kpi.md, "Snapshots and dashboard").

A build replaces the rows of its period in one transaction: it upserts the fresh cells,
leaves unchanged rows unwritten, and deletes the cells that no longer exist (a contact
re-queued, an interval length changed). Building the same period twice therefore
changes nothing, and any past period can be rebuilt at will.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction

from .. import selectors
from ..domain import metrics
from ..domain import snapshots as snap
from ..models import SnapshotKind
from . import KpiError

_KEY = ("kind", "period_start", "dimension", "key")
_VALUES = ("period_end", "answer_target_seconds", *snap.ADDITIVE, *snap.STOCKS)
_COLUMNS = (*_KEY, *_VALUES)


class PeriodNotStarted(KpiError):
    """A snapshot of a period that has not begun would only hold zeros."""


def _upsert_sql(cells_sql: str) -> str:
    columns = ", ".join(_COLUMNS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in _VALUES)
    current = ", ".join(f"s.{name}" for name in _VALUES)
    fresh = ", ".join(f"EXCLUDED.{name}" for name in _VALUES)
    same_key = " AND ".join(f"f.{name} = s.{name}" for name in _KEY)
    table = selectors.SNAPSHOT_TABLE
    # `IS DISTINCT FROM` leaves unchanged rows alone: a rebuild writes nothing, keeps
    # their built_at, and leaves no dead tuples behind.
    return f"""
WITH fresh AS ({cells_sql}),
upserted AS (
    INSERT INTO {table} AS s ({columns}, built_at)
    SELECT {columns}, %(now)s FROM fresh
    ON CONFLICT ({", ".join(_KEY)}) DO UPDATE SET {updates}, built_at = EXCLUDED.built_at
    WHERE ({current}) IS DISTINCT FROM ({fresh})
    RETURNING 1
),
removed AS (
    DELETE FROM {table} s
    WHERE s.kind = ANY(%(kinds)s) AND s.period_start >= %(start)s AND s.period_start < %(end)s
      AND NOT EXISTS (SELECT 1 FROM fresh f WHERE {same_key})
    RETURNING 1
)
SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM upserted),
       (SELECT count(*) FROM removed)"""  # noqa: S608 (constants only; values are bound)


_UPSERT_SQL = {
    True: _upsert_sql(selectors.kpi_cells_sql(intervals=True)),
    False: _upsert_sql(selectors.kpi_cells_sql(intervals=False)),
}


@dataclass
class BuildReport:
    periods: int = 0
    cells: int = 0  # rows the periods have
    written: int = 0  # rows inserted or changed; unchanged rows are not counted
    removed: int = 0

    def add(self, other: BuildReport) -> BuildReport:
        return BuildReport(
            self.periods + other.periods,
            self.cells + other.cells,
            self.written + other.written,
            self.removed + other.removed,
        )


def _build(
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    kind: str,
    intervals: bool,
    interval_minutes: int,
) -> BuildReport:
    if start >= now:
        raise PeriodNotStarted(f"The period starting {start.isoformat()} has not begun.")
    params = selectors.kpi_cells_params(
        start=start,
        end=end,
        now=now,
        period_kind=str(kind),
        interval_minutes=interval_minutes,
        intervals=intervals,
    )
    kinds = [kind, SnapshotKind.INTERVAL] if intervals else [kind]
    with transaction.atomic(), connection.cursor() as cursor:
        # Two builds of one period (the 15-minute task beside a manual rebuild) would
        # upsert the same keys; they queue instead of deadlocking.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [selectors.SNAPSHOT_TABLE])
        cursor.execute(_UPSERT_SQL[intervals], {**params, "kinds": [str(k) for k in kinds]})
        cells, written, removed = cursor.fetchone()
    return BuildReport(periods=1, cells=cells, written=written, removed=removed)


def snapshot_day_build(
    *, day: date, now: datetime, interval_minutes: int | None = None
) -> BuildReport:
    """The DAY cells of a Paris day and its INTERVAL cells, from the raw records. A day
    in progress is built as seen at `now` (its backlog measured at `now`)."""
    start, end = metrics.local_day_bounds(day)
    minutes = interval_minutes or selectors.kpi_interval_minutes()
    if minutes not in metrics.INTERVAL_MINUTES:
        raise ValueError(f"An interval is 15, 30 or 60 minutes, not {minutes}.")
    return _build(
        start=start,
        end=end,
        now=now,
        kind=SnapshotKind.DAY,
        intervals=True,
        interval_minutes=minutes,
    )


def snapshot_month_build(*, month: date, now: datetime) -> BuildReport:
    """The MONTH cells of a Paris month, from the raw records (not from its days: the
    tests check that both agree)."""
    start, end = metrics.local_month_bounds(month)
    return _build(
        start=start,
        end=end,
        now=now,
        kind=SnapshotKind.MONTH,
        intervals=False,
        interval_minutes=selectors.DEFAULT_INTERVAL_MINUTES,
    )


def snapshots_refresh(*, now: datetime) -> BuildReport:
    """The 15-minute refresh: the current Paris day with its intervals so far (so the
    one just closed), and yesterday too while the interval just closed is still
    yesterday's (just after midnight). Late records of the day are picked up as well."""
    minutes = selectors.kpi_interval_minutes()
    today = metrics.local_day(now)
    closed = metrics.local_day(now - timedelta(minutes=minutes))
    report = BuildReport()
    for day in sorted({closed, today}):
        report = report.add(snapshot_day_build(day=day, now=now, interval_minutes=minutes))
    return report


def snapshots_rebuild(
    *,
    day_from: date,
    day_to: date,
    now: datetime,
    days: bool = True,
    months: bool = True,
    interval_minutes: int | None = None,
) -> BuildReport:
    """Every day of [day_from, day_to] (with its intervals) and every month they touch,
    each in its own transaction; days and months after `now` are skipped."""
    report = BuildReport()
    today = metrics.local_day(now)
    last = min(day_to, today)
    if days:
        minutes = interval_minutes or selectors.kpi_interval_minutes()
        day = day_from
        while day <= last:
            report = report.add(snapshot_day_build(day=day, now=now, interval_minutes=minutes))
            day += timedelta(days=1)
    if months:
        month = day_from.replace(day=1)
        while month <= last:
            report = report.add(snapshot_month_build(month=month, now=now))
            month = (month + timedelta(days=32)).replace(day=1)
    return report
