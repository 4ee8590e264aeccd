"""Outage tasks (keyword arguments only, idempotent, acks_late). Each one's work is
also found by the minute sweep, so a lost message only delays it."""

from celery import shared_task


@shared_task(acks_late=True)
def outages_sweep_task(*, now_iso: str | None = None) -> dict:
    from datetime import datetime

    from django.utils import timezone

    from outages.services.sweep import outages_sweep

    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    result = outages_sweep(now=now)
    return {
        "notices": result.notices,
        "fanned_out": result.fanned_out,
        "sent": result.sent,
        "failed": result.failed,
        "reviews": result.reviews,
        "compensated": result.compensated,
    }


@shared_task(acks_late=True)
def update_fan_out_task(*, update_id: int) -> int:
    from django.utils import timezone

    from outages.services.notifications import notifications_deliver, update_fan_out

    queued = update_fan_out(update_id=update_id, now=timezone.now())
    notifications_deliver(now=timezone.now())
    return queued


@shared_task(acks_late=True)
def incident_settle_task(*, incident_id: int) -> int:
    from django.utils import timezone

    from outages.services.settlement import incident_compensate, review_open_if_due

    now = timezone.now()
    review_open_if_due(incident_id=incident_id, now=now)
    return incident_compensate(incident_id=incident_id, now=now)


@shared_task(acks_late=True)
def availability_credits_task(*, month_iso: str | None = None) -> int:
    """Monthly: last month's ENTERPRISE availability credits (a replay books none)."""
    from datetime import date, timedelta

    from django.utils import timezone

    from outages.services.settlement import availability_credits

    now = timezone.now()
    if month_iso:
        month = date.fromisoformat(month_iso)
    else:
        month = (timezone.localdate(now).replace(day=1) - timedelta(days=1)).replace(day=1)
    return availability_credits(month=month, now=now)
