"""Consumption selectors (local days and months), the streamed CSV, the Green Button feed
and the portal download."""

import csv
import io
import tracemalloc
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import xmlschema
from django.db import connection
from django.http import StreamingHttpResponse
from django.utils import timezone
from lxml import etree

from accounts.models import MemberRole, Role
from metering import exports, selectors
from metering.models import Consent, ConsentPurpose

from .factories import MembershipFactory
from .test_api_b2b import add_supply_points

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")
SCHEMA_PATH = str(exports.USAGE_XSD)

# Hour h of the day (UTC) consumes 100 + 10 h Wh; the 15th of each month is ESTIMATED.
FILL = """
INSERT INTO metering_interval (supply_point_id, start, wh, quality)
SELECT %(sp)s, g, 100 + 10 * extract(hour FROM g AT TIME ZONE 'UTC')::int,
       CASE WHEN extract(day FROM g AT TIME ZONE 'UTC') = 15 THEN 9 ELSE 0 END
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                     interval '1 hour') AS g
"""


def fill(supply_point_id: int, start: datetime, end: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(FILL, {"sp": supply_point_id, "start": start, "end": end})


def local(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture(scope="module")
def schema():
    return xmlschema.XMLSchema(SCHEMA_PATH)


@pytest.fixture
def point(db):
    membership = MembershipFactory(role=MemberRole.HOLDER)
    return add_supply_points(membership.account, 1)[0]


def consent(point, *, scope="portal,export,api", revoked=False):
    now = timezone.now()
    return Consent.objects.create(
        supply_point=point,
        purpose=ConsentPurpose.HOURLY_DATA,
        scope=scope,
        granted_at=now - timedelta(days=30),
        revoked_at=now - timedelta(days=1) if revoked else None,
    )


# --- Selectors ------------------------------------------------------------------------


def test_local_days_have_23_and_25_hours_on_dst_changes(point):
    fill(point.pk, local(2025, 3, 29), local(2025, 3, 31))
    fill(point.pk, local(2025, 10, 25), local(2025, 10, 27))
    days = selectors.consumption(
        supply_point_id=point.pk, start=local(2025, 3, 1), end=local(2025, 11, 1), group_by="day"
    )
    assert [(d.start.date(), d.readings) for d in days] == [
        (date(2025, 3, 29), 24),
        (date(2025, 3, 30), 23),
        (date(2025, 10, 25), 24),
        (date(2025, 10, 26), 25),
    ]
    assert days[1].start == local(2025, 3, 30) and days[1].end == local(2025, 3, 31)
    assert days[1].end.astimezone(UTC) - days[1].start == timedelta(hours=23)
    assert days[3].end.astimezone(UTC) - days[3].start == timedelta(hours=25)
    hours = selectors.consumption(
        supply_point_id=point.pk,
        start=local(2025, 3, 30),
        end=local(2025, 3, 31),
        group_by="hour",
    )
    assert len(hours) == 23
    assert sum(h.wh for h in hours) == days[1].wh


def test_months_are_local_and_quality_is_the_worst_hour(point):
    fill(point.pk, local(2025, 1, 1), local(2025, 3, 1))
    months = selectors.consumption(
        supply_point_id=point.pk, start=local(2024, 1, 1), end=local(2026, 1, 1), group_by="month"
    )
    assert [(m.start, m.readings, m.quality) for m in months] == [
        (local(2025, 1, 1), 31 * 24, "ESTIMATED"),
        (local(2025, 2, 1), 28 * 24, "ESTIMATED"),
    ]
    # The first local hour of January (23:00 UTC on 31 December) is counted in January.
    assert months[0].start.utcoffset() == timedelta(hours=1)


def test_monthly_totals_cover_24_months_with_zeros(point):
    fill(point.pk, local(2025, 6, 1), local(2025, 7, 1))
    totals = selectors.monthly_totals(supply_point_id=point.pk, today=date(2025, 12, 15))
    assert len(totals) == 24
    assert totals[0].start == local(2024, 1, 1)
    assert totals[-1].start == local(2025, 12, 1)
    assert [t.start.month for t in totals if t.wh] == [6]
    assert sum(t.wh for t in totals) == 30 * sum(100 + 10 * h for h in range(24)) + 0


def test_consent_must_be_active_and_cover_the_channel(point):
    now = timezone.now()
    check = selectors.hourly_consent_active
    assert not check(supply_point_id=point.pk, channel="portal", now=now)
    revoked = consent(point, revoked=True)
    assert not check(supply_point_id=point.pk, channel="portal", now=now)
    # Before it was revoked, it was active.
    assert check(supply_point_id=point.pk, channel="portal", now=revoked.revoked_at - timedelta(1))
    consent(point, scope="portal, api")
    assert check(supply_point_id=point.pk, channel="portal", now=now)
    assert check(supply_point_id=point.pk, channel="api", now=now)
    assert not check(supply_point_id=point.pk, channel="export", now=now)
    # A consent granted tomorrow is not active today.
    Consent.objects.create(
        supply_point=point,
        purpose=ConsentPurpose.HOURLY_DATA,
        granted_at=now + timedelta(days=1),
    )
    assert not check(supply_point_id=point.pk, channel="export", now=now)


# --- CSV ---------------------------------------------------------------------------


def read_csv(chunks) -> list[list[str]]:
    text = b"".join(chunks).decode()
    return list(csv.reader(io.StringIO(text)))


def test_csv_of_24_months_adds_up_to_the_monthly_totals(point):
    start, end = local(2025, 1, 1), local(2027, 1, 1)
    fill(point.pk, start, end)
    rows = read_csv(
        exports.consumption_csv(supply_point_id=point.pk, start=start, end=end, group_by="hour")
    )
    assert rows[0] == ["local_time", "utc_time", "kwh", "quality"]
    assert len(rows) - 1 == 17_520
    totals = selectors.monthly_totals(supply_point_id=point.pk, today=date(2026, 12, 31))
    csv_kwh = sum(Decimal(r[2]) for r in rows[1:])
    assert csv_kwh == Decimal(sum(t.wh for t in totals)) / 1000
    # Days and months give the same total.
    for group_by in ["day", "month"]:
        grouped = read_csv(
            exports.consumption_csv(
                supply_point_id=point.pk, start=start, end=end, group_by=group_by
            )
        )
        assert sum(Decimal(r[2]) for r in grouped[1:]) == csv_kwh


def test_csv_columns_around_the_spring_change(point):
    fill(point.pk, local(2025, 3, 30), local(2025, 3, 31))
    rows = read_csv(
        exports.consumption_csv(
            supply_point_id=point.pk,
            start=local(2025, 3, 30),
            end=local(2025, 3, 31),
            group_by="hour",
        )
    )[1:]
    assert len(rows) == 23
    assert rows[0] == ["2025-03-30T00:00:00+01:00", "2025-03-29T23:00:00Z", "0.330", "VALID"]
    assert rows[1] == ["2025-03-30T01:00:00+01:00", "2025-03-30T00:00:00Z", "0.100", "VALID"]
    assert rows[2] == ["2025-03-30T03:00:00+02:00", "2025-03-30T01:00:00Z", "0.110", "VALID"]
    days = read_csv(
        exports.consumption_csv(
            supply_point_id=point.pk,
            start=local(2025, 3, 30),
            end=local(2025, 3, 31),
            group_by="day",
        )
    )[1:]
    total = sum(Decimal(r[2]) for r in rows)
    assert days == [["2025-03-30T00:00:00+01:00", "2025-03-29T23:00:00Z", f"{total:.3f}", "VALID"]]


@pytest.mark.django_db
def test_csv_memory_stays_flat_for_a_million_rows(point):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    count = 1_000_000
    with connection.cursor() as cursor:  # one row a minute: 1M rows fit in 2024-2025
        cursor.execute(
            "INSERT INTO metering_interval (supply_point_id, start, wh, quality) "
            "SELECT %s, %s::timestamptz + g * interval '1 minute', g %% 1000, 0 "
            "FROM generate_series(0, %s - 1) AS g",
            [point.pk, start, count],
        )
    stream = exports.consumption_csv(
        supply_point_id=point.pk, start=start, end=start + timedelta(days=800), group_by="hour"
    )
    lines = size = 0
    tracemalloc.start()
    try:
        for chunk in stream:
            lines += chunk.count(b"\n")
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == count + 1
    assert size > 40_000_000  # ~50 MB of CSV went through...
    print(f"tracemalloc peak {peak / 1e6:.2f} MB")
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"  # ...in far less memory


# --- Green Button -------------------------------------------------------------------------


def feed_for(point, start, end, group_by="hour") -> bytes:
    rows = selectors.consumption(supply_point_id=point.pk, start=start, end=end, group_by=group_by)
    return exports.green_button_feed(
        supply_point=point,
        rows=rows,
        group_by=group_by,
        start=start,
        end=end,
        now=timezone.now(),
        base_url="https://www.powernext.test/",
    )


NS = {"a": exports.ATOM, "espi": exports.ESPI}


def test_green_button_feed_is_valid_espi(point, schema):
    fill(point.pk, local(2025, 10, 25), local(2025, 10, 28))
    feed = feed_for(point, local(2025, 10, 25), local(2025, 10, 28))
    assert schema.is_valid(feed.decode()), schema.validate(feed.decode())
    tree = etree.fromstring(feed)
    kinds = [e.tag.split("}")[1] for e in tree.findall("a:entry/a:content/*", NS)]
    assert kinds[:3] == ["UsagePoint", "MeterReading", "ReadingType"]
    assert kinds[3:] == ["IntervalBlock"] * 3  # one per local day
    assert tree.findtext(".//espi:ReadingType/espi:uom", namespaces=NS) == "72"
    assert tree.findtext(".//espi:ReadingType/espi:intervalLength", namespaces=NS) == "3600"
    blocks = tree.findall(".//espi:IntervalBlock", NS)
    assert [len(b.findall("espi:IntervalReading", NS)) for b in blocks] == [24, 25, 24]
    assert blocks[1].findtext("espi:interval/espi:duration", namespaces=NS) == str(25 * 3600)
    values = [int(v.text) for v in tree.iterfind(".//espi:IntervalReading/espi:value", NS)]
    assert sum(values) == sum(
        d.wh
        for d in selectors.consumption(
            supply_point_id=point.pk,
            start=local(2025, 10, 25),
            end=local(2025, 10, 28),
            group_by="day",
        )
    )
    first = tree.find(".//espi:IntervalReading", NS)
    assert first.findtext("espi:timePeriod/espi:start", namespaces=NS) == str(
        int(local(2025, 10, 25).timestamp())
    )
    assert first.findtext("espi:ReadingQuality/espi:quality", namespaces=NS) == "0"


def test_daily_feed_is_valid_too(point, schema):
    fill(point.pk, local(2025, 3, 1), local(2025, 4, 1))
    feed = feed_for(point, local(2025, 3, 1), local(2025, 4, 1), group_by="day")
    assert schema.is_valid(feed.decode())
    tree = etree.fromstring(feed)
    assert len(tree.findall(".//espi:IntervalReading", NS)) == 31


def test_broken_feeds_fail_validation(point, schema):
    fill(point.pk, local(2025, 1, 1), local(2025, 1, 2))
    feed = feed_for(point, local(2025, 1, 1), local(2025, 1, 2))
    assert schema.is_valid(feed.decode())

    tree = etree.fromstring(feed)
    tree.find(".//espi:IntervalReading/espi:value", NS).text = "12.5"  # not an integer
    assert not schema.is_valid(etree.tostring(tree).decode())

    tree = etree.fromstring(feed)
    period = tree.find(".//espi:IntervalReading/espi:timePeriod", NS)
    period.remove(period.find("espi:start", NS))  # required element
    assert not schema.is_valid(etree.tostring(tree).decode())

    tree = etree.fromstring(feed)
    kind = tree.find(".//espi:ReadingType/espi:uom", NS)
    kind.getparent().insert(0, kind.getparent().makeelement(kind.tag))  # out of order, empty
    assert not schema.is_valid(etree.tostring(tree).decode())


# --- Portal download ----------------------------------------------------------------------


def url(point, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/portal/consumption/{point.pk}/download" + (f"?{query}" if query else "")


@pytest.fixture
def customer_point(make_user):
    user = make_user(Role.CUSTOMER)
    account = MembershipFactory(user=user, role=MemberRole.VIEWER).account
    point = add_supply_points(account, 1)[0]
    fill(point.pk, local(2025, 1, 1), local(2025, 3, 1))
    return user, point


PERIOD = {"period_from": "2025-01-01", "period_to": "2025-03-01"}


def test_portal_anonymous_is_sent_to_login(client, customer_point):
    _, point = customer_point
    response = client.get(url(point, **PERIOD))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_portal_other_customers_supply_point_is_404(customer_point, make_user, login):
    _, point = customer_point
    stranger = make_user(Role.CUSTOMER)
    MembershipFactory(user=stranger, role=MemberRole.HOLDER)
    http = login(stranger)
    assert http.get(url(point, **PERIOD)).status_code == 404
    assert http.get(url(point, group_by="hour", **PERIOD)).status_code == 404
    # Staff do not use the portal.
    assert login(make_user(Role.AGENT, totp=True)).get(url(point, **PERIOD)).status_code == 403


def test_portal_daily_csv_without_consent(customer_point, login):
    user, point = customer_point
    response = login(user).get(url(point, group_by="day", **PERIOD))
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    rows = read_csv(response.streaming_content)
    assert len(rows) == 1 + 31 + 28


def test_portal_default_period_is_24_months(customer_point, login):
    user, point = customer_point
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(timezone, "localdate", lambda *a, **k: date(2025, 12, 10))
        response = login(user).get(url(point, group_by="month"))
    rows = read_csv(response.streaming_content)
    assert [r[0][:7] for r in rows[1:]] == ["2025-01", "2025-02"]


def test_portal_hourly_needs_consent_for_export(customer_point, login):
    user, point = customer_point
    http = login(user)
    response = http.get(url(point, group_by="hour", **PERIOD))
    assert response.status_code == 403
    assert "données horaires" in response.content.decode()
    consent(point, scope="portal,api")  # not for exports
    assert http.get(url(point, group_by="hour", **PERIOD)).status_code == 403
    consent(point, revoked=True)
    assert http.get(url(point, group_by="hour", format="xml", **PERIOD)).status_code == 403
    consent(point)
    response = http.get(url(point, group_by="hour", **PERIOD))
    assert response.status_code == 200
    assert len(read_csv(response.streaming_content)) == 1 + (31 + 28) * 24


def test_portal_green_button_download(customer_point, login, schema):
    user, point = customer_point
    consent(point)
    response = login(user).get(url(point, group_by="hour", format="xml", **PERIOD))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml"
    assert response["Content-Disposition"].endswith('.xml"')
    assert schema.is_valid(response.content.decode())
    tree = etree.fromstring(response.content)
    assert len(tree.findall(".//espi:IntervalReading", NS)) == (31 + 28) * 24


@pytest.mark.parametrize(
    "params",
    [
        {"format": "pdf", **PERIOD},
        {"group_by": "week", **PERIOD},
        {"period_from": "2025-13-01", "period_to": "2025-03-01"},
        {"period_from": "2025-03-01", "period_to": "2025-01-01"},
        {"period_from": "2020-01-01", "period_to": "2025-01-01"},
    ],
)
def test_portal_bad_parameters_are_400(customer_point, login, params):
    user, point = customer_point
    response = login(user).get(url(point, **params))
    assert response.status_code == 400
    assert response.content
