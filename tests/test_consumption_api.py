"""GET /api/v1/supply-points/{id}/consumption: callers, consent, parameters, pages, CSV."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import MemberRole, Role

from .factories import MembershipFactory
from .test_api_b2b import (  # noqa: F401 (the fixture isolates rate-limit keys)
    _ratelimit_keys,
    add_supply_points,
    assert_error,
    bearer,
    business_api_client,
)
from .test_exports import consent, fill, local

PERIOD = "period_from=2025-01-01&period_to=2025-03-01"


def url(point, query: str = PERIOD) -> str:
    return f"/api/v1/supply-points/{point.pk}/consumption?{query}"


@pytest.fixture
def b2b(db, client):
    api_client, secret = business_api_client(scopes=["readings:read"])
    point = add_supply_points(api_client.account, 1)[0]
    fill(point.pk, local(2025, 1, 1), local(2025, 3, 1))
    return point, bearer(client, api_client, secret)


def test_anonymous_is_401(client, b2b):
    point, _ = b2b
    assert_error(client.get(url(point)), 401, "not_authenticated")


def test_daily_json(client, b2b):
    point, headers = b2b
    response = client.get(url(point, PERIOD + "&group_by=day"), **headers)
    assert response.status_code == 200, response.content
    assert "RateLimit-Limit" in response
    body = response.json()
    assert body["supply_point"] == point.pk
    assert body["group_by"] == "day"
    assert body["next"] is None
    assert len(body["results"]) == 31 + 28
    first = body["results"][0]
    assert first["start"] == "2025-01-01T00:00:00+01:00"
    assert first["end"] == "2025-01-02T00:00:00+01:00"
    assert first["readings"] == 24
    assert Decimal(first["kwh"]) * 1000 == first["wh"]
    assert first["quality"] == "VALID"
    assert body["results"][14]["quality"] == "ESTIMATED"  # the 15th


def test_default_group_is_day_and_months_add_up(client, b2b):
    point, headers = b2b
    days = client.get(url(point), **headers).json()["results"]
    months = client.get(url(point, PERIOD + "&group_by=month"), **headers).json()["results"]
    assert [m["start"] for m in months] == [
        "2025-01-01T00:00:00+01:00",
        "2025-02-01T00:00:00+01:00",
    ]
    assert sum(d["wh"] for d in days) == sum(m["wh"] for m in months)


def test_token_without_the_readings_scope_is_403(client, db):
    api_client, secret = business_api_client(scopes=["invoices:read"])
    point = add_supply_points(api_client.account, 1)[0]
    response = client.get(url(point), **bearer(client, api_client, secret))
    assert_error(response, 403, "insufficient_scope")


def test_another_accounts_supply_point_is_404(client, b2b):
    _, headers = b2b
    other = add_supply_points(MembershipFactory().account, 1)[0]
    assert_error(client.get(url(other), **headers), 404, "not_found")
    assert_error(client.get(url(other, PERIOD + "&group_by=hour"), **headers), 404, "not_found")
    assert_error(
        client.get("/api/v1/supply-points/999999999/consumption?" + PERIOD, **headers),
        404,
        "not_found",
    )


def test_hourly_needs_the_consent_for_the_api(client, b2b):
    point, headers = b2b
    hourly = url(point, PERIOD + "&group_by=hour")
    assert_error(client.get(hourly, **headers), 403, "consent_required")
    consent(point, scope="portal,export")
    assert_error(client.get(hourly, **headers), 403, "consent_required")
    consent(point, revoked=True)
    assert_error(client.get(hourly, **headers), 403, "consent_required")
    # Even as CSV, the refusal is the uniform JSON error.
    response = client.get(hourly + "&format=csv", **headers)
    assert_error(response, 403, "consent_required")
    consent(point)
    response = client.get(hourly, **headers)
    assert response.status_code == 200
    assert response.json()["results"][0]["readings"] == 1


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("", {"period_from", "period_to"}),
        ("period_from=yesterday&period_to=2025-03-01", {"period_from"}),
        ("period_from=2025-03-01&period_to=2025-01-01", {"period_to"}),
        ("period_from=2020-01-01&period_to=2025-01-01", {"period_to"}),
        (PERIOD + "&group_by=week", {"group_by"}),
        (PERIOD + "&page_size=0", {"page_size"}),
        (PERIOD + "&page_size=x", {"page_size"}),
        (PERIOD + "&cursor=bm9wZQ", {"cursor"}),
    ],
)
def test_bad_parameters_are_400_with_fields(client, b2b, query, fields):
    point, headers = b2b
    response = client.get(url(point, query), **headers)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == fields


def test_datetimes_are_accepted(client, b2b):
    point, headers = b2b
    consent(point)
    query = "period_from=2025-01-01T06:00:00%2B01:00&period_to=2025-01-01T08:00:00Z&group_by=hour"
    results = client.get(url(point, query), **headers).json()["results"]
    assert [r["start"] for r in results] == [
        "2025-01-01T06:00:00+01:00",
        "2025-01-01T07:00:00+01:00",
        "2025-01-01T08:00:00+01:00",
    ]


def test_cursor_pages_cover_the_period_once(client, b2b):
    point, headers = b2b
    consent(point)
    for group_by, expected in [("day", 59), ("hour", 59 * 24)]:
        seen = []
        next_url = url(point, PERIOD + f"&group_by={group_by}&page_size=500")
        pages = 0
        while next_url:
            body = client.get(next_url, **headers).json()
            seen += [r["start"] for r in body["results"]]
            next_url = body["next"]
            pages += 1
        assert len(seen) == len(set(seen)) == expected
        assert seen == sorted(seen, key=lambda s: s.replace("+01:00", ""))
        assert pages == -(-expected // 500)


@pytest.mark.parametrize("how", ["accept", "format"])
def test_csv_is_streamed(client, b2b, how):
    point, headers = b2b
    consent(point)
    query = PERIOD + "&group_by=hour"
    if how == "format":
        response = client.get(url(point, query + "&format=csv"), **headers)
    else:
        response = client.get(url(point, query), HTTP_ACCEPT="text/csv", **headers)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["local_time", "utc_time", "kwh", "quality"]
    assert len(rows) == 1 + 59 * 24
    months = client.get(url(point, PERIOD + "&group_by=month"), **headers).json()["results"]
    assert sum(Decimal(r[2]) for r in rows[1:]) * 1000 == sum(m["wh"] for m in months)


@pytest.mark.parametrize("days", [3, 40])
def test_json_runs_a_constant_number_of_queries(client, db, django_assert_max_num_queries, days):
    api_client, secret = business_api_client(scopes=["readings:read"])
    point = add_supply_points(api_client.account, 1)[0]
    fill(point.pk, local(2025, 1, 1), local(2025, 1, 1) + timedelta(days=days))
    consent(point)
    headers = bearer(client, api_client, secret)
    client.get("/api/v1/accounts/me", **headers)  # warms the rate-limit parameter cache
    # the token (with its application), its ApiClient, the supply point, the consent, the page
    with django_assert_max_num_queries(5):
        response = client.get(url(point, PERIOD + "&group_by=hour&page_size=1000"), **headers)
    assert len(response.json()["results"]) == days * 24


# --- Sessions --------------------------------------------------------------------------


@pytest.fixture
def member(make_user):
    user = make_user(Role.CUSTOMER)
    account = MembershipFactory(user=user, role=MemberRole.VIEWER).account
    point = add_supply_points(account, 1)[0]
    fill(point.pk, local(2025, 1, 1), local(2025, 1, 3))
    return user, point


def test_member_session_reads_its_supply_point(member, login):
    user, point = member
    http = login(user)
    response = http.get(url(point))
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
    assert "RateLimit-Limit" not in response
    assert_error(http.get(url(point, PERIOD + "&group_by=hour")), 403, "consent_required")


def test_other_customer_session_gets_404(member, make_user, login):
    _, point = member
    stranger = make_user(Role.CUSTOMER)
    MembershipFactory(user=stranger, role=MemberRole.HOLDER)
    assert_error(login(stranger).get(url(point)), 404, "not_found")


def test_staff_session_is_refused(member, make_user, login):
    _, point = member
    http = login(make_user(Role.AGENT, totp=True))
    assert_error(http.get(url(point)), 403, "permission_denied")


def test_schema_lists_the_endpoint(client, db):
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v1/supply-points/{id}/consumption" in schema.json()["paths"]
