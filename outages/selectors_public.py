"""Reads behind the public outage pages: the status board (incidents grouped by
service area, the map, the postcode search) and the customer's own premises.

The board is built from `selectors.public_incidents` and `selectors.map_areas` in a
fixed number of queries however many incidents there are; the postcode filter is
applied in Python so that the map always shows the whole network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import Premise
from accounts.selectors import parameter_get

from . import selectors
from .domain import states
from .models import Confidence, DispatchStatus, EtrSource, Incident, ServiceArea

# Worst first: the order in which a visitor needs to read the board.
STATUS_RANK = {"CONFIRMED": 0, "SUSPECTED": 1, "PLANNED": 2, "RESTORED": 3}
# The map's legend, worst first; the markers differ by shape and glyph, not colour alone.
MAP_LEGEND = (
    ("CONFIRMED", _("Panne confirmée")),
    ("SUSPECTED", _("Coupure signalée, en cours d'analyse")),
    ("PLANNED", _("Travaux programmés")),
    ("RESTORED", _("Courant rétabli récemment")),
    ("OK", _("Aucune coupure signalée")),
)
# The crew furthest along speaks for the incident.
CREW_RANK = {"ON_SITE": 0, "EN_ROUTE": 1, "DISPATCHED": 2}


@dataclass
class PublicRow:
    """One incident as the public reads it, times already in Paris time."""

    incident: Incident
    etr: str
    etr_source: str
    etr_confidence: str
    restored: str
    planned_start: str
    planned_end: str
    last_update: str
    next_update: str
    crew: str  # a DispatchStatus value, or "" when no crew is on the way


def _label(choices, value: str) -> str:
    return str(choices(value).label) if value in choices.values else value


def _row(incident: Incident) -> PublicRow:
    def when(instant):
        return selectors.local_time(instant) if instant else ""

    crews = sorted(incident.live_dispatches, key=lambda d: CREW_RANK.get(d.status, 9))
    return PublicRow(
        incident=incident,
        etr=when(incident.etr),
        etr_source=_label(EtrSource, incident.etr_source),
        etr_confidence=_label(Confidence, incident.etr_confidence),
        restored=when(incident.ended_at),
        planned_start=when(incident.planned_start),
        planned_end=when(incident.planned_end),
        last_update=when(incident.last_update_at or incident.updated_at),
        next_update=when(incident.next_update_due_at),
        crew=DispatchStatus(crews[0].status).label if crews else "",
    )


@dataclass
class AreaGroup:
    area: ServiceArea | None  # None: postcodes outside every mapped area
    rows: list[PublicRow] = field(default_factory=list)

    @property
    def worst(self) -> str:
        return min((r.incident.status for r in self.rows), key=lambda s: STATUS_RANK.get(s, 9))


@dataclass
class StatusBoard:
    groups: list[AreaGroup]
    map: dict
    postcode: str
    postcode_area: ServiceArea | None
    live_count: int
    restored_count: int
    restored_recent_hours: int
    built_at: datetime
    legend: tuple = MAP_LEGEND


def status_board(*, now: datetime, postcode: str = "") -> StatusBoard:
    hours = int(parameter_get(key="outage_restored_recent_hours"))
    incidents = selectors.public_incidents(now=now, restored_recent_hours=hours)
    shown = [i for i in incidents if postcode in i.postcodes] if postcode else incidents
    by_area: dict[int | None, AreaGroup] = {}
    for incident in shown:
        row = _row(incident)
        for area in list(incident.areas.all()) or [None]:
            key = area.pk if area is not None else None
            by_area.setdefault(key, AreaGroup(area=area)).rows.append(row)
    groups = sorted(
        by_area.values(),
        key=lambda g: (STATUS_RANK.get(g.worst, 9), g.area is None, g.area.name if g.area else ""),
    )
    for group in groups:
        group.rows.sort(
            key=lambda r: (
                STATUS_RANK.get(r.incident.status, 9),
                r.incident.klass,
                r.incident.started_at,
            )
        )
    board_map = selectors.map_areas(incidents=incidents)
    postcode_area = None
    if postcode:
        postcode_area = next(
            (s["area"] for s in board_map["shapes"] if postcode in s["area"].postcodes), None
        )
    return StatusBoard(
        groups=groups,
        map=board_map,
        postcode=postcode,
        postcode_area=postcode_area,
        live_count=sum(1 for i in shown if i.status != "RESTORED"),
        restored_count=sum(1 for i in shown if i.status == "RESTORED"),
        restored_recent_hours=hours,
        built_at=now,
    )


def account_premises(*, account_id: int) -> QuerySet[Premise]:
    return Premise.objects.filter(account_id=account_id).order_by("id")


UPDATE_KINDS = {
    "NOTICE": _("Premier avis"),
    "UPDATE": _("Point d'étape"),
    "RESTORED": _("Courant rétabli"),
    "PLANNED": _("Avis de travaux"),
}


@dataclass
class IncidentPage:
    row: PublicRow
    updates: list[dict]


def incident_page(*, reference: str) -> IncidentPage | None:
    """An incident's public page: its current estimate and its published updates
    (newest first). Earlier estimates stay internal."""
    incident = selectors.incident_public(reference=reference)
    if incident is None:
        return None
    incident.live_dispatches = list(
        incident.dispatches.filter(status__in=states.DISPATCH_LIVE).only("status")
    )
    updates = [
        {
            "seq": u.seq,
            "kind": u.kind,
            "kind_label": UPDATE_KINDS.get(u.kind, u.kind),
            "at": selectors.local_time(u.at),
            "at_iso": u.at.isoformat(),
            "message": u.message,
        }
        for u in incident.updates.all()
    ]
    return IncidentPage(row=_row(incident), updates=updates)
