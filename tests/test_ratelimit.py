"""Hourly quota of each OAuth client, counted atomically in Redis."""

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
import redis
import requests
import time_machine
from django.utils import timezone

from accounts import throttling
from accounts.models import MemberRole, Parameter, Role

from .factories import MembershipFactory
from .test_api_b2b import (  # noqa: F401 (_ratelimit_keys is an autouse fixture)
    _ratelimit_keys,
    basic_auth,
    bearer,
    business_api_client,
)

URL = "/api/v1/accounts/me"


def set_limit(tier: str, value: int) -> None:
    Parameter.objects.update_or_create(
        key=f"api_rate_per_hour_{tier.lower()}", defaults={"value": value}
    )


def assert_throttled(response, *, retry_after: int) -> None:
    assert response.status_code == 429
    assert response["Retry-After"] == str(retry_after)
    assert int(response["Retry-After"]) > 0
    assert response["RateLimit-Remaining"] == "0"
    assert response["RateLimit-Reset"] == str(retry_after)
    error = response.json()["error"]
    assert (error["status"], error["code"], error["fields"]) == (429, "throttled", {})
    assert str(retry_after) in error["message"]


@pytest.mark.django_db
def test_exactly_n_requests_per_hour_then_429_across_a_dst_change(client):
    """Paris leaves summer time at 2026-10-25 01:00 UTC (03:00 CEST becomes 02:00 CET).

    The windows are hours of UTC, so the repeated local hour changes nothing.
    """
    set_limit("STANDARD", 5)
    api_client, secret = business_api_client()
    with time_machine.travel(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), tick=False) as clock:
        headers = bearer(client, api_client, secret)  # 02:30 CEST
        for n in range(1, 6):
            response = client.get(URL, **headers)
            assert response.status_code == 200, n
            assert response["RateLimit-Limit"] == "5"
            assert response["RateLimit-Remaining"] == str(5 - n)
            assert response["RateLimit-Reset"] == "1800"
            assert "Retry-After" not in response
        assert_throttled(client.get(URL, **headers), retry_after=1800)
        # Refused requests are not counted, and every endpoint shares the quota.
        assert_throttled(client.get("/api/v1/supply-points/", **headers), retry_after=1800)

        clock.move_to(datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC))
        assert_throttled(client.get(URL, **headers), retry_after=1)

        clock.move_to(datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC))  # 02:00 CET, again
        assert timezone.localtime().strftime("%H:%M %Z") == "02:00 CET"
        headers = bearer(client, api_client, secret)
        for n in range(1, 6):
            response = client.get(URL, **headers)
            assert response.status_code == 200, n
            assert response["RateLimit-Remaining"] == str(5 - n)
            assert response["RateLimit-Reset"] == "3600"
        assert_throttled(client.get(URL, **headers), retry_after=3600)

        # 02:30 CET reads like the start (02:30 CEST) but is an hour later, in the
        # same UTC window as 02:00 CET: still refused, half an hour to wait.
        clock.move_to(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
        assert timezone.localtime().strftime("%H:%M %Z") == "02:30 CET"
        assert_throttled(client.get(URL, **headers), retry_after=1800)

        clock.move_to(datetime(2026, 10, 25, 2, 0, tzinfo=UTC))
        headers = bearer(client, api_client, secret)
        assert client.get(URL, **headers)["RateLimit-Remaining"] == "4"


@pytest.mark.django_db
def test_quota_resets_an_hour_later(client):
    set_limit("STANDARD", 2)
    api_client, secret = business_api_client()
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC), tick=False) as clock:
        headers = bearer(client, api_client, secret)
        assert [client.get(URL, **headers).status_code for _ in range(3)] == [200, 200, 429]
        clock.shift(3600)
        headers = bearer(client, api_client, secret)  # the first token has expired
        assert [client.get(URL, **headers).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.django_db
def test_tiers_use_their_own_admin_parameter(client):
    set_limit("STANDARD", 1)
    set_limit("ENTERPRISE", 3)
    standard, standard_secret = business_api_client(tier="STANDARD")
    enterprise, enterprise_secret = business_api_client(tier="ENTERPRISE")
    headers = bearer(client, standard, standard_secret)
    assert [client.get(URL, **headers).status_code for _ in range(2)] == [200, 429]
    headers = bearer(client, enterprise, enterprise_secret)
    assert [client.get(URL, **headers).status_code for _ in range(4)] == [200, 200, 200, 429]


@pytest.mark.django_db
@pytest.mark.parametrize(("tier", "limit"), [("STANDARD", "1000"), ("ENTERPRISE", "10000")])
def test_default_limits(client, tier, limit):
    api_client, secret = business_api_client(tier=tier)
    response = client.get(URL, **bearer(client, api_client, secret))
    assert response["RateLimit-Limit"] == limit
    assert response["RateLimit-Remaining"] == str(int(limit) - 1)


@pytest.mark.django_db
def test_two_clients_have_independent_counters(client):
    set_limit("STANDARD", 2)
    first, first_secret = business_api_client()
    second, second_secret = business_api_client(name="Other ERP")
    first_headers = bearer(client, first, first_secret)
    second_headers = bearer(client, second, second_secret)
    assert [client.get(URL, **first_headers).status_code for _ in range(3)] == [200, 200, 429]
    response = client.get(URL, **second_headers)
    assert response.status_code == 200
    assert response["RateLimit-Remaining"] == "1"


@pytest.mark.django_db
def test_two_tokens_of_one_client_share_its_counter(client):
    set_limit("STANDARD", 2)
    api_client, secret = business_api_client()
    assert client.get(URL, **bearer(client, api_client, secret)).status_code == 200
    assert client.get(URL, **bearer(client, api_client, secret)).status_code == 200
    assert client.get(URL, **bearer(client, api_client, secret)).status_code == 429


@pytest.mark.django_db
def test_session_requests_are_not_counted(make_user, login):
    set_limit("STANDARD", 1)
    user = make_user(Role.CUSTOMER)
    MembershipFactory(user=user, role=MemberRole.OWNER)
    http = login(user)
    for _ in range(5):
        response = http.get(URL)
        assert response.status_code == 200
        assert "RateLimit-Limit" not in response


@pytest.mark.django_db
def test_window_keys_expire_on_their_own(client, settings):
    api_client, secret = business_api_client()
    with time_machine.travel(datetime(2026, 5, 4, 12, 15, tzinfo=UTC), tick=False):
        client.get(URL, **bearer(client, api_client, secret))
    store = redis.Redis.from_url(settings.REDIS_URL)
    (key,) = store.scan_iter(f"{settings.API_RATE_LIMIT_KEY_PREFIX}:*")
    assert 0 < store.ttl(key) <= 45 * 60 + throttling.KEY_GRACE_SECONDS
    store.close()


@pytest.mark.django_db
def test_redis_outage_lets_requests_through(client, monkeypatch):
    api_client, secret = business_api_client()
    headers = bearer(client, api_client, secret)

    def down():
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(throttling, "_hit_script", down)
    response = client.get(URL, **headers)
    assert response.status_code == 200
    assert "RateLimit-Limit" not in response


def test_hit_is_atomic_under_threads():
    """The limiter alone: 16 threads race for 25 slots of one window."""
    results = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def worker():
        start.wait()
        for _ in range(10):
            state = throttling.rate_limit_hit(client_id=7, limit=25, now=1_800_000_000.0)
            with lock:
                results.append(state)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [s for s in results if s.allowed]
    assert len(accepted) == 25
    assert sorted(s.remaining for s in accepted) == list(range(25))
    assert len(results) == 160
    # 1_800_000_000 is a whole number of hours since the epoch: a full window ahead.
    assert {s.reset_seconds for s in results} == {3600}


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_against_a_live_server(live_server):
    """8 threads × 10 requests with one token and a quota of 20: exactly 20 get through."""
    set_limit("STANDARD", 20)
    api_client, secret = business_api_client()
    token = requests.post(
        f"{live_server.url}/o/token/",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic_auth(api_client, secret)},
        timeout=10,
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    statuses: Counter[int] = Counter()
    remaining: list[str] = []
    retry_after: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker():
        with requests.Session() as session:
            start.wait()
            for _ in range(10):
                response = session.get(f"{live_server.url}{URL}", headers=headers, timeout=30)
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        remaining.append(response.headers["RateLimit-Remaining"])
                    else:
                        retry_after.append(response.headers["Retry-After"])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == {200: 20, 429: 60}
    assert sorted(int(r) for r in remaining) == list(range(20))
    assert all(int(r) > 0 for r in retry_after)
