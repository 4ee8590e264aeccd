from datetime import datetime

from axes.handlers.proxy import AxesProxyHandler
from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

from . import services

ACCESS_LOG_RETENTION_DAYS = 90


@shared_task(acks_late=True)
def sessions_purge_task(*, now_iso: str | None = None) -> int:
    """Delete expired sessions; running it twice deletes nothing more."""
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    deleted, _ = Session.objects.filter(expire_date__lt=now).delete()
    return deleted


@shared_task(acks_late=True)
def access_attempts_purge_task() -> int:
    """Drop old login audit logs; live lockouts expire on their own cool-off."""
    return AxesProxyHandler.reset_logs(age_days=ACCESS_LOG_RETENTION_DAYS)


@shared_task(acks_late=True)
def data_export_build_task(*, export_id: int) -> str:
    return services.data_export_build(export_id=export_id, now=timezone.now()).status


@shared_task(acks_late=True)
def documents_purge_task(*, now_iso: str | None = None) -> int:
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    return services.documents_purge_expired(now=now)
