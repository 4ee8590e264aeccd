"""Reads of the supervisor's outage pages and of the outage API: reliability per area
and month, restoration times per class, the P1 cadence, post-incident reviews,
compensation totals, and the live outage status of a business account's supply
points.

Every report covers twelve Paris months in a fixed number of queries: the sums are
made in SQL, per area (or class) and month, and the indices computed from them by the
pure functions of domain/reliability.py. Months are Europe/Paris local months whose
bounds are UTC instants, so a month with a clock change lasts 743 or 745 hours.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, JSONObject, TruncMonth
from django.http import Http404

from accounts import selectors as account_selectors
from accounts.models import SupplyPoint
from accounts.selectors import parameter_get
from metering.domain import month_bounds
from tickets.models import ClockInstance, ClockStatus

from .domain import reliability, rules, states
from .models import (
    AvailabilityCredit,
    Compensation,
    Incident,
    IncidentEvent,
    Interruption,
    PostIncidentReview,
    ReviewStatus,
    ServiceArea,
)

PARIS = ZoneInfo("Europe/Paris")
TREND_MONTHS = 12
CLASSES = (rules.P1, rules.P2, rules.P3)
NOTICE, UPDATE = "PUBLIC_NOTICE", "PUBLIC_UPDATE"


# --- Months ------------------------------------------------------------------------------


def month_of(instant: datetime) -> date:
    """The first day of the Paris month an instant falls in."""
    return instant.astimezone(PARIS).date().replace(day=1)


def month_span(month: date) -> tuple[datetime, datetime]:
    """Paris local midnight on the 1st to the next 1st, as UTC instants."""
    return month_bounds(month.year, month.month)


def months_ending(month: date, count: int = TREND_MONTHS) -> list[date]:
    """`count` first-of-month dates, oldest first, the last one being `month`."""
    index = month.year * 12 + month.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def _window(months: list[date]) -> tuple[datetime, datetime]:
    return month_span(months[0])[0], month_span(months[-1])[1]


def _elapsed_minutes(month: date, now: datetime) -> float:
    """Minutes of the month already lived: the whole month once over, else up to now."""
    start, end = month_span(month)
    return max(0.0, rules.elapsed(start, min(end, now)).total_seconds() / 60)


def _month_key(value: datetime | date) -> date:
    """TruncMonth gives an aware datetime in Paris; keep the date of the 1st."""
    return value.date() if isinstance(value, datetime) else value


def duration_text(minutes: float | None) -> str:
    """ "3 h 05", or "42 min" under an hour: how the control room says durations."""
    if minutes is None:
        return "–"
    whole = round(minutes)
    if whole < 60:
        return f"{whole} min"
    return f"{whole // 60} h {whole % 60:02d}"


# --- Reliability -------------------------------------------------------------------------


def _off_duration(now: datetime) -> ExpressionWrapper:
    """How long a record was off supply; one still open counts up to now."""
    return ExpressionWrapper(
        Coalesce("ended_at", Value(now, output_field=DateTimeField())) - F("started_at"),
        output_field=DurationField(),
    )


def interruption_totals(
    *, start: datetime, end: datetime, now: datetime, threshold_minutes: float
) -> dict[tuple[int | None, date], tuple[int, int, float]]:
    """(area id, Paris month) → (sustained, momentary, customer minutes), in one query.

    A record belongs to the month it started in and counts its whole duration. Those
    of a cancelled incident were never an outage.
    """
    threshold = timedelta(minutes=threshold_minutes)
    rows = (
        Interruption.objects.filter(started_at__gte=start, started_at__lt=end)
        .exclude(incident__status=states.CANCELLED)
        .annotate(off=_off_duration(now), month=TruncMonth("started_at", tzinfo=PARIS))
        .values("area_id", "month")
        .annotate(
            sustained=Count("id", filter=Q(off__gt=threshold)),
            momentary=Count("id", filter=Q(off__lte=threshold)),
            minutes=Sum("off", filter=Q(off__gt=threshold)),
        )
        .order_by()
    )
    return {
        (row["area_id"], _month_key(row["month"])): (
            row["sustained"],
            row["momentary"],
            row["minutes"].total_seconds() / 60 if row["minutes"] else 0.0,
        )
        for row in rows
    }


def served_by_postcode() -> dict[str, int]:
    """Supply points of active accounts per premise postcode, in one query."""
    return dict(
        SupplyPoint.objects.filter(premise__account__status="ACTIVE")
        .values_list("premise__postcode")
        .annotate(n=Count("id"))
        .order_by()
    )


@dataclass(frozen=True)
class ReliabilityRow:
    area: ServiceArea | None  # None: the whole network
    indices: reliability.Indices

    @property
    def asai_percent(self) -> float | None:
        return _percent(self.indices.asai)


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def reliability_report(
    *, month: date, now: datetime, area_code: str = "", months: int = TREND_MONTHS
) -> dict:
    """The indices of every service area and of the whole network for `month`, and the
    monthly trend of one area (or the network) over the `months` months ending there.

    Customers served are today's supply points of active accounts: the register keeps
    no history, so past months are measured against the current customer base.
    """
    threshold = float(parameter_get(key="outage_sustained_threshold_minutes"))
    firsts = months_ending(month, months)
    start, end = _window(firsts)
    areas = list(ServiceArea.objects.defer("ring").order_by("name"))  # shapes are for maps
    served = served_by_postcode()
    totals = interruption_totals(start=start, end=end, now=now, threshold_minutes=threshold)

    area_served = {a.pk: sum(served.get(p, 0) for p in a.postcodes) for a in areas}
    network_served = sum(served.values())

    def indices_for(area_id: int | None, first: date, *, network: bool) -> reliability.Indices:
        sustained = momentary = 0
        minutes = 0.0
        for (row_area, row_month), (s, m, cm) in totals.items():
            if row_month == first and (network or row_area == area_id):
                sustained, momentary, minutes = sustained + s, momentary + m, minutes + cm
        return reliability.indices_from_totals(
            customers_served=network_served if network else area_served[area_id],
            sustained_interruptions=sustained,
            momentary_interruptions=momentary,
            customer_minutes=minutes,
            period_minutes=_elapsed_minutes(first, now),
        )

    rows = [ReliabilityRow(a, indices_for(a.pk, month, network=False)) for a in areas]
    overall = ReliabilityRow(None, indices_for(None, month, network=True))
    trend_area = next((a for a in areas if a.code == area_code), None)
    trend = [
        ReliabilityRow(
            trend_area,
            indices_for(trend_area.pk if trend_area else None, first, network=trend_area is None),
        )
        for first in firsts
    ]
    return {
        "month": month,
        "period": month_span(month),
        "period_minutes": _elapsed_minutes(month, now),
        "threshold": threshold,
        "rows": rows,
        "overall": overall,
        "areas": areas,
        "trend_area": trend_area,
        "trend": list(zip(firsts, trend, strict=True)),
        "chart": {
            "labels": [f"{first:%m/%Y}" for first in firsts],
            "saidi": [_rounded(t.indices.saidi, 2) for t in trend],
            "saifi": [_rounded(t.indices.saifi, 4) for t in trend],
            "maifi": [_rounded(t.indices.maifi, 4) for t in trend],
        },
    }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# --- Restoration times (MTTR) -----------------------------------------------------------


def mttr_targets() -> dict:
    """The restoration targets as settlement.mttr_target_for applies them."""
    several = int(parameter_get(key="outage_several_households"))
    network_hours = float(parameter_get(key="outage_mttr_network_hours"))
    isolated_hours = float(parameter_get(key="outage_mttr_isolated_hours"))

    def target(customers_affected: int) -> timedelta:
        return rules.mttr_target(
            customers_affected=customers_affected,
            several_households=several,
            network_hours=network_hours,
            isolated_hours=isolated_hours,
        )

    return {
        "several": several,
        "network_hours": network_hours,
        "isolated_hours": isolated_hours,
        "target": target,
    }


def _mttr_cell(minutes: list[float], within: int) -> dict:
    if not minutes:
        return {"count": 0, "mean": None, "median": None, "within": 0, "share_percent": None}
    return {
        "count": len(minutes),
        "mean": statistics.fmean(minutes),
        "median": statistics.median(minutes),
        "within": within,
        "share_percent": within * 100 / len(minutes),
    }


def mttr_report(*, month: date, months: int = TREND_MONTHS) -> dict:
    """Restoration times of unplanned incidents restored, per class and per month of
    their start: count, mean, median and the share within target, plus the incidents
    of `month` that missed their target, each with its review. One query for the rows;
    the target of each incident follows its customers affected (domain rule)."""
    targets = mttr_targets()
    firsts = months_ending(month, months)
    start, end = _window(firsts)
    rows = list(
        Incident.objects.filter(
            planned=False,
            status__in=[states.RESTORED, states.CLOSED],
            ended_at__isnull=False,
            started_at__gte=start,
            started_at__lt=end,
        )
        .values(
            "pk",
            "reference",
            "title",
            "klass",
            "cause",
            "customers_affected",
            "started_at",
            "ended_at",
            "review__id",
            "review__status",
        )
        .order_by("started_at")
    )
    minutes: dict[tuple[str, date], list[float]] = {}
    within: dict[tuple[str, date], int] = {}
    over_target = []
    for row in rows:
        key = (row["klass"], month_of(row["started_at"]))
        took = rules.restore_duration(row["started_at"], row["ended_at"])
        target = targets["target"](row["customers_affected"])
        minutes.setdefault(key, []).append(took.total_seconds() / 60)
        if took <= target:
            within[key] = within.get(key, 0) + 1
        elif key[1] == month:
            over_target.append(
                {
                    **row,
                    "took": duration_text(took.total_seconds() / 60),
                    "target_hours": target.total_seconds() / 3600,
                    "late_by": duration_text((took - target).total_seconds() / 60),
                }
            )
    classes = []
    for klass in CLASSES:
        trend = []
        for first in firsts:
            cell = _mttr_cell(minutes.get((klass, first), []), within.get((klass, first), 0))
            trend.append(
                {
                    "month": first,
                    **cell,
                    "mean_text": duration_text(cell["mean"]),
                    "median_text": duration_text(cell["median"]),
                }
            )
        classes.append({"klass": klass, "trend": trend, "current": trend[-1]})
    return {
        "month": month,
        "targets": targets,
        "classes": classes,
        # The same cells month by month, for one table with a column per class.
        "trend": [
            {"month": first, "cells": [c["trend"][k] for c in classes]}
            for k, first in enumerate(firsts)
        ],
        "over_target": over_target,
    }


# --- P1 public cadence --------------------------------------------------------------------


def _cadence_clocks(start: datetime, end: datetime):
    """The decided notice and update clocks of incidents' command tickets whose
    deadline falls in [start, end). Reads only: the clocks belong to the tickets app."""
    incident_tickets = Incident.objects.filter(ticket__isnull=False).values("ticket_id")
    return ClockInstance.objects.filter(
        ticket_id__in=Subquery(incident_tickets),
        stop_event__in=[NOTICE, UPDATE],
        status__in=[ClockStatus.MET, ClockStatus.BREACHED],
        due_at__gte=start,
        due_at__lt=end,
    )


# A clock met after its deadline (published before the minute's sweep saw it) was
# late all the same: the customers waited past the promise.
_LATE = Q(status=ClockStatus.BREACHED) | Q(status=ClockStatus.MET, met_at__gt=F("due_at"))


def cadence_report(*, month: date, months: int = TREND_MONTHS) -> dict:
    """Per month of their deadline: P1 notices and 30-minute updates due, met and
    breached, with the attainment; and the breaches of `month`, with their incident.
    Running and cancelled clocks are not counted: nothing was decided yet, or the
    promise was withdrawn (incident downgraded or restored). Two queries."""
    firsts = months_ending(month, months)
    start, end = _window(firsts)
    counts = (
        _cadence_clocks(start, end)
        .annotate(month=TruncMonth("due_at", tzinfo=PARIS))
        .values("month", "stop_event")
        .annotate(due=Count("id"), breached=Count("id", filter=_LATE))
        .order_by()
    )
    by_key = {(_month_key(r["month"]), r["stop_event"]): r for r in counts}

    def cell(first: date, event: str) -> dict:
        row = by_key.get((first, event), {"due": 0, "breached": 0})
        met = row["due"] - row["breached"]
        return {
            "due": row["due"],
            "met": met,
            "breached": row["breached"],
            "attainment_percent": met * 100 / row["due"] if row["due"] else None,
        }

    trend = [
        {"month": first, "notice": cell(first, NOTICE), "update": cell(first, UPDATE)}
        for first in firsts
    ]
    month_start, month_end = month_span(month)
    incident = Incident.objects.filter(ticket_id=OuterRef("ticket_id"))
    breaches = list(
        _cadence_clocks(month_start, month_end)
        .filter(_LATE)
        .annotate(
            incident_reference=Subquery(incident.values("reference")[:1]),
            incident_klass=Subquery(incident.values("klass")[:1]),
            late_at=Coalesce("breached_at", "met_at"),
        )
        .order_by("due_at", "pk")
        .values(
            "pk",
            "name",
            "stop_event",
            "status",
            "due_at",
            "breached_at",
            "met_at",
            "late_at",
            "incident_reference",
            "incident_klass",
        )
    )
    return {"month": month, "trend": trend, "current": trend[-1], "breaches": breaches}


# --- Post-incident reviews --------------------------------------------------------------------


def reviews_list(*, limit: int = 200) -> list[PostIncidentReview]:
    """Open reviews first, the most urgent due date first; then the finished ones."""
    return list(
        PostIncidentReview.objects.select_related("incident", "completed_by")
        .annotate(
            done=Case(
                When(status=ReviewStatus.DONE, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .order_by("done", "due_at", "pk")[:limit]
    )


def review_detail(*, review_id: int) -> PostIncidentReview:
    """A review with its incident's events (the draft timeline), oldest first; 404."""
    review = (
        PostIncidentReview.objects.select_related("incident", "completed_by")
        .prefetch_related(
            Prefetch(
                "incident__events",
                queryset=IncidentEvent.objects.select_related("actor").order_by("at", "pk"),
                to_attr="timeline_events",
            )
        )
        .filter(pk=review_id)
        .first()
    )
    if review is None:
        raise Http404
    return review


# --- Compensation ----------------------------------------------------------------------------


def compensation_report(*, month: date, months: int = TREND_MONTHS) -> dict:
    """Per month of crediting: supply points compensated and euros paid for long
    outages, and the ENTERPRISE availability credits (per month they are for). For
    `month`, the incidents compensated and the credits, account by account. Four
    queries."""
    firsts = months_ending(month, months)
    start, end = _window(firsts)
    credited = Coalesce("credited_at", "computed_at")
    compensations = Compensation.objects.annotate(credited=credited).filter(
        credited__gte=start, credited__lt=end
    )
    per_month = {
        _month_key(r["month"]): r
        for r in compensations.annotate(month=TruncMonth("credited", tzinfo=PARIS))
        .values("month")
        .annotate(
            points=Count("interruption__supply_point_id", distinct=True),
            count=Count("id"),
            total=Sum("amount"),
        )
        .order_by()
    }
    credits_per_month = {
        r["month"]: r
        for r in AvailabilityCredit.objects.filter(month__gte=firsts[0], month__lte=firsts[-1])
        .values("month")
        .annotate(accounts=Count("account_id", distinct=True), total=Sum("amount"))
        .order_by()
    }
    trend = []
    for first in firsts:
        comp = per_month.get(first, {})
        credit = credits_per_month.get(first, {})
        trend.append(
            {
                "month": first,
                "points": comp.get("points", 0),
                "compensations": comp.get("count", 0),
                "total": comp.get("total") or 0,
                "credit_accounts": credit.get("accounts", 0),
                "credit_total": credit.get("total") or 0,
            }
        )
    month_start, month_end = month_span(month)
    incidents = list(
        compensations.filter(credited__gte=month_start, credited__lt=month_end)
        .values("interruption__incident__reference", "interruption__incident__klass")
        .annotate(points=Count("id"), total=Sum("amount"))
        .order_by("interruption__incident__reference")
    )
    credits = list(
        AvailabilityCredit.objects.filter(month=month)
        .select_related("account")
        .order_by("account__name", "pk")
    )
    return {
        "month": month,
        "trend": trend,
        "current": trend[-1],
        "incidents": incidents,
        "credits": credits,
    }


# --- API: the live outage status of an account's supply points ------------------------------


def _live_incident_json():
    """The live incident covering a supply point, as one JSON value per row: a
    confirmed outage before a suspect, then the latest. One subquery instead of a
    query per point (the interruption has no reverse relation to prefetch)."""
    live = Interruption.objects.filter(
        supply_point_id=OuterRef("pk"),
        ended_at__isnull=True,
        incident__status__in=states.OFF_SUPPLY,
    ).order_by("incident__status", "-started_at", "-incident_id")
    return Subquery(
        live.values(
            json=JSONObject(
                reference="incident__reference",
                status="incident__status",
                klass="incident__klass",
                started_at="incident__started_at",
                etr="incident__etr",
                etr_source="incident__etr_source",
                etr_confidence="incident__etr_confidence",
                next_update_due_at="incident__next_update_due_at",
                last_update_at="incident__last_update_at",
                customers_affected="incident__customers_affected",
            )
        )[:1]
    )


def api_outage_status(*, api_client, user, number: str | None = None) -> QuerySet | None:
    """The caller's supply points by id, each with `live_incident` (a dict, or None).
    None: the caller has no account (→ 404)."""
    points = account_selectors.api_supply_points(api_client=api_client, user=user, number=number)
    if points is None:
        return None
    return points.annotate(live_incident=_live_incident_json())


def api_report_supply_point(
    *,
    api_client,
    user,
    number: str | None = None,
    supply_point_id: int | None = None,
    identifier: str = "",
) -> SupplyPoint | None:
    """One supply point of the caller's account, by id or identifier, with its premise
    and account; None for another account's, or none at all (→ 404)."""
    points = account_selectors.api_supply_points(api_client=api_client, user=user, number=number)
    if points is None:
        return None
    if supply_point_id is not None:
        points = points.filter(pk=supply_point_id)
    else:
        points = points.filter(identifier=identifier)
    return points.select_related("premise__account").first()
