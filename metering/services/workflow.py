"""The meter-issue workflow on a METERING ticket:

1. try a remote read through the head-end;
2. if it fails or times out, ask the customer for a read (email and SMS, with a link
   to the portal read page);
3. if that is still inconclusive, book an on-site check 5 to 10 working days ahead,
   in a 4-hour slot on the contact centre's working calendar.

Each step leaves an internal note on the ticket and runs on an SLA clock of the
METERING policy (tickets/migrations/0005), so both show in the agent's view. The
clocks drive the workflow: when the remote-read clock breaches (the head-end never
answered) the customer is asked, and when the customer-read clock breaches the
on-site check is booked, by the handlers registered in `metering.apps` and called
from `clocks_sweep`. An accepted read, whoever brings it, stops the clocks waiting
for one (`meter_read_arrived`, on every new Reading).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import parameter_get
from metering.headend import HeadEnd, HeadEndError, HeadEndTimeout, SmsSender, headend_get, sms_get
from metering.models import MeterRegister, Reading, ReadingSource, ReadingStatus
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from tickets.domain import calendar as bcal
from tickets.models import Calendar, ClockInstance, ClockStatus, Ticket

from .readings import MeteringError, ReadingRejected, meter_in_service, reading_record

PARIS = ZoneInfo("Europe/Paris")
SLOT = timedelta(hours=4)
REMOTE_TIMEOUT_SECONDS = 10.0
DEFAULTS = {"onsite_check_min_working_days": 5, "onsite_check_max_working_days": 10}

# The events of the METERING policy's clock definitions (start, then stop).
REMOTE_READ_STARTED = "METER_REMOTE_READ"
REMOTE_READ_DONE = "METER_REMOTE_DONE"
CUSTOMER_READ_STARTED = "METER_CUSTOMER_READ"
READ_SETTLED = "METER_READ_SETTLED"
ONSITE_CHECK_STARTED = "METER_ONSITE_CHECK"
ONSITE_CHECK_DONE = "METER_ONSITE_DONE"
SETTLING_SOURCES = (ReadingSource.CUSTOMER, ReadingSource.CUSTOMER_PHOTO, ReadingSource.REMOTE)
LIVE = (ClockStatus.RUNNING, ClockStatus.PAUSED)


class NoSlot(MeteringError):
    """No 4-hour slot in the window (the calendar is closed throughout)."""


def _parameter(key: str) -> int:
    try:
        return int(parameter_get(key=key))
    except KeyError:
        return DEFAULTS[key]


def _note(ticket: Ticket, body: str, now: datetime) -> None:
    ticket_services.ticket_reply(ticket=ticket, author=None, body=body, now=now, internal=True)


def _settled(ticket: Ticket, *, since: datetime) -> bool:
    return Reading.objects.filter(
        register__meter__supply_point_id=ticket.supply_point_id,
        recorded_at__gte=since,
        status=ReadingStatus.ACCEPTED,
        source__in=SETTLING_SOURCES,
    ).exists()


# --- 1. Remote read -----------------------------------------------------------


class NotAMeterIssue(MeteringError):
    """The ticket is not a METERING ticket on a supply point."""


class CheckInProgress(MeteringError):
    """A remote read is already under way on the ticket."""


def meter_check_start(*, ticket: Ticket, actor: User, now: datetime) -> None:
    """An agent starts the workflow on a METERING ticket: the remote-read clock starts now
    and the head-end is called by a task after commit (it may take seconds to answer)."""
    from celery import current_app

    if ticket.queue != "METERING" or ticket.supply_point_id is None:
        raise NotAMeterIssue(
            _("Le contrôle du compteur ne s'applique qu'à une demande Comptage liée à un PRM.")
        )
    with transaction.atomic():
        Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
        if ticket.clocks.filter(
            definition__start_event=REMOTE_READ_STARTED, status__in=LIVE
        ).exists():
            raise CheckInProgress(_("Un télérelevé est déjà en cours sur cette demande."))
        meter_in_service(supply_point=ticket.supply_point, at=now)  # raises if none
        ticket_services.ticket_reply(
            ticket=ticket,
            author=actor,
            body="Contrôle du compteur lancé : télérelevé demandé.",
            now=now,
            internal=True,
        )
        ticket_services.ticket_clock_start(ticket=ticket, event=REMOTE_READ_STARTED, now=now)
        task = current_app.tasks["metering.tasks.meter_remote_read_task"]
        transaction.on_commit(lambda: task.delay(ticket_id=ticket.pk))


def meter_remote_read_pending(*, ticket_id: int, now: datetime) -> RemoteReadResult | None:
    """The task's body: read the meter unless that step is over already (a redelivered
    task, or the sweep moved on after a breach), so running it twice reads once."""
    ticket = Ticket.objects.select_related("supply_point").get(pk=ticket_id)
    if not ticket.clocks.filter(
        definition__start_event=REMOTE_READ_STARTED, status=ClockStatus.RUNNING
    ).exists():
        return None
    return meter_remote_read(ticket=ticket, now=now)


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
    customer is asked for a read (step 2).

    The remote-read clock starts before the head-end is called and stops when the
    attempt ends, whatever its outcome (the notes say which)."""
    if ticket.supply_point_id is None:
        raise MeteringError(f"Ticket {ticket.reference} has no supply point.")
    headend = headend or headend_get()
    meter = meter_in_service(supply_point=ticket.supply_point, at=now)
    registers = sorted(meter.registers.all(), key=lambda r: r.code)
    # Committed before the call when the caller holds no transaction: if the call
    # never comes back (worker killed, head-end hung), the clock still breaches and
    # the sweep asks the customer.
    ticket_services.ticket_clock_start(ticket=ticket, event=REMOTE_READ_STARTED, now=now)
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
            with transaction.atomic():
                _note(ticket, f"Télérelevé du compteur {meter.serial} réussi : {shown}.", now)
                ticket_services.ticket_clock_stop(ticket=ticket, event=REMOTE_READ_DONE, now=now)
            return RemoteReadResult(True, readings)
    with transaction.atomic():
        _note(ticket, f"Télérelevé du compteur {meter.serial} : {error}.", now)
        # The attempt ended in time, only without a value: the step is done and the
        # next one starts now rather than when the clock would have breached.
        ticket_services.ticket_clock_stop(ticket=ticket, event=REMOTE_READ_DONE, now=now)
        customer_read_request(ticket=ticket, now=now)
    return RemoteReadResult(False, [], error)


def on_remote_read_breached(*, clock: ClockInstance, now: datetime) -> None:
    """Breach handler of the remote-read clock: the head-end never answered."""
    ticket = clock.ticket
    if _settled(ticket, since=clock.started_at):
        _note(
            ticket, "Télérelevé sans réponse, mais un relevé accepté est arrivé entre-temps.", now
        )
        return
    if ticket.clocks.filter(stop_event=READ_SETTLED, status__in=LIVE).exists():
        # Someone already asked the customer; asking again would only nag them.
        _note(ticket, "Télérelevé sans réponse ; un relevé est déjà demandé au client.", now)
        return
    _note(ticket, f"Télérelevé sans réponse dans le délai ({clock.name}).", now)
    customer_read_request(ticket=ticket, now=now)


# --- 2. Ask the customer ------------------------------------------------------


def customer_read_request(*, ticket: Ticket, now: datetime, sms: SmsSender | None = None) -> None:
    """Email (and SMS, if we have a mobile) the customer a link to the portal read page,
    and start the customer-read clock (a request already running keeps its clock)."""
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
    with transaction.atomic():
        _note(
            ticket,
            "Relevé demandé au client"
            + (f" ({', '.join(sent)})" if sent else " (aucun contact connu)")
            + f" : {link}",
            now,
        )
        ticket_services.ticket_clock_start(ticket=ticket, event=CUSTOMER_READ_STARTED, now=now)


def on_customer_read_breached(*, clock: ClockInstance, now: datetime) -> None:
    """Breach handler of the customer-read clock: no accepted read came in time."""
    meter_issue_followup(ticket=clock.ticket, since=clock.started_at, now=now)


def meter_read_arrived(*, reading: Reading, now: datetime) -> list[ClockInstance]:
    """Stop the workflow clocks that `reading` settles on the open tickets of its
    supply point: an accepted customer or remote read ends the remote and customer
    steps; a site-visit read, whatever its status, ends the on-site check."""
    events = []
    if reading.status == ReadingStatus.ACCEPTED and reading.source in SETTLING_SOURCES:
        events += [REMOTE_READ_DONE, READ_SETTLED]
    if reading.source == ReadingSource.SITE_VISIT:
        events.append(ONSITE_CHECK_DONE)
    if not events:
        return []
    supply_point_id = (
        MeterRegister.objects.filter(pk=reading.register_id)
        .values_list("meter__supply_point_id", flat=True)
        .first()
    )
    ticket_ids = set(
        ClockInstance.objects.filter(
            ticket__supply_point_id=supply_point_id, stop_event__in=events, status__in=LIVE
        ).values_list("ticket_id", flat=True)
    )
    stopped = []
    with transaction.atomic():
        for ticket in Ticket.objects.filter(pk__in=ticket_ids).order_by("pk"):
            done = [
                clock
                for event in events
                for clock in ticket_services.ticket_clock_stop(ticket=ticket, event=event, now=now)
            ]
            if done:
                names = ", ".join(f"« {c.name} »" for c in done)
                _note(
                    ticket,
                    f"Relevé reçu ({reading.get_source_display()}, "
                    f"{reading.register.code} {reading.value} kWh) : "
                    f"fin de {names}.",
                    now,
                )
            stopped += done
    return stopped


def on_reading_saved(sender, instance: Reading, created: bool, raw: bool = False, **kwargs):
    """post_save receiver: however a read is recorded (portal, head-end, site visit,
    agent), its arrival reaches the workflow, with the time the read was recorded."""
    if created and not raw:
        meter_read_arrived(reading=instance, now=instance.recorded_at)


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
    """Book the on-site check, note the slot on the ticket and start the on-site clock,
    due at the end of the slot. A check already booked (its clock live) is returned
    as it is, not booked again."""
    with transaction.atomic():
        # Two bookings at once on one ticket would both find no clock and book twice.
        Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
        booked = ticket.clocks.filter(
            definition__start_event=ONSITE_CHECK_STARTED, status__in=LIVE
        ).first()
        if booked is not None and booked.due_at is not None:
            return OnsiteSlot(booked.due_at - SLOT, booked.due_at)
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
        ticket_services.ticket_clock_start(
            ticket=ticket, event=ONSITE_CHECK_STARTED, now=now, due_at=slot.end
        )
    return slot


def onsite_check_done(*, ticket: Ticket, actor: User | None, now: datetime, note: str = "") -> None:
    """The agent records that the on-site check took place (without a read to enter)."""
    with transaction.atomic():
        ticket_services.ticket_reply(
            ticket=ticket,
            author=actor,
            body="Vérification sur place effectuée." + (f" {note.strip()}" if note.strip() else ""),
            now=now,
            internal=True,
        )
        ticket_services.ticket_clock_stop(ticket=ticket, event=ONSITE_CHECK_DONE, now=now)


def meter_issue_followup(*, ticket: Ticket, since: datetime, now: datetime) -> OnsiteSlot | None:
    """After asking the customer: an accepted read since `since` settles it; otherwise
    (no read, or a read that needs review) book an on-site check."""
    if _settled(ticket, since=since):
        with transaction.atomic():
            _note(ticket, "Relevé reçu et accepté : pas de vérification sur place.", now)
            ticket_services.ticket_clock_stop(ticket=ticket, event=READ_SETTLED, now=now)
        return None
    return onsite_check_book(ticket=ticket, now=now)


__all__ = [
    "CUSTOMER_READ_STARTED",
    "ONSITE_CHECK_DONE",
    "ONSITE_CHECK_STARTED",
    "READ_SETTLED",
    "REMOTE_READ_DONE",
    "REMOTE_READ_STARTED",
    "CheckInProgress",
    "NoSlot",
    "NotAMeterIssue",
    "OnsiteSlot",
    "RemoteReadResult",
    "contact_centre_calendar_get",
    "customer_read_request",
    "meter_check_start",
    "meter_issue_followup",
    "meter_read_arrived",
    "meter_remote_read",
    "meter_remote_read_pending",
    "on_customer_read_breached",
    "on_reading_saved",
    "on_remote_read_breached",
    "onsite_check_book",
    "onsite_check_done",
    "onsite_slot",
]
