"""Monthly partitions of the hourly table `metering_interval`.

Migration 0002 created the table partitioned by RANGE(start), one partition per UTC month
named `metering_interval_yYYYYmMM` (2024-01 to 2027-12). These services create missing
months (ingestion calls `interval_partitions_ensure` for the months of each batch, and
the daily beat task creates three months ahead) and drop the months that are entirely
older than the retention period (`interval_retention_months`, 24 by default).

What is kept: only hourly interval data is dropped. The billing reads that invoices rest
on are `metering.Reading` register reads (`billed=True`), stored in their own table
(`metering_reading`), which no partition operation here ever touches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import connection, transaction

PARENT = "metering_interval"
NAME_RE = re.compile(r"^metering_interval_y(\d{4})m(\d{2})$")
DEFAULT_RETENTION_MONTHS = 24
MONTHS_AHEAD = 3


@dataclass
class PartitionReport:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def _first_of_month(day: date) -> date:
    return date(day.year, day.month, 1)


def _add_months(day: date, months: int) -> date:
    """The first of the month `months` after (or before, if negative) the month of `day`."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{PARENT}_y{month.year:04d}m{month.month:02d}"


def _existing() -> dict[str, date]:
    """The partitions of the table that follow our naming scheme, by name → first day."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent
            WHERE p.relname = %s AND p.relnamespace = to_regnamespace(current_schema())
            """,
            [PARENT],
        )
        names = [row[0] for row in cursor.fetchall()]
    out = {}
    for name in names:
        match = NAME_RE.match(name)
        if match:
            out[name] = date(int(match[1]), int(match[2]), 1)
    return out


def interval_partitions_ensure(*, start: date, months: int) -> list[str]:
    """Create the missing monthly partitions from the month of `start`, `months` of them.

    Idempotent (`CREATE TABLE IF NOT EXISTS ... PARTITION OF`); only missing months are
    created, so a call for months that exist takes no lock on the table. Returns the
    names created."""
    if months < 1:
        return []
    first = _first_of_month(start)
    wanted = [_add_months(first, i) for i in range(months)]
    existing = _existing()
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        for month in wanted:
            name = partition_name(month)
            if name in existing:
                continue
            upper = _add_months(month, 1)
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} "
                f"FOR VALUES FROM ('{month.isoformat()} 00:00+00') "
                f"TO ('{upper.isoformat()} 00:00+00')"
            )
            created.append(name)
    return created


def interval_partitions_drop(*, before: date) -> list[str]:
    """Drop the monthly partitions that end on or before `before` (entirely older).

    Only interval data goes: register reads (`metering.Reading`, billed or not) live in
    another table and are never touched. Returns the names dropped, oldest first."""
    old = sorted(
        (month, name) for name, month in _existing().items() if _add_months(month, 1) <= before
    )
    with transaction.atomic(), connection.cursor() as cursor:
        for _month, name in old:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    return [name for _month, name in old]


def interval_partitions_maintain(
    *, now: datetime, retention_months: int | None = None, months_ahead: int = MONTHS_AHEAD
) -> PartitionReport:
    """The daily upkeep: partitions for this month and `months_ahead` more; drop the months
    entirely older than the retention (`interval_retention_months`, 24 by default).

    A partition is dropped once its end is at least `retention_months` before `now`: on
    2026-03-15 with 24 months, 2024-02 (ends 2024-03-01) goes, 2024-03 stays."""
    if retention_months is None:
        retention_months = _retention_months()
    today = now.date()
    report = PartitionReport()
    report.created = interval_partitions_ensure(start=today, months=months_ahead + 1)
    # The cutoff is `now` minus the retention, to the day (clamped at the month's end).
    cutoff_month = _add_months(today, -retention_months)
    nxt = _add_months(cutoff_month, 1)
    last_day = (nxt - cutoff_month).days
    cutoff = date(cutoff_month.year, cutoff_month.month, min(today.day, last_day))
    report.dropped = interval_partitions_drop(before=cutoff)
    return report


def _retention_months() -> int:
    from accounts.selectors import parameter_get

    try:
        return int(parameter_get(key="interval_retention_months"))
    except KeyError:
        return DEFAULT_RETENTION_MONTHS
