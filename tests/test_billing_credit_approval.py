"""Two supervisors decide the same credit request at the same moment, on real
PostgreSQL connections: the money moves once, the loser is told it is already decided."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.models import (
    ApprovalStatus,
    CreditRequest,
    Dispute,
    DisputeEvent,
    Invoice,
    LedgerEntry,
)
from billing.services import disputes as services
from tests.concurrency import race
from tickets.models import Survey

from .test_billing_disputes import _settlement_clock, open_dispute, pdf_tasks, staff  # noqa: F401

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 12, 10, 0, tzinfo=PARIS)


def _upheld_pending(staff_users) -> CreditRequest:
    dispute = open_dispute(now=NOW, gross="900.00")
    agent = staff_users["agent"]
    services.dispute_acknowledge(dispute_id=dispute.pk, actor=agent, now=NOW)
    services.dispute_investigate(dispute_id=dispute.pk, actor=agent, now=NOW)
    # Above the approval threshold, so it waits for a supervisor.
    services.dispute_uphold(
        dispute_id=dispute.pk, amount=Decimal("400.00"), kind="CREDIT", actor=agent, now=NOW
    )
    return CreditRequest.objects.get(dispute=dispute, status=ApprovalStatus.PENDING)


def _race(*calls):
    return race(*calls, expected=services.DisputeError)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_supervisors_approving_at_once_book_one_credit(staff, pdf_tasks, round_):  # noqa: F811
    request = _upheld_pending(staff)
    later = NOW.replace(hour=11)

    results, errors = _race(
        lambda: services.credit_request_approve(
            request_id=request.pk, supervisor=staff["supervisor"], now=later
        ),
        lambda: services.credit_request_approve(
            request_id=request.pk, supervisor=staff["supervisor2"], now=later
        ),
    )

    assert len(results) == 1
    assert [type(e) for e in errors] == [services.AlreadyDecided]
    credits = LedgerEntry.objects.filter(account=request.account, kind="CREDIT")
    assert credits.count() == 1
    assert credits.get().amount == Decimal("-400.00") and credits.get().txn_id  # lowers the balance
    assert Invoice.objects.filter(kind="CREDIT_NOTE", account=request.account).count() == 1
    dispute = Dispute.objects.get(pk=request.dispute_id)
    assert dispute.status == "CREDITED"
    assert DisputeEvent.objects.filter(dispute=dispute, to_status="CREDITED").count() == 1
    assert len(pdf_tasks) == 1  # one credit note PDF queued
    # Settling resolves the BILLING ticket, which sends the targeted survey once.
    assert Survey.objects.filter(ticket=dispute.ticket).count() == 1


@pytest.mark.django_db(transaction=True)
def test_approve_and_reject_at_once_one_decision_wins(staff, pdf_tasks):  # noqa: F811
    request = _upheld_pending(staff)
    later = NOW.replace(hour=11)

    results, errors = _race(
        lambda: services.credit_request_approve(
            request_id=request.pk, supervisor=staff["supervisor"], now=later
        ),
        lambda: services.credit_request_reject(
            request_id=request.pk, supervisor=staff["supervisor2"], now=later, reason="Montant"
        ),
    )

    assert len(results) == 1 and [type(e) for e in errors] == [services.AlreadyDecided]
    request.refresh_from_db()
    credits = LedgerEntry.objects.filter(account=request.account, kind="CREDIT").count()
    if request.status == ApprovalStatus.APPROVED:
        assert credits == 1
    else:
        assert request.status == ApprovalStatus.REJECTED and credits == 0
