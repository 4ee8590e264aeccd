"""Daily aggregates of the hourly table and the portal's "similar homes" average.

Expected figures are computed here in Python from the raw hourly rows (local days through
zoneinfo, not PostgreSQL's AT TIME ZONE) or by hand, DST days included: 2026-03-29 has 23
local hours and 2026-10-25 has 25.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, AccountType, AreaClass, Premise, SupplyPoint
from metering import selectors
from metering.domain import local_day_bounds
from metering.models import CohortDailyConsumption, DailyConsumption
from metering.services.aggregates import daily_consumption_rebuild
from metering.tasks import daily_consumption_task

from .factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
SPRING = date(2026, 3, 29)  # 23 local hours
AUTUMN = date(2026, 10, 25)  # 25 local hours
_identifiers = itertools.count(10_000_000_000_000)


def home(
    *,
    area: str = AreaClass.URBAN,
    kva: str = "9",
    account_type: str = AccountType.RESIDENTIAL,
    market: str = "FR_PRM",
    account: Account | None = None,
) -> SupplyPoint:
    if account is None:
        account = Account.objects.create(
            number=f"T{next(_identifiers) % 10**9:09d}", type=account_type, name="Foyer"
        )
    premise = Premise.objects.create(
        account=account, address="1 rue du Test", postcode="69001", city="Lyon", area_class=area
    )
    return SupplyPoint.objects.create(
        premise=premise,
        market=market,
        identifier=f"{next(_identifiers):014d}",
        subscribed_kva=Decimal(kva),
    )


def hours(point: SupplyPoint, first: date, last: date, wh: int | str) -> None:
    """Every hour of the local days [first, last] (both included); `wh` is a number or a
    SQL expression of `ts`."""
    start = local_day_bounds(first)[0]
    end = local_day_bounds(last)[1]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_interval (supply_point_id, start, wh, quality) "
            f"SELECT %s, ts, {wh}, 0 FROM generate_series(%s::timestamptz, "
            "%s::timestamptz - interval '1 hour', interval '1 hour') ts "
            "ON CONFLICT (supply_point_id, start) DO UPDATE SET wh = EXCLUDED.wh",
            [point.pk, start, end],
        )


def delete_hour(point: SupplyPoint, instant: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM metering_interval WHERE supply_point_id = %s AND start = %s",
            [point.pk, instant],
        )


def raw_daily(point_ids: list[int]) -> dict[tuple[int, date], dict]:
    """Per supply point and local day, from the raw rows, grouped in Python."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT supply_point_id, start, wh FROM metering_interval "
            "WHERE supply_point_id = ANY(%s)",
            [point_ids],
        )
        rows = cursor.fetchall()
    out: dict = defaultdict(lambda: {"wh": 0, "hp_wh": 0, "hc_wh": 0, "hours": 0})
    for sp, start, wh in rows:
        local = start.astimezone(PARIS)
        total = out[(sp, local.date())]
        total["wh"] += wh
        total["hours"] += 1
        total["hc_wh" if local.hour in selectors.OFF_PEAK_HOURS else "hp_wh"] += wh
    return dict(out)


def stored_daily(point_ids: list[int]) -> dict[tuple[int, date], dict]:
    return {
        (row["supply_point_id"], row["day"]): {k: row[k] for k in ("wh", "hp_wh", "hc_wh", "hours")}
        for row in DailyConsumption.objects.filter(supply_point_id__in=point_ids).values()
    }


def all_rows() -> tuple[list, list]:
    return (
        list(DailyConsumption.objects.order_by("supply_point_id", "day").values_list()),
        list(CohortDailyConsumption.objects.order_by("cohort", "day").values_list()),
    )


# --- The rebuild ---------------------------------------------------------------------


def test_rebuild_sums_equal_the_raw_hourly_sums_per_local_day_across_both_dst_days():
    a, b = home(), home(kva="6")
    # Uneven hours, so that an hour put in the wrong day or the wrong HP/HC bucket shows.
    for point, first, last in [
        (a, date(2026, 3, 27), date(2026, 3, 31)),
        (a, date(2026, 10, 23), date(2026, 10, 27)),
        (b, date(2026, 3, 28), date(2026, 3, 30)),
    ]:
        hours(point, first, last, f"mod(extract(epoch FROM ts)::bigint / 3600, 997) + {point.pk}")

    report = daily_consumption_rebuild(day_from=date(2026, 3, 27), day_to=date(2026, 10, 27))

    expected = raw_daily([a.pk, b.pk])
    assert stored_daily([a.pk, b.pk]) == expected
    assert report.daily_written == len(expected) == 13
    assert expected[(a.pk, SPRING)]["hours"] == 23
    assert expected[(a.pk, AUTUMN)]["hours"] == 25
    assert expected[(a.pk, date(2026, 3, 30))]["hours"] == 24
    row = DailyConsumption.objects.get(supply_point=a, day=AUTUMN)
    assert row.hp_wh + row.hc_wh == row.wh
    assert row.cohort == "FR_PRM:URBAN:9-12"
    assert DailyConsumption.objects.get(supply_point=b, day=SPRING).cohort == "FR_PRM:URBAN:3-6"


def test_rebuild_only_touches_the_days_asked_for():
    a = home()
    hours(a, date(2026, 3, 28), date(2026, 3, 30), 100)
    daily_consumption_rebuild(day_from=SPRING, day_to=SPRING)
    assert list(DailyConsumption.objects.values_list("day", "wh", "hours")) == [(SPRING, 2300, 23)]


def test_rebuilding_twice_gives_identical_rows_and_writes_nothing():
    points = [home() for _ in range(6)]
    for i, point in enumerate(points):
        hours(point, date(2026, 10, 20), date(2026, 10, 27), 100 * (i + 1))
    first = daily_consumption_rebuild(day_from=date(2026, 10, 1), day_to=date(2026, 10, 31))
    before = all_rows()
    second = daily_consumption_rebuild(day_from=date(2026, 10, 1), day_to=date(2026, 10, 31))
    assert all_rows() == before
    assert first.daily_written == 6 * 8 and first.cohort_written == 8
    assert (second.daily_written, second.cohort_written, second.cohort_removed) == (0, 0, 0)
    # In small chunks, the same rows again.
    daily_consumption_rebuild(day_from=date(2026, 10, 1), day_to=date(2026, 10, 31), chunk_days=3)
    assert all_rows() == before


def test_a_late_hour_is_aggregated_again_and_completes_the_day():
    points = [home() for _ in range(3)]
    for point in points:
        hours(point, AUTUMN, AUTUMN, 100)
    late = local_day_bounds(AUTUMN)[0] + timedelta(hours=20)
    delete_hour(points[0], late)
    daily_consumption_rebuild(day_from=AUTUMN, day_to=AUTUMN)
    row = DailyConsumption.objects.get(supply_point=points[0], day=AUTUMN)
    assert (row.wh, row.hours) == (2400, 24)
    # An incomplete day stays out of the cohort: it would pull the average down.
    assert CohortDailyConsumption.objects.get(day=AUTUMN).homes == 2

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_interval VALUES (%s, %s, 700, 0)", [points[0].pk, late]
        )
    daily_consumption_rebuild(day_from=AUTUMN, day_to=AUTUMN)
    row.refresh_from_db()
    assert (row.wh, row.hours) == (3100, 25)
    cohort = CohortDailyConsumption.objects.get(day=AUTUMN)
    assert (cohort.homes, cohort.wh) == (3, 2500 + 2500 + 3100)


def test_a_cohort_day_left_without_complete_homes_is_removed():
    point = home()
    hours(point, SPRING, SPRING, 100)
    daily_consumption_rebuild(day_from=SPRING, day_to=SPRING)
    assert CohortDailyConsumption.objects.filter(day=SPRING).exists()
    delete_hour(point, local_day_bounds(SPRING)[0])
    report = daily_consumption_rebuild(day_from=SPRING, day_to=SPRING)
    assert report.cohort_removed == 1
    assert not CohortDailyConsumption.objects.exists()


def test_hours_of_unknown_supply_points_and_non_homes_stay_out_of_cohorts():
    shop = home(account_type=AccountType.BUSINESS, kva="36")
    hours(shop, SPRING, SPRING, 100)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_interval VALUES (987654321, %s, 5, 0)",
            [local_day_bounds(SPRING)[0]],
        )
    daily_consumption_rebuild(day_from=SPRING, day_to=SPRING)
    assert list(DailyConsumption.objects.values_list("supply_point_id", "cohort")) == [
        (shop.pk, "")
    ]
    assert not CohortDailyConsumption.objects.exists()


def test_deleting_a_supply_point_deletes_its_daily_rows():
    point, kept = home(), home()
    for p in (point, kept):
        hours(p, SPRING, SPRING, 100)
    daily_consumption_rebuild(day_from=SPRING, day_to=SPRING)
    point.delete()
    assert list(DailyConsumption.objects.values_list("supply_point_id", flat=True)) == [kept.pk]


@pytest.mark.parametrize(
    ("kva", "area", "account_type", "market"),
    [
        ("3", AreaClass.URBAN, AccountType.RESIDENTIAL, "FR_PRM"),
        ("6", AreaClass.RURAL, AccountType.RESIDENTIAL, "FR_PRM"),
        ("6.5", AreaClass.URBAN, AccountType.RESIDENTIAL, "FR_PRM"),
        ("12", AreaClass.URBAN, AccountType.RESIDENTIAL, "FR_PRM"),
        ("15", AreaClass.RURAL, AccountType.RESIDENTIAL, "FR_PRM"),
        ("36", AreaClass.URBAN, AccountType.RESIDENTIAL, "FR_PRM"),
        ("48", AreaClass.URBAN, AccountType.RESIDENTIAL, "FR_PRM"),
        ("9", AreaClass.URBAN, AccountType.RESIDENTIAL, "EIC"),
        ("9", AreaClass.URBAN, AccountType.BUSINESS, "FR_PRM"),
    ],
)
def test_the_python_cohort_rule_is_the_sql_one(kva, area, account_type, market):
    point = home(kva=kva, area=area, account_type=account_type, market=market)
    hours(point, SPRING, SPRING, 100)
    daily_consumption_rebuild(day_from=SPRING, day_to=SPRING)
    stored = DailyConsumption.objects.get(supply_point=point).cohort
    assert stored == selectors.cohort_key(
        account_type=account_type, market=market, area_class=area, kva=Decimal(kva)
    )


# --- The cohort average --------------------------------------------------------------


def cohort_of(n: int, first: date, last: date, *, me_wh: int = 1000) -> tuple:
    """Me (1000 Wh an hour) and `n` similar homes at 100, 200, … Wh an hour, plus
    neighbours of other cohorts with large figures that must never count."""
    me = home()
    others = [home(kva=("9", "12")[i % 2]) for i in range(n)]
    hours(me, first, last, me_wh)
    for i, point in enumerate(others):
        hours(point, first, last, 100 * (i + 1))
    for stranger in [
        home(area=AreaClass.RURAL),
        home(kva="6"),
        home(kva="15"),
        home(account_type=AccountType.BUSINESS),
    ]:
        hours(stranger, first, last, 90_000)
    daily_consumption_rebuild(day_from=first, day_to=last)
    return me, others


def test_the_average_leaves_the_customer_out_and_matches_hand_figures():
    me, others = cohort_of(5, date(2026, 3, 1), date(2026, 3, 31))
    result = selectors.similar_homes(
        supply_point_id=me.pk, periods=[(date(2026, 3, 1), date(2026, 4, 1))]
    )
    assert result.cohort == "FR_PRM:URBAN:9-12" and result.homes == 5
    # The others average 300 Wh an hour; with me counted it would be 416.67.
    assert result.daily[date(2026, 3, 2)] == 300 * 24
    assert result.daily[SPRING] == 300 * 23
    assert len(result.daily) == 31
    assert result.month_wh(2026, 3) == 300 * (31 * 24 - 1)  # 743 hours in March 2026
    assert result.month_wh(2026, 4) is None
    # One of the others sees me among its cohort: (1000 + 200 + 300 + 400 + 500) / 5.
    seen_by_first = selectors.similar_homes(
        supply_point_id=others[0].pk, periods=[(date(2026, 3, 2), date(2026, 3, 3))]
    )
    assert seen_by_first.daily == {date(2026, 3, 2): 480 * 24}


def test_below_the_minimum_nothing_is_shown():
    me, _others = cohort_of(4, SPRING, SPRING)
    periods = [(SPRING, SPRING + timedelta(days=1))]
    result = selectors.similar_homes(supply_point_id=me.pk, periods=periods)
    assert result.cohort == "FR_PRM:URBAN:9-12"
    assert result.daily == {} and result.homes == 0
    # Five homes in the table, but one is the customer: still four others.
    assert CohortDailyConsumption.objects.get(cohort=result.cohort, day=SPRING).homes == 5
    assert selectors.similar_homes(supply_point_id=me.pk, periods=periods, min_homes=4).daily == {
        SPRING: 250 * 23
    }


def test_an_incomplete_neighbour_day_can_take_a_day_below_the_minimum():
    me, others = cohort_of(5, AUTUMN, AUTUMN + timedelta(days=1))
    delete_hour(others[2], local_day_bounds(AUTUMN)[0])
    daily_consumption_rebuild(day_from=AUTUMN, day_to=AUTUMN)
    result = selectors.similar_homes(
        supply_point_id=me.pk, periods=[(AUTUMN, AUTUMN + timedelta(days=2))]
    )
    assert set(result.daily) == {AUTUMN + timedelta(days=1)}


def test_an_own_incomplete_day_is_not_taken_out_of_the_sum_twice():
    me, _others = cohort_of(5, AUTUMN, AUTUMN)
    delete_hour(me, local_day_bounds(AUTUMN)[0])
    daily_consumption_rebuild(day_from=AUTUMN, day_to=AUTUMN)
    result = selectors.similar_homes(
        supply_point_id=me.pk, periods=[(AUTUMN, AUTUMN + timedelta(days=1))]
    )
    assert result.daily == {AUTUMN: 300 * 25}


def test_no_cohort_for_a_business_supply_point():
    shop = home(account_type=AccountType.BUSINESS)
    cohort_of(5, SPRING, SPRING)
    hours(shop, SPRING, SPRING, 100)
    daily_consumption_rebuild(day_from=SPRING, day_to=SPRING)
    result = selectors.similar_homes(supply_point_id=shop.pk, periods=[(SPRING, AUTUMN)])
    assert (result.cohort, result.daily) == ("", {})


def test_the_average_is_read_from_the_aggregates_only():
    me, _others = cohort_of(5, SPRING, SPRING)
    with CaptureQueriesContext(connection) as queries:
        selectors.similar_homes(supply_point_id=me.pk, periods=[(SPRING, AUTUMN)])
    assert len(queries) == 1
    assert "metering_interval" not in queries[0]["sql"]
    assert "metering_cohortdailyconsumption" in queries[0]["sql"]


# --- The portal page -----------------------------------------------------------------

NOW = datetime(2026, 11, 15, 10, 0, tzinfo=PARIS)


@pytest.fixture
def portal_home():
    """A customer with a year of hours, and the aggregates up to yesterday."""

    def make(similar: int, *, first: date = date(2025, 11, 1)):
        user = UserFactory()
        account = MembershipFactory(user=user).account
        me = home(account=account)
        hours(me, first, NOW.date(), 1000)
        others = [home() for _ in range(similar)]
        for i, point in enumerate(others):
            hours(point, first, NOW.date(), 100 * (i + 1))
        daily_consumption_rebuild(day_from=first, day_to=NOW.date() - timedelta(days=1))
        return user, me, others

    return make


def test_the_page_shows_the_similar_homes_dataset(client, portal_home):
    user, me, _others = portal_home(5)
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/portal/consumption/{me.pk}/?month=2026-10")
    chart = page.context["chart"]
    months = dict(zip(chart["months"]["labels"], chart["months"]["similar"], strict=True))
    # The others average 300 Wh an hour: a month is 0.3 kWh times its local hours.
    assert months["2026-10"] == 300 * 745 / 1000  # the 25-hour day
    assert months["2026-03"] == 300 * 743 / 1000  # the 23-hour day
    assert months["2026-02"] == 300 * 28 * 24 / 1000
    assert months["2025-12"] == 300 * 31 * 24 / 1000
    assert months["2026-11"] is None  # not over
    days = dict(zip(chart["days"]["labels"], chart["days"]["similar"], strict=True))
    assert days["24"] == 7.2 and days["25"] == 7.5 and len(days) == 31
    content = page.content.decode()
    assert "Moyenne des foyers similaires" in content
    assert 'data-testid="similar-homes"' in content
    assert "zone urbaine" in content and "9 à 12 kVA" in content and "(5 foyers)" in content


def test_the_current_month_shows_the_days_already_aggregated(client, portal_home):
    user, me, _others = portal_home(5)
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        chart = client.get(f"/portal/consumption/{me.pk}/").context["chart"]
    days = dict(zip(chart["days"]["labels"], chart["days"]["similar"], strict=True))
    assert days["14"] == 7.2
    assert days["15"] is None  # today: built tonight


def test_too_few_similar_homes_never_leak_a_neighbour(client, portal_home):
    user, me, others = portal_home(4)
    # A neighbour with a figure that would be recognisable anywhere on the page.
    hours(others[0], date(2025, 11, 1), NOW.date(), 777)
    daily_consumption_rebuild(day_from=date(2025, 11, 1), day_to=date(2026, 11, 14))
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/portal/consumption/{me.pk}/?month=2026-10")
    chart = page.context["chart"]
    assert set(chart["months"]["similar"]) == {None}
    assert set(chart["days"]["similar"]) == {None}
    content = page.content.decode()
    assert 'data-testid="similar-homes-none"' in content
    assert 'data-testid="similar-homes"' not in content
    # Its day, its December, its October (745 hours), its hour.
    for leak in ("18.648", "578.088", "578.865", "0.777"):
        assert leak not in content


def test_another_customers_page_is_not_reachable_and_shows_nothing_of_theirs(client, portal_home):
    _user, me, others = portal_home(5)
    stranger = UserFactory()
    MembershipFactory(user=stranger)
    client.force_login(stranger)
    with time_machine.travel(NOW, tick=False):
        assert client.get(f"/portal/consumption/{me.pk}/").status_code == 404
        assert client.get(f"/portal/consumption/{others[0].pk}/").status_code == 404


def test_the_page_query_count_does_not_grow_with_the_data(client, portal_home):
    counts = []
    for similar, first in [(5, date(2026, 10, 1)), (12, date(2025, 1, 1))]:
        user, me, _others = portal_home(similar, first=first)
        client.force_login(user)
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as q:
            page = client.get(f"/portal/consumption/{me.pk}/?month=2026-10")
        assert page.status_code == 200
        counts.append(len(q))
        client.logout()
    assert counts[0] == counts[1]
    assert DailyConsumption.objects.count() > 12 * 600


# --- The nightly task ----------------------------------------------------------------


def test_the_task_rebuilds_yesterday_and_the_day_before_through_celery():
    points = [home() for _ in range(6)]
    for point in points:
        hours(point, date(2026, 10, 23), date(2026, 10, 26), 100)
    result = daily_consumption_task.apply(kwargs={"today_iso": "2026-10-26"})
    assert result.successful()
    assert result.get() == {
        "day_from": "2026-10-24",
        "day_to": "2026-10-25",
        "days": 2,
        "daily_written": 12,
        "cohort_written": 2,
        "cohort_removed": 0,
    }
    assert set(DailyConsumption.objects.values_list("day", flat=True)) == {
        date(2026, 10, 24),
        AUTUMN,
    }
    assert set(DailyConsumption.objects.filter(day=AUTUMN).values_list("hours", flat=True)) == {25}
    # Redelivered (acks_late): nothing changes.
    again = daily_consumption_task.apply(kwargs={"today_iso": "2026-10-26"}).get()
    assert (again["daily_written"], again["cohort_written"]) == (0, 0)


def test_the_task_defaults_to_the_local_today():
    point = home()
    hours(point, date(2026, 3, 27), date(2026, 3, 30), 100)
    # 00:30 in Paris is still the 29th in UTC: the local date decides.
    with time_machine.travel(datetime(2026, 3, 30, 0, 30, tzinfo=PARIS), tick=False):
        result = daily_consumption_task.apply(kwargs={}).get()
    assert (result["day_from"], result["day_to"]) == ("2026-03-28", "2026-03-29")
    assert DailyConsumption.objects.get(day=SPRING).hours == 23


def test_the_task_rebuilds_a_past_period_on_demand():
    point = home()
    hours(point, date(2025, 1, 1), date(2025, 2, 28), 100)
    result = daily_consumption_task.apply(
        kwargs={"day_from_iso": "2025-01-01", "day_to_iso": "2025-02-28"}
    ).get()
    assert result["days"] == 59 and result["daily_written"] == 59


def test_the_beat_entry_runs_the_task():
    from powernext.celery import app

    entry = app.conf.beat_schedule["metering-daily-consumption"]
    assert entry["task"] == daily_consumption_task.name
    assert daily_consumption_task.acks_late


# --- The demo ------------------------------------------------------------------------


def test_the_demo_customer_sees_the_similar_homes_line(client):
    from accounts import demo as accounts_demo
    from accounts.models import User
    from metering import demo as metering_demo

    accounts_demo.seed(now=NOW)
    metering_demo.seed(now=NOW)
    user = User.objects.get(email="claire.martin@example.fr")
    point = SupplyPoint.objects.get(premise__account__memberships__user=user)
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/portal/consumption/{point.pk}/")
    similar = page.context["chart"]["months"]["similar"]
    assert all(value for value in similar[:-1]) and similar[-1] is None
    assert page.context["similar"].homes >= selectors.SIMILAR_HOMES_MIN
    assert 'data-testid="similar-homes"' in page.content.decode()
