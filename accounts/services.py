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
    AccountStatus,
    AccountType,
    ApiClient,
    ApiClientKind,
    ApiTier,
    AuditChannel,
    AuditEntry,
    BankDetails,
    DataExport,
    Document,
    DocumentKind,
    DocumentStatus,
    ErasureRequest,
    ErasureStatus,
    ExportStatus,
    MemberRole,
    Premise,
    PriorityRegistration,
    Role,
    SupplyPoint,
    User,
    may_own_staff_client,
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
        user.phone = domain.phone_normalise(phone) if phone else user.phone
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


# --- Audit ------------------------------------------------------------------

SECRET_FIELDS = {"iban"}


def _audit_value(field: str, value) -> str:
    if value is None:
        return ""
    text = str(value)
    return domain.mask_iban(text) if field in SECRET_FIELDS and text else text


def audit_record(
    *,
    account: Account | None,
    actor: User | None,
    channel: str,
    obj,
    changes: dict[str, tuple[object, object]],
    now: datetime,
) -> list[AuditEntry]:
    """Write one entry per changed field; unchanged fields write nothing."""
    entries = [
        AuditEntry(
            account=account,
            actor=actor,
            channel=channel,
            at=now,
            object_type=obj._meta.model_name,
            object_id=str(obj.pk),
            field=field,
            old_value=_audit_value(field, old),
            new_value=_audit_value(field, new),
        )
        for field, (old, new) in changes.items()
        if old != new
    ]
    AuditEntry.objects.bulk_create(entries)
    return entries


def _apply(obj, values: dict) -> dict[str, tuple[object, object]]:
    changes = {}
    for field, new in values.items():
        old = getattr(obj, field)
        if old != new:
            changes[field] = (old, new)
            setattr(obj, field, new)
    return changes


# --- Profile and account changes -------------------------------------------


class EmailTaken(AccountsError):
    pass


def user_email_change(
    *, user: User, new_email: str, actor: User, channel: str, now: datetime
) -> User:
    email = new_email.strip().lower()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if User.objects.filter(email=email).exclude(pk=user.pk).exists():
            raise EmailTaken("This email address is already used by another login.")
        changes = _apply(user, {"email": email})
        user.save(update_fields=["email"])
        for account in Account.objects.filter(memberships__user=user):
            audit_record(
                account=account, actor=actor, channel=channel, obj=user, changes=changes, now=now
            )
    return user


def account_contact_update(
    *, account: Account, actor: User, channel: str, now: datetime, **values
) -> Account:
    allowed = {
        "phone",
        "language",
        "billing_address",
        "notify_billing",
        "notify_outages",
        "notify_tickets",
        "marketing_opt_in",
        "emergency_contact_name",
        "emergency_contact_phone",
    }
    unknown = set(values) - allowed
    if unknown:
        raise AccountsError(f"Not editable here: {', '.join(sorted(unknown))}.")
    if values.get("phone"):
        values["phone"] = domain.phone_normalise(values["phone"])
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        changes = _apply(account, values)
        if changes:
            account.save(update_fields=list(changes))
            audit_record(
                account=account, actor=actor, channel=channel, obj=account, changes=changes, now=now
            )
    return account


class InvalidIban(AccountsError):
    pass


def bank_details_set(
    *, account: Account, holder_name: str, iban: str, actor: User, channel: str, now: datetime
) -> BankDetails:
    from stdnum import iban as stdnum_iban
    from stdnum.exceptions import ValidationError as StdnumError

    try:
        compact = stdnum_iban.validate(iban)
    except StdnumError as exc:
        raise InvalidIban(f"This IBAN is not valid ({exc.message}).") from exc
    with transaction.atomic():
        details = BankDetails.objects.select_for_update().filter(account=account).first()
        if details is None:
            details = BankDetails(account=account, holder_name="", iban="", updated_at=now)
        changes = _apply(details, {"holder_name": holder_name.strip(), "iban": compact})
        details.updated_at = now
        details.save()
        audit_record(
            account=account, actor=actor, channel=channel, obj=details, changes=changes, now=now
        )
    return details


PRIORITY_FIELDS = (
    "medical_equipment",
    "dependency_level",
    "backup_autonomy_hours",
    "age_over_75",
    "disability",
    "hearing_impairment",
    "sight_impairment",
    "carer_name",
    "carer_phone",
    "carer_email",
    "consent_field_sharing",
    "review_date",
    "active",
)


def priority_registration_set(
    *, account: Account, actor: User, channel: str, now: datetime, **values
) -> PriorityRegistration:
    unknown = set(values) - set(PRIORITY_FIELDS)
    if unknown:
        raise AccountsError(f"Unknown priority-register fields: {', '.join(sorted(unknown))}.")
    if values.get("medical_equipment") and values.get("dependency_level") in (None, "NONE"):
        raise AccountsError("A medical dependency needs its level.")
    with transaction.atomic():
        registration = (
            PriorityRegistration.objects.select_for_update().filter(account=account).first()
        )
        if registration is None:
            registration = PriorityRegistration(
                account=account, consent_recorded_at=now, review_date=values["review_date"]
            )
        old_consent = registration.consent_field_sharing
        changes = _apply(registration, values)
        if "consent_field_sharing" in changes or registration.pk is None:
            registration.consent_recorded_at = now
        registration.save()
        if registration.consent_field_sharing == old_consent:
            changes.pop("consent_field_sharing", None)
        audit_record(
            account=account,
            actor=actor,
            channel=channel,
            obj=registration,
            changes=changes,
            now=now,
        )
    return registration


# --- Business users ---------------------------------------------------------


class MemberRefused(AccountsError):
    pass


def business_member_add(
    *, account: Account, email: str, role: str, actor: User, channel: str, now: datetime
) -> AccountMembership:
    if role not in {MemberRole.OWNER, MemberRole.ADMIN, MemberRole.BILLING, MemberRole.VIEWER}:
        raise MemberRefused(f"Unknown business role {role!r}.")
    if account.type != AccountType.BUSINESS:
        raise MemberRefused("Only business accounts have several users.")
    email = email.strip().lower()
    with transaction.atomic():
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=None, role=Role.CUSTOMER)
        elif user.role != Role.CUSTOMER:
            raise MemberRefused("Staff logins cannot be added to a customer account.")
        membership, created = AccountMembership.objects.get_or_create(
            account=account, user=user, defaults={"role": role}
        )
        old_role = None if created else membership.role
        if not created and membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
        audit_record(
            account=account,
            actor=actor,
            channel=channel,
            obj=membership,
            changes={f"member:{email}": (old_role, role)},
            now=now,
        )
    return membership


def business_member_remove(
    *, account: Account, membership_id: int, actor: User, channel: str, now: datetime
) -> None:
    with transaction.atomic():
        membership = (
            AccountMembership.objects.select_for_update()
            .select_related("user")
            .get(pk=membership_id, account=account)
        )
        owners = account.memberships.filter(role=MemberRole.OWNER).count()
        if membership.role == MemberRole.OWNER and owners <= 1:
            raise MemberRefused("An account keeps at least one owner.")
        if membership.user_id == actor.pk:
            raise MemberRefused("You cannot remove yourself.")
        audit_record(
            account=account,
            actor=actor,
            channel=channel,
            obj=membership,
            changes={f"member:{membership.user.email}": (membership.role, None)},
            now=now,
        )
        membership.delete()


# --- API clients ------------------------------------------------------------


class ApiClientRefused(AccountsError):
    pass


# Staff clients feed BI tools that page through whole months of snapshot rows.
STAFF_CLIENT_TIER = ApiTier.ENTERPRISE


def _scopes_error(scopes: list[str], *, granted: dict, other: dict) -> str | None:
    """Why `scopes` cannot be granted from `granted`, or None. Staff and business scopes
    are two disjoint settings (API_SCOPES, STAFF_API_SCOPES): a scope of the other kind
    is named as such, so nobody mistakes it for a typing error."""
    if not scopes:
        return "Unknown scopes: none given."
    misplaced = sorted(set(scopes) & set(other))
    if misplaced:
        return f"Not grantable to this kind of client: {', '.join(misplaced)}."
    unknown = sorted(set(scopes) - set(granted))
    if unknown:
        return f"Unknown scopes: {', '.join(unknown)}."
    return None


def _application_create(*, name: str, secret: str):
    from oauth2_provider.models import Application

    return Application.objects.create(
        name=name,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,  # hashed on save by django-oauth-toolkit
        user=None,
    )


def api_client_create(
    *, account: Account, name: str, scopes: list[str], tier: str, actor: User, now: datetime
) -> tuple[ApiClient, str]:
    """Create a client-credentials application; the plain secret is returned once."""
    from django.conf import settings
    from oauth2_provider.generators import generate_client_secret

    if account.type != AccountType.BUSINESS:
        raise ApiClientRefused("API access is for business accounts.")
    problem = _scopes_error(scopes, granted=settings.API_SCOPES, other=settings.STAFF_API_SCOPES)
    if problem:
        raise ApiClientRefused(problem)
    if tier not in ApiTier.values:
        raise ApiClientRefused(f"Unknown tier {tier!r}.")
    secret = generate_client_secret()
    with transaction.atomic():
        application = _application_create(name=f"{account.number} {name}", secret=secret)
        client = ApiClient.objects.create(
            account=account,
            application=application,
            name=name,
            scopes=" ".join(sorted(scopes)),
            tier=tier,
            created_by=actor,
            created_at=now,
        )
        audit_record(
            account=account,
            actor=actor,
            channel=AuditChannel.PORTAL,
            obj=client,
            changes={"api_client": (None, f"{name} [{client.scopes}] {tier}")},
            now=now,
        )
    return client, secret


def api_client_create_staff(
    *, owner: User, name: str, scopes: list[str], actor: User, now: datetime
) -> tuple[ApiClient, str]:
    """Create a staff client (the contact centre's own BI tool, no account) owned by a
    supervisor or admin; only an admin may. The plain secret is returned once.

    Its tokens work only while the owner stays an active supervisor or admin
    (`accounts.oauth`). The audit entry has no account: it is found by object."""
    from django.conf import settings
    from oauth2_provider.generators import generate_client_secret

    if actor is None or not actor.is_active or actor.role != Role.ADMIN:
        raise ApiClientRefused("Only an active administrator may create a staff client.")
    if not may_own_staff_client(owner):
        raise ApiClientRefused("The owner must be an active supervisor or administrator.")
    name = name.strip()
    if not name or len(name) > ApiClient._meta.get_field("name").max_length:
        raise ApiClientRefused("Give a name of 1 to 100 characters.")
    problem = _scopes_error(scopes, granted=settings.STAFF_API_SCOPES, other=settings.API_SCOPES)
    if problem:
        raise ApiClientRefused(problem)
    secret = generate_client_secret()
    with transaction.atomic():
        application = _application_create(name=f"staff {name}", secret=secret)
        client = ApiClient.objects.create(
            kind=ApiClientKind.STAFF,
            account=None,
            owner=owner,
            application=application,
            name=name,
            scopes=" ".join(sorted(scopes)),
            tier=STAFF_CLIENT_TIER,
            created_by=actor,
            created_at=now,
        )
        audit_record(
            account=None,
            actor=actor,
            channel=AuditChannel.ADMIN,
            obj=client,
            changes={
                "api_client": (
                    None,
                    f"{name} [{client.scopes}] {client.tier} owner={owner.email}",
                )
            },
            now=now,
        )
    return client, secret


def api_client_revoke(*, client: ApiClient, actor: User, now: datetime) -> ApiClient:
    with transaction.atomic():
        client = ApiClient.objects.select_for_update().get(pk=client.pk)
        if client.revoked_at is None:
            client.revoked_at = now
            client.save(update_fields=["revoked_at"])
            client.application.accesstoken_set.all().delete()
            audit_record(
                account=client.account,
                actor=actor,
                # Staff clients are managed from the admin side, never the portal.
                channel=AuditChannel.ADMIN
                if client.kind == ApiClientKind.STAFF
                else AuditChannel.PORTAL,
                obj=client,
                changes={"revoked_at": (None, now.isoformat())},
                now=now,
            )
    return client


# --- Supply points ----------------------------------------------------------


class InvalidSupplyPoint(AccountsError):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def supply_point_add(
    *,
    premise: Premise,
    market: str,
    identifier: str,
    subscribed_kva,
    meter_reference: str = "",
    actor: User | None,
    channel: str,
    now: datetime,
) -> SupplyPoint:
    from . import identifiers

    try:
        value = identifiers.normalise(market, identifier)
    except identifiers.IdentifierError as exc:
        raise InvalidSupplyPoint(str(exc), exc.code) from exc
    with transaction.atomic():
        point, created = SupplyPoint.objects.get_or_create(
            market=market,
            identifier=value,
            defaults={
                "premise": premise,
                "subscribed_kva": subscribed_kva,
                "meter_reference": meter_reference,
            },
        )
        if not created and point.premise_id != premise.pk:
            raise InvalidSupplyPoint("This supply point belongs to another premise.", "taken")
        if created:
            audit_record(
                account=premise.account,
                actor=actor,
                channel=channel,
                obj=point,
                changes={"supply_point": (None, f"{market} {value}")},
                now=now,
            )
    return point


# --- Documents --------------------------------------------------------------

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


class DocumentRejected(AccountsError):
    pass


def document_upload(
    *, account: Account, kind: str, uploaded, actor: User, now: datetime
) -> Document:
    """Store an identity or proof document; its content decides its type, not its name."""
    from datetime import timedelta

    from .selectors import parameter_get

    if kind not in DocumentKind.values:
        raise DocumentRejected("Unknown document type.")
    if uploaded.size > MAX_DOCUMENT_BYTES:
        raise DocumentRejected("The file is larger than 10 MB.")
    head = uploaded.read(16)
    uploaded.seek(0)
    content_type = domain.sniff_file_type(head)
    if content_type is None:
        raise DocumentRejected("Only PDF, JPEG and PNG files are accepted.")
    retention = timedelta(days=int(parameter_get(key="document_retention_days")))
    with transaction.atomic():
        document = Document(
            account=account,
            kind=kind,
            original_name=uploaded.name[:200],
            content_type=content_type,
            uploaded_by=actor,
            uploaded_at=now,
            retain_until=now + retention,
        )
        document.file.save(f"{secrets.token_hex(16)}", uploaded, save=False)
        document.save()
        audit_record(
            account=account,
            actor=actor,
            channel=AuditChannel.PORTAL,
            obj=document,
            changes={"document": (None, f"{kind} {document.original_name}")},
            now=now,
        )
    return document


def document_review(
    *, document: Document, reviewer: User, accept: bool, note: str, now: datetime
) -> Document:
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document.pk)
        if document.status != DocumentStatus.PENDING:
            raise AccountsError("This document has already been reviewed.")
        old = document.status
        document.status = DocumentStatus.ACCEPTED if accept else DocumentStatus.REJECTED
        document.reviewed_by = reviewer
        document.reviewed_at = now
        document.review_note = note[:300]
        document.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
        audit_record(
            account=document.account,
            actor=reviewer,
            channel=AuditChannel.CONSOLE,
            obj=document,
            changes={"status": (old, document.status)},
            now=now,
        )
    return document


def documents_purge_expired(*, now: datetime) -> int:
    """Delete documents whose retention has ended, file first; safe to run twice."""
    purged = 0
    for document in Document.objects.filter(retain_until__lt=now).order_by("id")[:500]:
        with transaction.atomic():
            locked = (
                Document.objects.select_for_update(skip_locked=True).filter(pk=document.pk).first()
            )
            if locked is None:
                continue
            locked.file.delete(save=False)
            audit_record(
                account=locked.account,
                actor=None,
                channel=AuditChannel.SYSTEM,
                obj=locked,
                changes={"document": (f"{locked.kind} {locked.original_name}", "purged")},
                now=now,
            )
            locked.delete()
            purged += 1
    return purged


# --- GDPR: export and erasure -------------------------------------------------


def data_export_request(*, account: Account, user: User, now: datetime) -> DataExport:
    from datetime import timedelta

    from .selectors import parameter_get

    days = int(parameter_get(key="export_retention_days"))
    with transaction.atomic():
        export = DataExport.objects.create(
            account=account,
            requested_by=user,
            requested_at=now,
            expires_at=now + timedelta(days=days),
        )
        transaction.on_commit(lambda: _enqueue_export(export.pk))
    return export


def _enqueue_export(export_id: int) -> None:
    # By name: services sit below tasks and must not import them.
    from celery import current_app

    current_app.tasks["accounts.tasks.data_export_build_task"].delay(export_id=export_id)


def data_export_build(*, export_id: int, now: datetime) -> DataExport:
    """Build the ZIP of one account's data; a second run on a READY export does nothing."""
    import csv
    import io
    import json
    import zipfile

    from django.core.files.base import ContentFile
    from django.core.mail import send_mail

    with transaction.atomic():
        export = (
            DataExport.objects.select_for_update()
            .select_related("account", "requested_by")
            .get(pk=export_id)
        )
        if export.status == ExportStatus.READY:
            return export
        account = export.account
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(
                "account.json",
                json.dumps(_account_dump(account), indent=2, ensure_ascii=False, default=str),
            )
            archive.writestr(
                "premises.csv",
                _csv(
                    [
                        "address",
                        "postcode",
                        "city",
                        "area_class",
                        "market",
                        "identifier",
                        "subscribed_kva",
                    ],
                    [
                        [
                            p.address,
                            p.postcode,
                            p.city,
                            p.area_class,
                            s.market,
                            s.identifier,
                            s.subscribed_kva,
                        ]
                        for p in account.premises.order_by("id")
                        for s in (
                            list(p.supply_points.order_by("id"))
                            or [SupplyPoint(market="", identifier="", subscribed_kva="")]
                        )
                    ],
                    csv_module=csv,
                ),
            )
            archive.writestr(
                "audit.csv",
                _csv(
                    ["at", "channel", "object", "field", "old_value", "new_value"],
                    [
                        [
                            e.at.isoformat(),
                            e.channel,
                            e.object_type,
                            e.field,
                            e.old_value,
                            e.new_value,
                        ]
                        for e in account.audit_entries.order_by("at", "id")
                    ],
                    csv_module=csv,
                ),
            )
            archive.writestr(
                "documents.csv",
                _csv(
                    ["kind", "name", "status", "uploaded_at"],
                    [
                        [d.kind, d.original_name, d.status, d.uploaded_at.isoformat()]
                        for d in account.documents.order_by("id")
                    ],
                    csv_module=csv,
                ),
            )
        export.file.save(
            f"export-{account.number}-{secrets.token_hex(8)}.zip",
            ContentFile(buffer.getvalue()),
            save=False,
        )
        export.status = ExportStatus.READY
        export.ready_at = now
        export.save(update_fields=["file", "status", "ready_at"])
        user = export.requested_by
        transaction.on_commit(
            lambda: send_mail(
                "Power Next — vos données sont prêtes / your data is ready",
                "Votre export est disponible dans votre espace client, rubrique Confidentialité.\n"
                "Your export is ready in your customer portal, under Privacy.",
                None,
                [user.email],
            )
        )
    return export


def _csv(header: list[str], rows: list[list], *, csv_module) -> str:
    import io

    out = io.StringIO()
    writer = csv_module.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _account_dump(account: Account) -> dict:
    registration = PriorityRegistration.objects.filter(account=account).first()
    bank = BankDetails.objects.filter(account=account).first()
    return {
        "account": {
            "number": account.number,
            "type": account.type,
            "name": account.name,
            "billing_address": account.billing_address,
            "phone": account.phone,
            "language": account.language,
            "created_at": account.created_at,
            "notifications": {
                "billing": account.notify_billing,
                "outages": account.notify_outages,
                "tickets": account.notify_tickets,
                "marketing_opt_in": account.marketing_opt_in,
            },
        },
        "users": [
            {
                "email": m.user.email,
                "first_name": m.user.first_name,
                "last_name": m.user.last_name,
                "phone": m.user.phone,
                "role": m.role,
            }
            for m in account.memberships.select_related("user").order_by("id")
        ],
        "bank_details": {"holder_name": bank.holder_name, "iban": bank.iban} if bank else None,
        "priority_register": (
            {f: getattr(registration, f) for f in PRIORITY_FIELDS} if registration else None
        ),
    }


class ErasureRefused(AccountsError):
    pass


def erasure_request_open(*, account: Account, user: User, now: datetime) -> ErasureRequest:
    with transaction.atomic():
        existing = ErasureRequest.objects.filter(account=account, status=ErasureStatus.OPEN).first()
        if existing:
            return existing
        request = ErasureRequest.objects.create(
            account=account, requested_by=user, requested_at=now
        )
        audit_record(
            account=account,
            actor=user,
            channel=AuditChannel.PORTAL,
            obj=request,
            changes={"erasure_request": (None, "OPEN")},
            now=now,
        )
    return request


ANONYMISED_NAME = "Client anonymisé"


def erasure_process(*, request_id: int, agent: User, now: datetime) -> ErasureRequest:
    """Anonymise personal data, or refuse with the reason a later app gives.

    Invoices (10 years) and transactions (5 years) stay: they belong to the
    later apps and reference the account, not the person's details.
    """
    from . import hooks

    with transaction.atomic():
        request = (
            ErasureRequest.objects.select_for_update().select_related("account").get(pk=request_id)
        )
        if request.status != ErasureStatus.OPEN:
            raise ErasureRefused("This request has already been processed.")
        account = Account.objects.select_for_update().get(pk=request.account_id)
        reasons = [r for r in (check(account) for check in hooks.erasure_blockers) if r]
        request.processed_by = agent
        request.processed_at = now
        if reasons:
            request.status = ErasureStatus.REFUSED
            request.outcome = " ".join(reasons)
            request.save(update_fields=["status", "outcome", "processed_by", "processed_at"])
            audit_record(
                account=account,
                actor=agent,
                channel=AuditChannel.CONSOLE,
                obj=request,
                changes={"erasure_request": ("OPEN", f"REFUSED: {request.outcome}")},
                now=now,
            )
            return request
        _anonymise(account=account)
        request.status = ErasureStatus.DONE
        request.outcome = "Personal data anonymised; legally retained records kept."
        request.save(update_fields=["status", "outcome", "processed_by", "processed_at"])
        audit_record(
            account=account,
            actor=agent,
            channel=AuditChannel.CONSOLE,
            obj=request,
            changes={"erasure_request": ("OPEN", "DONE")},
            now=now,
        )
    return request


def _anonymise(*, account: Account) -> None:
    for membership in account.memberships.select_related("user"):
        user = membership.user
        if user.memberships.exclude(account=account).exists():
            membership.delete()  # the person keeps their other accounts
            continue
        user.email = f"erased-{user.pk}@invalid.powernext.example"
        user.first_name = ""
        user.last_name = ""
        user.phone = ""
        user.is_active = False
        user.set_unusable_password()
        user.save()
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
    Account.objects.filter(pk=account.pk).update(
        name=ANONYMISED_NAME,
        billing_address="",
        phone="",
        emergency_contact_name="",
        emergency_contact_phone="",
        marketing_opt_in=False,
        status=AccountStatus.ANONYMISED,
    )
    # Street addresses go; postcode and city stay for network statistics.
    Premise.objects.filter(account=account).update(address="")
    BankDetails.objects.filter(account=account).delete()
    PriorityRegistration.objects.filter(account=account).delete()
    for document in Document.objects.filter(account=account):
        document.file.delete(save=False)
        document.delete()
    for export in DataExport.objects.filter(account=account):
        export.file.delete(save=False)
        export.delete()
    # The trail keeps who changed what and when, but no longer the personal values.
    AuditEntry.objects.filter(account=account).update(old_value="[erased]", new_value="[erased]")
