"""Tickets API: OAuth clients with the tickets:write scope and customers' sessions."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import MemberRole, Role
from tickets import services
from tickets.models import Ticket

from .factories import MembershipFactory
from .test_api_b2b import (  # noqa: F401 (_ratelimit_keys is an autouse fixture)
    _ratelimit_keys,
    add_supply_points,
    assert_error,
    bearer,
    business_api_client,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 6, 3, 10, 0, tzinfo=PARIS)
URL = "/api/v1/tickets/"


def new_ticket(**overrides) -> dict:
    data = {
        "category": "BILL_QUERY",
        "subject": "Facture de mai",
        "body": "Le montant de la facture de mai est le double de celui d'avril.",
    }
    data.update(overrides)
    return data


def make_ticket(account, *, now=NOW, subject="Question", requester=None) -> Ticket:
    return services.ticket_create(
        channel="PORTAL",
        category="OTHER",
        subject=subject,
        body="Bonjour",
        account=account,
        requester=requester,
        now=now,
    )


def assert_field_errors(response) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (400, "invalid")
    return error["fields"]


@pytest.fixture
def member(make_user):
    def make(role=MemberRole.HOLDER, **kwargs):
        user = make_user(Role.CUSTOMER)
        return user, MembershipFactory(user=user, role=role, **kwargs).account

    return make


# --- OAuth clients -------------------------------------------------------------------


@pytest.mark.django_db
def test_client_opens_a_ticket_and_gets_its_deadlines(client):
    api_client, secret = business_api_client(scopes=["tickets:write"])
    point = add_supply_points(api_client.account, 1)[0]
    with time_machine.travel(NOW, tick=False):
        headers = bearer(client, api_client, secret)
        response = client.post(
            URL,
            new_ticket(supply_point_id=point.pk),
            content_type="application/json",
            **headers,
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"].startswith("PN-2026-")
    assert (body["status"], body["queue"], body["priority"]) == ("NEW", "BILLING", "NORMAL")
    assert datetime.fromisoformat(body["created_at"]) == NOW
    promised = {p["name"]: datetime.fromisoformat(p["due_at"]) for p in body["promised"]}
    assert promised["Accusé de réception 24 h"] == NOW + timedelta(hours=24)
    assert "Instruction 10 jours ouvrés" in promised
    assert response["RateLimit-Limit"]

    ticket = Ticket.objects.get(reference=body["reference"])
    assert ticket.account == api_client.account and ticket.supply_point == point
    assert ticket.channel == "APP" and ticket.requester is None
    assert ticket.details == {"api_client": api_client.name}


@pytest.mark.django_db
def test_client_lists_and_reads_its_own_tickets_only(client):
    api_client, secret = business_api_client(scopes=["tickets:write"])
    mine = make_ticket(api_client.account, subject="La mienne")
    _, other_account = MembershipFactory(), MembershipFactory().account
    theirs = make_ticket(other_account, subject="Pas la mienne")
    headers = bearer(client, api_client, secret)

    listing = client.get(URL, **headers)
    assert listing.status_code == 200
    assert [t["reference"] for t in listing.json()["results"]] == [mine.reference]

    detail = client.get(f"{URL}{mine.reference}", **headers)
    assert detail.status_code == 200
    assert detail.json()["subject"] == "La mienne"
    assert_error(client.get(f"{URL}{theirs.reference}", **headers), 404, "not_found")
    assert_error(client.get(f"{URL}PN-2026-999999", **headers), 404, "not_found")
    # A client cannot switch account with the members' query parameter.
    response = client.get(f"{URL}?account={other_account.number}", **headers)
    assert_error(response, 404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_token_without_the_tickets_scope_is_403(client, method):
    api_client, secret = business_api_client(scopes=["invoices:read"])
    headers = bearer(client, api_client, secret)
    response = getattr(client, method)(
        URL, new_ticket(), content_type="application/json", **headers
    )
    assert_error(response, 403, "insufficient_scope")
    assert "tickets:write" in response.json()["error"]["message"]
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_a_token_narrowed_to_another_scope_is_403(client):
    from .test_api_b2b import request_token

    api_client, secret = business_api_client(scopes=["invoices:read", "tickets:write"])
    token = request_token(client, api_client, secret, scope="invoices:read").json()
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token['access_token']}")
    assert_error(response, 403, "insufficient_scope")


@pytest.mark.django_db
def test_anonymous_is_401(client):
    assert_error(client.get(URL), 401, "not_authenticated")
    assert_error(client.post(URL, new_ticket()), 401, "not_authenticated")


# --- Sessions ------------------------------------------------------------------------


@pytest.mark.django_db
def test_customer_opens_and_follows_a_ticket_without_internal_notes(member, login, make_user):
    user, account = member()
    http = login(user)
    with time_machine.travel(NOW, tick=False):
        response = http.post(URL, new_ticket(), content_type="application/json")
    assert response.status_code == 201, response.content
    reference = response.json()["reference"]
    ticket = Ticket.objects.get(reference=reference)
    assert ticket.account == account and ticket.requester == user and ticket.channel == "PORTAL"
    assert "RateLimit-Limit" not in response

    agent = make_user(Role.AGENT)
    later = NOW + timedelta(hours=1)
    services.ticket_reply(
        ticket=ticket, author=agent, body="NOTE INTERNE", internal=True, now=later
    )
    services.ticket_reply(ticket=ticket, author=agent, body="Nous regardons.", now=later)

    detail = http.get(f"{URL}{reference}").json()
    assert [(m["from_customer"], m["body"]) for m in detail["messages"]] == [
        (True, new_ticket()["body"]),
        (False, "Nous regardons."),
    ]
    assert "NOTE INTERNE" not in str(detail)
    clocks = {c["name"]: c for c in detail["clocks"]}
    assert clocks["Accusé de réception 24 h"]["status"] == "MET"
    assert clocks["Instruction 10 jours ouvrés"]["status"] == "RUNNING"
    assert clocks["Instruction 10 jours ouvrés"]["due_at"]
    assert detail["status"] == "OPEN"

    assert [t["reference"] for t in http.get(URL).json()["results"]] == [reference]


@pytest.mark.django_db
def test_viewer_reads_but_cannot_open_a_ticket(member, login):
    owner, account = member(MemberRole.OWNER, account__type="BUSINESS")
    viewer = MembershipFactory(account=account, role=MemberRole.VIEWER).user
    existing = make_ticket(account, requester=owner)
    http = login(viewer)
    assert_error(
        http.post(URL, new_ticket(), content_type="application/json"), 403, "permission_denied"
    )
    assert Ticket.objects.count() == 1
    assert http.get(URL).json()["results"][0]["reference"] == existing.reference
    assert http.get(f"{URL}{existing.reference}").status_code == 200


@pytest.mark.django_db
def test_member_of_two_accounts_chooses_with_the_account_parameter(member, login):
    user, first = member(MemberRole.VIEWER)
    second = MembershipFactory(user=user, role=MemberRole.OWNER).account
    first, second = sorted([first, second], key=lambda a: a.number)
    # Roles follow the account order: VIEWER on the first by number, OWNER on the second.
    user.memberships.filter(account=first).update(role=MemberRole.VIEWER)
    user.memberships.filter(account=second).update(role=MemberRole.OWNER)
    theirs = make_ticket(MembershipFactory().account)
    http = login(user)
    assert_error(
        http.post(URL, new_ticket(), content_type="application/json"), 403, "permission_denied"
    )
    response = http.post(
        f"{URL}?account={second.number}", new_ticket(), content_type="application/json"
    )
    assert response.status_code == 201
    assert Ticket.objects.get(reference=response.json()["reference"]).account == second
    assert http.get(f"{URL}?account={first.number}").json()["results"] == []
    assert_error(http.get(f"{URL}?account={theirs.account.number}"), 404, "not_found")


@pytest.mark.django_db
def test_staff_session_is_403(make_user, login):
    http = login(make_user(Role.AGENT, totp=True))
    assert_error(http.get(URL), 403, "permission_denied")
    assert_error(
        http.post(URL, new_ticket(), content_type="application/json"), 403, "permission_denied"
    )


@pytest.mark.django_db
def test_customer_without_an_account_gets_404(make_user, login):
    assert_error(login(make_user(Role.CUSTOMER)).get(URL), 404, "not_found")


# --- Validation ------------------------------------------------------------------------


@pytest.mark.django_db
def test_field_errors_in_the_uniform_format_and_nothing_written(member, login):
    user, account = member()
    add_supply_points(account, 1)
    foreign_point = add_supply_points(MembershipFactory().account, 1)[0]
    http = login(user)

    fields = assert_field_errors(http.post(URL, {}, content_type="application/json"))
    assert set(fields) == {"category", "subject", "body"}

    fields = assert_field_errors(
        http.post(
            URL,
            new_ticket(category="NOPE", subject="x" * 201, supply_point_id=foreign_point.pk),
            content_type="application/json",
        )
    )
    assert set(fields) == {"category", "subject", "supply_point_id"}
    assert fields["supply_point_id"] == ["No supply point of your account has this id."]

    fields = assert_field_errors(
        http.post(URL, new_ticket(safety="maybe"), content_type="application/json")
    )
    assert set(fields) == {"safety"}
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_declared_safety_goes_to_the_outage_queue_as_urgent(member, login):
    user, _ = member()
    response = login(user).post(URL, new_ticket(safety=True), content_type="application/json")
    assert response.status_code == 201
    assert (response.json()["queue"], response.json()["priority"]) == ("OUTAGE", "URGENT")


# --- Pagination and query count ----------------------------------------------------------


@pytest.mark.django_db
def test_list_is_cursor_paginated_newest_first(client):
    api_client, secret = business_api_client(scopes=["tickets:write"])
    made = [make_ticket(api_client.account, now=NOW + timedelta(minutes=i)) for i in range(5)]
    headers = bearer(client, api_client, secret)
    seen, url = [], f"{URL}?page_size=2"
    while url:
        page = client.get(url, **headers).json()
        assert len(page["results"]) <= 2
        seen += [t["reference"] for t in page["results"]]
        url = page["next"]
    assert seen == [t.reference for t in reversed(made)]


def _list_queries(http, headers, account, count) -> int:
    for i in range(count):
        make_ticket(account, now=NOW + timedelta(minutes=i))
    http.get(URL, **headers)  # warms the rate-limit parameter cache
    with CaptureQueriesContext(connection) as queries:
        response = http.get(URL, **headers)
    assert response.status_code == 200 and len(response.json()["results"]) == count
    return len(queries)


@pytest.mark.django_db
def test_client_list_runs_a_constant_number_of_queries(client):
    counts = []
    for count in (3, 20):
        api_client, secret = business_api_client(scopes=["tickets:write"], name=f"ERP {count}")
        counts.append(
            _list_queries(client, bearer(client, api_client, secret), api_client.account, count)
        )
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_session_list_runs_a_constant_number_of_queries(member, login):
    counts = []
    for count in (3, 20):
        user, account = member()
        counts.append(_list_queries(login(user), {}, account, count))
    assert counts[0] == counts[1]
