"""Writes of the accounts app. Each service owns its transaction."""

from __future__ import annotations

import binascii
import secrets
from datetime import datetime

from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import domain
from .models import (
    STAFF_ROLES,
    Account,
    AccountMembership,
    AccountType,
    MemberRole,
    Premise,
    Role,
    User,
)

BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "default"


class AccountsError(Exception):
    """Base class for refusals of the accounts services."""


class InvalidRole(AccountsError):
    pass


class InvalidTotpSecret(AccountsError):
    pass


class InvalidOtpToken(AccountsError):
    pass


class EnrolmentNotAllowed(AccountsError):
    pass


def user_upsert(
    *,
    email: str,
    password: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    totp_secret_hex: str | None = None,
) -> tuple[User, bool]:
    """Create or update a user so that running it twice gives the same result."""
    if role not in Role.values:
        raise InvalidRole(f"Unknown role {role!r}; expected one of {', '.join(Role.values)}.")
    if totp_secret_hex is not None:
        try:
            key = binascii.unhexlify(totp_secret_hex)
        except (binascii.Error, ValueError) as exc:
            raise InvalidTotpSecret("The TOTP secret must be hexadecimal.") from exc
        if len(key) < 10:
            raise InvalidTotpSecret("The TOTP secret must be at least 10 bytes (20 hex digits).")
    email = email.strip().lower()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email=email).first()
        created = user is None
        if created:
            user = User(email=email)
        validate_password(password, user)
        user.role = role
        user.is_staff = role == Role.ADMIN
        user.is_superuser = role == Role.ADMIN
        user.first_name = first_name or user.first_name
        user.last_name = last_name or user.last_name
        user.phone = phone or user.phone
        user.set_password(password)
        user.save()
        if totp_secret_hex is not None:
            TOTPDevice.objects.update_or_create(
                user=user,
                name=TOTP_DEVICE_NAME,
                defaults={"key": totp_secret_hex.lower(), "confirmed": True},
            )
    return user, created


def totp_enrolment_start(*, user: User, is_verified: bool) -> TOTPDevice:
    """Return the pending (unconfirmed) device, creating it on first call.

    A user who already has a confirmed device must be verified first:
    otherwise a stolen password would be enough to add a second factor.
    """
    with transaction.atomic():
        confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        if confirmed and not is_verified:
            raise EnrolmentNotAllowed("Verify with your current device before adding another.")
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="pending", confirmed=False)
    return device


def totp_enrolment_confirm(
    *, user: User, token: str, is_verified: bool
) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending device with a code and issue fresh backup codes."""
    with transaction.atomic():
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists() and not is_verified:
            raise EnrolmentNotAllowed("Verify with your current device before adding another.")
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("id")
            .first()
        )
        if device is None:
            raise EnrolmentNotAllowed("No enrolment is in progress.")
        if not device.verify_token(token.strip().replace(" ", "")):
            raise InvalidOtpToken("This code is not valid. Check your phone's clock and try again.")
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.name = TOTP_DEVICE_NAME
        device.confirmed = True
        device.save(update_fields=["name", "confirmed"])
        codes = backup_codes_regenerate(user=user)
    return device, codes


def backup_codes_regenerate(*, user: User) -> list[str]:
    """Replace every backup code; the plain codes are shown once and never stored."""
    with transaction.atomic():
        static, _ = StaticDevice.objects.get_or_create(
            user=user, name="backup", defaults={"confirmed": True}
        )
        static.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=static, token=c) for c in codes)
    return codes


def account_open(
    *,
    type: str,
    name: str,
    holder: User,
    billing_address: str,
    now: datetime,
    holder_role: str | None = None,
    number: str | None = None,
) -> Account:
    if type not in AccountType.values:
        raise AccountsError(f"Unknown account type {type!r}.")
    if holder.role in STAFF_ROLES:
        raise AccountsError("Staff users cannot hold a customer account.")
    role = holder_role or (
        MemberRole.HOLDER if type == AccountType.RESIDENTIAL else MemberRole.OWNER
    )
    for _attempt in range(5):
        candidate = number or domain.account_number_new()
        try:
            with transaction.atomic():
                account = Account.objects.create(
                    number=candidate,
                    type=type,
                    name=name,
                    billing_address=billing_address,
                    created_at=now,
                )
                AccountMembership.objects.create(account=account, user=holder, role=role)
                return account
        except IntegrityError:
            if number:
                raise
    raise AccountsError("Could not allocate a unique account number.")


def account_member_add(*, account: Account, user: User, role: str) -> AccountMembership:
    if role not in MemberRole.values:
        raise AccountsError(f"Unknown member role {role!r}.")
    with transaction.atomic():
        membership, _ = AccountMembership.objects.update_or_create(
            account=account, user=user, defaults={"role": role}
        )
    return membership


def premise_add(
    *, account: Account, address: str, postcode: str, city: str, area_class: str
) -> Premise:
    with transaction.atomic():
        premise, _ = Premise.objects.get_or_create(
            account=account,
            address=address,
            postcode=postcode,
            defaults={"city": city, "area_class": area_class},
        )
    return premise


def new_totp_secret_hex() -> str:
    return secrets.token_hex(20)
