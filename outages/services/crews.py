"""Crews sent to incidents, what they report from the field, and diagnostic fees."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Account, User
from billing.services.ledger import ledger_post
from tickets import services as ticket_services

from ..domain import rules, states
from ..models import Crew, DiagnosticCharge, Dispatch, FieldNote, Incident
from . import InvalidInput, NotAllowed
from .incidents import diagnostic_fee_bounds, event, incident_restore, public_changed

MAX_PHOTO_BYTES = 8 * 1024 * 1024
PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic"}


def _on_site_due(incident: Incident, now: datetime) -> datetime:
    from accounts.selectors import parameter_get
    from tickets.selectors import ticket_live_clocks

    for clock in ticket_live_clocks(ticket_id=incident.ticket_id):
        if clock.stop_event == "CREW_ON_SITE" and clock.due_at:
            return clock.due_at
    target = rules.on_site_target(
        area_class=incident.area_class,
        urban_hours=float(parameter_get(key="outage_onsite_urban_hours")),
        rural_hours=float(parameter_get(key="outage_onsite_rural_hours")),
    )
    return incident.started_at + target


def dispatch_create(*, incident: Incident, crew: Crew, now: datetime, actor: User | None):
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if incident.status not in states.OFF_SUPPLY:
            raise NotAllowed(_("On n'envoie une équipe que sur un incident en cours."))
        if not crew.active:
            raise InvalidInput({"crew": _("Cette équipe n'est pas disponible.")})
        if incident.dispatches.filter(crew=crew, status__in=states.DISPATCH_LIVE).exists():
            raise InvalidInput({"crew": _("Cette équipe est déjà missionnée sur l'incident.")})
        dispatch = Dispatch.objects.create(
            incident=incident,
            crew=crew,
            status=states.DISPATCHED,
            dispatched_at=now,
            on_site_due_at=_on_site_due(incident, now),
            dispatched_by=actor,
        )
        event(incident, kind="CREW", actor=actor, now=now, new=states.DISPATCHED, note=crew.name)
        public_changed()
    return dispatch


def dispatch_transition(
    *, dispatch: Dispatch, target: str, now: datetime, actor: User | None
) -> Dispatch:
    """Move a crew along DISPATCHED → EN_ROUTE → ON_SITE → RESTORED. On site meets
    the crew clock; RESTORED by the last crew restores the incident."""
    with transaction.atomic():
        dispatch = (
            Dispatch.objects.select_for_update()
            .select_related("incident", "crew")
            .get(pk=dispatch.pk)
        )
        states.check_dispatch(dispatch.status, target)
        old = dispatch.status
        dispatch.status = target
        stamp = {
            states.EN_ROUTE: "en_route_at",
            states.ON_SITE: "on_site_at",
            states.CREW_RESTORED: "restored_at",
        }.get(target)
        if stamp:
            setattr(dispatch, stamp, now)
        dispatch.save()
        incident = dispatch.incident
        event(
            incident,
            kind="CREW",
            actor=actor,
            now=now,
            old=old,
            new=target,
            note=dispatch.crew.name,
        )
        if target == states.ON_SITE:
            ticket_services.ticket_clock_stop(ticket=incident.ticket, event="CREW_ON_SITE", now=now)
        if (
            target == states.CREW_RESTORED
            and incident.status == states.CONFIRMED
            and not incident.dispatches.filter(status__in=states.DISPATCH_LIVE).exists()
        ):
            incident_restore(incident=incident, now=now, actor=actor)
        public_changed()
    return dispatch


def field_note_add(
    *, dispatch: Dispatch, text: str, now: datetime, author: User, photo=None
) -> FieldNote:
    errors = {}
    if not text.strip() and photo is None:
        errors["text"] = _("Écrivez une note ou joignez une photo.")
    if photo is not None:
        if photo.size > MAX_PHOTO_BYTES:
            errors["photo"] = _("La photo dépasse 8 Mo.")
        elif getattr(photo, "content_type", "") not in PHOTO_TYPES:
            errors["photo"] = _("Joignez une photo JPEG, PNG, WebP ou HEIC.")
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        note = FieldNote.objects.create(
            dispatch=dispatch, author=author, at=now, text=text.strip()[:4000]
        )
        if photo is not None:
            note.photo.save(f"{dispatch.pk}-{note.pk}-{photo.name}"[-120:], photo, save=True)
        event(dispatch.incident, kind="FIELD_NOTE", actor=author, now=now, note=text.strip()[:500])
    return note


def _money(raw, field: str, errors: dict) -> Decimal | None:
    try:
        value = Decimal(str(raw)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        errors[field] = _("Saisissez un montant en euros.")
        return None
    if value < 0:
        errors[field] = _("Le montant ne peut pas être négatif.")
    return value


def diagnostic_notice(
    *, dispatch: Dispatch, account: Account, now: datetime, actor: User | None
) -> DiagnosticCharge:
    """Tell the customer, before the crew arrives, what a fault inside the home will
    cost; without this notice no fee can be charged."""
    _min, _max, default = diagnostic_fee_bounds()
    with transaction.atomic():
        dispatch = Dispatch.objects.select_for_update().get(pk=dispatch.pk)
        if dispatch.status not in (states.DISPATCHED, states.EN_ROUTE):
            raise NotAllowed(_("Le client doit être prévenu avant l'arrivée de l'équipe."))
        charge, created = DiagnosticCharge.objects.get_or_create(
            dispatch=dispatch,
            account=account,
            defaults={"fee": default, "customer_told_at": now, "recorded_by": actor},
        )
        if created:
            event(
                dispatch.incident,
                kind="DIAGNOSTIC_NOTICE",
                actor=actor,
                now=now,
                new=str(default),
                note=account.number,
            )
    return charge


def diagnostic_charge(
    *, charge: DiagnosticCharge, fee, parts, now: datetime, actor: User | None
) -> DiagnosticCharge:
    """The fault was inside the home: book the fee and parts on the ledger, once."""
    errors: dict[str, str] = {}
    low, high, _default = diagnostic_fee_bounds()
    fee_value = _money(fee, "fee", errors)
    parts_value = _money(parts or "0", "parts", errors)
    if fee_value is not None and "fee" not in errors and not low <= fee_value <= high:
        errors["fee"] = _("Les frais de diagnostic vont de %(low)s à %(high)s €.") % {
            "low": low,
            "high": high,
        }
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        charge = (
            DiagnosticCharge.objects.select_for_update()
            .select_related("dispatch", "account")
            .get(pk=charge.pk)
        )
        if charge.charged_at is not None:
            raise NotAllowed(_("Ces frais sont déjà facturés."))
        if charge.dispatch.status not in (states.ON_SITE, states.CREW_RESTORED):
            raise NotAllowed(_("Les frais se facturent après le passage de l'équipe."))
        source = f"diagnostic:{charge.pk}"
        ledger_post(
            account=charge.account,
            kind="DIAGNOSTIC",
            amount=fee_value + parts_value,
            description=_("Diagnostic d'une panne intérieure (%(fee)s € + pièces %(parts)s €)")
            % {"fee": fee_value, "parts": parts_value},
            now=now,
            source=source,
            actor=actor,
        )
        charge.fee, charge.parts, charge.charged_at, charge.ledger_source = (
            fee_value,
            parts_value,
            now,
            source,
        )
        charge.save(update_fields=["fee", "parts", "charged_at", "ledger_source"])
        event(
            charge.dispatch.incident,
            kind="DIAGNOSTIC_CHARGED",
            actor=actor,
            now=now,
            new=str(fee_value + parts_value),
            note=charge.account.number,
        )
    return charge
