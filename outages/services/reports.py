"""Customer reports: outages (grouped into incidents) and streetlight faults."""

from __future__ import annotations

import re
from datetime import datetime

from django.db import connection, transaction
from django.utils.translation import gettext as _

from accounts.domain import phone_normalise
from accounts.models import Account, Premise, User
from tickets import services as ticket_services

from .. import selectors
from ..domain import rules, states
from ..models import Incident, IncidentTicket, OutageReport, ReportEvent, ReportKind
from . import InvalidInput, NotAllowed
from .incidents import (
    event,
    incident_open,
    interruptions_open,
    next_reference,
    public_changed,
    recount,
)

POSTCODE = re.compile(r"^\d{5}$")


def _report_event(
    report: OutageReport,
    *,
    kind: str,
    actor,
    now: datetime,
    old: str = "",
    new: str = "",
    note: str = "",
) -> None:
    ReportEvent.objects.create(
        report=report, kind=kind, actor=actor, at=now, from_value=old, to_value=new, note=note
    )


def _validate(*, kind, postcode, address, phone, hazards, account, premise) -> dict[str, str]:
    errors: dict[str, str] = {}
    if kind not in ReportKind.values:
        errors["kind"] = _("Type de signalement inconnu.")
    unknown = [h for h in hazards if h not in rules.HAZARDS]
    if unknown:
        errors["hazards"] = _("Danger inconnu : %(h)s.") % {"h": ", ".join(unknown)}
    if premise is not None:
        if account is None or premise.account_id != account.pk:
            errors["premise"] = _("Ce logement n'est pas rattaché à votre compte.")
        return errors
    if not POSTCODE.match(postcode or ""):
        errors["postcode"] = _("Saisissez un code postal à 5 chiffres.")
    if len((address or "").strip()) < 4:
        errors["address"] = _("Saisissez l'adresse (numéro et rue).")
    digits = "".join(c for c in phone or "" if c.isdigit())
    if account is None and not 9 <= len(digits) <= 15:
        errors["phone"] = _("Saisissez un numéro de téléphone pour vous tenir informé.")
    return errors


def report_submit(
    *,
    kind: str,
    now: datetime,
    postcode: str = "",
    address: str = "",
    phone: str = "",
    description: str = "",
    hazards: list[str] | None = None,
    breakers_checked: bool = False,
    account: Account | None = None,
    premise: Premise | None = None,
    reporter: User | None = None,
) -> OutageReport:
    """Record a report and return its reference.

    An outage report joins the open incident at the same place, or opens a suspect
    for a dispatcher to confirm or regroup. A transaction-scoped advisory lock per
    postcode makes simultaneous first reports from one street join one suspect.
    """
    hazards = list(dict.fromkeys(hazards or []))
    postcode = (premise.postcode if premise is not None else postcode or "").strip()
    address = premise.address if premise is not None else (address or "").strip()
    errors = _validate(
        kind=kind,
        postcode=postcode,
        address=address,
        phone=phone,
        hazards=hazards,
        account=account,
        premise=premise,
    )
    if errors:
        raise InvalidInput(errors)
    safety = rules.is_safety_critical(hazards=hazards, description=description)
    with transaction.atomic():
        report = OutageReport.objects.create(
            reference=next_reference("SIG" if kind == ReportKind.OUTAGE else "EP", now),
            kind=kind,
            status=states.RECEIVED,
            account=account,
            premise=premise,
            reporter=reporter,
            postcode=postcode,
            address=address[:255],
            phone=phone_normalise(phone) if phone else (account.phone if account else ""),
            description=description[:4000],
            hazards=hazards,
            safety_critical=safety,
            breakers_checked=breakers_checked,
            created_at=now,
            updated_at=now,
        )
        _report_event(report, kind="CREATED", actor=reporter, now=now, new=states.RECEIVED)
        if kind == ReportKind.OUTAGE:
            _attach(report, now=now)
        if safety:
            _safety_ticket(report, now=now)
    return report


def _attach(report: OutageReport, *, now: datetime) -> Incident:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"outage:{report.postcode}"])
    incident = selectors.live_incident_for(postcode=report.postcode, premise_id=report.premise_id)
    if incident is None:
        # Keyed by the postcode, not the home: the next neighbour joins this one.
        incident = incident_open(
            title=_("Coupure signalée – %(postcode)s") % {"postcode": report.postcode},
            now=now,
            postcodes=[report.postcode],
            safety_critical=report.safety_critical,
            suspected=True,
            public_message=_("Coupure signalée par des clients, en cours d'analyse."),
        )
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if report.premise_id is not None:
        interruptions_open(incident, postcodes=[], premise=report.premise, started_at=now)
    if report.safety_critical and not incident.safety_critical:
        incident.safety_critical = True
        incident.save(update_fields=["safety_critical"])
    report.incident = incident
    report.status = states.LINKED
    report.save(update_fields=["incident", "status"])
    _report_event(
        report,
        kind="STATUS",
        actor=None,
        now=now,
        old=states.RECEIVED,
        new=states.LINKED,
        note=incident.reference,
    )
    recount(incident, now=now)
    event(incident, kind="REPORT", actor=None, now=now, new=report.reference)
    public_changed()
    return incident


def _safety_ticket(report: OutageReport, *, now: datetime) -> None:
    """A hazard is worked as an urgent SAFETY ticket, linked to its incident."""
    ticket = ticket_services.ticket_create(
        # Reports come from our website (signed in or not) or the API; both are the
        # customer's own written channel.
        channel="PORTAL",
        category="SAFETY",
        subject=_("Danger signalé – %(ref)s") % {"ref": report.reference},
        body=f"{report.address} {report.postcode}\n{', '.join(report.hazards)}\n"
        f"{report.description}",
        now=now,
        account=report.account,
        requester=report.reporter,
        requester_contact=report.phone,
        declared_safety=True,
        details={"outage_report": report.reference},
    )
    report.ticket = ticket
    report.save(update_fields=["ticket"])
    if report.incident_id:
        IncidentTicket.objects.get_or_create(
            incident_id=report.incident_id, ticket=ticket, defaults={"linked_at": now}
        )


def report_move(*, report: OutageReport, incident: Incident, now: datetime, actor: User):
    """A dispatcher regroups a report; a suspect left without reports is dropped."""
    with transaction.atomic():
        report = OutageReport.objects.select_for_update().get(pk=report.pk)
        target = Incident.objects.select_for_update().get(pk=incident.pk)
        if report.kind != ReportKind.OUTAGE or report.status != states.LINKED:
            raise NotAllowed(_("Seul un signalement de coupure en cours peut être regroupé."))
        if target.status not in states.OFF_SUPPLY:
            raise NotAllowed(_("Regroupez vers un incident en cours."))
        source = Incident.objects.select_for_update().get(pk=report.incident_id)
        if source.pk == target.pk:
            return report
        report.incident = target
        report.updated_at = now
        report.save(update_fields=["incident", "updated_at"])
        _report_event(
            report,
            kind="REGROUPED",
            actor=actor,
            now=now,
            old=source.reference,
            new=target.reference,
        )
        if report.premise_id and not target.premise_id:
            interruptions_open(
                target, postcodes=[], premise=report.premise, started_at=report.created_at
            )
        source.interruptions.filter(supply_point__premise_id=report.premise_id).delete()
        event(target, kind="REPORT_IN", actor=actor, now=now, new=report.reference)
        event(source, kind="REPORT_OUT", actor=actor, now=now, new=report.reference)
        for link in IncidentTicket.objects.filter(incident=source):
            IncidentTicket.objects.get_or_create(
                incident=target, ticket_id=link.ticket_id, defaults={"linked_at": now}
            )
        recount(target, now=now, actor=actor)
        if source.status == states.SUSPECTED and not source.reports.exists():
            from .incidents import incident_cancel

            incident_cancel(
                incident=source, reason=f"regrouped into {target.reference}", now=now, actor=actor
            )
        else:
            recount(source, now=now, actor=actor)
        public_changed()
    return report


def incident_merge(*, suspect: Incident, into: Incident, now: datetime, actor: User) -> Incident:
    """Every report of a suspect goes to the incident it really belongs to."""
    if suspect.pk == into.pk:
        raise InvalidInput({"into": _("Choisissez un autre incident.")})
    with transaction.atomic():
        reports = list(suspect.reports.filter(status=states.LINKED).order_by("pk"))
        if not reports:
            raise NotAllowed(_("Cet incident n'a pas de signalement à regrouper."))
        for report in reports:
            report_move(report=report, incident=into, now=now, actor=actor)
    return into


def reports_close_for(*, incident: Incident, now: datetime, actor) -> int:
    """Every open report of a restored incident is fixed, set-wise: a storm incident
    holds thousands of them and this runs inside the restoration's transaction."""
    ids = list(
        incident.reports.filter(status=states.LINKED)
        .select_for_update()
        .values_list("pk", flat=True)
    )
    OutageReport.objects.filter(pk__in=ids).update(status=states.FIXED, updated_at=now)
    ReportEvent.objects.bulk_create(
        ReportEvent(
            report_id=pk,
            kind="STATUS",
            actor=actor,
            at=now,
            from_value=states.LINKED,
            to_value=states.FIXED,
        )
        for pk in ids
    )
    return len(ids)


def streetlight_transition(
    *, report: OutageReport, target: str, now: datetime, actor: User, note: str = ""
) -> OutageReport:
    with transaction.atomic():
        report = OutageReport.objects.select_for_update().get(pk=report.pk)
        if report.kind != ReportKind.STREETLIGHT:
            raise NotAllowed(_("Ce n'est pas un signalement d'éclairage public."))
        states.check_report(report.status, target)
        old = report.status
        report.status, report.updated_at = target, now
        report.save(update_fields=["status", "updated_at"])
        _report_event(report, kind="STATUS", actor=actor, now=now, old=old, new=target, note=note)
    return report
