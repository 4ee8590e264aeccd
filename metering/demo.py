"""Demo metering data: smart meters, monthly register reads, 24 months of hourly
profiles (seasonal, daily shape, some homes with electric heating) and their daily
aggregates, so the portal shows the "similar homes" line."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from accounts.models import SupplyPoint

from .models import Consent, Meter, MeterRegister, Reading
from .selectors import SIMILAR_HOMES_MIN, cohort_key
from .services import aggregates

PARIS = ZoneInfo("Europe/Paris")

PROFILE_SQL = """
INSERT INTO metering_interval (supply_point_id, start, wh, quality)
SELECT %(sp)s, ts, GREATEST(40, round(
    (%(base)s + %(amp)s * CASE
        WHEN extract(hour FROM ts AT TIME ZONE 'Europe/Paris') BETWEEN 7 AND 8 THEN 1.7
        WHEN extract(hour FROM ts AT TIME ZONE 'Europe/Paris') BETWEEN 18 AND 21 THEN 2.2
        WHEN extract(hour FROM ts AT TIME ZONE 'Europe/Paris') BETWEEN 0 AND 5 THEN 0.45
        ELSE 1.0 END)
    * (1 + %(heat)s * GREATEST(0, cos(2 * pi() * (extract(doy FROM ts) - 15) / 365.0)))
    * (0.85 + 0.3 * ((hashtext(%(sp)s::text || ts::text) & 1023) / 1023.0))
))::int, 0
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour', interval '1 hour') AS ts
ON CONFLICT DO NOTHING
"""


def _hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


METERS = 12


def _cohort(point) -> str:
    return cohort_key(
        account_type=point.premise.account.type,
        market=point.market,
        area_class=point.premise.area_class,
        kva=point.subscribed_kva,
    )


def _demo_points() -> list:
    """Twelve homes: the first demo customer's and enough others of her cohort for the
    similar-homes average to show (the minimum plus her), then the next homes by id."""
    homes = list(
        SupplyPoint.objects.filter(market="FR_PRM", premise__account__type="RESIDENTIAL")
        .select_related("premise__account")
        .order_by("id")
    )
    if not homes:
        return []
    first = _cohort(homes[0])
    alike = [p for p in homes if _cohort(p) == first][: SIMILAR_HOMES_MIN + 1]
    rest = [p for p in homes if p not in alike]
    return sorted(alike + rest[: max(0, METERS - len(alike))], key=lambda p: p.pk)


def seed(*, now: datetime) -> str:
    end = _hour(now)
    start = end - timedelta(days=730)
    points = _demo_points()
    for index, point in enumerate(points):
        heating = index % 3 == 0  # one home in three heats with electricity
        with transaction.atomic():
            meter, _ = Meter.objects.get_or_create(
                serial=f"LKY{point.identifier[-9:]}",
                defaults={"supply_point": point, "digits": 9, "smart": True, "installed_at": start},
            )
            register, _ = MeterRegister.objects.get_or_create(meter=meter, code="BASE")
            if index % 2 == 0 and not Consent.objects.filter(supply_point=point).exists():
                Consent.objects.create(
                    supply_point=point,
                    purpose="HOURLY_DATA",
                    granted_at=start,
                    granted_by=point.premise.account.memberships.first().user,
                )
            with connection.cursor() as cursor:
                cursor.execute(
                    PROFILE_SQL,
                    {
                        "sp": point.pk,
                        "start": start,
                        "end": end,
                        "base": 180 + 40 * (index % 4),
                        "amp": 220 + 30 * (index % 5),
                        "heat": 1.4 if heating else 0.25,
                    },
                )
                # One remote register read at the start of each local month.
                cursor.execute(
                    """
                    SELECT date_trunc('month', start AT TIME ZONE 'Europe/Paris') AS m, SUM(wh)
                    FROM metering_interval WHERE supply_point_id = %(sp)s
                    GROUP BY m ORDER BY m
                    """,
                    {"sp": point.pk},
                )
                months = cursor.fetchall()
            total_wh = 0
            for local_month, month_wh in months:
                # The read at the start of a month holds everything before it.
                read_at = local_month.replace(tzinfo=PARIS)
                Reading.objects.get_or_create(
                    register=register,
                    read_at=read_at,
                    defaults={
                        "value": 10_000 + total_wh // 1000,
                        "source": "REMOTE",
                        "quality": "VALID",
                        "recorded_at": read_at,
                    },
                )
                total_wh += int(month_wh)
    if points:
        # Up to yesterday, as the nightly task leaves it; today is still filling up.
        aggregates.daily_consumption_rebuild(
            day_from=start.astimezone(PARIS).date(),
            day_to=end.astimezone(PARIS).date() - timedelta(days=1),
        )
    return f"{len(points)} smart meters with 24 months of hourly data and daily totals"
