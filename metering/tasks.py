from datetime import datetime

from celery import shared_task
from django.utils import timezone

from .services import partitions


@shared_task(acks_late=True)
def interval_partitions_task(*, now_iso: str | None = None) -> dict:
    """Daily: monthly partitions of the hourly table three months ahead; drop the months
    entirely older than `interval_retention_months`. Idempotent. Register reads (the
    billing reads invoices rest on) are another table and are never dropped."""
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    report = partitions.interval_partitions_maintain(now=now)
    return {"created": report.created, "dropped": report.dropped}
