"""Operations commands: create_user and seed_demo."""

import binascii

import pytest
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import (
    Account,
    AccountMembership,
    AccountType,
    AreaClass,
    Premise,
    PriorityRegistration,
    Role,
    SupplyPoint,
    User,
)

SECRET = binascii.hexlify(b"0123456789abcdefghij").decode()


@pytest.mark.django_db
def test_create_user_is_idempotent_and_registers_totp(capsys):
    args = [
        "--email",
        "Ops.Agent@PowerNext.example",
        "--password",
        "Sturdy-pass-2026",
        "--role",
        "AGENT",
        "--totp-secret",
        SECRET,
    ]
    call_command("create_user", *args)
    call_command("create_user", *args)
    out = capsys.readouterr().out
    assert "Created ops.agent@powernext.example (AGENT)" in out
    assert "Updated ops.agent@powernext.example (AGENT)" in out
    user = User.objects.get(email="ops.agent@powernext.example")
    assert user.check_password("Sturdy-pass-2026")
    devices = TOTPDevice.objects.filter(user=user)
    assert devices.count() == 1
    assert devices.get().confirmed and devices.get().key == SECRET


@pytest.mark.django_db
def test_create_user_admin_gets_admin_site_flags():
    call_command(
        "create_user",
        "--email",
        "root@powernext.example",
        "--password",
        "Sturdy-pass-2026",
        "--role",
        "ADMIN",
    )
    user = User.objects.get(email="root@powernext.example")
    assert user.is_staff and user.is_superuser


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--password", "short"], "trop court"),
        (["--password", "Sturdy-pass-2026", "--totp-secret", "xyz"], "hexadecimal"),
        (["--password", "Sturdy-pass-2026", "--totp-secret", "abcd"], "at least 10 bytes"),
    ],
)
def test_create_user_rejects_bad_input_and_writes_nothing(extra, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_user", "--email", "bad@example.fr", "--role", "CUSTOMER", *extra)
    assert not User.objects.filter(email="bad@example.fr").exists()


@pytest.mark.django_db
def test_create_user_rejects_unknown_role():
    with pytest.raises(CommandError):
        call_command(
            "create_user",
            "--email",
            "x@example.fr",
            "--password",
            "Sturdy-pass-2026",
            "--role",
            "WIZARD",
        )


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_realistic():
    call_command("seed_demo")
    counts = (
        User.objects.count(),
        Account.objects.count(),
        Premise.objects.count(),
        AccountMembership.objects.count(),
        TOTPDevice.objects.count(),
    )
    call_command("seed_demo")
    assert counts == (
        User.objects.count(),
        Account.objects.count(),
        Premise.objects.count(),
        AccountMembership.objects.count(),
        TOTPDevice.objects.count(),
    )

    for role in Role:
        assert User.objects.filter(role=role).exists(), role
    assert Premise.objects.filter(area_class=AreaClass.URBAN).exists()
    assert Premise.objects.filter(area_class=AreaClass.RURAL).exists()
    assert Account.objects.filter(type=AccountType.RESIDENTIAL).count() == 50
    business = Account.objects.get(type=AccountType.BUSINESS, sla_package__code="ENTERPRISE")
    assert {m.role for m in business.memberships.all()} == {"OWNER", "ADMIN", "BILLING", "VIEWER"}
    assert business.emergency_contact_phone and business.account_manager.role == Role.AGENT
    markets = set(SupplyPoint.objects.values_list("market", flat=True))
    assert markets == {"FR_PRM", "GB_MPAN", "EIC"}
    assert PriorityRegistration.objects.filter(medical_equipment=True).exists()
    # Staff can log in with TOTP straight away.
    assert TOTPDevice.objects.filter(user__role=Role.AGENT, confirmed=True).exists()
    assert all(Account.objects.values_list("number", flat=True))
