"""Self-service tasks (keyword arguments only, idempotent, acks_late)."""

from celery import shared_task


@shared_task(acks_late=True)
def kb_conversation_idle_sweep_task(*, now_iso: str | None = None) -> int:
    """Close the chat conversations idle past their ``idle_due_at`` (every minute)."""
    from datetime import datetime

    from django.utils import timezone

    from kb.services.chat import conversation_idle_sweep

    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    return conversation_idle_sweep(now=now)
