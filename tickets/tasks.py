from datetime import datetime

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(acks_late=True)
def clocks_sweep_task(*, now_iso: str | None = None) -> dict:
    """Every minute: warnings, breaches, escalations, deadlock letters. Idempotent."""
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    result = services.clocks_sweep(now=now)
    return result.__dict__
