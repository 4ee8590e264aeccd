"""Billing tasks (keyword arguments only, idempotent, acks_late)."""

from celery import shared_task  # noqa: F401

# --- Invoices: billing runs -------------------------------------------------------------


@shared_task(acks_late=True)
def invoice_run_item_task(*, run_id: int, supply_point_id: int) -> str:
    """Bill one supply point of a run; a replay finds the invoice and skips it."""
    from django.utils import timezone

    from billing.services.invoices import billing_run_item

    return billing_run_item(
        run_id=run_id, supply_point_id=supply_point_id, now=timezone.now()
    ).outcome
