"""Who may read and change what: anonymous, two customers, business roles, an agent.

A foreign object is always a 404, never data; a role that may not act gets 403.
"""

import zipfile

import pytest
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from accounts import services
from accounts.access import STEP_UP_SESSION_KEY
from accounts.models import AccountType, ApiClient, AuditEntry, DataExport, MemberRole, Role

from .factories import MembershipFactory, PremiseFactory, UserFactory, add_totp

ACTORS = ["anonymous", "customer_a", "customer_b", "viewer", "billing", "admin", "agent"]


@pytest.fixture
def world(db, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    now = timezone.now()
    people = {}
    a = MembershipFactory(user__email="a@example.fr", account__name="Alice Home").account
    PremiseFactory(account=a, address="1 rue Alice")
    b = MembershipFactory(user__email="b@example.fr", account__name="Bob Home").account
    premise_b = PremiseFactory(account=b, address="2 rue Bob")
    services.supply_point_add(
        premise=premise_b,
        market="FR_PRM",
        identifier="30001234567890",
        subscribed_kva="9",
        actor=None,
        channel="SYSTEM",
        now=now,
    )
    biz = MembershipFactory(
        user__email="owner@biz.example",
        role=MemberRole.OWNER,
        account__type=AccountType.BUSINESS,
        account__name="Biz SAS",
    ).account
    PremiseFactory(account=biz, address="3 rue Biz")
    for role in ["VIEWER", "BILLING", "ADMIN"]:
        MembershipFactory(account=biz, user__email=f"{role.lower()}@biz.example", role=role)
    people["customer_a"] = a.memberships.get().user
    people["customer_b"] = b.memberships.get().user
    for role in ["viewer", "billing", "admin"]:
        people[role] = biz.memberships.get(user__email=f"{role}@biz.example").user
    people["agent"] = UserFactory(role=Role.AGENT, email="agent@powernext.example")
    owner = biz.memberships.get(role="OWNER").user
    client_b, _ = services.api_client_create(
        account=biz,
        name="ERP-Connector-7",
        scopes=["invoices:read"],
        tier="STANDARD",
        actor=owner,
        now=now,
    )
    export_b = DataExport.objects.create(
        account=b,
        requested_by=people["customer_b"],
        requested_at=now,
        expires_at=now + timezone.timedelta(days=7),
    )
    services.data_export_build(export_id=export_b.pk, now=now)
    services.account_contact_update(
        account=b, actor=people["customer_b"], channel="PORTAL", now=now, phone="+33600000002"
    )
    return {
        "a": a,
        "b": b,
        "biz": biz,
        "people": people,
        "api_client": client_b,
        "export_b": export_b,
    }


def act_as(client, world, actor, *, step_up=False):
    if actor == "anonymous":
        return client
    user = world["people"][actor]
    client.force_login(user)
    if actor == "agent" or step_up:
        device = user.totpdevice_set.first() or add_totp(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session[STEP_UP_SESSION_KEY] = timezone.now().isoformat()
        session.save()
    return client


def code(response):
    if response.status_code == 302:
        return "login" if "/accounts/login/" in response["Location"] else "redirect"
    return response.status_code


# --- Reads -------------------------------------------------------------------

PORTAL_HOME = {
    "anonymous": "login",
    "customer_a": 200,
    "customer_b": 200,
    "viewer": 200,
    "billing": 200,
    "admin": 200,
    "agent": 403,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_account_and_premises_are_only_the_members_own(client, world, actor):
    response = act_as(client, world, actor).get("/portal/")
    assert code(response) == PORTAL_HOME[actor]
    if response.status_code == 200:
        page = response.content.decode()
        own = {"customer_a": "1 rue Alice", "customer_b": "2 rue Bob"}.get(actor, "3 rue Biz")
        assert own in page
        for other in {"1 rue Alice", "2 rue Bob", "3 rue Biz"} - {own}:
            assert other not in page


CONSOLE_CUSTOMER = {
    "anonymous": "login",
    "customer_a": 403,
    "customer_b": 403,
    "viewer": 403,
    "billing": 403,
    "admin": 403,
    "agent": 200,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_supply_points_and_audit_trail_are_for_agents(client, world, actor):
    response = act_as(client, world, actor).get(f"/console/customers/{world['b'].number}/")
    assert code(response) == CONSOLE_CUSTOMER[actor]
    if response.status_code == 200:
        page = response.content.decode()
        assert "30001234567890" in page  # the supply point
        assert "+33600000002" in page  # the audit entry's new value


def test_unknown_account_in_console_is_404(client, world):
    assert act_as(client, world, "agent").get("/console/customers/0000000000/").status_code == 404


EXPORT_DOWNLOAD = {
    "anonymous": "login",
    "customer_a": 404,
    "customer_b": 200,
    "viewer": 404,
    "billing": 404,
    "admin": 404,
    "agent": 403,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_export_download(client, world, actor):
    response = act_as(client, world, actor).get(f"/portal/privacy/exports/{world['export_b'].pk}/")
    assert code(response) == EXPORT_DOWNLOAD[actor]


API_CLIENTS = {
    "anonymous": "login",
    "customer_a": 403,
    "customer_b": 403,
    "viewer": 403,
    "billing": 403,
    "admin": 200,
    "agent": 403,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_api_client_list(client, world, actor):
    response = act_as(client, world, actor).get("/portal/api-clients/")
    assert code(response) == API_CLIENTS[actor]
    if response.status_code == 200:
        shown = "ERP-Connector-7" in response.content.decode()
        assert shown is (actor == "admin")


# --- Changes -------------------------------------------------------------------

PROFILE_CHANGE = {
    "anonymous": "login",
    "customer_a": "redirect",
    "customer_b": "redirect",
    "viewer": 403,
    "billing": 403,
    "admin": "redirect",
    "agent": 403,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_contact_preferences_change(client, world, actor):
    data = {
        "language": "en",
        "billing_address": "9 rue Neuve",
        "notify_billing": "POST",
        "notify_outages": "SMS",
        "notify_tickets": "EMAIL",
    }
    response = act_as(client, world, actor).post("/portal/profile/", data)
    assert code(response) == PROFILE_CHANGE[actor]


API_CLIENT_REVOKE = {
    "anonymous": "login",
    "customer_a": 404,
    "customer_b": 404,
    "viewer": 403,
    "billing": 403,
    "admin": "redirect",
    "agent": 403,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_api_client_revoke(client, world, actor):
    response = act_as(client, world, actor).post(
        f"/portal/api-clients/{world['api_client'].pk}/revoke/"
    )
    assert code(response) == API_CLIENT_REVOKE[actor]
    revoked = ApiClient.objects.get(pk=world["api_client"].pk).revoked_at is not None
    assert revoked is (actor == "admin")


MEMBER_REMOVE = {
    "anonymous": "login",
    "customer_a": 404,
    "customer_b": 404,
    "viewer": 403,
    "billing": 403,
    "admin": "redirect",
    "agent": 403,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_business_user_removal(client, world, actor):
    target = world["biz"].memberships.get(role="VIEWER")
    response = act_as(client, world, actor, step_up=True).post(f"/portal/users/{target.pk}/remove/")
    assert code(response) == MEMBER_REMOVE[actor]
    removed = not world["biz"].memberships.filter(pk=target.pk).exists()
    assert removed is (actor == "admin")


def test_switching_to_a_foreign_account_is_404(client, world):
    act_as(client, world, "customer_a")
    assert client.post(f"/portal/switch/{world['b'].number}/").status_code == 404


def test_member_of_two_accounts_switches(client, world):
    alice = world["people"]["customer_a"]
    MembershipFactory(account=world["biz"], user=alice, role=MemberRole.VIEWER)
    act_as(client, world, "customer_a")
    client.post(f"/portal/switch/{world['a'].number}/")
    assert "1 rue Alice" in client.get("/portal/").content.decode()
    client.post(f"/portal/switch/{world['biz'].number}/")
    page = client.get("/portal/").content.decode()
    assert "3 rue Biz" in page and "1 rue Alice" not in page
    # As a VIEWER of the business, Alice cannot edit it.
    assert client.post("/portal/profile/", {}).status_code == 403


def test_audit_entries_cannot_be_edited(world):
    entry = AuditEntry.objects.first()
    entry.new_value = "tampered"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


# --- GDPR --------------------------------------------------------------------


def test_export_contains_own_data_and_nobody_elses(world):
    export = DataExport.objects.get(pk=world["export_b"].pk)
    with zipfile.ZipFile(export.file.path) as archive:
        names = set(archive.namelist())
        assert names == {"account.json", "premises.csv", "audit.csv", "documents.csv"}
        blob = "".join(archive.read(n).decode() for n in names)
    assert "b@example.fr" in blob and "2 rue Bob" in blob and "30001234567890" in blob
    for foreign in ["a@example.fr", "1 rue Alice", "owner@biz.example", "3 rue Biz", "Alice"]:
        assert foreign not in blob


def test_export_request_runs_the_task_and_mails(client, world, settings, mailoutbox):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from powernext.celery import app

    app.conf.task_always_eager = True
    try:
        act_as(client, world, "customer_a")
        with pytest.MonkeyPatch.context():
            from django.test import TestCase

            with TestCase.captureOnCommitCallbacks(execute=True):
                client.post("/portal/privacy/", {"action": "export"})
    finally:
        app.conf.task_always_eager = False
    export = DataExport.objects.get(account=world["a"])
    assert export.status == "READY"
    assert [m.to for m in mailoutbox] == [["a@example.fr"]]
    assert client.get(f"/portal/privacy/exports/{export.pk}/").status_code == 200


def test_erasure_is_refused_while_a_blocker_reports(world):
    from accounts import hooks

    def open_balance(account):
        return "Un solde de 42,00 € reste dû." if account.number == world["b"].number else None

    hooks.register_erasure_blocker(open_balance)
    try:
        request = services.erasure_request_open(
            account=world["b"], user=world["people"]["customer_b"], now=timezone.now()
        )
        done = services.erasure_process(
            request_id=request.pk, agent=world["people"]["agent"], now=timezone.now()
        )
    finally:
        hooks.erasure_blockers.remove(open_balance)
    assert done.status == "REFUSED" and "42,00" in done.outcome
    world["b"].refresh_from_db()
    assert world["b"].name == "Bob Home"


def test_erasure_anonymises_but_keeps_what_the_law_needs(world):
    b = world["b"]
    user = world["people"]["customer_b"]
    request = services.erasure_request_open(account=b, user=user, now=timezone.now())
    done = services.erasure_process(
        request_id=request.pk, agent=world["people"]["agent"], now=timezone.now()
    )
    assert done.status == "DONE"
    b.refresh_from_db()
    user.refresh_from_db()
    assert b.name == "Client anonymisé" and b.phone == "" and b.status == "ANONYMISED"
    assert b.number  # the account, its supply points and (later) invoices stay
    assert b.premises.get().address == "" and b.premises.get().postcode
    assert b.premises.get().supply_points.count() == 1
    assert (
        user.email.startswith("erased-") and not user.is_active and not user.has_usable_password()
    )
    assert not DataExport.objects.filter(account=b).exists()
    values = set(AuditEntry.objects.filter(account=b).values_list("new_value", flat=True))
    assert "+33600000002" not in values
    with pytest.raises(services.ErasureRefused):
        services.erasure_process(
            request_id=request.pk, agent=world["people"]["agent"], now=timezone.now()
        )
