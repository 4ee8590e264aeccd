"""Billing tasks (keyword arguments only, idempotent, acks_late)."""

from celery import shared_task

# --- Invoices: billing runs -------------------------------------------------------------


@shared_task(acks_late=True)
def invoice_run_item_task(*, run_id: int, supply_point_id: int) -> str:
    """Bill one supply point of a run; a replay finds the invoice and skips it."""
    from django.utils import timezone

    from billing.services.invoices import billing_run_item

    return billing_run_item(
        run_id=run_id, supply_point_id=supply_point_id, now=timezone.now()
    ).outcome


# --- The customer's money: payment plans ----------------------------------------------


@shared_task(acks_late=True)
def plan_instalments_sweep_task() -> dict:
    """Daily: instalment reminders and broken plans; a replay sends nothing twice."""
    from django.utils import timezone

    from billing.services.account_money import plan_instalments_sweep

    now = timezone.now()
    result = plan_instalments_sweep(today=timezone.localdate(now), now=now)
    return {"reminded": result.reminded, "broken": result.broken}


# --- Invoices: PDFs -----------------------------------------------------------------------


@shared_task(acks_late=True)
def invoice_pdf_task(*, invoice_id: int, force: bool = False) -> str:
    """Render and store an invoice's PDF; a replay finds the file and keeps it."""
    from django.utils import timezone

    from billing.models import Invoice
    from billing.services.pdf import InvoiceNotRenderable, invoice_pdf_build

    try:
        invoice = invoice_pdf_build(invoice_id=invoice_id, now=timezone.now(), force=force)
    except Invoice.DoesNotExist:
        return "missing"  # rolled back after enqueueing: nothing will ever come of a retry
    except InvoiceNotRenderable:
        return "draft"
    return invoice.pdf.name
