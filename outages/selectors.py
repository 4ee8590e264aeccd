"""Reads of the outages app: who is affected, the public status, estimates' history,
reliability and MTTR figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce

from accounts.models import PriorityRegistration, SupplyPoint

from .domain import geo, reliability, rules, states
from .models import (
    Dispatch,
    Incident,
    Interruption,
    OutageReport,
    PublicUpdate,
    ServiceArea,
)

PARIS = ZoneInfo("Europe/Paris")
PUBLIC_VERSION_KEY = "outages:public:version"


def local_time(instant: datetime) -> str:
    """A time as the public reads it: Paris time, day and hour."""
    return instant.astimezone(PARIS).strftime("%d/%m %H:%M")


# --- Who is affected -----------------------------------------------------------


def _priority_subquery():
    return Exists(
        PriorityRegistration.objects.filter(account_id=OuterRef("premise__account_id"), active=True)
    )


def supply_points_in(*, postcodes: list[str], premise=None) -> list[dict]:
    points = SupplyPoint.objects.filter(premise__account__status="ACTIVE")
    points = (
        points.filter(premise=premise)
        if premise is not None
        else points.filter(premise__postcode__in=postcodes)
    )
    return list(
        points.annotate(priority=_priority_subquery()).values(
            "id", "premise__account_id", "premise__postcode", "priority"
        )
    )


def planned_counts(*, postcodes: list[str]) -> dict:
    points = SupplyPoint.objects.filter(
        premise__postcode__in=postcodes, premise__account__status="ACTIVE"
    )
    customers = points.count()
    priority = points.filter(_priority_subquery()).values("premise__account_id").distinct().count()
    return {"customers": customers, "priority": priority}


def incident_counts(*, incident: Incident) -> dict:
    """Customers off supply: recorded supply points, or the distinct addresses that
    reported it while nobody has drawn its extent yet."""
    recorded = incident.interruptions.aggregate(
        customers=Count("id"), priority=Count("account_id", filter=Q(priority=True), distinct=True)
    )
    reported = (
        OutageReport.objects.filter(incident=incident, premise__isnull=True)
        .values("postcode", "address")
        .distinct()
        .count()
    )
    return {"customers": recorded["customers"] + reported, "priority": recorded["priority"]}


def area_ids_by_postcode() -> dict[str, int]:
    found = {}
    for pk, postcodes in ServiceArea.objects.values_list("id", "postcodes"):
        for postcode in postcodes:
            found[postcode] = pk
    return found


def areas_for(*, postcodes: list[str]) -> QuerySet[ServiceArea]:
    return ServiceArea.objects.filter(postcodes__overlap=list(postcodes))


def area_classes(*, postcodes: list[str]) -> set[str]:
    return set(areas_for(postcodes=postcodes).values_list("area_class", flat=True))


def live_incident_for(*, postcode: str, premise_id: int | None = None) -> Incident | None:
    """The open incident a report at this place belongs to: a confirmed one first."""
    live = Incident.objects.filter(status__in=states.OFF_SUPPLY, postcodes__contains=[postcode])
    if premise_id is not None:
        live = live.filter(Q(premise__isnull=True) | Q(premise_id=premise_id))
    else:
        live = live.filter(premise__isnull=True)
    return live.order_by("status", "-created_at").first()  # CONFIRMED < SUSPECTED


def repair_minutes_history(*, cause: str, area_class: str, limit: int = 200) -> list[float]:
    rows = (
        Incident.objects.filter(
            cause=cause, area_class=area_class, planned=False, ended_at__isnull=False
        )
        .exclude(status=states.CANCELLED)
        .order_by("-ended_at")
        .values_list("started_at", "ended_at")[:limit]
    )
    return [(end - start).total_seconds() / 60 for start, end in rows]


def next_update_due(*, incident: Incident, now: datetime) -> datetime:
    """For a P1 the update clock's deadline; otherwise the same 30-minute promise."""
    from tickets.selectors import ticket_live_clocks

    for clock in ticket_live_clocks(ticket_id=incident.ticket_id):
        if clock.stop_event == "PUBLIC_UPDATE" and clock.due_at:
            return clock.due_at
    return rules.later(now, timedelta(minutes=30))


# --- Public status -----------------------------------------------------------------


def public_version() -> int:
    version = cache.get(PUBLIC_VERSION_KEY)
    if version is None:
        cache.add(PUBLIC_VERSION_KEY, 1, None)
        version = cache.get(PUBLIC_VERSION_KEY) or 1
    return int(version)


def public_incidents(*, now: datetime, restored_recent_hours: int, postcode: str = ""):
    """Live incidents and those restored lately, with their areas and crews: a
    fixed number of queries however many there are."""
    since = rules.later(now, -timedelta(hours=restored_recent_hours))
    incidents = Incident.objects.filter(
        Q(status__in=states.LIVE) | Q(status=states.RESTORED, ended_at__gte=since)
    )
    if postcode:
        incidents = incidents.filter(postcodes__contains=[postcode])
    return list(
        incidents.prefetch_related(
            Prefetch("areas", queryset=ServiceArea.objects.order_by("name")),
            Prefetch(
                "dispatches",
                queryset=Dispatch.objects.filter(status__in=states.DISPATCH_LIVE).order_by(
                    "dispatched_at"
                ),
                to_attr="live_dispatches",
            ),
        ).order_by("status", "klass", "-started_at")
    )


def map_areas(*, incidents: list[Incident]) -> dict:
    """The service areas as SVG paths, each with the worst status of its incidents."""
    rank = {"CONFIRMED": 3, "SUSPECTED": 2, "PLANNED": 1, "RESTORED": 0}
    worst: dict[int, str] = {}
    for incident in incidents:
        for area in incident.areas.all():
            if rank.get(incident.status, -1) > rank.get(worst.get(area.pk, ""), -1):
                worst[area.pk] = incident.status
    areas = list(ServiceArea.objects.order_by("name"))
    outline = _outline()
    projection = geo.projection_for([outline, *[a.ring for a in areas]])
    shapes = []
    for area in areas:
        ring = [tuple(p) for p in area.ring]
        x, y = geo.label_point(ring, projection)
        shapes.append(
            {
                "area": area,
                "path": geo.svg_path(ring, projection),
                "status": worst.get(area.pk, "OK"),
                "x": x,
                "y": y,
            }
        )
    return {
        "view_box": projection.view_box,
        "outline": geo.svg_path(outline, projection),
        "shapes": shapes,
    }


def _outline():
    outline = cache.get("outages:outline")
    if outline is None:
        outline = [list(p) for p in geo.load_outline()]
        cache.set("outages:outline", outline, None)
    return [tuple(p) for p in outline]


def incident_public(*, reference: str) -> Incident | None:
    return (
        Incident.objects.filter(reference=reference)
        .exclude(status=states.CANCELLED)
        .prefetch_related(
            "areas", Prefetch("updates", queryset=PublicUpdate.objects.order_by("-seq"))
        )
        .first()
    )


def report_by_reference(*, reference: str) -> OutageReport | None:
    return OutageReport.objects.select_related("incident").filter(reference=reference).first()


# --- Reliability and MTTR --------------------------------------------------------------


def customers_served(*, area: ServiceArea | None) -> int:
    points = SupplyPoint.objects.filter(premise__account__status="ACTIVE")
    if area is not None:
        points = points.filter(premise__postcode__in=area.postcodes)
    return points.count()


def interruption_records(
    *, area: ServiceArea | None, start: datetime, end: datetime, now: datetime
) -> list[reliability.Record]:
    """Raw interruptions started in [start, end); one still open counts up to now."""
    rows = Interruption.objects.filter(started_at__gte=start, started_at__lt=end).exclude(
        incident__status=states.CANCELLED
    )
    if area is not None:
        rows = rows.filter(area=area)
    return [
        reliability.Record(started, ended or now)
        for started, ended in rows.values_list("started_at", "ended_at")
    ]


def reliability_indices(
    *, area: ServiceArea | None, start: datetime, end: datetime, now: datetime, threshold: float
) -> reliability.Indices:
    return reliability.indices(
        records=interruption_records(area=area, start=start, end=end, now=now),
        customers_served=customers_served(area=area),
        period_start=start,
        period_end=end,
        sustained_threshold_minutes=threshold,
    )


def interrupted_minutes_by_account(*, start: datetime, end: datetime, now: datetime) -> dict:
    """Minutes off supply inside [start, end), per account, clipped to the window."""
    rows = (
        Interruption.objects.filter(started_at__lt=end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start))
        .exclude(incident__status=states.CANCELLED)
        .annotate(end_or_now=Coalesce("ended_at", now))
        .values_list("account_id", "started_at", "end_or_now")
    )
    minutes: dict[int, float] = {}
    for account_id, started, ended in rows:
        span = rules.elapsed(max(started, start), min(ended, end)).total_seconds() / 60
        if span > 0:
            minutes[account_id] = minutes.get(account_id, 0.0) + span
    return minutes


def account_supply_point_count(*, account_id: int) -> int:
    return SupplyPoint.objects.filter(premise__account_id=account_id).count()
