"""Demo billing: the smart-meter homes of the metering demo on a tariff, with twelve monthly
invoices each, issued two days after each month and paid on their due date except the
latest ones. Idempotent: an invoice that exists is left alone, a payment is booked once."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from accounts.models import SupplyPoint
from billing.domain import add_months
from billing.models import EntryKind, Invoice, Tariff, TariffSubscription
from billing.selectors.invoices import ConsumptionUnknown, TariffMissing
from billing.services.invoices import InvoiceError, invoice_compute, invoice_issue
from billing.services.ledger import ledger_post

PARIS = ZoneInfo("Europe/Paris")
MONTHS = 12


def _points() -> list[SupplyPoint]:
    # The metering demo gives its homes meters named LKY…; they have hourly data.
    return list(
        SupplyPoint.objects.filter(meters__serial__startswith="LKY")
        .select_related("premise__account")
        .distinct()
        .order_by("id")
    )


def _subscribe(point: SupplyPoint, *, index: int, since: date, now: datetime) -> None:
    if TariffSubscription.objects.filter(supply_point=point).exists():
        return
    code = "HPHC" if index % 3 == 0 else "BASE"  # the electric-heating homes are on HP/HC
    TariffSubscription.objects.create(
        supply_point=point, tariff=Tariff.objects.get(code=code), start=since, created_at=now
    )


def seed(*, now: datetime) -> str:
    today = now.astimezone(PARIS).date()
    this_month = today.replace(day=1)
    first = add_months(this_month, -MONTHS)
    points = _points()
    issued = paid = 0
    for index, point in enumerate(points):
        _subscribe(point, index=index, since=first, now=now)
        for m in range(MONTHS):
            start, end = add_months(first, m), add_months(first, m + 1)
            issue_at = datetime.combine(end + timedelta(days=2), time(9), PARIS)
            if issue_at > now:
                break
            invoice = Invoice.objects.filter(
                supply_point=point, period_start=start, kind="INVOICE"
            ).first()
            if invoice is None:
                try:
                    with transaction.atomic():
                        draft = invoice_compute(
                            supply_point=point, period_start=start, period_end=end, now=issue_at
                        )
                        invoice = invoice_issue(invoice=draft, now=issue_at)
                except (InvoiceError, TariffMissing, ConsumptionUnknown):
                    continue
                issued += 1
            # Paid on the due date, except the last two months (still to pay).
            if m < MONTHS - 2 and invoice.total_gross > 0:
                pay_at = datetime.combine(invoice.due_date, time(8), PARIS)
                ledger_post(
                    account=point.premise.account,
                    kind=EntryKind.PAYMENT,
                    amount=invoice.total_gross,
                    description=f"Prélèvement facture {invoice.number}",
                    now=pay_at,
                    source=f"demo-payment:{invoice.pk}",
                )
                paid += 1
    return f"{len(points)} homes on a tariff, {issued} invoices issued, {paid} payments"
