"""Incidents: open (from a dispatcher, a report or a planned work), classify, confirm,
publish updates and restoration estimates, restore and close.

The public cadence and the crew target are clocks on the incident's command ticket
(the INCIDENT SLA policy); this module fires their start and stop events.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Max
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Premise, User
from accounts.selectors import parameter_get
from tickets import services as ticket_services

from .. import selectors
from ..domain import rules, states
from ..models import (
    EtrRevision,
    EtrSource,
    Incident,
    IncidentEvent,
    IncidentSequence,
    IncidentTicket,
    Interruption,
    PublicUpdate,
)
from . import InvalidInput, NotAllowed

IllegalTransition = states.IllegalTransition
PUBLIC_VERSION_KEY = "outages:public:version"
logger = logging.getLogger(__name__)


def public_changed() -> None:
    """Bump the version the cached public pages are keyed by, once committed."""

    def bump() -> None:
        try:
            cache.incr(PUBLIC_VERSION_KEY)
        except ValueError:
            cache.set(PUBLIC_VERSION_KEY, 2, None)

    transaction.on_commit(bump)


def _enqueue(task: str, **kwargs) -> None:
    """After commit, by name: services sit below tasks in the app's layers. A broker
    that is down loses nothing: the minute sweep finds the same work from the rows."""
    from celery import current_app

    def send() -> None:
        try:
            current_app.tasks[task].delay(**kwargs)
        except Exception:  # noqa: BLE001 - the write stands; the sweep catches up
            logger.warning("Could not queue %s %s; the sweep will do it.", task, kwargs)

    transaction.on_commit(send)


def next_reference(prefix: str, now: datetime) -> str:
    year = now.year
    IncidentSequence.objects.get_or_create(prefix=prefix, year=year)
    seq = IncidentSequence.objects.select_for_update().get(prefix=prefix, year=year)
    seq.last = F("last") + 1
    seq.save(update_fields=["last"])
    seq.refresh_from_db(fields=["last"])
    return f"{prefix}-{year}-{seq.last:05d}"


def event(
    incident: Incident,
    *,
    kind: str,
    actor: User | None,
    now: datetime,
    old: str = "",
    new: str = "",
    note: str = "",
) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident,
        kind=kind,
        actor=actor,
        at=now,
        from_value=old[:40],
        to_value=new[:40],
        note=note,
    )


def _param_int(key: str) -> int:
    return int(parameter_get(key=key))


def _classify(incident: Incident) -> rules.Classification:
    return rules.classify(
        customers_affected=incident.customers_affected,
        safety_critical=incident.safety_critical,
        priority_customers=incident.priority_customers,
        planned=incident.planned,
        several_households=_param_int("outage_several_households"),
    )


def _set_class(incident: Incident, klass: str, *, now: datetime, actor: User | None) -> None:
    """Move to `klass`, starting or dropping the P1 public cadence to match."""
    old = incident.klass
    if old == klass:
        return
    incident.klass = klass
    incident.save(update_fields=["klass", "updated_at"])
    event(incident, kind="CLASS", actor=actor, now=now, old=old, new=klass)
    live_unplanned = incident.status in states.OFF_SUPPLY and not incident.planned
    if klass == rules.P1 and live_unplanned and incident.first_notice_at is None:
        ticket_services.ticket_clock_start(ticket=incident.ticket, event="INCIDENT_P1", now=now)
    elif old == rules.P1:
        ticket_services.ticket_clock_cancel(ticket=incident.ticket, stop_event="PUBLIC_NOTICE")
        ticket_services.ticket_clock_cancel(ticket=incident.ticket, stop_event="PUBLIC_UPDATE")


def recount(incident: Incident, *, now: datetime, actor: User | None = None) -> None:
    """Recount who is affected and follow the proposed class, unless a dispatcher
    has overridden it (their reason stands until they change it)."""
    counts = selectors.incident_counts(incident=incident)
    incident.customers_affected = counts["customers"]
    incident.priority_customers = counts["priority"]
    proposal = _classify(incident)
    incident.proposed_klass = proposal.klass
    incident.updated_at = now
    incident.save(
        update_fields=["customers_affected", "priority_customers", "proposed_klass", "updated_at"]
    )
    if not incident.class_override_reason:
        _set_class(incident, proposal.klass, now=now, actor=actor)


def interruptions_open(
    incident: Incident, *, postcodes: list[str], premise: Premise | None, started_at: datetime
) -> int:
    """Record every supply point now off supply; one already recorded stays as is."""
    points = selectors.supply_points_in(postcodes=postcodes, premise=premise)
    areas = selectors.area_ids_by_postcode()
    rows = [
        Interruption(
            incident=incident,
            supply_point_id=p["id"],
            account_id=p["premise__account_id"],
            area_id=areas.get(p["premise__postcode"]),
            priority=p["priority"],
            started_at=started_at,
        )
        for p in points
    ]
    Interruption.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return len(rows)


def _area_class(postcodes: list[str], premise: Premise | None) -> str:
    if premise is not None:
        return premise.area_class
    classes = selectors.area_classes(postcodes=postcodes)
    # Mixed areas take the urban, tighter, target: the first customers to reach
    # must not wait for the rural allowance.
    return "URBAN" if "URBAN" in classes or not classes else "RURAL"


def _first_estimate(incident: Incident, *, now: datetime) -> None:
    if incident.planned:
        return
    fallback_key = (
        "outage_etr_fallback_rural_minutes"
        if incident.area_class == "RURAL"
        else "outage_etr_fallback_urban_minutes"
    )
    estimate = rules.first_estimate(
        started_at=incident.started_at,
        history_minutes=selectors.repair_minutes_history(
            cause=incident.cause, area_class=incident.area_class
        ),
        fallback_minutes=_param_int(fallback_key),
        min_samples=_param_int("outage_etr_min_samples"),
    )
    at = max(estimate.at, rules.later(now, timedelta(minutes=30)))
    basis = (
        _("médiane de %(n)d incidents comparables")
        if estimate.from_history
        else _("valeur par défaut (%(n)d incidents comparables)")
    ) % {"n": estimate.samples}
    _etr_record(
        incident,
        estimate=at,
        source=EtrSource.SYSTEM,
        confidence=estimate.confidence,
        now=now,
        actor=None,
        basis=basis,
    )


def _etr_record(
    incident: Incident,
    *,
    estimate: datetime,
    source: str,
    confidence: str,
    now: datetime,
    actor: User | None,
    basis: str = "",
) -> EtrRevision:
    revision = EtrRevision.objects.create(
        incident=incident,
        estimate=estimate,
        source=source,
        confidence=confidence,
        issued_at=now,
        issued_by=actor,
        basis=basis[:200],
    )
    old = incident.etr
    incident.etr, incident.etr_source, incident.etr_confidence = estimate, source, confidence
    incident.updated_at = now
    incident.save(update_fields=["etr", "etr_source", "etr_confidence", "updated_at"])
    event(
        incident,
        kind="ETR",
        actor=actor,
        now=now,
        old=old.isoformat() if old else "",
        new=estimate.isoformat(),
        note=f"{source}/{confidence}",
    )
    return revision


def incident_open(
    *,
    title: str,
    now: datetime,
    postcodes: list[str] | None = None,
    premise: Premise | None = None,
    cause: str = "UNKNOWN",
    started_at: datetime | None = None,
    feeder: str = "",
    safety_critical: bool = False,
    suspected: bool = False,
    public_message: str = "",
    actor: User | None = None,
) -> Incident:
    """An unplanned incident: confirmed by a dispatcher, or a suspect from a report."""
    postcodes = sorted({p.strip().upper() for p in postcodes or [] if p.strip()})
    errors = {}
    if not title.strip():
        errors["title"] = _("Donnez un titre à l'incident.")
    if not postcodes and premise is None:
        errors["postcodes"] = _("Indiquez au moins un code postal touché.")
    started_at = started_at or now
    if started_at > now:
        errors["started_at"] = _("Le début d'une panne ne peut pas être dans le futur.")
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        ticket = ticket_services.ticket_open_internal(
            policy_code="INCIDENT",
            subject=title,
            body=public_message or title,
            now=now,
            actor=actor,
        )
        incident = Incident.objects.create(
            reference=next_reference("INC", now),
            title=title[:200],
            klass=rules.P3,
            proposed_klass=rules.P3,
            status=states.SUSPECTED if suspected else states.CONFIRMED,
            cause=cause,
            postcodes=postcodes or ([premise.postcode] if premise else []),
            feeder=feeder,
            area_class=_area_class(postcodes, premise),
            premise=premise,
            safety_critical=safety_critical,
            public_message=public_message,
            started_at=started_at,
            created_at=now,
            updated_at=now,
            ticket=ticket,
            created_by=actor,
        )
        incident.areas.set(selectors.areas_for(postcodes=incident.postcodes))
        event(incident, kind="CREATED", actor=actor, now=now, new=incident.status)
        if premise is not None or not suspected:
            interruptions_open(
                incident, postcodes=postcodes, premise=premise, started_at=started_at
            )
        recount(incident, now=now, actor=actor)
        on_site = "ONSITE_RURAL" if incident.area_class == "RURAL" else "ONSITE_URBAN"
        ticket_services.ticket_clock_start(ticket=ticket, event=on_site, now=now)
        _first_estimate(incident, now=now)
        public_changed()
    return incident


def planned_outage_announce(
    *,
    title: str,
    postcodes: list[str],
    planned_start: datetime,
    planned_end: datetime,
    message: str,
    now: datetime,
    actor: User | None,
    feeder: str = "",
) -> Incident:
    """Planned works, announced ahead: the priority register hears first."""
    postcodes = sorted({p.strip().upper() for p in postcodes if p.strip()})
    errors = {}
    if not title.strip():
        errors["title"] = _("Donnez un titre aux travaux.")
    if not postcodes:
        errors["postcodes"] = _("Indiquez au moins un code postal touché.")
    if not message.strip():
        errors["message"] = _("Rédigez l'avis envoyé aux clients.")
    min_days = _param_int("outage_planned_notice_min_days")
    if planned_start < now + timedelta(days=min_days):
        errors["planned_start"] = _(
            "Des travaux programmés s'annoncent au moins %(days)d jours à l'avance."
        ) % {"days": min_days}
    if planned_end <= planned_start:
        errors["planned_end"] = _("La fin doit suivre le début.")
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        ticket = ticket_services.ticket_open_internal(
            policy_code="INCIDENT", subject=title, body=message, now=now, actor=actor
        )
        incident = Incident.objects.create(
            reference=next_reference("INC", now),
            title=title[:200],
            klass=rules.P3,
            proposed_klass=rules.P3,
            status=states.PLANNED,
            planned=True,
            cause="PLANNED_WORK",
            postcodes=postcodes,
            feeder=feeder,
            area_class=_area_class(postcodes, None),
            public_message=message,
            started_at=planned_start,
            planned_start=planned_start,
            planned_end=planned_end,
            created_at=now,
            updated_at=now,
            ticket=ticket,
            created_by=actor,
        )
        incident.areas.set(selectors.areas_for(postcodes=postcodes))
        event(incident, kind="CREATED", actor=actor, now=now, new=states.PLANNED)
        counts = selectors.planned_counts(postcodes=postcodes)
        incident.customers_affected, incident.priority_customers = (
            counts["customers"],
            counts["priority"],
        )
        incident.save(update_fields=["customers_affected", "priority_customers"])
        _etr_record(
            incident,
            estimate=planned_end,
            source=EtrSource.OPERATOR,
            confidence="HIGH",
            now=now,
            actor=actor,
            basis=_("fin prévue des travaux"),
        )
        _publish(incident, kind="PLANNED", message=message, now=now, actor=actor)
    return incident


def incident_class_override(
    *, incident: Incident, klass: str, reason: str, now: datetime, actor: User
) -> Incident:
    if klass not in (rules.P1, rules.P2, rules.P3):
        raise InvalidInput({"klass": _("Classe inconnue.")})
    if not reason.strip():
        raise InvalidInput({"reason": _("Expliquez pourquoi vous changez la classe proposée.")})
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if incident.status not in states.LIVE:
            raise NotAllowed(_("Cet incident est terminé."))
        incident.class_override_reason = reason.strip()[:300]
        incident.updated_at = now
        incident.save(update_fields=["class_override_reason", "updated_at"])
        event(
            incident,
            kind="CLASS_OVERRIDE",
            actor=actor,
            now=now,
            old=incident.klass,
            new=klass,
            note=reason.strip(),
        )
        _set_class(incident, klass, now=now, actor=actor)
        public_changed()
    return incident


def incident_confirm(
    *,
    incident: Incident,
    now: datetime,
    actor: User | None,
    postcodes: list[str] | None = None,
    cause: str | None = None,
) -> Incident:
    """A suspect becomes a confirmed outage, or planned works start (supply cut);
    the extent may grow to whole postcodes, whose supply points are then off."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        states.check_incident(incident.status, states.CONFIRMED)
        old = incident.status
        extra = sorted({p.strip().upper() for p in postcodes or [] if p.strip()})
        incident.postcodes = sorted(set(incident.postcodes) | set(extra))
        incident.status = states.CONFIRMED
        if cause:
            incident.cause = cause
        if old == states.PLANNED:
            incident.started_at = now
        incident.updated_at = now
        incident.save()
        incident.areas.set(selectors.areas_for(postcodes=incident.postcodes))
        event(incident, kind="STATUS", actor=actor, now=now, old=old, new=states.CONFIRMED)
        if extra or old == states.PLANNED:
            # The extent a dispatcher draws was off from the start of the outage,
            # not from the moment they drew it. Without one, a suspect stays as
            # reported: the homes that told us.
            interruptions_open(
                incident,
                postcodes=incident.postcodes if old == states.PLANNED else extra,
                premise=None,
                started_at=incident.started_at,
            )
        recount(incident, now=now, actor=actor)
        if incident.klass == rules.P1 and incident.first_notice_at is None and not incident.planned:
            ticket_services.ticket_clock_start(ticket=incident.ticket, event="INCIDENT_P1", now=now)
        public_changed()
    return incident


def incident_cancel(*, incident: Incident, reason: str, now: datetime, actor: User | None):
    if not reason.strip():
        raise InvalidInput({"reason": _("Expliquez pourquoi l'incident est annulé.")})
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        states.check_incident(incident.status, states.CANCELLED)
        old = incident.status
        incident.status, incident.updated_at = states.CANCELLED, now
        incident.save(update_fields=["status", "updated_at"])
        incident.interruptions.all().delete()
        event(
            incident,
            kind="STATUS",
            actor=actor,
            now=now,
            old=old,
            new=states.CANCELLED,
            note=reason.strip(),
        )
        ticket_services.ticket_transition(
            ticket=incident.ticket, target="RESOLVED", actor=actor, now=now, note=reason.strip()
        )
        public_changed()
    return incident


def _publish(
    incident: Incident, *, kind: str, message: str, now: datetime, actor: User | None
) -> PublicUpdate:
    """Write the update, fire the cadence events, queue its fan-out after commit."""
    seq = (incident.updates.aggregate(m=Max("seq"))["m"] or 0) + 1
    update = PublicUpdate.objects.create(
        incident=incident,
        seq=seq,
        kind=kind,
        at=now,
        message=message,
        etr=incident.etr,
        author=actor,
    )
    ticket = incident.ticket
    if kind == "NOTICE":
        ticket_services.ticket_clock_stop(ticket=ticket, event="PUBLIC_NOTICE", now=now)
        ticket_services.ticket_clock_start(ticket=ticket, event="PUBLIC_NOTICE", now=now)
        incident.first_notice_at = now
    elif kind == "UPDATE":
        ticket_services.ticket_clock_stop(ticket=ticket, event="PUBLIC_UPDATE", now=now)
    incident.last_update_at = now
    incident.next_update_due_at = (
        selectors.next_update_due(incident=incident, now=now) if kind != "RESTORED" else None
    )
    incident.updated_at = now
    incident.save(
        update_fields=["first_notice_at", "last_update_at", "next_update_due_at", "updated_at"]
    )
    event(incident, kind=f"PUBLISHED_{kind}", actor=actor, now=now, new=str(seq), note=message)
    _enqueue("outages.tasks.update_fan_out_task", update_id=update.pk)
    public_changed()
    return update


def incident_update_publish(
    *, incident: Incident, message: str, now: datetime, actor: User | None
) -> PublicUpdate:
    """A public update; the first one of an unplanned incident is its notice."""
    if not message.strip():
        raise InvalidInput({"message": _("Rédigez le message publié.")})
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if incident.status not in states.LIVE:
            raise NotAllowed(_("Cet incident est terminé : plus de point d'étape."))
        kind = "NOTICE" if incident.first_notice_at is None and not incident.planned else "UPDATE"
        return _publish(incident, kind=kind, message=message.strip(), now=now, actor=actor)


def system_notice_text(incident: Incident) -> str:
    """The notice the platform publishes by itself if nobody has written one."""
    with translation.override("fr"):
        etr = selectors.local_time(incident.etr) if incident.etr else "à préciser"
        return (
            f"Coupure de courant en cours ({', '.join(incident.postcodes)}) : "
            f"{incident.customers_affected} foyers concernés. Nos équipes sont mobilisées. "
            f"Rétablissement estimé : {etr}."
        )


def incident_auto_notice(*, incident_id: int, now: datetime) -> PublicUpdate | None:
    """Publish the system notice of a P1 nobody has announced yet (idempotent)."""
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update(skip_locked=True).filter(pk=incident_id).first()
        )
        if (
            incident is None
            or incident.first_notice_at is not None
            or incident.klass != rules.P1
            or incident.status not in states.OFF_SUPPLY
            or incident.planned
        ):
            return None
        return _publish(
            incident, kind="NOTICE", message=system_notice_text(incident), now=now, actor=None
        )


def etr_revise(
    *,
    incident: Incident,
    estimate: datetime,
    source: str,
    confidence: str,
    now: datetime,
    actor: User | None,
    message: str = "",
) -> EtrRevision:
    """A new restoration estimate, published as an update (it is news)."""
    errors = {}
    if source not in EtrSource.values:
        errors["source"] = _("Source inconnue.")
    if confidence not in ("LOW", "MEDIUM", "HIGH"):
        errors["confidence"] = _("Choisissez un niveau de confiance.")
    if estimate <= now:
        errors["estimate"] = _("L'heure estimée de rétablissement doit être dans le futur.")
    elif estimate > now + timedelta(days=14):
        errors["estimate"] = _("Une estimation au-delà de 14 jours n'est pas crédible.")
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if incident.status not in states.LIVE:
            raise NotAllowed(_("Cet incident est terminé."))
        revision = _etr_record(
            incident,
            estimate=estimate,
            source=source,
            confidence=confidence,
            now=now,
            actor=actor,
        )
        text = message.strip() or _("Nouvelle heure estimée de rétablissement : %(at)s.") % {
            "at": selectors.local_time(estimate)
        }
        kind = "NOTICE" if incident.first_notice_at is None and not incident.planned else "UPDATE"
        _publish(incident, kind=kind, message=text, now=now, actor=actor)
    return revision


def incident_restore(
    *, incident: Incident, now: datetime, actor: User | None, message: str = ""
) -> Incident:
    """Supply is back: close the interruptions, tell everyone, resolve the linked
    tickets; compensation and the MTTR review follow (settlement)."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        states.check_incident(incident.status, states.RESTORED)
        old = incident.status
        incident.status, incident.ended_at, incident.updated_at = states.RESTORED, now, now
        incident.save(update_fields=["status", "ended_at", "updated_at"])
        incident.interruptions.filter(ended_at__isnull=True).update(ended_at=now)
        event(incident, kind="STATUS", actor=actor, now=now, old=old, new=states.RESTORED)
        text = message.strip() or _(
            "Le courant est rétabli. Merci de votre patience. Si vous êtes toujours sans "
            "courant, vérifiez votre disjoncteur puis signalez-le-nous."
        )
        _publish(incident, kind="RESTORED", message=text, now=now, actor=actor)
        ticket_services.ticket_transition(
            ticket=incident.ticket, target="RESOLVED", actor=actor, now=now, note="restored"
        )
        from .reports import reports_close_for

        reports_close_for(incident=incident, now=now, actor=actor)
        _linked_tickets_resolve(incident, text=text, now=now, actor=actor)
        _enqueue("outages.tasks.incident_settle_task", incident_id=incident.pk)
    return incident


def _linked_tickets_resolve(
    incident: Incident, *, text: str, now: datetime, actor: User | None
) -> int:
    resolved = 0
    for link in incident.ticket_links.select_related("ticket"):
        ticket = link.ticket
        if ticket.status not in ("NEW", "OPEN", "WAITING_CUSTOMER", "WAITING_THIRD_PARTY"):
            continue
        ticket_services.ticket_reply(ticket=ticket, author=actor, body=text, now=now)
        ticket.refresh_from_db()
        if ticket.status != "RESOLVED":
            ticket_services.ticket_transition(
                ticket=ticket,
                target="RESOLVED",
                actor=actor,
                now=now,
                note=f"incident {incident.reference} restored",
            )
        resolved += 1
    if resolved:
        event(incident, kind="TICKETS_RESOLVED", actor=actor, now=now, new=str(resolved))
    return resolved


def incident_close(*, incident: Incident, now: datetime, actor: User | None) -> Incident:
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        states.check_incident(incident.status, states.CLOSED)
        old = incident.status
        incident.status, incident.updated_at = states.CLOSED, now
        incident.save(update_fields=["status", "updated_at"])
        event(incident, kind="STATUS", actor=actor, now=now, old=old, new=states.CLOSED)
        public_changed()
    return incident


def incident_link_ticket(*, incident: Incident, reference: str, now: datetime, actor: User | None):
    """Attach a customer's ticket, so it is answered and resolved with the incident."""
    from tickets.selectors import ticket_by_reference

    ticket = ticket_by_reference(reference=reference.strip())
    if ticket is None:
        raise InvalidInput({"reference": _("Aucune demande ne porte cette référence.")})
    if ticket.pk == incident.ticket_id:
        raise InvalidInput({"reference": _("C'est la fiche interne de l'incident.")})
    with transaction.atomic():
        link, created = IncidentTicket.objects.get_or_create(
            incident=incident, ticket=ticket, defaults={"linked_at": now}
        )
        if created:
            event(incident, kind="TICKET_LINKED", actor=actor, now=now, new=ticket.reference)
    return link


def diagnostic_fee_bounds() -> tuple[Decimal, Decimal, Decimal]:
    return (
        Decimal(str(parameter_get(key="diagnostic_fee_min"))),
        Decimal(str(parameter_get(key="diagnostic_fee_max"))),
        Decimal(str(parameter_get(key="diagnostic_fee_default"))),
    )
