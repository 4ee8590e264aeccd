"""Daily aggregates of the hourly table: one row per supply point and local day
(`DailyConsumption`), and per "similar homes" cohort and local day
(`CohortDailyConsumption`).

Both are derived data, rebuilt from the rows below them by set-based SQL: any past period
can be rebuilt at will, and rebuilding twice changes nothing. Days are local
(Europe/Paris), so a DST day sums 23 or 25 hours. The nightly beat task rebuilds
yesterday and the day before, which picks up hours that arrive a day late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection, transaction

from ..domain import local_day_bounds
from ..models import CohortDailyConsumption, DailyConsumption, IntervalReading
from ..selectors import COHORT_JOINS_SQL, COHORT_SQL, OFF_PEAK_HOURS, TZ, full_day_sql

DAILY = DailyConsumption._meta.db_table
COHORT = CohortDailyConsumption._meta.db_table
HOURLY = IntervalReading._meta.db_table
_OFF_PEAK = ", ".join(str(h) for h in OFF_PEAK_HOURS)
_LOCAL_HOUR = f"extract(hour FROM start AT TIME ZONE '{TZ}')"
# Bounds each statement (its transaction, its hash aggregate) on a long backfill.
CHUNK_DAYS = 31

# The join to the supply point also drops hourly rows of unknown supply points (the
# hourly table has no foreign key), which the aggregate's foreign key would refuse.
# `IS DISTINCT FROM` leaves unchanged rows unwritten, so a rebuild creates no dead tuples.
DAILY_SQL = f"""
INSERT INTO {DAILY} AS d (supply_point_id, day, wh, hp_wh, hc_wh, hours, cohort)
SELECT g.supply_point_id, g.day, g.wh, g.hp_wh, g.hc_wh, g.hours, {COHORT_SQL}
FROM (
    SELECT supply_point_id,
           (start AT TIME ZONE '{TZ}')::date AS day,
           sum(wh) AS wh,
           coalesce(sum(wh) FILTER (WHERE {_LOCAL_HOUR} NOT IN ({_OFF_PEAK})), 0) AS hp_wh,
           coalesce(sum(wh) FILTER (WHERE {_LOCAL_HOUR} IN ({_OFF_PEAK})), 0) AS hc_wh,
           count(*) AS hours
    FROM {HOURLY}
    WHERE start >= %(start)s AND start < %(end)s
    GROUP BY 1, 2
) g
JOIN accounts_supplypoint sp ON sp.id = g.supply_point_id
{COHORT_JOINS_SQL}
ON CONFLICT (supply_point_id, day) DO UPDATE
SET wh = EXCLUDED.wh, hp_wh = EXCLUDED.hp_wh, hc_wh = EXCLUDED.hc_wh,
    hours = EXCLUDED.hours, cohort = EXCLUDED.cohort
WHERE (d.wh, d.hp_wh, d.hc_wh, d.hours, d.cohort)
    IS DISTINCT FROM (EXCLUDED.wh, EXCLUDED.hp_wh, EXCLUDED.hc_wh, EXCLUDED.hours, EXCLUDED.cohort)
"""  # noqa: S608 (table names and constants only; values are bound)

# Only complete days count: a home with missing hours would pull the average down. A
# (cohort, day) that no longer has any complete day is deleted, in the same statement.
COHORT_REBUILD_SQL = f"""
WITH fresh AS (
    SELECT d.cohort, d.day, count(*) AS homes, sum(d.wh) AS wh
    FROM {DAILY} d
    WHERE d.day >= %(day_from)s AND d.day <= %(day_to)s AND d.cohort <> ''
      AND {full_day_sql("d")}
    GROUP BY d.cohort, d.day
), upserted AS (
    INSERT INTO {COHORT} AS c (cohort, day, homes, wh)
    SELECT cohort, day, homes, wh FROM fresh
    ON CONFLICT (cohort, day) DO UPDATE SET homes = EXCLUDED.homes, wh = EXCLUDED.wh
    WHERE (c.homes, c.wh) IS DISTINCT FROM (EXCLUDED.homes, EXCLUDED.wh)
    RETURNING 1
), removed AS (
    DELETE FROM {COHORT} c
    WHERE c.day >= %(day_from)s AND c.day <= %(day_to)s
      AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.cohort = c.cohort AND f.day = c.day)
    RETURNING 1
)
SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM removed)
"""  # noqa: S608 (table names and constants only; values are bound)


@dataclass
class AggregateReport:
    days: int = 0
    daily_written: int = 0  # rows inserted or changed; unchanged rows are not counted
    cohort_written: int = 0
    cohort_removed: int = 0


def daily_consumption_rebuild(
    *, day_from: date, day_to: date, chunk_days: int = CHUNK_DAYS
) -> AggregateReport:
    """Rebuild the daily totals of every supply point for the local days
    [day_from, day_to] (both included) from the hourly rows, then the cohort sums of
    those days. Idempotent; safe to run again over any past period.

    Days whose hourly rows are gone (partitions dropped by retention) keep their totals:
    the daily figures are meant to outlive the hourly ones."""
    report = AggregateReport()
    if day_to < day_from:
        return report
    first = day_from
    while first <= day_to:
        last = min(day_to, first + timedelta(days=chunk_days - 1))
        with transaction.atomic(), connection.cursor() as cursor:
            # Two overlapping rebuilds (a retried task beside a backfill) would upsert the
            # same keys in different orders and could deadlock; they queue instead.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [DAILY])
            cursor.execute(
                DAILY_SQL,
                {"start": local_day_bounds(first, TZ)[0], "end": local_day_bounds(last, TZ)[1]},
            )
            report.daily_written += cursor.rowcount
            cursor.execute(COHORT_REBUILD_SQL, {"day_from": first, "day_to": last})
            written, removed = cursor.fetchone()
            report.cohort_written += written
            report.cohort_removed += removed
        report.days += (last - first).days + 1
        first = last + timedelta(days=1)
    return report
