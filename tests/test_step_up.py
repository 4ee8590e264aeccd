"""Sensitive changes need a TOTP check within the last 10 minutes (configurable)."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from accounts.access import STEP_UP_SESSION_KEY
from accounts.models import (
    AccountMembership,
    AccountType,
    ApiClient,
    AuditEntry,
    BankDetails,
    MemberRole,
    Parameter,
    PriorityRegistration,
    Role,
    User,
)

from .factories import MembershipFactory, add_totp, totp_now

IBAN = "FR7630006000011234567890189"


@pytest.fixture
def owner(make_user):
    user = make_user(Role.CUSTOMER, email="owner@biz.example")
    MembershipFactory(user=user, role=MemberRole.OWNER, account__type=AccountType.BUSINESS)
    add_totp(user)
    return user


def sign_in(client, user, *, step_up_at=None):
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = user.totpdevice_set.get().persistent_id
    if step_up_at is not None:
        session[STEP_UP_SESSION_KEY] = step_up_at.isoformat()
    session.save()


# (name, url, POST data, check that the change happened)
SENSITIVE = [
    (
        "email",
        "/portal/profile/email/",
        {"email": "new.owner@biz.example"},
        lambda u: User.objects.filter(email="new.owner@biz.example").exists(),
    ),
    (
        "phone",
        "/portal/profile/phone/",
        {"phone": "+33 6 98 76 54 32"},
        lambda u: u.accounts.get().phone == "+33698765432",
    ),
    (
        "bank",
        "/portal/profile/bank/",
        {"holder_name": "Biz SARL", "iban": IBAN},
        lambda u: BankDetails.objects.filter(iban=IBAN).exists(),
    ),
    (
        "priority",
        "/portal/priority-register/",
        {
            "medical_equipment": "on",
            "dependency_level": "HIGH",
            "backup_autonomy_hours": "6",
            "review_date": "2027-03-28",
            "consent_field_sharing": "on",
        },
        lambda u: PriorityRegistration.objects.filter(dependency_level="HIGH").exists(),
    ),
    (
        "add user",
        "/portal/users/add/",
        {"email": "clerk@biz.example", "role": "BILLING"},
        lambda u: AccountMembership.objects.filter(user__email="clerk@biz.example").exists(),
    ),
    (
        "api client",
        "/portal/api-clients/new/",
        {"name": "ERP", "scopes": ["invoices:read"], "tier": "STANDARD"},
        lambda u: ApiClient.objects.filter(name="ERP").exists(),
    ),
]


@pytest.mark.parametrize(
    ("name", "url", "data", "changed"), SENSITIVE, ids=[s[0] for s in SENSITIVE]
)
def test_refused_without_recent_totp_and_accepted_right_after(
    client, owner, name, url, data, changed
):
    with time_machine.travel("2026-03-29 00:55:00+00:00", tick=False) as traveller:
        # Verified at login 11 minutes ago, across the spring DST change.
        sign_in(client, owner, step_up_at=timezone.now() - timedelta(minutes=11))
        refused = client.post(url, data)
        assert refused.status_code == 302
        assert refused["Location"].startswith("/accounts/otp/step-up/")
        assert not changed(owner)

        device = owner.totpdevice_set.get()
        verified = client.post("/accounts/otp/step-up/", {"token": totp_now(device), "next": url})
        assert verified["Location"] == url
        accepted = client.post(url, data)
        assert accepted.status_code in (200, 302), accepted.content[:500]
        assert changed(owner), name
        assert AuditEntry.objects.filter(actor=owner, channel="PORTAL").exists()

        traveller.shift(timedelta(minutes=10, seconds=1))
        assert client.get(url.replace("/add/", "/").replace("/new/", "/")).status_code in (200, 302)


def test_window_is_configurable(client, owner):
    with time_machine.travel("2026-10-25 00:30:00+00:00", tick=False):
        sign_in(client, owner, step_up_at=timezone.now() - timedelta(minutes=3))
        assert client.get("/portal/profile/phone/").status_code == 200
        Parameter.objects.create(key="step_up_max_age_seconds", value=120)
        cache.clear()
        assert client.get("/portal/profile/phone/")["Location"].startswith("/accounts/otp/step-up/")


def test_customer_without_totp_is_guided_to_enrol(client, make_user):
    user = make_user(Role.CUSTOMER)
    MembershipFactory(user=user)
    client.force_login(user)
    response = client.get("/portal/profile/bank/")
    assert response["Location"].startswith(
        "/accounts/otp/enrol/?next=%2Fportal%2Fprofile%2Fbank%2F"
    )


def test_iban_is_masked_in_audit_and_pages(client, owner):
    sign_in(client, owner, step_up_at=timezone.now())
    client.post(
        "/portal/profile/bank/",
        {"holder_name": "Biz SARL", "iban": "FR76 3000 6000 0112 3456 7890 189"},
    )
    entry = AuditEntry.objects.get(field="iban")
    assert entry.new_value == "FR76 •••• •••• 0189"
    assert IBAN not in entry.new_value
    page = client.get("/portal/profile/").content.decode()
    assert "FR76 •••• •••• 0189" in page and IBAN not in page


@pytest.mark.parametrize(
    ("iban", "message"),
    [("FR7630006000011234567890188", "clé"), ("FR76", "clé"), ("XX00 1234", "clé")],
)
def test_bad_iban_gets_a_field_error_and_writes_nothing(client, owner, iban, message):
    sign_in(client, owner, step_up_at=timezone.now())
    response = client.post("/portal/profile/bank/", {"holder_name": "Biz", "iban": iban})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["iban"])
    assert not BankDetails.objects.exists()
    assert not AuditEntry.objects.exists()


def test_priority_register_needs_level_and_autonomy_for_medical_equipment(client, owner):
    sign_in(client, owner, step_up_at=timezone.now())
    response = client.post(
        "/portal/priority-register/",
        {
            "medical_equipment": "on",
            "dependency_level": "NONE",
            "review_date": "2027-01-01",
        },
    )
    errors = response.context["form"].errors
    assert set(errors) == {"dependency_level", "backup_autonomy_hours"}
    assert not PriorityRegistration.objects.exists()


def test_email_taken_is_a_field_error(client, owner, make_user):
    make_user(Role.CUSTOMER, email="taken@example.fr")
    sign_in(client, owner, step_up_at=timezone.now())
    response = client.post("/portal/profile/email/", {"email": "taken@example.fr"})
    assert "email" in response.context["form"].errors
    owner.refresh_from_db()
    assert owner.email == "owner@biz.example"


def test_api_client_secret_is_shown_once(client, owner):
    sign_in(client, owner, step_up_at=timezone.now())
    response = client.post(
        "/portal/api-clients/new/",
        {"name": "ERP", "scopes": ["invoices:read", "tickets:write"], "tier": "ENTERPRISE"},
    )
    secret = response.context["secret"]
    assert len(secret) > 30 and secret in response.content.decode()
    listing = client.get("/portal/api-clients/").content.decode()
    assert secret not in listing
    client_row = ApiClient.objects.get()
    assert client_row.application.client_secret != secret  # stored hashed
    assert client_row.scope_list == ["invoices:read", "tickets:write"]


def test_unknown_scope_is_refused(client, owner):
    sign_in(client, owner, step_up_at=timezone.now())
    response = client.post(
        "/portal/api-clients/new/", {"name": "ERP", "scopes": ["root"], "tier": "STANDARD"}
    )
    assert response.status_code == 400
    assert "scopes" in response.context["form"].errors
    assert not ApiClient.objects.exists()


def test_documents_check_content_and_size(client, make_user, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path)
    user = make_user(Role.CUSTOMER)
    MembershipFactory(user=user)
    client.force_login(user)
    fake = SimpleUploadedFile(
        "passport.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf"
    )
    response = client.post("/portal/documents/", {"kind": "IDENTITY", "file": fake})
    assert response.status_code == 400
    assert "PDF, JPEG" in " ".join(response.context["form"].errors["file"])
    big = SimpleUploadedFile(
        "scan.png", b"\x89PNG\r\n\x1a\n" + b"0" * (10 * 1024 * 1024), content_type="image/png"
    )
    assert client.post("/portal/documents/", {"kind": "IDENTITY", "file": big}).status_code == 400
    real = SimpleUploadedFile("id.pdf", b"%PDF-1.7\n" + b"x" * 100, content_type="application/pdf")
    assert client.post("/portal/documents/", {"kind": "IDENTITY", "file": real}).status_code == 302
    assert user.accounts.get().documents.get().content_type == "application/pdf"


def test_removing_a_business_user_needs_recent_totp(client, owner):
    account = owner.accounts.get()
    clerk = MembershipFactory(account=account, role=MemberRole.VIEWER)
    with time_machine.travel("2026-10-25 01:30:00+00:00", tick=False):
        sign_in(client, owner, step_up_at=timezone.now() - timedelta(minutes=10, seconds=1))
        refused = client.post(f"/portal/users/{clerk.pk}/remove/")
        assert refused["Location"].startswith("/accounts/otp/step-up/")
        assert AccountMembership.objects.filter(pk=clerk.pk).exists()
        sign_in(client, owner, step_up_at=timezone.now())
        assert client.post(f"/portal/users/{clerk.pk}/remove/").status_code == 302
        assert not AccountMembership.objects.filter(pk=clerk.pk).exists()
        entry = AuditEntry.objects.get(field=f"member:{clerk.user.email}")
        assert (entry.old_value, entry.new_value) == ("VIEWER", "")


def test_last_owner_cannot_be_removed(client, owner):
    from accounts import services

    account = owner.accounts.get()
    admin_member = MembershipFactory(account=account, role=MemberRole.ADMIN)
    with pytest.raises(services.MemberRefused):
        services.business_member_remove(
            account=account,
            membership_id=account.memberships.get(role="OWNER").pk,
            actor=admin_member.user,
            channel="PORTAL",
            now=timezone.now(),
        )


def test_admin_site_changes_are_audited(client, make_user, login):
    admin_user = make_user(Role.ADMIN, is_staff=True, is_superuser=True)
    account = MembershipFactory().account
    login(admin_user)
    page = client.get(f"/admin/accounts/account/{account.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update(
        {
            "name": "Nouveau Nom",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "premises-TOTAL_FORMS": "0",
            "premises-INITIAL_FORMS": "0",
        }
    )
    data = {k: v for k, v in data.items() if v is not False}
    response = client.post(f"/admin/accounts/account/{account.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    entry = AuditEntry.objects.get(field="name")
    assert entry.channel == "ADMIN" and entry.new_value == "Nouveau Nom"
