"""The agent finds a customer by each kind of key, and the 360° page stays cheap."""

import pytest
from django.utils import timezone

from accounts import identifiers, services
from accounts.models import Role

from .factories import MembershipFactory, PremiseFactory, UserFactory

MPAN_BODY = "123456789012"
MPAN = MPAN_BODY + identifiers.mpan_check_digit(MPAN_BODY)


@pytest.fixture
def target(db):
    now = timezone.now()
    user = UserFactory(
        email="josephine.baker@example.fr",
        first_name="Joséphine",
        last_name="Baker",
        phone="+33612345678",
    )
    account = MembershipFactory(user=user, account__name="Joséphine Baker").account
    services.account_contact_update(
        account=account, actor=None, channel="SYSTEM", now=now, phone="06 12 34 56 78"
    )
    account.refresh_from_db()
    assert account.phone == "+33612345678"  # stored normalised
    premise = PremiseFactory(account=account, postcode="46300", city="Castelnaud")
    services.supply_point_add(
        premise=premise,
        market="FR_PRM",
        identifier="09876543210987",
        subscribed_kva="9",
        actor=None,
        channel="SYSTEM",
        now=now,
    )
    services.supply_point_add(
        premise=premise,
        market="GB_MPAN",
        identifier=MPAN,
        subscribed_kva="40",
        actor=None,
        channel="SYSTEM",
        now=now,
    )
    services.supply_point_add(
        premise=premise,
        market="EIC",
        identifier="22XWATTPLUS----G",
        subscribed_kva="400",
        actor=None,
        channel="SYSTEM",
        now=now,
    )
    # Decoys that share parts of each key.
    for i in range(15):
        decoy = MembershipFactory(account__name=f"Client Témoin {i}").account
        PremiseFactory(account=decoy, postcode=f"7500{i % 10}")
    return account


@pytest.mark.parametrize(
    "query",
    [
        "Joséphine Baker",
        "josephine baker",  # no accent
        "Bakre",  # a typo, caught by trigram similarity
        "BAKER",
        "09876543210987",  # PRM
        "0987 6543 2109 87",
        MPAN,  # MPAN core
        f"S 01 801 100 {MPAN}",  # full MPAN written with its top line
        "22XWATTPLUS----G",  # EIC
        "josephine.baker@example.fr",
        "baker@example",
        "+33 6 12 34 56 78",
        "06 12 34 56 78",
        "46300",  # postcode
    ],
)
def test_search_finds_the_customer_by_each_key(client, target, make_user, login, query):
    login(make_user(Role.AGENT))
    response = client.get("/console/", {"q": query})
    assert response.status_code == 200
    numbers = [a.number for a in response.context["results"]]
    assert target.number in numbers, query
    assert len(numbers) <= 3, numbers


def test_search_by_account_number(client, target, make_user, login):
    login(make_user(Role.AGENT))
    response = client.get("/console/", {"q": target.number})
    assert [a.number for a in response.context["results"]] == [target.number]


def test_search_needs_two_characters(client, target, make_user, login):
    login(make_user(Role.AGENT))
    response = client.get("/console/", {"q": "b"})
    assert "q" in response.context["form"].errors
    assert response.context["results"] is None


def test_customer_page_has_constant_queries(
    client, target, make_user, login, django_assert_max_num_queries
):
    login(make_user(Role.AGENT))
    url = f"/console/customers/{target.number}/"
    with django_assert_max_num_queries(20):
        small = client.get(url)
    now = timezone.now()
    for i in range(15):
        premise = PremiseFactory(account=target)
        services.supply_point_add(
            premise=premise,
            market="FR_PRM",
            identifier=f"{i:014d}",
            subscribed_kva="6",
            actor=None,
            channel="SYSTEM",
            now=now,
        )
        services.account_contact_update(
            account=target, actor=None, channel="CONSOLE", now=now, phone=f"+3360000{i:04d}"
        )
        MembershipFactory(account=target)
    with django_assert_max_num_queries(20):
        large = client.get(url)
    assert small.status_code == large.status_code == 200
    assert large.content.decode().count("<code>") >= 18


def test_search_results_have_constant_queries(
    client, target, make_user, login, django_assert_max_num_queries
):
    login(make_user(Role.AGENT))
    with django_assert_max_num_queries(14):
        response = client.get("/console/", {"q": "Client"})
    assert len(response.context["results"]) == 15


def test_priority_flag_shows_in_console(client, target, make_user, login):
    agent = make_user(Role.AGENT)
    services.priority_registration_set(
        account=target,
        actor=agent,
        channel="CONSOLE",
        now=timezone.now(),
        medical_equipment=True,
        dependency_level="CRITICAL",
        backup_autonomy_hours=4,
        review_date=timezone.localdate(),
    )
    login(agent)
    search = client.get("/console/", {"q": "46300"}).content.decode()
    assert "Prioritaire" in search
    page = client.get(f"/console/customers/{target.number}/").content.decode()
    assert 'data-testid="priority-flag"' in page and "autonomie 4 h" in page


def test_agent_records_priority_register_only_with_consent(client, target, make_user, login):
    from django_otp import DEVICE_ID_SESSION_KEY  # noqa: F401

    from accounts.access import STEP_UP_SESSION_KEY

    agent = make_user(Role.AGENT)
    login(agent)
    session = client.session
    session[STEP_UP_SESSION_KEY] = timezone.now().isoformat()
    session.save()
    url = f"/console/customers/{target.number}/priority-register/"
    data = {"age_over_75": "on", "dependency_level": "NONE", "review_date": "2027-06-01"}
    refused = client.post(url, data)
    assert refused.status_code == 400
    assert "customer_consent" in refused.context["consent"].errors
    assert not hasattr(type(target).objects.get(pk=target.pk), "priority_registration_cache")
    accepted = client.post(url, {**data, "customer_consent": "on"})
    assert accepted.status_code == 302
    target.refresh_from_db()
    assert target.priority_registration.age_over_75
