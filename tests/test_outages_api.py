"""Outages API: the live outage status of a business account's supply points
(`outages:read`) and reporting an outage at one of them (`outages:write`), for OAuth
clients and members' sessions. Another account's supply point is a 404, never data."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.company import EMERGENCY_PHONE
from accounts.models import MemberRole, Role
from outages.models import OutageReport
from outages.services import incidents
from outages.services.reports import report_submit

from .factories import MembershipFactory, PremiseFactory
from .test_api_b2b import (  # noqa: F401 (_ratelimit_keys is an autouse fixture)
    _ratelimit_keys,
    add_supply_points,
    assert_error,
    bearer,
    business_api_client,
)

PARIS = ZoneInfo("Europe/Paris")
STATUS_URL = "/api/v1/outages/supply-points/"
REPORT_URL = "/api/v1/outages/reports/"
BOTH = ["outages:read", "outages:write"]


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Tasks queued after commit (fan-out, settlement) are not this file's business."""
    monkeypatch.setattr(incidents, "_enqueue", lambda task, **kw: None)


def points_at(account, postcode: str, count: int):
    return add_supply_points(
        account, count, premise=PremiseFactory(account=account, postcode=postcode)
    )


def outage_at(postcode: str, *, minutes_ago: int = 30, notice: bool = True):
    now = timezone.now()
    incident = incidents.incident_open(
        title=f"Panne {postcode}",
        postcodes=[postcode],
        now=now - timedelta(minutes=minutes_ago),
    )
    if notice:
        incidents.incident_update_publish(
            incident=incident,
            message="Coupure en cours.",
            now=now - timedelta(minutes=5),
            actor=None,
        )
    incident.refresh_from_db()
    return incident


def field_errors(response) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (400, "invalid")
    return error["fields"]


def instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# --- Status ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_client_sees_the_live_outage_of_each_supply_point(client):
    api_client, secret = business_api_client(scopes=["outages:read"])
    off = points_at(api_client.account, "33000", 2)
    supplied = points_at(api_client.account, "75015", 1)[0]
    incident = outage_at("33000")
    # Restored yesterday at the other site: nothing live there any more.
    earlier = outage_at("75015", minutes_ago=24 * 60, notice=False)
    incidents.incident_restore(
        incident=earlier, now=timezone.now() - timedelta(hours=20), actor=None
    )

    response = client.get(STATUS_URL, **bearer(client, api_client, secret))
    assert response.status_code == 200, response.content
    assert response["RateLimit-Limit"]
    rows = {row["id"]: row for row in response.json()["results"]}
    assert list(rows) == sorted(p.pk for p in [*off, supplied])
    assert rows[supplied.pk]["outage"] is None
    assert rows[supplied.pk]["postcode"] == "75015"
    for point in off:
        row = rows[point.pk]
        assert (row["identifier"], row["postcode"]) == (point.identifier, "33000")
        outage = row["outage"]
        assert (outage["reference"], outage["status"], outage["incident_class"]) == (
            incident.reference,
            "CONFIRMED",
            "P1",
        )
        assert outage["customers_affected"] == 2
        assert instant(outage["started_at"]) == incident.started_at
        assert incident.etr is not None and instant(outage["etr"]) == incident.etr
        assert (outage["etr_source"], outage["etr_confidence"]) == (
            incident.etr_source,
            incident.etr_confidence,
        )
        assert outage["etr_source"] == "SYSTEM"
        assert instant(outage["last_update_at"]) == incident.last_update_at
        assert instant(outage["next_update_due_at"]) == incident.next_update_due_at
        # Written like every other date-time of the API: Paris offset.
        assert outage["started_at"].endswith(("+01:00", "+02:00"))


@pytest.mark.django_db
def test_a_confirmed_outage_is_shown_before_a_suspected_one(client):
    api_client, secret = business_api_client(scopes=["outages:read"])
    point = points_at(api_client.account, "33000", 1)[0]
    # The customer's own report first opens a suspect on their premise...
    report_submit(
        kind="OUTAGE",
        now=timezone.now() - timedelta(minutes=40),
        account=api_client.account,
        premise=point.premise,
    )
    # ... then a dispatcher records the street's outage, which had started before it.
    confirmed = incidents.incident_open(
        title="Poste Bordeaux",
        postcodes=["33000"],
        now=timezone.now() - timedelta(minutes=20),
        started_at=timezone.now() - timedelta(minutes=60),
    )
    response = client.get(STATUS_URL, **bearer(client, api_client, secret))
    [row] = response.json()["results"]
    assert row["outage"]["reference"] == confirmed.reference


@pytest.mark.django_db
def test_another_accounts_outages_are_never_listed(client):
    api_client, secret = business_api_client(scopes=["outages:read"])
    mine = points_at(api_client.account, "75015", 1)[0]
    other = MembershipFactory().account
    points_at(other, "33000", 2)
    outage_at("33000")
    headers = bearer(client, api_client, secret)
    response = client.get(STATUS_URL, **headers)
    assert [(r["id"], r["outage"]) for r in response.json()["results"]] == [(mine.pk, None)]
    # A client cannot switch account with the members' query parameter.
    assert_error(client.get(f"{STATUS_URL}?account={other.number}", **headers), 404, "not_found")


@pytest.mark.django_db
def test_status_is_cursor_paginated(client):
    api_client, secret = business_api_client(scopes=["outages:read"])
    points = points_at(api_client.account, "33000", 5)
    headers = bearer(client, api_client, secret)
    seen, url = [], f"{STATUS_URL}?page_size=2"
    while url:
        page = client.get(url, **headers).json()
        assert len(page["results"]) <= 2
        seen += [p["id"] for p in page["results"]]
        url = page["next"]
    assert seen == sorted(p.pk for p in points)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [4, 40])
def test_status_runs_a_constant_number_of_queries(client, django_assert_max_num_queries, count):
    api_client, secret = business_api_client(scopes=["outages:read"])
    for postcode in ("33000", "69007", "75015", "67000"):
        points_at(api_client.account, postcode, count // 4)
    outage_at("33000")
    outage_at("69007")
    headers = bearer(client, api_client, secret)
    client.get(STATUS_URL, **headers)  # warms the rate-limit parameter cache
    # the token (with its application), its ApiClient, the page with its outages
    with django_assert_max_num_queries(3):
        response = client.get(f"{STATUS_URL}?page_size=200", **headers)
    results = response.json()["results"]
    assert len(results) == count
    assert sum(1 for r in results if r["outage"]) == count // 2


# --- Reports -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_client_reports_an_outage_that_joins_the_known_one(client):
    api_client, secret = business_api_client(scopes=["outages:write"])
    point = points_at(api_client.account, "33000", 1)[0]
    incident = outage_at("33000")
    response = client.post(
        REPORT_URL,
        {"supply_point_id": point.pk, "description": "Plus de courant à l'atelier."},
        content_type="application/json",
        **bearer(client, api_client, secret),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"].startswith("SIG-")
    assert body["incident_reference"] == incident.reference
    assert (body["status"], body["safety_critical"]) == ("LINKED", False)
    assert body["emergency_phone"] == EMERGENCY_PHONE
    report = OutageReport.objects.get(reference=body["reference"])
    assert report.account == api_client.account and report.premise == point.premise
    assert report.reporter is None and report.incident == incident
    assert report.description == "Plus de courant à l'atelier."


@pytest.mark.django_db
def test_a_report_by_identifier_with_a_hazard_is_safety_critical(client):
    api_client, secret = business_api_client(scopes=["outages:write"])
    point = points_at(api_client.account, "69007", 1)[0]
    response = client.post(
        REPORT_URL,
        {
            "supply_point_identifier": point.identifier,
            "hazards": ["SPARKS"],
            "breakers_checked": True,
        },
        content_type="application/json",
        **bearer(client, api_client, secret),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["safety_critical"] is True and body["emergency_phone"] == EMERGENCY_PHONE
    report = OutageReport.objects.get(reference=body["reference"])
    # Nothing was known there: a suspect opens for a dispatcher.
    assert report.incident.status == "SUSPECTED"
    assert body["incident_reference"] == report.incident.reference
    assert report.hazards == ["SPARKS"] and report.breakers_checked and report.ticket_id


@pytest.mark.django_db
@pytest.mark.parametrize("which", ["other_id", "other_identifier", "unknown_id"])
def test_another_accounts_supply_point_is_404_and_nothing_written(client, which):
    api_client, secret = business_api_client(scopes=["outages:write"])
    points_at(api_client.account, "33000", 1)
    theirs = points_at(MembershipFactory().account, "33000", 1)[0]
    body = {
        "other_id": {"supply_point_id": theirs.pk},
        "other_identifier": {"supply_point_identifier": theirs.identifier},
        "unknown_id": {"supply_point_id": 999_999},
    }[which]
    response = client.post(
        REPORT_URL, body, content_type="application/json", **bearer(client, api_client, secret)
    )
    assert_error(response, 404, "not_found")
    assert theirs.identifier not in response.content.decode()
    assert not OutageReport.objects.exists()


@pytest.mark.django_db
def test_bad_input_is_400_with_field_errors_and_nothing_written(client):
    api_client, secret = business_api_client(scopes=["outages:write"])
    point = points_at(api_client.account, "33000", 1)[0]
    headers = bearer(client, api_client, secret)

    fields = field_errors(client.post(REPORT_URL, {}, content_type="application/json", **headers))
    assert set(fields) == {"supply_point_id"}

    both = {"supply_point_id": point.pk, "supply_point_identifier": point.identifier}
    fields = field_errors(client.post(REPORT_URL, both, content_type="application/json", **headers))
    assert fields["supply_point_id"] == ["Give either supply_point_id or supply_point_identifier."]

    fields = field_errors(
        client.post(
            REPORT_URL,
            {
                "supply_point_id": "abc",
                "hazards": ["LAVA"],
                "breakers_checked": "maybe",
                "description": "x" * 4001,
            },
            content_type="application/json",
            **headers,
        )
    )
    assert set(fields) == {"supply_point_id", "hazards.0", "breakers_checked", "description"}
    assert not OutageReport.objects.exists()


# --- Who may call -------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_is_401(client):
    assert_error(client.get(STATUS_URL), 401, "not_authenticated")
    assert_error(
        client.post(REPORT_URL, {"supply_point_id": 1}, content_type="application/json"),
        401,
        "not_authenticated",
    )
    assert not OutageReport.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scopes", "method", "url", "missing"),
    [
        (["outages:write"], "get", STATUS_URL, "outages:read"),
        (["outages:read"], "post", REPORT_URL, "outages:write"),
        (["tickets:write"], "get", STATUS_URL, "outages:read"),
    ],
)
def test_a_token_without_the_scope_is_403(client, scopes, method, url, missing):
    api_client, secret = business_api_client(scopes=scopes)
    point = points_at(api_client.account, "33000", 1)[0]
    response = getattr(client, method)(
        url,
        {"supply_point_id": point.pk},
        content_type="application/json",
        **bearer(client, api_client, secret),
    )
    assert_error(response, 403, "insufficient_scope")
    assert missing in response.json()["error"]["message"]
    assert not OutageReport.objects.exists()


@pytest.mark.django_db
def test_a_member_of_any_role_reads_and_reports_with_a_session(make_user, login):
    owner = make_user(Role.CUSTOMER)
    account = MembershipFactory(user=owner, role=MemberRole.OWNER, account__type="BUSINESS").account
    viewer = MembershipFactory(account=account, role=MemberRole.VIEWER).user
    point = points_at(account, "33000", 1)[0]
    incident = outage_at("33000")
    http = login(viewer)
    [row] = http.get(STATUS_URL).json()["results"]
    assert row["outage"]["reference"] == incident.reference
    assert "RateLimit-Limit" not in http.get(STATUS_URL)
    response = http.post(REPORT_URL, {"supply_point_id": point.pk}, content_type="application/json")
    assert response.status_code == 201, response.content
    report = OutageReport.objects.get(reference=response.json()["reference"])
    assert report.reporter == viewer and report.account == account


@pytest.mark.django_db
def test_a_member_chooses_the_account_and_cannot_reach_others(make_user, login):
    user = make_user(Role.CUSTOMER)
    first = MembershipFactory(user=user).account
    second = MembershipFactory(user=user).account
    stranger = MembershipFactory().account
    theirs = points_at(stranger, "33000", 1)[0]
    mine = points_at(second, "33000", 1)[0]
    http = login(user)
    listing = http.get(f"{STATUS_URL}?account={second.number}").json()["results"]
    assert [r["id"] for r in listing] == [mine.pk]
    assert_error(http.get(f"{STATUS_URL}?account={stranger.number}"), 404, "not_found")
    response = http.post(
        f"{REPORT_URL}?account={first.number}",
        {"supply_point_id": mine.pk},
        content_type="application/json",
    )
    assert_error(response, 404, "not_found")
    response = http.post(
        REPORT_URL, {"supply_point_id": theirs.pk}, content_type="application/json"
    )
    assert_error(response, 404, "not_found")
    assert not OutageReport.objects.exists()


@pytest.mark.django_db
def test_staff_session_is_403(make_user, login):
    http = login(make_user(Role.AGENT, totp=True))
    assert_error(http.get(STATUS_URL), 403, "permission_denied")
    assert_error(
        http.post(REPORT_URL, {"supply_point_id": 1}, content_type="application/json"),
        403,
        "permission_denied",
    )


@pytest.mark.django_db
def test_customer_without_an_account_gets_404(make_user, login):
    http = login(make_user(Role.CUSTOMER))
    assert_error(http.get(STATUS_URL), 404, "not_found")
    assert_error(
        http.post(REPORT_URL, {"supply_point_id": 1}, content_type="application/json"),
        404,
        "not_found",
    )
