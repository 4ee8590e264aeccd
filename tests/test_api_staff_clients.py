"""Staff API clients: OAuth2 client credentials for the contact centre's own BI tools.

A staff client has no customer account, is owned by a supervisor or admin, is created by
an admin (service, management command) and may only hold staff scopes (`kpi:read`), which
no business client can ever get. Its token reads the KPI endpoints like a supervisor's
session does, and stops working when it is revoked or its owner loses the role.
"""

import re
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from accounts import access, services
from accounts.forms import ApiClientForm
from accounts.models import (
    STAFF_CLIENT_OWNER_ROLES,
    ApiClient,
    ApiClientKind,
    AuditEntry,
    Parameter,
    Role,
)
from kpi.models import KpiAlert
from kpi.services import snapshots as builder
from tickets.models import Contact

from .test_api_b2b import (  # noqa: F401 (_ratelimit_keys is an autouse fixture)
    _ratelimit_keys,
    assert_error,
    bearer,
    business_api_client,
    request_token,
)
from .test_kpi_snapshots import AUTUMN, NOW, ORDINARY, local

FIGURES = "/api/v1/kpi/figures"
TARGETS = "/api/v1/kpi/targets"
ALERTS = "/api/v1/kpi/alerts"
STAFFING = "/api/v1/kpi/staffing"
STAFFING_QUERY = {
    "contacts": "100",
    "interval_minutes": "30",
    "aht_seconds": "180",
    "target_service_level": "0.8",
    "target_answer_seconds": "20",
    "shrinkage": "0.3",
}
ENDPOINTS = [
    (FIGURES, {"grain": "DAY", "from": ORDINARY.isoformat(), "to": ORDINARY.isoformat()}),
    (TARGETS, {}),
    (ALERTS, {}),
    (STAFFING, STAFFING_QUERY),
]
IDS = ["figures", "targets", "alerts", "staffing"]


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def staff_client(make_user, *, owner_role=Role.SUPERVISOR, scopes=("kpi:read",), name="BI"):
    """A staff client created by an admin for an owner; returns (client, plain secret)."""
    admin = make_user(Role.ADMIN)
    owner = admin if owner_role == Role.ADMIN else make_user(owner_role)
    return services.api_client_create_staff(
        owner=owner, name=name, scopes=list(scopes), actor=admin, now=timezone.now()
    )


def some_kpi_data() -> None:
    """A built DAY row on an ordinary day and on the 25-hour autumn day, and an alert."""
    for day in (ORDINARY, AUTUMN):
        offered = local(day, "02:30")
        Contact.objects.create(
            channel="PHONE",
            queue="BILLING",
            offered_at=offered,
            answered_at=offered + timedelta(seconds=12),
            ended_at=offered + timedelta(seconds=312),
            wrap_up_ended_at=offered + timedelta(seconds=312),
            talk_seconds=300,
        )
        builder.snapshot_day_build(day=day, now=NOW)
    KpiAlert.objects.create(
        metric="ASA",
        scope="BILLING",
        raised_at=NOW - timedelta(minutes=5),
        value_at_raise=41.5,
        threshold=25.0,
    )


# --- Reading the KPI ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "query"), ENDPOINTS, ids=IDS)
def test_a_staff_client_reads_what_a_supervisor_session_reads(
    frozen, client, make_user, login, path, query
):
    some_kpi_data()
    api_client, secret = staff_client(make_user)
    machine = Client()
    token = request_token(machine, api_client, secret)
    assert token.status_code == 200, token.content
    assert token.json()["scope"] == "kpi:read"

    response = machine.get(path, query, HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}")

    assert response.status_code == 200, response.content
    expected = login(make_user(Role.SUPERVISOR, totp=True)).get(path, query)
    assert expected.status_code == 200
    assert response.json() == expected.json()
    assert response.json()  # never a vacuous comparison


@pytest.mark.django_db
def test_the_autumn_day_reaches_a_staff_client_with_its_25_hours(frozen, make_user):
    some_kpi_data()
    api_client, secret = staff_client(make_user)
    machine = Client()
    day = {"grain": "DAY", "from": AUTUMN.isoformat(), "to": AUTUMN.isoformat()}
    response = machine.get(
        FIGURES, {**day, "dimension": "OVERALL"}, **bearer(machine, api_client, secret)
    )
    (row,) = response.json()["results"]
    assert (row["period_start"], row["period_end"]) == (
        "2026-10-25T00:00:00+02:00",
        "2026-10-26T00:00:00+01:00",
    )
    assert (row["offered"], row["answered"], row["asa_seconds"]) == (1, 1, 12.0)


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "query"), ENDPOINTS, ids=IDS)
def test_a_staff_client_without_kpi_read_is_refused(settings, client, make_user, path, query):
    # Staff scopes are only kpi:read today; a second one shows that holding *a* staff
    # scope is not enough.
    settings.STAFF_API_SCOPES = {**settings.STAFF_API_SCOPES, "wallboard:read": "Wallboard"}
    api_client, secret = staff_client(make_user, scopes=["wallboard:read"])
    response = client.get(path, query, **bearer(client, api_client, secret))
    assert_error(response, 403, "insufficient_scope")


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "query"), ENDPOINTS, ids=IDS)
def test_business_clients_are_refused_even_with_every_business_scope(settings, client, path, query):
    api_client, secret = business_api_client(scopes=list(settings.API_SCOPES))
    assert_error(
        client.get(path, query, **bearer(client, api_client, secret)), 403, "permission_denied"
    )


@pytest.mark.django_db
def test_a_revoked_staff_client_gets_no_token_and_its_tokens_stop_working(client, make_user):
    api_client, secret = staff_client(make_user)
    headers = bearer(client, api_client, secret)
    assert client.get(TARGETS, **headers).status_code == 200
    admin = make_user(Role.ADMIN)

    services.api_client_revoke(client=api_client, actor=admin, now=timezone.now())

    assert_error(client.get(TARGETS, **headers), 401, "not_authenticated")
    response = request_token(client, api_client, secret)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not AccessToken.objects.filter(application=api_client.application).exists()
    entry = AuditEntry.objects.get(object_type="apiclient", field="revoked_at")
    assert (entry.account, entry.actor, entry.channel) == (None, admin, "ADMIN")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [{"role": Role.AGENT}, {"role": Role.CUSTOMER}, {"is_active": False}],
    ids=["demoted-to-agent", "demoted-to-customer", "deactivated"],
)
def test_a_client_stops_working_when_its_owner_loses_the_role(client, make_user, change):
    api_client, secret = staff_client(make_user)
    headers = bearer(client, api_client, secret)
    assert client.get(TARGETS, **headers).status_code == 200
    owner = api_client.owner

    type(owner).objects.filter(pk=owner.pk).update(**change)

    response = client.get(TARGETS, **headers)
    assert_error(response, 401, "not_authenticated")
    assert "invalid_token" in response["WWW-Authenticate"]
    assert request_token(client, api_client, secret).json()["error"] == "invalid_client"

    # Checked at each request, not a one-off: reinstated, the owner's client works again.
    type(owner).objects.filter(pk=owner.pk).update(role=Role.SUPERVISOR, is_active=True)
    assert client.get(TARGETS, **bearer(client, api_client, secret)).status_code == 200


@pytest.mark.django_db
def test_an_admin_may_own_a_staff_client(client, make_user):
    api_client, secret = staff_client(make_user, owner_role=Role.ADMIN)
    assert client.get(TARGETS, **bearer(client, api_client, secret)).status_code == 200


def test_owners_are_the_supervisor_shell_roles():
    assert STAFF_CLIENT_OWNER_ROLES == access.SUPERVISOR_ROLES


# --- A staff client is never a business client ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/accounts/me", {}),
        ("/api/v1/accounts/me", {"account": "0000000000"}),
        ("/api/v1/supply-points/", {}),
        ("/api/v1/invoices/", {}),
        ("/api/v1/users/me", {}),
    ],
)
def test_a_staff_token_opens_no_business_endpoint(client, make_user, path, query):
    api_client, secret = staff_client(make_user)
    assert_error(
        client.get(path, query, **bearer(client, api_client, secret)), 403, "permission_denied"
    )


@pytest.mark.django_db
def test_a_staff_client_may_not_ask_for_a_business_scope(client, make_user):
    api_client, secret = staff_client(make_user)
    response = request_token(client, api_client, secret, scope="kpi:read invoices:read")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


@pytest.mark.django_db
def test_staff_clients_are_counted_on_the_enterprise_tier(client, make_user):
    Parameter.objects.update_or_create(key="api_rate_per_hour_enterprise", defaults={"value": 2})
    Parameter.objects.update_or_create(key="api_rate_per_hour_standard", defaults={"value": 1})
    api_client, secret = staff_client(make_user)
    headers = bearer(client, api_client, secret)
    responses = [client.get(TARGETS, **headers) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    # Every counted answer tells the client where it stands.
    assert [r["RateLimit-Remaining"] for r in responses[:2]] == ["1", "0"]
    response = client.get(TARGETS, **headers)
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "throttled"


# --- Creating one ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_staff_client(make_user):
    admin, owner = make_user(Role.ADMIN), make_user(Role.SUPERVISOR)
    now = timezone.now()
    api_client, secret = services.api_client_create_staff(
        owner=owner, name="  Power BI ", scopes=["kpi:read"], actor=admin, now=now
    )
    api_client.refresh_from_db()
    assert (api_client.kind, api_client.account, api_client.owner) == ("STAFF", None, owner)
    assert (api_client.name, api_client.scopes, api_client.tier) == (
        "Power BI",
        "kpi:read",
        "ENTERPRISE",
    )
    assert (api_client.created_by, api_client.created_at) == (admin, now)
    application = api_client.application
    assert application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS
    assert secret and secret not in application.client_secret
    (entry,) = AuditEntry.objects.filter(object_type="apiclient", object_id=str(api_client.pk))
    assert (entry.account, entry.actor, entry.channel) == (None, admin, "ADMIN")
    assert entry.new_value == f"Power BI [kpi:read] ENTERPRISE owner={owner.email}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor_role", "actor_active", "owner_role", "owner_active", "scopes", "name"),
    [
        (Role.SUPERVISOR, True, Role.SUPERVISOR, True, ["kpi:read"], "BI"),
        (Role.AGENT, True, Role.SUPERVISOR, True, ["kpi:read"], "BI"),
        (Role.ADMIN, False, Role.SUPERVISOR, True, ["kpi:read"], "BI"),
        (Role.ADMIN, True, Role.AGENT, True, ["kpi:read"], "BI"),
        (Role.ADMIN, True, Role.CUSTOMER, True, ["kpi:read"], "BI"),
        (Role.ADMIN, True, Role.SUPERVISOR, False, ["kpi:read"], "BI"),
        (Role.ADMIN, True, Role.SUPERVISOR, True, ["invoices:read"], "BI"),
        (Role.ADMIN, True, Role.SUPERVISOR, True, ["kpi:read", "invoices:read"], "BI"),
        (Role.ADMIN, True, Role.SUPERVISOR, True, ["kpi:write"], "BI"),
        (Role.ADMIN, True, Role.SUPERVISOR, True, [], "BI"),
        (Role.ADMIN, True, Role.SUPERVISOR, True, ["kpi:read"], "   "),
        (Role.ADMIN, True, Role.SUPERVISOR, True, ["kpi:read"], "x" * 101),
    ],
    ids=[
        "supervisor-actor",
        "agent-actor",
        "inactive-admin-actor",
        "agent-owner",
        "customer-owner",
        "inactive-owner",
        "business-scope",
        "mixed-scopes",
        "unknown-scope",
        "no-scope",
        "blank-name",
        "long-name",
    ],
)
def test_create_staff_client_refusals_write_nothing(
    make_user, actor_role, actor_active, owner_role, owner_active, scopes, name
):
    actor = make_user(actor_role, is_active=actor_active)
    owner = make_user(owner_role, is_active=owner_active)
    with pytest.raises(services.ApiClientRefused):
        services.api_client_create_staff(
            owner=owner, name=name, scopes=scopes, actor=actor, now=timezone.now()
        )
    assert not ApiClient.objects.exists()
    assert not Application.objects.exists()
    assert not AuditEntry.objects.filter(object_type="apiclient").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("scopes", [["kpi:read"], ["invoices:read", "kpi:read"]])
def test_no_business_client_can_be_granted_kpi_read(scopes):
    with pytest.raises(services.ApiClientRefused, match="kpi:read"):
        business_api_client(scopes=scopes)
    assert not ApiClient.objects.exists()
    assert not Application.objects.exists()


def test_the_portal_form_neither_offers_nor_accepts_kpi_read(settings):
    offered = {value for value, _label in ApiClientForm().fields["scopes"].choices}
    assert offered == set(settings.API_SCOPES)
    assert not offered & set(settings.STAFF_API_SCOPES)
    form = ApiClientForm(
        data={"name": "ERP", "scopes": ["invoices:read", "kpi:read"], "tier": "STANDARD"}
    )
    assert not form.is_valid()
    assert list(form.errors) == ["scopes"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "with_account", "with_owner"),
    [
        (ApiClientKind.STAFF, True, True),
        (ApiClientKind.STAFF, False, False),
        (ApiClientKind.BUSINESS, False, False),
        (ApiClientKind.BUSINESS, True, True),
        (ApiClientKind.BUSINESS, False, True),
    ],
    ids=[
        "staff-with-account",
        "staff-without-owner",
        "business-without-account",
        "business-with-owner",
        "business-owner-only",
    ],
)
def test_the_database_refuses_a_client_whose_holder_does_not_match_its_kind(
    make_user, kind, with_account, with_owner
):
    business, _ = business_api_client()
    supervisor = make_user(Role.SUPERVISOR)
    application = Application.objects.create(
        name="raw",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    with pytest.raises(IntegrityError, match="api_client_kind_holder"), transaction.atomic():
        ApiClient.objects.create(
            kind=kind,
            account=business.account if with_account else None,
            owner=supervisor if with_owner else None,
            application=application,
            name="raw",
            scopes="kpi:read",
            created_at=timezone.now(),
        )


# --- The management command ------------------------------------------------------------------


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("api_client_staff_create", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_command_prints_a_secret_that_gets_a_working_token(client, make_user):
    admin = make_user(Role.ADMIN, email="chef@powernext.fr")
    make_user(Role.SUPERVISOR, email="sup@powernext.fr")

    output = run_command(
        "--owner", "SUP@powernext.fr", "--name", "Power BI", "--actor", admin.email
    )

    client_id = re.search(r"^client_id: (\S+)$", output, re.M).group(1)
    secret = re.search(r"^client_secret: (\S+)$", output, re.M).group(1)
    api_client = ApiClient.objects.get(application__client_id=client_id)
    assert (api_client.kind, api_client.owner.email, api_client.scopes) == (
        "STAFF",
        "sup@powernext.fr",
        "kpi:read",
    )
    assert secret not in api_client.application.client_secret
    assert client.get(TARGETS, **bearer(client, api_client, secret)).status_code == 200


@pytest.mark.django_db
def test_the_command_defaults_the_actor_to_an_admin_owner(make_user):
    make_user(Role.ADMIN, email="chef@powernext.fr")
    assert "client_secret: " in run_command("--owner", "chef@powernext.fr", "--name", "BI")
    assert ApiClient.objects.get().created_by.email == "chef@powernext.fr"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--owner", "nobody@powernext.fr", "--name", "BI"], "--owner"),
        (["--owner", "sup@powernext.fr", "--name", "BI"], "administrator"),
        (["--owner", "sup@powernext.fr", "--name", "BI", "--actor", "x@powernext.fr"], "--actor"),
        (
            ["--owner", "agent@powernext.fr", "--name", "BI", "--actor", "chef@powernext.fr"],
            "owner",
        ),
    ],
    ids=["unknown-owner", "supervisor-runs-it-alone", "unknown-actor", "agent-owner"],
)
def test_the_command_refuses(make_user, args, message):
    make_user(Role.ADMIN, email="chef@powernext.fr")
    make_user(Role.SUPERVISOR, email="sup@powernext.fr")
    make_user(Role.AGENT, email="agent@powernext.fr")
    with pytest.raises(CommandError, match=message):
        run_command(*args)
    assert not ApiClient.objects.exists()


# --- The admin -----------------------------------------------------------------------------


@pytest.fixture
def admin_site(make_user, login):
    return login(make_user(Role.ADMIN, is_staff=True, is_superuser=True))


@pytest.mark.django_db
def test_the_admin_lists_staff_clients_but_does_not_create_any(admin_site, make_user):
    staff_client(make_user, name="Tableau")
    business_api_client(name="Logiciel ERP")
    page = admin_site.get("/admin/accounts/apiclient/", {"kind__exact": "STAFF"})
    assert page.status_code == 200
    assert "Tableau" in page.content.decode()
    assert "Logiciel ERP" not in page.content.decode()
    assert admin_site.get("/admin/accounts/apiclient/add/").status_code == 403


@pytest.mark.django_db
def test_the_admin_cannot_change_kind_owner_or_scopes(admin_site, make_user):
    api_client, _ = staff_client(make_user)
    form = (
        admin_site.get(f"/admin/accounts/apiclient/{api_client.pk}/change/")
        .context["adminform"]
        .form
    )
    assert set(form.fields) == {"name", "tier"}


@pytest.mark.django_db
def test_an_admin_change_of_tier_is_audited(admin_site, make_user):
    api_client, _ = staff_client(make_user)
    response = admin_site.post(
        f"/admin/accounts/apiclient/{api_client.pk}/change/", {"name": "BI", "tier": "STANDARD"}
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(object_id=str(api_client.pk), field="tier")
    assert (entry.old_value, entry.new_value, entry.channel) == ("ENTERPRISE", "STANDARD", "ADMIN")


@pytest.mark.django_db
def test_the_admin_revokes_through_the_service(admin_site, make_user):
    api_client, secret = staff_client(make_user)
    machine = Client()
    headers = bearer(machine, api_client, secret)
    response = admin_site.post(
        "/admin/accounts/apiclient/",
        {"action": "revoke", "_selected_action": [str(api_client.pk)]},
    )
    assert response.status_code == 302
    api_client.refresh_from_db()
    assert api_client.revoked_at is not None
    assert not AccessToken.objects.filter(application=api_client.application).exists()
    assert AuditEntry.objects.filter(field="revoked_at", channel="ADMIN").count() == 1
    assert_error(machine.get(TARGETS, **headers), 401, "not_authenticated")


# --- OpenAPI -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schema_lists_kpi_read_on_the_kpi_endpoints_only(client, make_user, login):
    login(make_user(Role.CUSTOMER))
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    flows = schema["components"]["securitySchemes"]["oauth2"]["flows"]
    assert "kpi:read" in flows["clientCredentials"]["scopes"]
    for path in (FIGURES, TARGETS, ALERTS, STAFFING):
        assert {"oauth2": ["kpi:read"]} in schema["paths"][path]["get"]["security"], path
    assert {"oauth2": []} in schema["paths"]["/api/v1/accounts/me"]["get"]["security"]
