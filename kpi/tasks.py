"""Celery tasks of the kpi app: the snapshot builds of the beat schedule
(powernext/celery.py). Each rebuilds whole periods from the raw records, so a task run
twice, late or redelivered writes the same rows (docs/kpi.md, "Snapshots and dashboard")."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task
from django.utils import timezone

from .domain import metrics
from .services import alerts, snapshots
from .services import text as text_analytics


def _now(now_iso: str | None) -> datetime:
    return datetime.fromisoformat(now_iso) if now_iso else timezone.now()


def _report(report: snapshots.BuildReport) -> dict:
    return {
        "periods": report.periods,
        "cells": report.cells,
        "written": report.written,
        "removed": report.removed,
    }


@shared_task(acks_late=True)
def kpi_snapshots_interval_task(*, now_iso: str | None = None) -> dict:
    """Every 15 minutes: today's snapshots so far (and yesterday's just after midnight)."""
    return _report(snapshots.snapshots_refresh(now=_now(now_iso)))


@shared_task(acks_late=True)
def kpi_snapshots_daily_task(*, now_iso: str | None = None) -> dict:
    """Nightly: yesterday (Paris), complete, with its intervals."""
    now = _now(now_iso)
    yesterday = metrics.local_day(now) - timedelta(days=1)
    return _report(snapshots.snapshot_day_build(day=yesterday, now=now))


@shared_task(acks_late=True)
def kpi_snapshots_monthly_task(*, now_iso: str | None = None) -> dict:
    """On the 1st and the 2nd (a missed run is made up): last month, from the raw
    records."""
    now = _now(now_iso)
    last_month = (metrics.local_month(now) - timedelta(days=1)).replace(day=1)
    return _report(snapshots.snapshot_month_build(month=last_month, now=now))


@shared_task(acks_late=True)
def kpi_alerts_check_task(*, now_iso: str | None = None) -> dict:
    """Every minute: raise or clear the interval alerts (docs/kpi.md, "Interval alerts");
    a redelivered run at the same instant changes nothing."""
    result = alerts.kpi_alerts_check(now=_now(now_iso))
    return {
        "checked": result.checked,
        "raised": len(result.raised),
        "cleared": len(result.cleared),
        "notified": len(result.notified),
    }


@shared_task(acks_late=True)
def kpi_text_scan_task(*, now_iso: str | None = None) -> dict:
    """Every 5 minutes: read the new ticket and chat messages into QA flags and callback
    promises (docs/kpi-text.md); the cursor makes a redelivered run read nothing twice."""
    report = text_analytics.text_scan(now=_now(now_iso))
    return {
        "scanned": report.scanned,
        "negative": report.negative,
        "forbidden": report.forbidden,
        "promises": report.promises,
        "last_message_id": report.last_message_id,
    }


@shared_task(acks_late=True)
def kpi_callback_promises_sweep_task(*, now_iso: str | None = None) -> dict:
    """Every 5 minutes: settle the callback promises now due, kept or flagged; a settled
    promise is never read again, so a redelivered run changes nothing."""
    report = text_analytics.callback_promises_sweep(now=_now(now_iso))
    return {"kept": report.kept, "flagged": report.flagged}
