"""The meter-issue workflow on a METERING ticket:

1. try a remote read through the head-end;
2. if it fails or times out, ask the customer for a read (email and SMS, with a link
   to the portal read page);
3. if that is still inconclusive, book an on-site check 5 to 10 working days ahead,
   in a 4-hour slot on the contact centre's working calendar.

Each step leaves an internal note on the ticket, so it shows in the agent's view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from accounts.selectors import parameter_get
from metering.headend import HeadEnd, HeadEndError, HeadEndTimeout, SmsSender, headend_get, sms_get
from metering.models import Reading, ReadingSource, ReadingStatus
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from tickets.domain import calendar as bcal
from tickets.models import Calendar, Ticket

from .readings import MeteringError, ReadingRejected, meter_in_service, reading_record

PARIS = ZoneInfo("Europe/Paris")
SLOT = timedelta(hours=4)
REMOTE_TIMEOUT_SECONDS = 10.0
DEFAULTS = {"onsite_check_min_working_days": 5, "onsite_check_max_working_days": 10}


class NoSlot(MeteringError):
    """No 4-hour slot in the window (the calendar is closed throughout)."""


def _parameter(key: str) -> int:
    try:
        return int(parameter_get(key=key))
    except KeyError:
        return DEFAULTS[key]


def _note(ticket: Ticket, body: str, now: datetime) -> None:
    ticket_services.ticket_reply(ticket=ticket, author=None, body=body, now=now, internal=True)


# --- 1. Remote read -----------------------------------------------------------


@dataclass
class RemoteReadResult:
    ok: bool
    readings: list[Reading]
    error: str = ""


def meter_remote_read(
    *, ticket: Ticket, now: datetime, headend: HeadEnd | None = None
) -> RemoteReadResult:
    """Read every register of the ticket's supply point through the head-end and store
    the values (source REMOTE). On failure or timeout nothing is stored and the
    customer is asked for a read (step 2)."""
    if ticket.supply_point_id is None:
        raise MeteringError(f"Ticket {ticket.reference} has no supply point.")
    headend = headend or headend_get()
    meter = meter_in_service(supply_point=ticket.supply_point, at=now)
    registers = sorted(meter.registers.all(), key=lambda r: r.code)
    try:
        values = {
            r.code: headend.read_register(meter.serial, r.code, timeout=REMOTE_TIMEOUT_SECONDS)
            for r in registers
        }
    except HeadEndTimeout as exc:
        error = f"délai dépassé ({exc})"
    except HeadEndError as exc:
        error = f"échec ({exc})"
    else:
        try:
            with transaction.atomic():
                readings = [
                    reading_record(
                        register=r,
                        value=values[r.code],
                        read_at=now,
                        source=ReadingSource.REMOTE,
                        now=now,
                        ticket=ticket,
                    )
                    for r in registers
                ]
        except ReadingRejected as exc:
            error = f"valeur refusée ({exc})"
        else:
            shown = ", ".join(f"{r.register.code} {r.value} kWh" for r in readings)
            _note(ticket, f"Télérelevé du compteur {meter.serial} réussi : {shown}.", now)
            return RemoteReadResult(True, readings)
    _note(ticket, f"Télérelevé du compteur {meter.serial} : {error}.", now)
    customer_read_request(ticket=ticket, now=now)
    return RemoteReadResult(False, [], error)


# --- 2. Ask the customer ------------------------------------------------------


def customer_read_request(*, ticket: Ticket, now: datetime, sms: SmsSender | None = None) -> None:
    """Email (and SMS, if we have a mobile) the customer a link to the portal read page."""
    path = reverse("portal_readings:submit", args=[ticket.supply_point_id])
    link = getattr(settings, "PORTAL_BASE_URL", "").rstrip("/") + path
    requester = ticket.requester
    email = requester.email if requester and requester.email else ""
    phone = (requester.phone if requester else "") or (
        ticket.account.phone if ticket.account_id else ""
    )
    subject = f"[{ticket.reference}] Relevé de compteur demandé"
    text = (
        "Bonjour,\n\nNous n'avons pas pu relever votre compteur à distance. "
        f"Pouvez-vous nous transmettre son index, avec une photo si possible ?\n{link}\n\n"
        f"Référence : {ticket.reference}"
    )
    sent = []
    if email:
        transaction.on_commit(lambda: send_mail(subject, text, None, [email]))
        sent.append(f"e-mail à {email}")
    if phone:
        sender = sms or sms_get()
        body = f"Power Next : merci de relever votre compteur ({ticket.reference}) : {link}"
        transaction.on_commit(lambda: sender.send(to=phone, body=body))
        sent.append(f"SMS au {phone}")
    _note(
        ticket,
        "Relevé demandé au client"
        + (f" ({', '.join(sent)})" if sent else " (aucun contact connu)")
        + f" : {link}",
        now,
    )


# --- 3. On-site check ---------------------------------------------------------


@dataclass(frozen=True)
class OnsiteSlot:
    start: datetime
    end: datetime


def onsite_slot(
    cal: bcal.BusinessCalendar, *, now: datetime, min_days: int, max_days: int
) -> OnsiteSlot:
    """The first 4-hour slot inside the calendar's opening windows on a weekday that is
    a working day, between `min_days` and `max_days` working days after `now`."""
    zone = ZoneInfo(cal.tz)
    first = bcal.add_working_days(cal, now, min_days).astimezone(zone).date()
    last = bcal.add_working_days(cal, now, max_days).astimezone(zone).date()
    day = first
    while day <= last:
        if day.weekday() < 5 and cal.is_working_day(day):
            for window in cal.windows.get(day.weekday(), ()):
                slot = _first_slot(day, window, zone)
                if slot is not None:
                    return slot
        day += timedelta(days=1)
    raise NoSlot(f"No on-site slot between {first} and {last}.")


def _first_slot(day: date, window: bcal.Window, zone: ZoneInfo) -> OnsiteSlot | None:
    if window.crosses_midnight:
        return None
    start = datetime.combine(day, window.start, tzinfo=zone)
    # Aware arithmetic inside one zone is wall-clock arithmetic: add real hours in UTC.
    end = (start.astimezone(ZoneInfo("UTC")) + SLOT).astimezone(zone)
    if end.time() > window.end or end.date() != day:
        return None
    return OnsiteSlot(start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC")))


def contact_centre_calendar_get(*, now: datetime) -> bcal.BusinessCalendar:
    stored = Calendar.objects.filter(code="CONTACT_CENTRE").first()
    years = ticket_selectors.years_around(now)
    if stored is None:
        return bcal.contact_centre_calendar(bcal.public_holidays("FR", years))
    return ticket_selectors.business_calendar(calendar=stored, years=years)


def onsite_check_book(*, ticket: Ticket, now: datetime) -> OnsiteSlot:
    """Book the on-site check and note the slot on the ticket."""
    slot = onsite_slot(
        contact_centre_calendar_get(now=now),
        now=now,
        min_days=_parameter("onsite_check_min_working_days"),
        max_days=_parameter("onsite_check_max_working_days"),
    )
    start, end = slot.start.astimezone(PARIS), slot.end.astimezone(PARIS)
    _note(
        ticket,
        f"Vérification sur place planifiée le {start:%d/%m/%Y} de {start:%H:%M} à {end:%H:%M}.",
        now,
    )
    return slot


def meter_issue_followup(*, ticket: Ticket, since: datetime, now: datetime) -> OnsiteSlot | None:
    """After asking the customer: an accepted read since `since` settles it; otherwise
    (no read, or a read that needs review) book an on-site check."""
    settled = Reading.objects.filter(
        register__meter__supply_point_id=ticket.supply_point_id,
        recorded_at__gte=since,
        status=ReadingStatus.ACCEPTED,
        source__in=[ReadingSource.CUSTOMER, ReadingSource.CUSTOMER_PHOTO, ReadingSource.REMOTE],
    ).exists()
    if settled:
        _note(ticket, "Relevé reçu et accepté : pas de vérification sur place.", now)
        return None
    return onsite_check_book(ticket=ticket, now=now)


__all__ = [
    "NoSlot",
    "OnsiteSlot",
    "RemoteReadResult",
    "contact_centre_calendar_get",
    "customer_read_request",
    "meter_issue_followup",
    "meter_remote_read",
    "onsite_check_book",
    "onsite_slot",
]
