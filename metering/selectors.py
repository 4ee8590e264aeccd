"""Reads of the metering app: hourly consumption, its local-day and local-month totals,
and the consent that decides whether hourly data may be shown at all.

Days and months are LOCAL (Europe/Paris): a DST day has 23 or 25 hours. The grouping is
done by PostgreSQL (`date_trunc('day', start AT TIME ZONE 'Europe/Paris')`), so a period of
two years is one indexed range scan of one supply point's partitions. The "similar homes"
average is the exception: it reads only the daily aggregate tables (services.aggregates).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Max, Q, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Trunc

from accounts import selectors as account_selectors

from .domain import ESPI_QUALITY, QUALITY_FROM_ESPI, local_day_bounds, month_bounds
from .models import (
    CohortDailyConsumption,
    Consent,
    ConsentPurpose,
    DailyConsumption,
    IntervalReading,
)

TZ = "Europe/Paris"
PARIS = ZoneInfo(TZ)
GROUPS = ("hour", "day", "month")
CHANNELS = ("portal", "export", "api")

# The quality of a day or month is that of its worst hour (by this rank, best first).
QUALITY_RANK = ["VALID", "VALIDATED", "DERIVED", "EDITED", "ESTIMATED", "QUESTIONABLE"]
_RANK_SQL = (
    "CASE quality "
    + " ".join(f"WHEN {ESPI_QUALITY[name]} THEN {rank}" for rank, name in enumerate(QUALITY_RANK))
    + f" ELSE {len(QUALITY_RANK)} END"
)
_QUALITY_NAME_SQL = (
    "CASE quality "
    + " ".join(f"WHEN {code} THEN '{name}'" for code, name in QUALITY_FROM_ESPI.items())
    + " ELSE quality::text END"
)


@dataclass(frozen=True)
class Consumption:
    """One hour, local day or local month of one supply point."""

    start: datetime  # aware, Europe/Paris
    end: datetime
    wh: int
    quality: str
    readings: int


# --- Consent -----------------------------------------------------------------------


def hourly_consent_active(*, supply_point_id: int, channel: str, now: datetime) -> bool:
    """Whether the customer's HOURLY_DATA consent for this supply point is active at `now`
    (granted, not revoked) and covers `channel` ("portal", "export" or "api")."""
    scopes = Consent.objects.filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__gt=now),
        supply_point_id=supply_point_id,
        purpose=ConsentPurpose.HOURLY_DATA,
        granted_at__lte=now,
    ).values_list("scope", flat=True)
    return any(channel in {s.strip() for s in scope.split(",")} for scope in scopes)


# --- Whose supply point --------------------------------------------------------------


def api_supply_point(*, api_client, user, number: str | None, supply_point_id: int):
    """The supply point if it belongs to the API caller's account, else None (→ 404)."""
    points = account_selectors.api_supply_points(api_client=api_client, user=user, number=number)
    if points is None:
        return None
    return points.filter(pk=supply_point_id).first()


# --- Consumption -------------------------------------------------------------------


def group_end(start: datetime, group_by: str) -> datetime:
    """The instant the hour, local day or local month starting at `start` ends."""
    if group_by == "hour":
        return (start.astimezone(ZoneInfo("UTC")) + timedelta(hours=1)).astimezone(PARIS)
    local = start.astimezone(PARIS)
    if group_by == "day":
        return local_day_bounds(local.date(), TZ)[1].astimezone(PARIS)
    return month_bounds(local.year, local.month, TZ)[1].astimezone(PARIS)


def _rows(*, supply_point_id: int, start: datetime, end: datetime):
    return IntervalReading.objects.filter(
        supply_point_id=supply_point_id, start__gte=start, start__lt=end
    )


def consumption(
    *,
    supply_point_id: int,
    start: datetime,
    end: datetime,
    group_by: str,
    limit: int | None = None,
) -> list[Consumption]:
    """Consumption in [start, end) by hour, local day or local month, oldest first, in one
    query. `limit` cuts the list (a page); groups never straddle a page when the next page
    starts at the `end` of the last one."""
    if group_by not in GROUPS:
        raise ValueError(group_by)
    rows = _rows(supply_point_id=supply_point_id, start=start, end=end)
    if group_by == "hour":
        values = rows.order_by("start").values_list("start", "wh", "quality")
        if limit is not None:
            values = values[:limit]
        out = []
        for instant, wh, quality in values:
            local = instant.astimezone(PARIS)
            out.append(
                Consumption(
                    start=local,
                    end=group_end(local, "hour"),
                    wh=wh,
                    quality=QUALITY_FROM_ESPI.get(quality, str(quality)),
                    readings=1,
                )
            )
        return out
    grouped = (
        rows.annotate(period=Trunc("start", group_by, tzinfo=PARIS))
        .values("period")
        .annotate(
            total=Sum("wh"),
            readings=Count("*"),
            worst=Max(RawSQL(_RANK_SQL, [])),  # noqa: S611 (constant SQL, no input)
        )
        .order_by("period")
    )
    if limit is not None:
        grouped = grouped[:limit]
    return [
        Consumption(
            start=row["period"],
            end=group_end(row["period"], group_by),
            wh=row["total"],
            quality=QUALITY_RANK[row["worst"]] if row["worst"] < len(QUALITY_RANK) else "OTHER",
            readings=row["readings"],
        )
        for row in grouped
    ]


def monthly_totals(*, supply_point_id: int, today: date, months: int = 24) -> list[Consumption]:
    """The last `months` local months up to the one holding `today`, oldest first, in one
    query; a month without data has a total of 0 Wh and 0 readings."""
    year, month = today.year, today.month
    firsts = []
    for _ in range(months):
        firsts.append((year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    firsts.reverse()
    start = month_bounds(*firsts[0], TZ)[0]
    end = month_bounds(*firsts[-1], TZ)[1]
    found = {
        (c.start.year, c.start.month): c
        for c in consumption(
            supply_point_id=supply_point_id, start=start, end=end, group_by="month"
        )
    }
    out = []
    for ym in firsts:
        lo, hi = month_bounds(*ym, TZ)
        out.append(
            found.get(ym)
            or Consumption(
                start=lo.astimezone(PARIS), end=hi.astimezone(PARIS), wh=0, quality="", readings=0
            )
        )
    return out


# --- Hourly CSV lines, formatted by PostgreSQL ------------------------------------------

# local time (ISO 8601 with its offset), UTC time, kWh with 3 decimals, quality.
_OFFSET_SQL = "((start AT TIME ZONE %s) - (start AT TIME ZONE 'UTC'))"
CSV_LINE_SQL = (
    "to_char(start AT TIME ZONE %s, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
    f"|| CASE WHEN {_OFFSET_SQL} < interval '0' THEN '-' ELSE '+' END "
    f"|| to_char(abs(extract(epoch FROM {_OFFSET_SQL}) / 3600)::int, 'FM00') || ':' "
    f"|| to_char(abs(extract(epoch FROM {_OFFSET_SQL}) / 60)::int %% 60, 'FM00') "
    "|| ',' || to_char(start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "|| ',' || (wh::numeric / 1000)::numeric(14, 3)::text "
    f"|| ',' || {_QUALITY_NAME_SQL}"
)


def hourly_csv_lines(
    *, supply_point_id: int, start: datetime, end: datetime, chunk_size: int = 5000
) -> Iterator[str]:
    """The hourly rows of [start, end) as CSV lines (without the line break), oldest first,
    read through a server-side cursor `chunk_size` rows at a time, so memory stays flat
    however long the period."""
    line = RawSQL(CSV_LINE_SQL, [TZ] * 4)  # noqa: S611 (parameters are bound, not formatted)
    return (
        _rows(supply_point_id=supply_point_id, start=start, end=end)
        .order_by("start")
        .annotate(line=line)
        .values_list("line", flat=True)
        .iterator(chunk_size=chunk_size)
    )


# Off-peak hours of the standard French HP/HC option: 22:00–06:00 local time.
OFF_PEAK_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)


def peak_offpeak_monthly(*, supply_point_id: int, start: datetime, end: datetime) -> list[dict]:
    """Per local month, consumption in peak (HP) and off-peak (HC) hours, in one query."""
    from django.db.models import IntegerField
    from django.db.models.functions import Extract

    rows = (
        _rows(supply_point_id=supply_point_id, start=start, end=end)
        .annotate(
            period=Trunc("start", "month", tzinfo=PARIS),
            local_hour=Extract("start", "hour", tzinfo=PARIS, output_field=IntegerField()),
        )
        .values("period")
        .annotate(
            hc=Sum("wh", filter=Q(local_hour__in=OFF_PEAK_HOURS)),
            hp=Sum("wh", filter=~Q(local_hour__in=OFF_PEAK_HOURS)),
        )
        .order_by("period")
    )
    return [{"month": r["period"], "hp_wh": r["hp"] or 0, "hc_wh": r["hc"] or 0} for r in rows]


def portal_supply_points(*, account_id: int) -> list:
    return account_selectors.account_supply_points(account_id=account_id)


# --- Similar homes ------------------------------------------------------------------
#
# A cohort is the residential supply points of one market, one area class (urban or
# rural) and one band of subscribed power. No heating or housing field exists, and the
# subscribed power is the best proxy we hold for both: homes heated by electricity
# subscribe 9 kVA and more. The key is stamped on each DailyConsumption row when it is
# built (see services.aggregates), and CohortDailyConsumption sums the complete days per
# key, so the portal reads a few hundred small rows whatever the cohort's size.

SIMILAR_HOMES_MIN = 5  # other homes; fewer, and an average could point at a neighbour
# (upper edge in kVA, key): the standard French powers 3, 6 | 9, 12 | 15, 18 | 24, 30, 36.
POWER_BANDS = ((6, "3-6"), (12, "9-12"), (18, "15-18"), (36, "24-36"))
POWER_BAND_ABOVE = "36+"


def power_band(kva) -> str:
    for upper, key in POWER_BANDS:
        if kva <= upper:
            return key
    return POWER_BAND_ABOVE


def cohort_key(*, account_type: str, market: str, area_class: str, kva) -> str:
    """The similar-homes key of a supply point, "" if it is not a home. COHORT_SQL is the
    same rule in SQL; a test holds them together."""
    if account_type != "RESIDENTIAL":
        return ""
    return f"{market}:{area_class}:{power_band(kva)}"


# Over accounts_supplypoint `sp`, accounts_premise `p` and accounts_account `a`.
COHORT_SQL = (
    "CASE WHEN a.type = 'RESIDENTIAL' THEN sp.market || ':' || p.area_class || ':' || CASE "
    + " ".join(f"WHEN sp.subscribed_kva <= {upper} THEN '{key}'" for upper, key in POWER_BANDS)
    + f" ELSE '{POWER_BAND_ABOVE}' END ELSE '' END"
)
COHORT_JOINS_SQL = (
    "JOIN accounts_premise p ON p.id = sp.premise_id JOIN accounts_account a ON a.id = p.account_id"
)


def full_day_sql(alias: str) -> str:
    """SQL: the DailyConsumption row `alias` has every hour of its local day (23, 24, 25).
    A home with missing hours would pull its cohort's average down, so it stays out."""
    day = f"({alias}.day::timestamp AT TIME ZONE '{TZ}')"
    next_day = f"(({alias}.day + 1)::timestamp AT TIME ZONE '{TZ}')"
    return f"{alias}.hours = extract(epoch FROM {next_day} - {day}) / 3600"


@dataclass(frozen=True)
class SimilarHomes:
    """The average day of the other homes of a supply point's cohort, in Wh, for the
    days where at least `min_homes` of them had a complete day."""

    cohort: str  # "" when the supply point is not a home
    daily: dict[date, float]
    homes: int  # other homes on the latest day shown
    min_homes: int

    @property
    def area_class(self) -> str:
        return self.cohort.split(":")[1] if self.cohort else ""

    @property
    def power_band(self) -> str:
        return self.cohort.split(":")[2] if self.cohort else ""

    def month_wh(self, year: int, month: int) -> float | None:
        """The average home's month: the sum of its average days, only when every day of
        the month has one (so neither a month in progress nor a gap shows a low figure)."""
        day = date(year, month, 1)
        total = 0.0
        while day.month == month:
            if day not in self.daily:
                return None
            total += self.daily[day]
            day += timedelta(days=1)
        return total


def similar_homes(
    *,
    supply_point_id: int,
    periods: list[tuple[date, date]],
    min_homes: int = SIMILAR_HOMES_MIN,
) -> SimilarHomes:
    """The supply point's cohort average per local day over `periods` ([first, last) day
    pairs), in one query on the aggregate tables (never the hourly table).

    The customer's own day is taken out of the cohort's sum when it was counted in it, so
    the figure is the average of the OTHER homes; a day with fewer than `min_homes` of
    them is left out."""
    where = " OR ".join("(c.day >= %s AND c.day < %s)" for _ in periods) or "FALSE"
    sql = f"""
        WITH me AS (
            SELECT sp.id, {COHORT_SQL} AS cohort
            FROM accounts_supplypoint sp {COHORT_JOINS_SQL}
            WHERE sp.id = %s
        )
        SELECT me.cohort, c.day, c.homes, c.wh, o.wh
        FROM me
        LEFT JOIN {CohortDailyConsumption._meta.db_table} c
            ON c.cohort = me.cohort AND me.cohort <> '' AND ({where})
        LEFT JOIN {DailyConsumption._meta.db_table} o
            ON o.supply_point_id = me.id AND o.day = c.day AND o.cohort = c.cohort
            AND {full_day_sql("o")}
        ORDER BY c.day
    """  # noqa: S608 (table names and constant SQL; values are bound)
    params: list = [supply_point_id]
    for first, last in periods:
        params += [first, last]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    cohort = rows[0][0] if rows else ""
    daily: dict[date, float] = {}
    homes = 0
    for _cohort, day, count, wh, own_wh in rows:
        if day is None:
            continue
        others = count - (own_wh is not None)
        if others >= min_homes:
            daily[day] = (wh - (own_wh or 0)) / others
            homes = others
    return SimilarHomes(cohort=cohort or "", daily=daily, homes=homes, min_homes=min_homes)
