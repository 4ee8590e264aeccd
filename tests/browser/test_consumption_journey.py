"""Playwright: a customer views the consumption charts and downloads the CSV."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from accounts import services as account_services
from accounts.models import Role
from metering.models import Consent
from tests.factories import MembershipFactory, PremiseFactory, UserFactory

from .conftest import PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_customer_views_charts_and_downloads_csv(live_server, page_factory, shot, tmp_path):
    user = UserFactory(role=Role.CUSTOMER, email="courbe@example.fr", first_name="Anne")
    account = MembershipFactory(user=user).account
    premise = PremiseFactory(account=account, city="Lyon")
    point = account_services.supply_point_add(
        premise=premise,
        market="FR_PRM",
        identifier="99990000111122",
        subscribed_kva="9",
        actor=None,
        channel="SYSTEM",
        now=timezone.now(),
    )
    Consent.objects.create(
        supply_point=point, purpose="HOURLY_DATA", granted_at=timezone.now() - timedelta(days=800)
    )
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_interval (supply_point_id, start, wh, quality) "
            "SELECT %s, ts, 300 + (extract(hour FROM ts)::int * 20), 0 "
            "FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 hour', interval '1 hour') ts",
            [point.pk, end - timedelta(days=730), end],
        )
    page = page_factory(PHONE)
    log_in(page, live_server.url, user.email)
    page.get_by_role("link", name="Consommation").click()
    expect(page.get_by_role("heading", name="Ma consommation")).to_be_visible()
    expect(page.locator("#chart-months")).to_be_visible()
    expect(page.locator("#chart-hours")).to_be_visible()
    page.wait_for_function("window.Chart && Object.keys(Chart.instances).length === 4")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "consumption-charts-phone")
    with page.expect_download() as download_info:
        page.get_by_test_id("csv-download").click()
    path = tmp_path / "conso.csv"
    download_info.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("local_time") and len(lines) > 700  # 24 months of days
