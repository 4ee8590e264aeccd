"""Billing tasks (keyword arguments only, idempotent, acks_late)."""

from celery import shared_task  # noqa: F401
