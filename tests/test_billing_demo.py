"""The billing demo (issue 6): twelve months of invoices for the smart-meter homes,
disputes at every stage, a payment plan, an extension and an assistance credit, all
through the real services; running seed_demo again creates nothing."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from accounts.models import SupplyPoint
from billing.models import (
    ApprovalStatus,
    AssistanceCredit,
    CreditRequest,
    Dispute,
    DisputeEvent,
    DisputeStatus,
    Invoice,
    LedgerEntry,
    PaymentExtension,
    PaymentPlan,
    PlanStatus,
)
from tickets.models import Ticket

PARIS = ZoneInfo("Europe/Paris")
# A fixed instant, so the months billed do not depend on the day the suite runs.
FIRST_RUN = datetime(2026, 12, 15, 10, 0, tzinfo=PARIS)


def _counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (
            Invoice,
            LedgerEntry,
            Dispute,
            DisputeEvent,
            CreditRequest,
            Ticket,
            PaymentPlan,
            PaymentExtension,
            AssistanceCredit,
        )
    )


@pytest.mark.django_db
def test_seed_demo_billing_is_complete_and_idempotent(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    with time_machine.travel(FIRST_RUN, tick=False):
        call_command("seed_demo")
    counts = _counts()
    # A second run later the same day changes nothing.
    with time_machine.travel(FIRST_RUN + timedelta(hours=3), tick=False):
        call_command("seed_demo")
    assert _counts() == counts

    homes = SupplyPoint.objects.filter(meters__serial__startswith="LKY").distinct()
    assert homes.count() == 12
    for home in homes:
        invoices = Invoice.objects.filter(supply_point=home, kind="INVOICE", status="ISSUED")
        assert invoices.count() == 12, home
        # December 2025 to November 2026, the last one issued on 3 December.
        assert min(i.period_start for i in invoices).isoformat() == "2025-12-01"
        assert max(i.issue_date for i in invoices).isoformat() == "2026-12-03"

    stages = {d.status: d for d in Dispute.objects.select_related("ticket", "invoice")}
    expected = {
        DisputeStatus.SUBMITTED,
        DisputeStatus.ACKNOWLEDGED,
        DisputeStatus.INVESTIGATING,
        DisputeStatus.ESCALATED,
        DisputeStatus.UPHELD,
        DisputeStatus.CREDITED,
        DisputeStatus.REJECTED,
    }
    assert set(stages) == expected
    assert Dispute.objects.count() == len(expected)
    # One dispute per home; every move is an event before the run.
    assert Dispute.objects.values("account").distinct().count() == len(expected)
    assert not DisputeEvent.objects.filter(at__gt=FIRST_RUN).exists()
    for status, dispute in stages.items():
        last = dispute.events.last()
        assert last.to_status == status and last.actor.is_staff_role == (
            status != DisputeStatus.SUBMITTED
        )
        assert (dispute.created_at.date() - dispute.invoice.issue_date).days <= 60
        # Plain disputes: none of the descriptions reads as a complaint or a safety call.
        assert not dispute.ticket.is_complaint and not dispute.ticket.safety_critical
    # The first demo customer sees her own dispute in the portal.
    assert stages[DisputeStatus.INVESTIGATING].ticket.requester.email == "claire.martin@example.fr"
    assert stages[DisputeStatus.ESCALATED].ticket.escalation_level == "SUPERVISOR"
    rejected = stages[DisputeStatus.REJECTED]
    assert rejected.letter and rejected.rejection_reason
    # Upheld: its credit above the threshold waits for a supervisor.
    assert stages[DisputeStatus.UPHELD].credit_requests.get().status == ApprovalStatus.PENDING
    credited = stages[DisputeStatus.CREDITED]
    request = credited.credit_requests.get()
    assert request.status == ApprovalStatus.APPROVED and request.decided_by.role == "SUPERVISOR"
    assert credited.credit_note.kind == "CREDIT_NOTE"
    assert credited.credit_note.total_gross == -request.amount

    plan = PaymentPlan.objects.get(status=PlanStatus.ACTIVE)
    assert plan.count == 6 and plan.instalments.count() == 6 and plan.total > 0
    extension = PaymentExtension.objects.get()
    assert extension.invoice.due_date == extension.new_due > extension.original_due
    assert AssistanceCredit.objects.get().status == ApprovalStatus.PENDING
    # Each story has a home of its own.
    stories = [d.account_id for d in stages.values()] + [
        plan.account_id,
        extension.invoice.account_id,
        AssistanceCredit.objects.get().account_id,
    ]
    assert len(set(stories)) == len(stories)
