"""Services of the accounts app that no page covers on its own."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts import services
from accounts.models import AuditEntry, Document, Role, SupplyPoint

from .factories import MembershipFactory, PremiseFactory


@pytest.mark.parametrize(
    ("market", "identifier", "code"),
    [
        ("FR_PRM", "1234567890123", "wrong_length"),
        ("GB_MPAN", "1234567890120", "wrong_check_digit"),
        ("EIC", "22XWATTPLUS----X", "wrong_check_digit"),
        ("US_ESI", "123", "unknown_market"),
    ],
)
def test_invalid_supply_point_is_refused_with_its_reason(db, market, identifier, code):
    premise = PremiseFactory()
    with pytest.raises(services.InvalidSupplyPoint) as caught:
        services.supply_point_add(
            premise=premise,
            market=market,
            identifier=identifier,
            subscribed_kva="9",
            actor=None,
            channel="SYSTEM",
            now=timezone.now(),
        )
    assert caught.value.code == code
    assert str(caught.value)
    assert not SupplyPoint.objects.exists() and not AuditEntry.objects.exists()


def test_supply_point_cannot_move_to_another_customer(db):
    now = timezone.now()
    first, second = PremiseFactory(), PremiseFactory()
    services.supply_point_add(
        premise=first,
        market="FR_PRM",
        identifier="12345678901234",
        subscribed_kva="9",
        actor=None,
        channel="SYSTEM",
        now=now,
    )
    with pytest.raises(services.InvalidSupplyPoint):
        services.supply_point_add(
            premise=second,
            market="FR_PRM",
            identifier="1234 5678 9012 34",
            subscribed_kva="9",
            actor=None,
            channel="SYSTEM",
            now=now,
        )


def test_documents_are_purged_after_retention(db, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    user = MembershipFactory().user
    account = user.accounts.get()
    start = timezone.now()
    upload = SimpleUploadedFile("id.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    document = services.document_upload(
        account=account, kind="IDENTITY", uploaded=upload, actor=user, now=start
    )
    path = document.file.path
    assert services.documents_purge_expired(now=start + timedelta(days=364)) == 0
    assert services.documents_purge_expired(now=start + timedelta(days=366)) == 1
    assert not Document.objects.exists()
    import os

    assert not os.path.exists(path)
    assert services.documents_purge_expired(now=start + timedelta(days=367)) == 0
    assert AuditEntry.objects.filter(field="document", new_value="purged").count() == 1


def test_document_review_is_audited_once(db, settings, tmp_path, make_user):
    settings.MEDIA_ROOT = str(tmp_path)
    user = MembershipFactory().user
    agent = make_user(Role.AGENT)
    upload = SimpleUploadedFile("proof.pdf", b"%PDF-1.4 proof")
    document = services.document_upload(
        account=user.accounts.get(), kind="MOVE_IN", uploaded=upload, actor=user, now=timezone.now()
    )
    services.document_review(
        document=document, reviewer=agent, accept=True, note="OK", now=timezone.now()
    )
    with pytest.raises(services.AccountsError):
        services.document_review(
            document=document, reviewer=agent, accept=False, note="", now=timezone.now()
        )
    document.refresh_from_db()
    assert document.status == "ACCEPTED" and document.reviewed_by == agent


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0044 20 7946 0958", "+442079460958"),
        ("06.12.34.56.78", "+33612345678"),
    ],
)
def test_phone_numbers_are_stored_in_one_shape(raw, stored):
    from accounts.domain import phone_normalise

    assert phone_normalise(raw) == stored
