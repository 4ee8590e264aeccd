"""Reads behind the portal's invoice pages: a page of the account's invoices with what is
left to pay on each, and one invoice with the same figure.

Payments are booked against the account, not against an invoice, so what is left to pay
on an invoice is derived: the outstanding balance is the newest debt (a payment settles
the oldest first), so it is laid on the issued invoices from the newest backwards. A
cancelled invoice was offset by its credit note and takes none of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Case, DecimalField, F, Q, Sum, Value, When, Window

from accounts.selectors import parameter_get
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.selectors.disputes import open_dispute_exists
from billing.selectors.invoices import account_invoices
from billing.selectors.ledger import account_balance

PAGE_SIZE = 24
ZERO = Decimal("0.00")


class Payment:
    """What the customer still has to do about one document."""

    PAID = "PAID"
    DUE = "DUE"
    PARTLY_PAID = "PARTLY_PAID"
    OVERDUE = "OVERDUE"
    CANCELLED = "CANCELLED"
    CREDIT = "CREDIT"


@dataclass(frozen=True)
class InvoiceRow:
    invoice: Invoice
    period_last_day: date  # periods are [start, end): pages show the last day included
    payment: str
    outstanding: Decimal


@dataclass(frozen=True)
class InvoicePage:
    page: Page
    rows: list[InvoiceRow]
    balance: Decimal  # positive: owed

    @property
    def credit(self) -> Decimal:
        return -self.balance


@dataclass(frozen=True)
class InvoiceView:
    row: InvoiceRow
    open_dispute: bool
    disputable: bool  # the portal's dispute form would accept it today


def _owed_on_issued():
    return Case(
        When(kind=InvoiceKind.INVOICE, status=InvoiceStatus.ISSUED, then=F("total_gross")),
        default=Value(ZERO),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def payment_of(
    invoice: Invoice, *, balance: Decimal, newer_issued: Decimal, today: date
) -> tuple[str, Decimal]:
    """(Payment, amount left) of one document; `newer_issued` is the gross total of the
    account's issued invoices newer than it, which take the balance first."""
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        return Payment.CREDIT, ZERO
    if invoice.status == InvoiceStatus.CANCELLED:
        return Payment.CANCELLED, ZERO
    left = min(max(balance - newer_issued, ZERO), invoice.total_gross)
    if left <= 0:
        return Payment.PAID, ZERO
    if invoice.due_date and invoice.due_date < today:
        return Payment.OVERDUE, left
    if left < invoice.total_gross:
        return Payment.PARTLY_PAID, left
    return Payment.DUE, left


def _row(invoice: Invoice, *, balance: Decimal, newer_issued: Decimal, today: date) -> InvoiceRow:
    payment, left = payment_of(invoice, balance=balance, newer_issued=newer_issued, today=today)
    return InvoiceRow(
        invoice=invoice,
        period_last_day=invoice.period_last_day,
        payment=payment,
        outstanding=left,
    )


def customer_invoice_page(
    *, account_id: int, page_number: str | int | None, today: date, per_page: int = PAGE_SIZE
) -> InvoicePage:
    """One page of the account's invoices and credit notes, newest first, never drafts:
    a count, the page and the balance, three queries whatever the history's length.

    The running total of newer issued invoices is a window over the whole history,
    computed by PostgreSQL before the page is cut, so a page needs nothing from the
    pages before it."""
    queryset = (
        account_invoices(account_id=account_id)
        .defer("rebill_reason", "pdf", "pdf_built_at", "created_at")
        .annotate(
            issued_up_to_here=Window(
                Sum(_owed_on_issued()), order_by=[F("issue_date").desc(), F("id").desc()]
            ),
            own_issued=_owed_on_issued(),
        )
    )
    page = Paginator(queryset, per_page).get_page(page_number)
    balance = account_balance(account_id=account_id)
    rows = [
        _row(
            invoice,
            balance=balance,
            newer_issued=invoice.issued_up_to_here - invoice.own_issued,
            today=today,
        )
        for invoice in page.object_list
    ]
    return InvoicePage(page=page, rows=rows, balance=balance)


def customer_invoice(*, account_id: int, number: str, today: date) -> InvoiceView | None:
    """One invoice of the account with what its page and PDF show; None if it is not
    theirs or a draft (→ 404)."""
    invoice = (
        account_invoices(account_id=account_id)
        .select_related("account", "supply_point__premise")
        .prefetch_related("lines")
        .filter(number=number)
        .first()
    )
    if invoice is None:
        return None
    newer = Invoice.objects.filter(
        Q(issue_date__gt=invoice.issue_date) | Q(issue_date=invoice.issue_date, id__gt=invoice.pk),
        account_id=account_id,
        kind=InvoiceKind.INVOICE,
        status=InvoiceStatus.ISSUED,
    ).aggregate(total=Sum("total_gross"))["total"]
    row = _row(
        invoice,
        balance=account_balance(account_id=account_id),
        newer_issued=newer or ZERO,
        today=today,
    )
    is_issued_invoice = (
        invoice.kind == InvoiceKind.INVOICE and invoice.status == InvoiceStatus.ISSUED
    )
    open_dispute = is_issued_invoice and open_dispute_exists(invoice_id=invoice.pk)
    window = timedelta(days=int(parameter_get(key="dispute_window_days")))
    return InvoiceView(
        row=row,
        open_dispute=open_dispute,
        disputable=is_issued_invoice and not open_dispute and today <= invoice.issue_date + window,
    )
