"""Monthly partitions of the hourly table: created ahead, dropped after the retention."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection

from accounts.models import Parameter
from metering.models import Meter, MeterRegister, Reading, ReadingSource
from metering.services.partitions import (
    interval_partitions_drop,
    interval_partitions_ensure,
    interval_partitions_maintain,
)
from metering.tasks import interval_partitions_task

from .factories import AccountFactory
from .test_api_b2b import add_supply_points

pytestmark = pytest.mark.django_db


def exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def test_ensure_creates_missing_months_and_is_idempotent():
    created = interval_partitions_ensure(start=date(2027, 11, 17), months=4)
    assert created == ["metering_interval_y2028m01", "metering_interval_y2028m02"]
    assert interval_partitions_ensure(start=date(2027, 11, 1), months=4) == []
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO metering_interval VALUES (1, '2028-02-29 23:00+00', 5, 0)")
        cursor.execute("SELECT tableoid::regclass::text FROM metering_interval")
        assert cursor.fetchone()[0] == "metering_interval_y2028m02"


def test_task_creates_three_months_ahead_and_drops_past_the_retention():
    result = interval_partitions_task(now_iso="2027-11-15T02:00:00+00:00")
    assert result["created"] == ["metering_interval_y2028m01", "metering_interval_y2028m02"]
    # 24 months before 2027-11-15 is 2025-11-15: every month ending by then goes.
    assert result["dropped"][0] == "metering_interval_y2024m01"
    assert result["dropped"][-1] == "metering_interval_y2025m10"
    assert not exists("metering_interval_y2025m10")
    assert exists("metering_interval_y2025m11")
    # Again the same day: nothing more to do.
    assert interval_partitions_task(now_iso="2027-11-15T02:00:00+00:00") == {
        "created": [],
        "dropped": [],
    }


def test_retention_comes_from_the_parameter():
    from django.core.cache import cache

    Parameter.objects.update_or_create(key="interval_retention_months", defaults={"value": 36})
    cache.clear()
    report = interval_partitions_maintain(now=datetime(2027, 2, 15, tzinfo=UTC))
    assert report.dropped == ["metering_interval_y2024m01"]  # with 24: up to 2025-01


def test_dropping_old_intervals_keeps_billed_register_reads():
    sp = add_supply_points(AccountFactory(), 1)[0]
    when = datetime(2024, 1, 31, 12, tzinfo=UTC)
    meter = Meter.objects.create(supply_point=sp, serial="LNK-1", installed_at=when)
    register = MeterRegister.objects.create(meter=meter, code="BASE")
    billed = Reading.objects.create(
        register=register,
        read_at=when,
        value=1234,
        source=ReadingSource.REMOTE,
        recorded_at=when,
        billed=True,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_interval VALUES (%s, '2024-01-31 12:00+00', 700, 0)", [sp.pk]
        )
    assert interval_partitions_drop(before=date(2024, 2, 1)) == ["metering_interval_y2024m01"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_interval WHERE supply_point_id = %s", [sp.pk])
        assert cursor.fetchone()[0] == 0
    assert Reading.objects.get(pk=billed.pk).value == 1234
