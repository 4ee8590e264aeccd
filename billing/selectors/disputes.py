"""Reads of billing disputes and the credit requests that settle them."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from billing import domain
from billing.models import (
    ApprovalStatus,
    CreditRequest,
    Dispute,
    DisputeEvent,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
)


def collections_on_hold(*, account_id: int) -> bool:
    """No dunning while the customer disputes a bill: True while a dispute is open."""
    return Dispute.objects.filter(account_id=account_id, status__in=domain.DISPUTE_OPEN).exists()


def open_dispute_exists(*, invoice_id: int) -> bool:
    return Dispute.objects.filter(invoice_id=invoice_id, status__in=domain.DISPUTE_OPEN).exists()


def disputable_invoice(*, account_id: int, number: str) -> Invoice | None:
    """The account's issued invoice of that number (credit notes are not disputed)."""
    return (
        Invoice.objects.filter(
            account_id=account_id,
            number=number.strip().upper(),
            kind=InvoiceKind.INVOICE,
            status=InvoiceStatus.ISSUED,
        )
        .select_related("supply_point")
        .first()
    )


def _events() -> Prefetch:
    return Prefetch("events", queryset=DisputeEvent.objects.select_related("actor"))


def customer_disputes(*, account_id: int, limit: int = 100) -> QuerySet[Dispute]:
    return (
        Dispute.objects.filter(account_id=account_id)
        .select_related("invoice", "ticket")
        .order_by("-created_at", "-id")[:limit]
    )


def customer_dispute(*, account_id: int, dispute_id: int) -> Dispute:
    """The account's dispute, 404 for anyone else's."""
    return get_object_or_404(
        Dispute.objects.select_related(
            "invoice", "ticket", "supply_point", "credit_note"
        ).prefetch_related(_events()),
        pk=dispute_id,
        account_id=account_id,
    )


def console_disputes(*, status: str | None = None, limit: int = 100) -> QuerySet[Dispute]:
    """Oldest first: the dispute waiting longest is the next to handle."""
    queryset = Dispute.objects.select_related("invoice", "account", "ticket", "supply_point")
    if status:
        queryset = queryset.filter(status=status)
    else:
        queryset = queryset.filter(status__in=domain.DISPUTE_OPEN)
    return queryset.order_by("created_at", "id")[:limit]


def dispute_counts() -> dict[str, int]:
    rows = Dispute.objects.values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}


def console_dispute(*, dispute_id: int) -> Dispute:
    from tickets.models import ClockInstance

    return get_object_or_404(
        Dispute.objects.select_related(
            "invoice", "account", "supply_point", "credit_note", "ticket", "ticket__requester"
        ).prefetch_related(
            _events(),
            Prefetch(
                "credit_requests",
                queryset=CreditRequest.objects.select_related(
                    "requested_by", "decided_by", "entry"
                ).order_by("requested_at", "id"),
            ),
            Prefetch(
                "ticket__clocks",
                queryset=ClockInstance.objects.select_related("calendar").order_by(
                    "started_at", "id"
                ),
            ),
        ),
        pk=dispute_id,
    )


def credit_requests_pending(*, limit: int = 100) -> QuerySet[CreditRequest]:
    return (
        CreditRequest.objects.filter(status=ApprovalStatus.PENDING)
        .select_related("account", "dispute__invoice", "dispute__ticket", "requested_by")
        .order_by("requested_at", "id")[:limit]
    )


def dispute_actions(*, dispute: Dispute) -> list[str]:
    """The moves the table allows from the dispute's status, settlement ones excepted:
    those are booked by a credit request, never chosen by hand."""
    settlement = {"CREDITED", "REFUNDED"}
    allowed = domain.DISPUTE_TRANSITIONS.get(dispute.status, frozenset()) - settlement
    order = ["ACKNOWLEDGED", "INVESTIGATING", "ESCALATED", "UPHELD", "REJECTED"]
    return [status for status in order if status in allowed]


def dispute_awaits_proposal(*, dispute: Dispute) -> bool:
    """Upheld, and every credit request so far refused: an agent proposes another."""
    if dispute.status != "UPHELD":
        return False
    return all(r.status == ApprovalStatus.REJECTED for r in dispute.credit_requests.all())
