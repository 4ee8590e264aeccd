"""After an outage: compensation per supply point, the monthly availability credit of
ENTERPRISE accounts, and the post-incident review when a restoration target is missed.
Every credit carries a ledger source unique to what it pays for, so replays and
concurrent sweeps book it once."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Account, User
from accounts.selectors import parameter_get
from billing.services.ledger import ledger_post

from .. import selectors
from ..domain import reliability, rules, states
from ..models import (
    AvailabilityCredit,
    Compensation,
    CompensationRule,
    Incident,
    Interruption,
    PostIncidentReview,
    ReviewStatus,
)
from . import InvalidInput, NotAllowed
from .incidents import event

PARIS = ZoneInfo("Europe/Paris")
NO_COMPENSATION_CAUSES = {"CUSTOMER_INSTALLATION"}


def incident_compensate(*, incident_id: int, now: datetime) -> int:
    """Credit every supply point owed for a restored, unplanned incident."""
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update(skip_locked=True).filter(pk=incident_id).first()
        )
        if (
            incident is None
            or incident.status not in (states.RESTORED, states.CLOSED)
            or incident.planned
            or incident.cause in NO_COMPENSATION_CAUSES
        ):
            return 0
        rules_by_market = {
            r.market: rules.CompensationTerms(
                r.threshold_minutes, r.slice_minutes, r.amount_per_kva, r.max_slices
            )
            for r in CompensationRule.objects.filter(active=True)
        }
        pending = (
            Interruption.objects.filter(
                incident=incident, ended_at__isnull=False, compensation__isnull=True
            )
            .select_related("supply_point", "account")
            .order_by("pk")
        )
        credited = 0
        for interruption in pending:
            terms = rules_by_market.get(interruption.supply_point.market)
            if terms is None:
                continue
            minutes = rules.whole_minutes(interruption.started_at, interruption.ended_at)
            kva = interruption.supply_point.subscribed_kva
            entitlement = rules.compensation(minutes_off=minutes, kva=kva, terms=terms)
            if entitlement.slices == 0:
                continue
            source = f"outage-comp:{interruption.pk}"
            ledger_post(
                account=interruption.account,
                kind="COMPENSATION",
                amount=entitlement.amount,
                description=_("Indemnisation coupure %(ref)s (%(h)d h %(m)02d)")
                % {"ref": incident.reference, "h": minutes // 60, "m": minutes % 60},
                now=now,
                source=source,
            )
            Compensation.objects.create(
                interruption=interruption,
                account=interruption.account,
                minutes_off=minutes,
                slices=entitlement.slices,
                kva=kva,
                amount=entitlement.amount,
                computed_at=now,
                credited_at=now,
                ledger_source=source,
            )
            credited += 1
        if credited:
            event(incident, kind="COMPENSATED", actor=None, now=now, new=str(credited))
    return credited


def mttr_target_for(incident: Incident) -> timedelta:
    return rules.mttr_target(
        customers_affected=incident.customers_affected,
        several_households=int(parameter_get(key="outage_several_households")),
        network_hours=float(parameter_get(key="outage_mttr_network_hours")),
        isolated_hours=float(parameter_get(key="outage_mttr_isolated_hours")),
    )


def review_open_if_due(*, incident_id: int, now: datetime) -> PostIncidentReview | None:
    """Open the review of an incident restored late, or still off past its target."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if incident.planned or incident.status in (states.CANCELLED, states.PLANNED):
            return None
        target = mttr_target_for(incident)
        end = incident.ended_at or now
        if rules.elapsed(incident.started_at, end) <= target or hasattr(incident, "review"):
            return None
        hours = target.total_seconds() / 3600
        review, created = PostIncidentReview.objects.get_or_create(
            incident=incident,
            defaults={
                "reason": _("Objectif de rétablissement de %(h)g h dépassé") % {"h": hours},
                "opened_at": now,
                "due_at": now + timedelta(days=int(parameter_get(key="outage_review_due_days"))),
            },
        )
        if created:
            event(incident, kind="REVIEW_OPENED", actor=None, now=now, note=review.reason)
    return review


def review_complete(
    *,
    review: PostIncidentReview,
    timeline: str,
    cause: str,
    actions: str,
    now: datetime,
    actor: User,
) -> PostIncidentReview:
    errors = {}
    for field, value in (("timeline", timeline), ("cause", cause), ("actions", actions)):
        if len(value.strip()) < 10:
            errors[field] = _("Détaillez (au moins quelques mots).")
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        review = PostIncidentReview.objects.select_for_update().get(pk=review.pk)
        if review.status == ReviewStatus.DONE:
            raise NotAllowed(_("Cette revue est déjà terminée."))
        review.timeline, review.cause, review.actions = (
            timeline.strip(),
            cause.strip(),
            (actions.strip()),
        )
        review.status, review.completed_at, review.completed_by = ReviewStatus.DONE, now, actor
        review.save()
        event(review.incident, kind="REVIEW_DONE", actor=actor, now=now)
    return review


def _month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=PARIS)
    days = monthrange(month.year, month.month)[1]
    return start, start + timedelta(days=days)


def availability_credits(*, month: date, now: datetime) -> int:
    """ENTERPRISE accounts whose supply points were available less than their
    package's target in `month` get its service credit, once per month."""
    start, end = _month_bounds(month.replace(day=1))
    # Wall-clock bounds: the month of the DST change is an hour shorter or longer.
    period_minutes = rules.elapsed(start, end).total_seconds() / 60
    off = selectors.interrupted_minutes_by_account(start=start, end=end, now=now)
    accounts = Account.objects.filter(
        sla_package__availability_target_percent__isnull=False,
        sla_package__availability_service_credit__gt=0,
        status="ACTIVE",
    ).select_related("sla_package")
    credited = 0
    for account in accounts:
        points = selectors.account_supply_point_count(account_id=account.pk)
        share = reliability.availability(
            minutes_off=off.get(account.pk, 0.0),
            supply_points=points,
            period_minutes=period_minutes,
        )
        percent = Decimal(str(round(share * 100, 4)))
        package = account.sla_package
        if percent >= package.availability_target_percent:
            continue
        source = f"availability:{account.pk}:{month:%Y-%m}"
        with transaction.atomic():
            _credit, created = AvailabilityCredit.objects.get_or_create(
                account=account,
                month=month.replace(day=1),
                defaults={
                    "availability_percent": percent,
                    "target_percent": package.availability_target_percent,
                    "amount": package.availability_service_credit,
                    "computed_at": now,
                    "ledger_source": source,
                },
            )
            if created:
                ledger_post(
                    account=account,
                    kind="COMPENSATION",
                    amount=package.availability_service_credit,
                    description=_("Crédit de service : disponibilité %(p)s %% en %(m)s")
                    % {"p": percent, "m": f"{month:%m/%Y}"},
                    now=now,
                    source=source,
                )
                credited += 1
    return credited
