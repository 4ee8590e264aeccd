"""B2B REST API: OAuth2 client credentials, the caller's account and its supply points."""

import base64
import itertools
import uuid
from decimal import Decimal
from urllib.parse import quote_plus, urlencode

import pytest
import redis
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import AccountType, ApiClient, MemberRole, Role, SupplyPoint

from .factories import AccountFactory, MembershipFactory, PremiseFactory, UserFactory

# --- Helpers shared with test_ratelimit.py -----------------------------------


@pytest.fixture(autouse=True)
def _ratelimit_keys(settings):
    """Each test counts under its own Redis key prefix, deleted afterwards."""
    prefix = f"test:ratelimit:{uuid.uuid4().hex}"
    settings.API_RATE_LIMIT_KEY_PREFIX = prefix
    yield prefix
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def business_api_client(*, scopes=("invoices:read",), tier="STANDARD", name="ERP"):
    """A business account, its owner and an ApiClient; returns (client, plain secret)."""
    owner = UserFactory(role=Role.CUSTOMER)
    account = AccountFactory(type=AccountType.BUSINESS, name="Boulangerie Martin SARL")
    MembershipFactory(account=account, user=owner, role=MemberRole.OWNER)
    return services.api_client_create(
        account=account, name=name, scopes=list(scopes), tier=tier, actor=owner, now=timezone.now()
    )


def basic_auth(api_client: ApiClient, secret: str) -> str:
    pair = f"{quote_plus(api_client.application.client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def request_token(http, api_client: ApiClient, secret: str, **params):
    return http.post(
        "/o/token/",
        urlencode({"grant_type": "client_credentials", **params}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_auth(api_client, secret),
    )


def bearer(http, api_client: ApiClient, secret: str) -> dict:
    """Headers for the Django test client, with a fresh access token."""
    response = request_token(http, api_client, secret)
    assert response.status_code == 200, response.content
    return {"HTTP_AUTHORIZATION": f"Bearer {response.json()['access_token']}"}


_identifiers = itertools.count(10_000_000_000_000)


def add_supply_points(account, count: int, *, premise=None) -> list[SupplyPoint]:
    premise = premise or PremiseFactory(account=account)
    return [
        SupplyPoint.objects.create(
            premise=premise,
            market="FR_PRM",
            identifier=str(next(_identifiers)),
            subscribed_kva=Decimal("36.0"),
            meter_reference=f"LINKY-{i}",
        )
        for i in range(count)
    ]


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] == code
    assert body["error"]["fields"] == {}
    assert body["error"]["message"]


# --- Token endpoint -----------------------------------------------------------


@pytest.mark.django_db
def test_oauth_routes_are_mounted_without_the_interactive_flows():
    assert reverse("oauth2_provider:token") == "/o/token/"
    assert reverse("oauth2_provider:revoke-token") == "/o/revoke_token/"
    assert reverse("oauth2_provider:introspect") == "/o/introspect/"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/o/authorize/", "/o/device/", "/o/applications/"])
def test_interactive_oauth_flows_are_not_offered(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_client_credentials_token_then_account(client):
    api_client, secret = business_api_client(scopes=["invoices:read", "tickets:write"])
    PremiseFactory(account=api_client.account)
    PremiseFactory(account=api_client.account)

    token = request_token(client, api_client, secret)
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert sorted(body["scope"].split()) == ["invoices:read", "tickets:write"]
    assert "refresh_token" not in body

    response = client.get(
        "/api/v1/accounts/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}"
    )
    assert response.status_code == 200
    account = api_client.account
    assert response.json() == {
        "number": account.number,
        "type": "BUSINESS",
        "name": "Boulangerie Martin SARL",
        "sla_package": None,
        "premise_count": 2,
        "language": "fr",
        "notifications": {"billing": "EMAIL", "outages": "SMS", "tickets": "EMAIL"},
    }
    assert response["RateLimit-Limit"] == "1000"


@pytest.mark.django_db
def test_account_shows_its_sla_package_code(client):
    from accounts.models import SlaPackage

    api_client, secret = business_api_client()
    package = SlaPackage.objects.create(code="PREMIUM", name="Premium", monthly_price="99.00")
    account = api_client.account
    account.sla_package = package
    account.save(update_fields=["sla_package"])
    body = client.get("/api/v1/accounts/me", **bearer(client, api_client, secret)).json()
    assert body["sla_package"] == "PREMIUM"


@pytest.mark.django_db
def test_token_may_narrow_the_granted_scopes(client):
    api_client, secret = business_api_client(scopes=["invoices:read", "tickets:write"])
    response = request_token(client, api_client, secret, scope="tickets:write")
    assert response.status_code == 200
    assert response.json()["scope"] == "tickets:write"


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["invoices:read readings:write", "billing:export", "admin"])
def test_scope_beyond_the_grant_is_refused(client, scope):
    api_client, secret = business_api_client(scopes=["invoices:read"])
    response = request_token(client, api_client, secret, scope=scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert not api_client.application.accesstoken_set.exists()


@pytest.mark.django_db
def test_wrong_secret_gets_no_token(client):
    api_client, _ = business_api_client()
    response = request_token(client, api_client, "not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.django_db
def test_the_secret_is_stored_hashed(client):
    api_client, secret = business_api_client()
    api_client.application.refresh_from_db()
    assert secret not in api_client.application.client_secret
    assert request_token(client, api_client, secret).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{}, {"scope": "invoices:read"}])
def test_revoked_client_gets_no_token_and_its_tokens_stop_working(client, params):
    api_client, secret = business_api_client()
    headers = bearer(client, api_client, secret)
    assert client.get("/api/v1/accounts/me", **headers).status_code == 200

    services.api_client_revoke(client=api_client, actor=None, now=timezone.now())

    assert_error(client.get("/api/v1/accounts/me", **headers), 401, "not_authenticated")
    response = request_token(client, api_client, secret, **params)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not api_client.application.accesstoken_set.exists()


@pytest.mark.django_db
def test_a_token_that_outlived_its_revoked_client_is_refused(client):
    """A token issued while the revocation ran (so not deleted by it) does not work either."""
    api_client, secret = business_api_client()
    headers = bearer(client, api_client, secret)
    ApiClient.objects.filter(pk=api_client.pk).update(revoked_at=timezone.now())
    response = client.get("/api/v1/supply-points/", **headers)
    assert_error(response, 401, "not_authenticated")
    assert "invalid_token" in response["WWW-Authenticate"]


@pytest.mark.django_db
def test_an_oauth_application_without_api_client_gets_no_token(client):
    from oauth2_provider.models import Application

    Application.objects.create(
        name="stray",
        client_id="stray-client",
        client_secret="stray-secret-0123456789",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    basic = base64.b64encode(b"stray-client:stray-secret-0123456789").decode()
    response = client.post(
        "/o/token/",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 401


@pytest.mark.django_db
def test_revoke_token_endpoint(client):
    api_client, secret = business_api_client()
    token = request_token(client, api_client, secret).json()["access_token"]
    response = client.post(
        "/o/revoke_token/",
        urlencode({"token": token}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_auth(api_client, secret),
    )
    assert response.status_code == 200
    response = client.get("/api/v1/accounts/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401


@pytest.mark.django_db
def test_client_token_is_not_a_user_for_users_me(client):
    api_client, secret = business_api_client()
    response = client.get("/api/v1/users/me", **bearer(client, api_client, secret))
    assert_error(response, 403, "permission_denied")


@pytest.mark.django_db
def test_token_in_the_query_string_is_not_accepted(client):
    api_client, secret = business_api_client()
    token = request_token(client, api_client, secret).json()["access_token"]
    response = client.get(f"/api/v1/accounts/me?access_token={token}")
    assert response.status_code == 401


# --- Isolation between accounts ---------------------------------------------------


@pytest.mark.django_db
def test_client_sees_only_its_own_supply_points(client):
    api_client, secret = business_api_client()
    mine = add_supply_points(api_client.account, 3)
    other_client, _ = business_api_client(name="Other ERP")
    theirs = add_supply_points(other_client.account, 2)
    add_supply_points(AccountFactory(), 2)
    headers = bearer(client, api_client, secret)

    listing = client.get("/api/v1/supply-points/", **headers)
    assert listing.status_code == 200
    assert [p["id"] for p in listing.json()["results"]] == [p.pk for p in mine]

    one = client.get(f"/api/v1/supply-points/{mine[1].pk}", **headers)
    assert one.status_code == 200
    premise = mine[1].premise
    assert one.json() == {
        "id": mine[1].pk,
        "market": "FR_PRM",
        "identifier": mine[1].identifier,
        "subscribed_kva": "36.0",
        "meter_reference": "LINKY-1",
        "premise": {
            "address": premise.address,
            "postcode": premise.postcode,
            "city": premise.city,
            "area_class": "URBAN",
        },
    }
    for point in theirs:
        response = client.get(f"/api/v1/supply-points/{point.pk}", **headers)
        assert_error(response, 404, "not_found")
        assert point.identifier not in response.content.decode()
        assert response["RateLimit-Limit"] == "1000"  # counted like any other request
    assert_error(client.get("/api/v1/supply-points/999999999", **headers), 404, "not_found")


@pytest.mark.django_db
def test_client_cannot_switch_account_with_the_query_parameter(client):
    api_client, secret = business_api_client()
    other_client, _ = business_api_client(name="Other ERP")
    point = add_supply_points(other_client.account, 1)[0]
    headers = bearer(client, api_client, secret)
    other = other_client.account.number
    assert_error(client.get(f"/api/v1/accounts/me?account={other}", **headers), 404, "not_found")
    response = client.get(f"/api/v1/supply-points/?account={other}", **headers)
    assert_error(response, 404, "not_found")
    response = client.get(f"/api/v1/supply-points/{point.pk}?account={other}", **headers)
    assert_error(response, 404, "not_found")
    own = api_client.account.number
    assert client.get(f"/api/v1/accounts/me?account={own}", **headers).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/accounts/me", "/api/v1/supply-points/", "/api/v1/supply-points/1"]
)
def test_anonymous_is_401_in_the_uniform_format(client, path):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {
        "error": {
            "status": 401,
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
            "fields": {},
        }
    }
    assert "RateLimit-Limit" not in response


@pytest.mark.django_db
def test_unknown_bearer_token_is_401(client):
    response = client.get("/api/v1/accounts/me", HTTP_AUTHORIZATION="Bearer nope")
    assert_error(response, 401, "not_authenticated")


# --- Signed-in members (session) -------------------------------------------------


@pytest.mark.django_db
def test_residential_customer_sees_their_own_account(make_user, login):
    customer = make_user(Role.CUSTOMER)
    membership = MembershipFactory(user=customer, role=MemberRole.HOLDER)
    account = membership.account
    mine = add_supply_points(account, 2)
    stranger = MembershipFactory(role=MemberRole.HOLDER).account
    theirs = add_supply_points(stranger, 1)[0]
    http = login(customer)

    me = http.get("/api/v1/accounts/me")
    assert me.status_code == 200
    assert me.json()["number"] == account.number
    assert me.json()["type"] == "RESIDENTIAL"
    assert me.json()["premise_count"] == 1
    assert "RateLimit-Limit" not in me

    assert http.get(f"/api/v1/accounts/me?account={account.number}").status_code == 200
    assert_error(http.get(f"/api/v1/accounts/me?account={stranger.number}"), 404, "not_found")
    assert_error(http.get("/api/v1/accounts/me?account=0000000000"), 404, "not_found")

    listing = http.get("/api/v1/supply-points/").json()["results"]
    assert [p["id"] for p in listing] == [p.pk for p in mine]
    assert_error(http.get(f"/api/v1/supply-points/{theirs.pk}"), 404, "not_found")
    response = http.get(f"/api/v1/supply-points/?account={stranger.number}")
    assert_error(response, 404, "not_found")


@pytest.mark.django_db
def test_member_with_two_accounts_picks_one(make_user, login):
    user = make_user(Role.CUSTOMER)
    first = AccountFactory(number="1000000009")
    second = AccountFactory(number="2000000007", type=AccountType.BUSINESS)
    MembershipFactory(user=user, account=second, role=MemberRole.VIEWER)
    MembershipFactory(user=user, account=first, role=MemberRole.HOLDER)
    point = add_supply_points(second, 1)[0]
    http = login(user)

    assert http.get("/api/v1/accounts/me").json()["number"] == "1000000009"
    assert http.get("/api/v1/accounts/me?account=2000000007").json()["number"] == "2000000007"
    assert http.get("/api/v1/supply-points/").json()["results"] == []
    response = http.get("/api/v1/supply-points/?account=2000000007")
    assert [p["id"] for p in response.json()["results"]] == [point.pk]
    assert http.get(f"/api/v1/supply-points/{point.pk}").status_code == 404
    assert http.get(f"/api/v1/supply-points/{point.pk}?account=2000000007").status_code == 200


@pytest.mark.django_db
def test_session_needs_the_second_factor_the_portal_asks_for(make_user, login):
    customer = make_user(Role.CUSTOMER, totp=True)
    MembershipFactory(user=customer, role=MemberRole.HOLDER)
    http = login(customer, verified=False)
    assert_error(http.get("/api/v1/accounts/me"), 403, "permission_denied")
    assert_error(http.get("/api/v1/supply-points/"), 403, "permission_denied")
    http = login(customer, verified=True)
    assert http.get("/api/v1/accounts/me").status_code == 200


@pytest.mark.django_db
def test_staff_session_is_refused(make_user, login):
    http = login(make_user(Role.AGENT, totp=True))
    assert_error(http.get("/api/v1/accounts/me"), 403, "permission_denied")


@pytest.mark.django_db
def test_user_without_an_account_gets_404(make_user, login):
    http = login(make_user(Role.CUSTOMER))
    assert_error(http.get("/api/v1/accounts/me"), 404, "not_found")
    assert_error(http.get("/api/v1/supply-points/"), 404, "not_found")


@pytest.mark.django_db
def test_account_carries_no_personal_data_of_members(make_user, login):
    user = make_user(Role.CUSTOMER, first_name="Zoé", last_name="Durand", phone="0611223344")
    account = AccountFactory(type=AccountType.BUSINESS, phone="0144556677")
    MembershipFactory(user=user, account=account, role=MemberRole.OWNER)
    body = login(user).get("/api/v1/accounts/me").json()
    assert set(body) == {
        "number",
        "type",
        "name",
        "sla_package",
        "premise_count",
        "language",
        "notifications",
    }
    text = str(body)
    for secret in [user.email, "Zoé", "Durand", "0611223344", "0144556677"]:
        assert secret not in text


# --- Pagination and query count ----------------------------------------------------


@pytest.mark.django_db
def test_list_is_cursor_paginated_by_id(client):
    api_client, secret = business_api_client()
    points = add_supply_points(api_client.account, 5)
    headers = bearer(client, api_client, secret)
    seen = []
    url = "/api/v1/supply-points/?page_size=2"
    while url:
        page = client.get(url, **headers).json()
        assert len(page["results"]) <= 2
        seen += [p["id"] for p in page["results"]]
        url = page["next"]
    assert seen == sorted(p.pk for p in points)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 30])
def test_list_runs_a_constant_number_of_queries(client, django_assert_max_num_queries, count):
    api_client, secret = business_api_client()
    premises = [PremiseFactory(account=api_client.account) for _ in range(3)]
    for premise in premises:
        add_supply_points(api_client.account, count // 3, premise=premise)
    headers = bearer(client, api_client, secret)
    client.get("/api/v1/accounts/me", **headers)  # warms the rate-limit parameter cache
    # the token (with its application), its ApiClient, the page
    with django_assert_max_num_queries(3):
        response = client.get("/api/v1/supply-points/", **headers)
    assert len(response.json()["results"]) == count


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 30])
def test_session_list_runs_a_constant_number_of_queries(
    make_user, login, django_assert_max_num_queries, count
):
    user = make_user(Role.CUSTOMER)
    account = MembershipFactory(user=user, role=MemberRole.VIEWER).account
    for _ in range(3):
        add_supply_points(account, count // 3)
    http = login(user)
    # session, user, the two second-factor device tables, the account, the page
    with django_assert_max_num_queries(6):
        response = http.get("/api/v1/supply-points/")
    assert len(response.json()["results"]) == count
