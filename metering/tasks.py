from datetime import date, datetime, timedelta

from celery import shared_task
from django.utils import timezone

from .services import aggregates, partitions


@shared_task(acks_late=True)
def interval_partitions_task(*, now_iso: str | None = None) -> dict:
    """Daily: monthly partitions of the hourly table three months ahead; drop the months
    entirely older than `interval_retention_months`. Idempotent. Register reads (the
    billing reads invoices rest on) are another table and are never dropped."""
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    report = partitions.interval_partitions_maintain(now=now)
    return {"created": report.created, "dropped": report.dropped}


@shared_task(acks_late=True)
def daily_consumption_task(
    *, today_iso: str | None = None, day_from_iso: str | None = None, day_to_iso: str | None = None
) -> dict:
    """Nightly: rebuild the daily and similar-homes aggregates of yesterday and the day
    before (local days), because some meters' hours arrive a day late. Idempotent, so a
    redelivered task is harmless. `day_from_iso`/`day_to_iso` rebuild any past period."""
    today = date.fromisoformat(today_iso) if today_iso else timezone.localdate()
    day_from = date.fromisoformat(day_from_iso) if day_from_iso else today - timedelta(days=2)
    day_to = date.fromisoformat(day_to_iso) if day_to_iso else today - timedelta(days=1)
    report = aggregates.daily_consumption_rebuild(day_from=day_from, day_to=day_to)
    return {
        "day_from": day_from.isoformat(),
        "day_to": day_to.isoformat(),
        "days": report.days,
        "daily_written": report.daily_written,
        "cohort_written": report.cohort_written,
        "cohort_removed": report.cohort_removed,
    }


@shared_task(acks_late=True)
def meter_remote_read_task(*, ticket_id: int, now_iso: str | None = None) -> dict:
    """Call the head-end for a METERING ticket whose remote-read step is running. A
    redelivered task finds the step over and does nothing."""
    from .services import workflow

    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    result = workflow.meter_remote_read_pending(ticket_id=ticket_id, now=now)
    if result is None:
        return {"skipped": True}
    return {"ok": result.ok, "readings": len(result.readings), "error": result.error}
