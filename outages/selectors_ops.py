"""Reads of the operations pages: the dispatchers' incident board and incident page,
and the field technicians' jobs. Each page gets everything from one call here, with a
fixed number of queries however many incidents, crews or reports there are."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Exists, OuterRef, Prefetch
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Account, Role
from accounts.selectors import parameter_get
from tickets.models import ClockInstance
from tickets.selectors import clock_rows

from .domain import states
from .models import (
    CallListEntry,
    Confidence,
    Crew,
    DiagnosticCharge,
    Dispatch,
    EtrRevision,
    EtrSource,
    FieldNote,
    Incident,
    IncidentEvent,
    IncidentTicket,
    Interruption,
    OutageReport,
    PublicUpdate,
    ReportKind,
    ServiceArea,
)
from .selectors import local_time

# Finished clocks say nothing about what to do now; the board shows the others.
_DONE_CLOCK_STATES = {"met", "cancelled"}
# A diagnostic notice names one account: a big outage offers the first ones only.
DIAGNOSTIC_ACCOUNTS_LIMIT = 50
# A storm's incident gathers thousands of reports: its page shows the latest ones.
PAGE_LIMIT = 200
# On a phone: the hazards first, then the latest reports.
FIELD_REPORTS = 30
STREETLIGHT_OPEN = (states.RECEIVED, states.SCHEDULED)
# What comes after each live dispatch status on a technician's phone: one button.
FIELD_NEXT = {
    states.DISPATCHED: states.EN_ROUTE,
    states.EN_ROUTE: states.ON_SITE,
    states.ON_SITE: states.CREW_RESTORED,
}


def duration_text(seconds: float) -> str:
    """ "2 h 05", "3 j 4 h", "12 min": how long a countdown has left (or is over by)."""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} j {hours} h"
    if hours:
        return f"{hours} h {minutes:02d}"
    return f"{minutes} min"


def _countdown(due: datetime | None, now: datetime) -> dict | None:
    if due is None:
        return None
    left = (due - now).total_seconds()
    return {"due": due, "late": left < 0, "text": duration_text(left)}


def etr_labels(incident: Incident) -> dict:
    """The current estimate's source and confidence in words (stored as codes)."""
    return {
        "etr_source": dict(EtrSource.choices).get(incident.etr_source, incident.etr_source),
        "etr_confidence": dict(Confidence.choices).get(
            incident.etr_confidence, incident.etr_confidence
        ),
    }


def _clock_prefetch() -> Prefetch:
    return Prefetch("ticket__clocks", queryset=ClockInstance.objects.order_by("started_at", "id"))


# --- Console ----------------------------------------------------------------------


def console_board(*, now: datetime) -> dict:
    """Live incidents (worst class first, then the oldest), the streetlight reports
    still to handle, and the priority customers no message reached."""
    incidents = list(
        Incident.objects.filter(status__in=states.LIVE)
        .select_related("ticket")
        .prefetch_related(
            Prefetch("areas", queryset=ServiceArea.objects.order_by("name")),
            Prefetch(
                "dispatches",
                queryset=Dispatch.objects.filter(status__in=states.DISPATCH_LIVE)
                .select_related("crew")
                .order_by("dispatched_at", "id"),
                to_attr="live_dispatches",
            ),
            _clock_prefetch(),
        )
        .order_by("klass", "started_at", "id")
    )
    rows = [
        {
            "incident": incident,
            **etr_labels(incident),
            "update_late": bool(incident.next_update_due_at and incident.next_update_due_at < now),
            "clocks": [
                row
                for row in clock_rows(clocks=incident.ticket.clocks.all(), now=now)
                if row["state"] not in _DONE_CLOCK_STATES
            ]
            if incident.ticket_id
            else [],
        }
        for incident in incidents
    ]
    streetlights = list(
        OutageReport.objects.filter(
            kind=ReportKind.STREETLIGHT, status__in=STREETLIGHT_OPEN
        ).order_by("created_at", "id")
    )
    calls = list(
        CallListEntry.objects.filter(called_at__isnull=True)
        .select_related("incident", "account")
        .order_by("added_at", "id")
    )
    return {"rows": rows, "streetlights": streetlights, "calls": calls}


def streetlight_report(*, report_id: int) -> OutageReport:
    report = OutageReport.objects.filter(pk=report_id, kind=ReportKind.STREETLIGHT).first()
    if report is None:
        raise Http404
    return report


def call_entry(*, entry_id: int) -> CallListEntry:
    entry = CallListEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        raise Http404
    return entry


def incident_by_reference(*, reference: str) -> Incident:
    incident = Incident.objects.filter(reference=reference).first()
    if incident is None:
        raise Http404
    return incident


def incident_dispatch(*, incident: Incident, dispatch_id: int) -> Dispatch:
    dispatch = Dispatch.objects.filter(pk=dispatch_id, incident=incident).first()
    if dispatch is None:
        raise Http404
    return dispatch


def crews_for(*, incident: Incident) -> list[Crew]:
    """Active crews, those covering one of the incident's areas first."""
    incident_areas = Incident.areas.through.objects.filter(incident_id=incident.pk).values(
        "servicearea_id"
    )
    covering = Exists(
        Crew.areas.through.objects.filter(crew_id=OuterRef("pk"), servicearea_id__in=incident_areas)
    )
    return list(
        Crew.objects.filter(active=True).annotate(covers=covering).order_by("-covers", "name")
    )


def merge_targets(*, incident: Incident) -> list[Incident]:
    """The other incidents a suspect's reports can be regrouped into (off supply)."""
    return list(
        Incident.objects.filter(status__in=states.OFF_SUPPLY)
        .exclude(pk=incident.pk)
        .order_by("klass", "reference")
    )


EVENT_LABELS = {
    "CREATED": _("Création"),
    "STATUS": _("Changement d'état"),
    "CLASS": _("Classe"),
    "CLASS_OVERRIDE": _("Classe imposée"),
    "ETR": _("Estimation de rétablissement"),
    "PUBLISHED_NOTICE": _("Avis public"),
    "PUBLISHED_UPDATE": _("Point d'étape publié"),
    "PUBLISHED_RESTORED": _("Avis de rétablissement"),
    "PUBLISHED_PLANNED": _("Avis de travaux"),
    "CREW": pgettext_lazy("crew", "Équipe"),
    "FIELD_NOTE": _("Note de terrain"),
    "REPORT": _("Signalement"),
    "REPORT_IN": _("Signalement regroupé ici"),
    "REPORT_OUT": _("Signalement regroupé ailleurs"),
    "TICKET_LINKED": _("Demande rattachée"),
    "TICKETS_RESOLVED": _("Demandes résolues"),
    "DIAGNOSTIC_NOTICE": _("Client prévenu des frais de diagnostic"),
    "DIAGNOSTIC_CHARGED": _("Frais de diagnostic facturés"),
}


def _instant_text(value: str) -> str:
    """ETR events store ISO instants; the timeline shows them in Paris time."""
    try:
        return local_time(datetime.fromisoformat(value)) if value else ""
    except ValueError:
        return value


def timeline(*, events) -> list[dict]:
    rows = []
    for e in events:
        old, new = e.from_value, e.to_value
        if e.kind == "ETR":
            old, new = _instant_text(old), _instant_text(new)
        rows.append({"event": e, "label": EVENT_LABELS.get(e.kind, e.kind), "old": old, "new": new})
    return rows


def incident_console(*, reference: str, now: datetime) -> dict:
    """Everything the incident page shows: timeline, reports, estimates, updates,
    crews and their notes, linked tickets, clocks, and the choices of its forms."""
    incident = (
        Incident.objects.filter(reference=reference)
        .select_related("ticket", "premise", "created_by")
        .prefetch_related(
            Prefetch("areas", queryset=ServiceArea.objects.order_by("name")),
            Prefetch(
                "events",
                queryset=IncidentEvent.objects.select_related("actor").order_by("-at", "-id")[
                    :PAGE_LIMIT
                ],
                to_attr="recent_events",
            ),
            Prefetch(
                "reports",
                queryset=OutageReport.objects.order_by("-safety_critical", "-created_at", "-id")[
                    :PAGE_LIMIT
                ],
                to_attr="recent_reports",
            ),
            Prefetch(
                "etrs",
                queryset=EtrRevision.objects.select_related("issued_by").order_by(
                    "-issued_at", "-id"
                ),
            ),
            Prefetch(
                "updates",
                queryset=PublicUpdate.objects.select_related("author").order_by("-seq"),
            ),
            Prefetch(
                "dispatches",
                queryset=Dispatch.objects.select_related("crew").order_by("dispatched_at", "id"),
            ),
            Prefetch(
                "dispatches__notes",
                queryset=FieldNote.objects.select_related("author").order_by("at", "id"),
            ),
            Prefetch(
                "ticket_links",
                queryset=IncidentTicket.objects.select_related("ticket").order_by("linked_at"),
            ),
            _clock_prefetch(),
        )
        .first()
    )
    if incident is None:
        raise Http404
    return {
        "incident": incident,
        **etr_labels(incident),
        "clocks": clock_rows(clocks=incident.ticket.clocks.all(), now=now)
        if incident.ticket_id
        else [],
        "update_late": bool(incident.next_update_due_at and incident.next_update_due_at < now),
        "timeline": timeline(events=incident.recent_events),
        "reports": incident.recent_reports,
        "report_count": incident.reports.count(),
        "event_count": incident.events.count(),
        "crews": crews_for(incident=incident),
        "merge_targets": merge_targets(incident=incident),
        "calls": list(
            incident.call_list.select_related("account", "called_by").order_by("added_at", "id")
        ),
    }


def field_note_with_photo(*, note_id: int, user=None) -> FieldNote:
    """A field photo, for the console (no user) or for a member of the note's crew."""
    notes = FieldNote.objects.select_related("dispatch").exclude(photo="")
    if user is not None and user.role == Role.FIELD_TECHNICIAN:
        notes = notes.filter(dispatch__crew__members=user)
    note = notes.filter(pk=note_id).first()
    if note is None:
        raise Http404
    return note


# --- Field ------------------------------------------------------------------------


def _visible_dispatches(user):
    """A technician sees his crews' missions; supervisors and admins see them all."""
    dispatches = Dispatch.objects.all()
    if user.role == Role.FIELD_TECHNICIAN:
        dispatches = dispatches.filter(
            Exists(Crew.members.through.objects.filter(crew_id=OuterRef("crew_id"), user=user))
        )
    return dispatches


def field_jobs(*, user, now: datetime) -> list[dict]:
    """The live missions of the user's crews, the most urgent on-site deadline first."""
    dispatches = list(
        _visible_dispatches(user)
        .filter(status__in=states.DISPATCH_LIVE)
        .select_related("crew", "incident")
        .prefetch_related(
            Prefetch("incident__areas", queryset=ServiceArea.objects.order_by("name"))
        )
        .order_by("on_site_due_at", "id")
    )
    return [
        {
            "dispatch": d,
            "incident": d.incident,
            **etr_labels(d.incident),
            "on_site": _countdown(d.on_site_due_at, now) if d.on_site_at is None else None,
        }
        for d in dispatches
    ]


def field_dispatch(*, user, dispatch_id: int) -> Dispatch:
    """One of the user's crews' missions; another crew's is not found (404)."""
    dispatch = (
        _visible_dispatches(user).select_related("incident", "crew").filter(pk=dispatch_id).first()
    )
    if dispatch is None:
        raise Http404
    return dispatch


def diagnostic_accounts(*, incident: Incident) -> list[Account]:
    """Accounts a diagnostic fee may be told to: who reported, then who is off supply."""
    reported = list(
        OutageReport.objects.filter(incident=incident, account__isnull=False)
        .order_by("created_at")
        .values_list("account_id", flat=True)[:DIAGNOSTIC_ACCOUNTS_LIMIT]
    )
    cut = list(
        Interruption.objects.filter(incident=incident)
        .order_by("id")
        .values_list("account_id", flat=True)[:DIAGNOSTIC_ACCOUNTS_LIMIT]
    )
    wanted = list(dict.fromkeys([*reported, *cut]))[:DIAGNOSTIC_ACCOUNTS_LIMIT]
    accounts = Account.objects.in_bulk(wanted)
    return [accounts[pk] for pk in wanted if pk in accounts]


HAZARD_LABELS = {
    "SMOKE": _("Fumée"),
    "SPARKS": _("Étincelles"),
    "HUMMING": _("Bourdonnement"),
    "FALLEN_LINE": _("Câble à terre"),
    "FIRE": _("Feu"),
}


def field_job(*, user, dispatch_id: int, now: datetime) -> dict:
    """The job page: the incident, who is affected, hazards reported, notes, fees."""
    dispatch = field_dispatch(user=user, dispatch_id=dispatch_id)
    incident = dispatch.incident
    reports = OutageReport.objects.filter(incident=incident)
    # Only hazard reports carry ticked hazards; there are few of them even in a storm.
    ticked = reports.filter(safety_critical=True).values_list("hazards", flat=True)
    hazards = [HAZARD_LABELS.get(h, h) for h in sorted({h for row in ticked for h in row})]
    reports = list(reports.order_by("-safety_critical", "-created_at", "-id")[:FIELD_REPORTS])
    return {
        "dispatch": dispatch,
        "incident": incident,
        **etr_labels(incident),
        "areas": list(incident.areas.order_by("name")),
        "reports": reports,
        "hazards": hazards,
        "hazard_reports": [r for r in reports if r.safety_critical],
        "notes": list(
            FieldNote.objects.filter(dispatch=dispatch).select_related("author").order_by("-at")
        ),
        "charges": list(
            DiagnosticCharge.objects.filter(dispatch=dispatch)
            .select_related("account")
            .order_by("customer_told_at", "id")
        ),
        "accounts": diagnostic_accounts(incident=incident),
        "next_status": FIELD_NEXT.get(dispatch.status),
        "on_site": _countdown(dispatch.on_site_due_at, now)
        if dispatch.on_site_at is None
        else None,
    }


def fee_bounds() -> tuple[Decimal, Decimal, Decimal]:
    """The configurable diagnostic fee: lowest, highest, and the one announced."""
    return tuple(
        Decimal(str(parameter_get(key=key)))
        for key in ("diagnostic_fee_min", "diagnostic_fee_max", "diagnostic_fee_default")
    )
