"""The portal's consumption charts: totals from the hourly table, consent, isolation."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Role
from metering.models import Consent

from .factories import MembershipFactory, PremiseFactory, UserFactory


@pytest.fixture
def home(db):
    user = UserFactory(email="conso@example.fr")
    account = MembershipFactory(user=user).account
    premise = PremiseFactory(account=account)
    point = account_services.supply_point_add(
        premise=premise,
        market="FR_PRM",
        identifier="55556666777788",
        subscribed_kva="9",
        actor=None,
        channel="SYSTEM",
        now=timezone.now(),
    )
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_interval (supply_point_id, start, wh, quality) "
            "SELECT %s, ts, 500, 0 FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 hour', interval '1 hour') ts",
            [point.pk, end - timedelta(days=400), end],
        )
    return {"user": user, "point": point, "end": end}


def test_charts_show_totals_without_hourly_data_when_no_consent(client, home):
    client.force_login(home["user"])
    response = client.get("/portal/consumption/")
    assert response["Location"] == f"/portal/consumption/{home['point'].pk}/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    chart = page.context["chart"]
    assert len(chart["months"]["current"]) == 12 and chart["hours"]["values"] == []
    assert 'data-testid="hourly-consent"' in page.content.decode()
    # Twelve full months of 500 Wh an hour, minus the current partial month.
    assert page.context["year_total"] > 0.5 * 24 * 300


def test_hourly_chart_with_consent_and_dst_day(client, home):
    Consent.objects.create(
        supply_point=home["point"],
        purpose="HOURLY_DATA",
        granted_at=timezone.now() - timedelta(days=1),
    )
    client.force_login(home["user"])
    day = "2026-10-25" if home["end"] > datetime(2026, 10, 26, tzinfo=ZoneInfo("UTC")) else None
    url = f"/portal/consumption/{home['point'].pk}/" + (f"?day={day}" if day else "")
    page = client.get(url)
    hours = page.context["chart"]["hours"]["values"]
    assert hours and all(v == 0.5 for v in hours)
    if day:
        assert len(hours) == 25  # the autumn DST day


def test_split_adds_up_to_the_monthly_totals(client, home):
    client.force_login(home["user"])
    chart = client.get(f"/portal/consumption/{home['point'].pk}/").context["chart"]
    last = chart["split"]["labels"][-2]
    index = chart["months"]["labels"].index(last)
    split_total = chart["split"]["hp"][-2] + chart["split"]["hc"][-2]
    assert round(split_total, 3) == chart["months"]["current"][index]


def test_foreign_supply_point_is_404_and_roles_are_checked(client, home, make_user, login):
    other = UserFactory(email="autre@example.fr")
    MembershipFactory(user=other)
    client.force_login(other)
    assert client.get(f"/portal/consumption/{home['point'].pk}/").status_code == 404
    client.logout()
    assert client.get(f"/portal/consumption/{home['point'].pk}/")["Location"].startswith(
        "/accounts/login/"
    )
    login(make_user(Role.AGENT))
    assert client.get(f"/portal/consumption/{home['point'].pk}/").status_code == 403


def test_bad_month_and_day_fall_back_to_defaults(client, home):
    client.force_login(home["user"])
    page = client.get(f"/portal/consumption/{home['point'].pk}/?month=2026-13&day=nope")
    assert page.status_code == 200


def test_charts_page_has_constant_queries(client, home, django_assert_max_num_queries):
    Consent.objects.create(
        supply_point=home["point"],
        purpose="HOURLY_DATA",
        granted_at=timezone.now() - timedelta(days=1),
    )
    client.force_login(home["user"])
    with django_assert_max_num_queries(14):
        assert client.get(f"/portal/consumption/{home['point'].pk}/").status_code == 200
