"""What Celery beat runs every minute. Each step finds its work from rows with an
indexed deadline or marker, so a sweep lost to a restarting worker or Redis is made
up by the next one, and two sweeps at once share the work without doing it twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Q

from accounts.selectors import parameter_get

from ..domain import rules, states
from ..models import Incident, PublicUpdate
from .incidents import incident_auto_notice
from .notifications import notifications_deliver, update_fan_out
from .settlement import incident_compensate, review_open_if_due


@dataclass
class OutageSweepResult:
    notices: int = 0
    fanned_out: int = 0
    sent: int = 0
    failed: int = 0
    reviews: int = 0
    compensated: int = 0
    details: dict = field(default_factory=dict)


def outages_sweep(*, now: datetime) -> OutageSweepResult:
    now = now.astimezone(UTC)
    result = OutageSweepResult()
    # 1. A P1 nobody has announced gets the system notice before its 15 minutes run out.
    wait = timedelta(minutes=int(parameter_get(key="outage_auto_notice_minutes")))
    for pk in Incident.objects.filter(
        klass=rules.P1,
        status__in=states.OFF_SUPPLY,
        planned=False,
        first_notice_at__isnull=True,
        created_at__lte=now - wait,
    ).values_list("pk", flat=True):
        if incident_auto_notice(incident_id=pk, now=now):
            result.notices += 1
    # 2. Updates whose fan-out task never ran (or was lost).
    for pk in PublicUpdate.objects.filter(fanned_out_at__isnull=True, at__lte=now).values_list(
        "pk", flat=True
    ):
        result.fanned_out += update_fan_out(update_id=pk, now=now)
    # 3. Messages due, priority first.
    delivered = notifications_deliver(now=now)
    result.sent, result.failed = delivered.sent, delivered.failed
    # 4. Restoration targets: a review opens as soon as one is passed.
    # Live incidents, and those ended lately (the settle task already checked them at
    # restoration; this catches a lost task) — not the whole history every minute.
    for incident in (
        Incident.objects.filter(planned=False, review__isnull=True)
        .filter(
            # No target is under an hour; younger incidents cannot be late yet.
            Q(status__in=states.OFF_SUPPLY, started_at__lte=now - timedelta(hours=1))
            | Q(status__in=[states.RESTORED, states.CLOSED], ended_at__gte=now - timedelta(days=2))
        )
        .only("pk")
    ):
        if review_open_if_due(incident_id=incident.pk, now=now):
            result.reviews += 1
    # 5. Compensation of restored incidents not yet settled.
    for pk in (
        Incident.objects.filter(
            status__in=[states.RESTORED, states.CLOSED],
            planned=False,
            interruptions__ended_at__isnull=False,
            interruptions__compensation__isnull=True,
            ended_at__gte=now - timedelta(days=90),
        )
        .values_list("pk", flat=True)
        .distinct()
    ):
        result.compensated += incident_compensate(incident_id=pk, now=now)
    return result
