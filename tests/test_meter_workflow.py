"""The meter-issue workflow: remote read through the head-end, then the customer asked
for a read, then an on-site check booked on the contact centre's working calendar;
each step on an SLA clock of the METERING policy, moved on by `clocks_sweep`."""

import html
import importlib
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import formats, timezone, translation

from accounts.models import Role, SupplyPoint
from metering.headend import FakeHeadEnd, HeadEndTimeout, LoggingSms, headend_get
from metering.models import Meter, MeterRegister, Reading, ReadingSource, ReadingStatus
from metering.services import readings as reading_services
from metering.services import workflow
from tests.factories import MembershipFactory, PremiseFactory
from tickets import hooks
from tickets import services as ticket_services
from tickets.domain import calendar as bcal
from tickets.models import ClockAlert, ClockInstance, Escalation, Message, TicketEvent

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
REMOTE, CUSTOMER, ONSITE = (
    workflow.REMOTE_READ_STARTED,
    workflow.CUSTOMER_READ_STARTED,
    workflow.ONSITE_CHECK_STARTED,
)


@pytest.fixture
def metering_policy(db):
    """The METERING policy comes from a data migration, which a transactional test
    elsewhere flushes: put it back, idempotently, as conftest does for 0002."""
    from django.apps import apps

    importlib.import_module("tickets.migrations.0005_metering_workflow_policy").create(apps, None)


@pytest.fixture
def make_issue(db, make_user, metering_policy):
    """A METER_FAULT ticket opened at `now` on a two-register meter."""
    made = []

    def make(now, *, name="claire"):
        n = len(made)
        user = make_user(email=f"{name}@example.fr", phone=f"+336123456{78 + n}")
        account = MembershipFactory(user=user).account
        point = SupplyPoint.objects.create(
            premise=PremiseFactory(account=account),
            market="FR_PRM",
            identifier=str(12345678901234 + n),
            subscribed_kva=9,
        )
        meter = Meter.objects.create(
            supply_point=point, serial=f"M-{42 + n:04d}", installed_at=now - timedelta(days=400)
        )
        for code in ("HP", "HC"):
            MeterRegister.objects.create(meter=meter, code=code)
        ticket = ticket_services.ticket_create(
            channel="PHONE",
            category="METER_FAULT",
            subject="Compteur muet",
            body="L'écran du compteur ne s'allume plus.",
            account=account,
            requester=user,
            supply_point=point,
            now=now,
        )
        mail.outbox.clear()
        LoggingSms.outbox.clear()
        made.append(ticket)
        return ticket

    return make


@pytest.fixture
def issue(make_issue):
    return make_issue(NOW)


def step(ticket, start_event) -> list[ClockInstance]:
    """The ticket's clocks of one workflow step, oldest first."""
    return list(
        ticket.clocks.filter(definition__start_event=start_event).order_by("started_at", "id")
    )


def frozen(instant):
    return time_machine.travel(instant, tick=False)


def sweep(now, capture):
    with frozen(now), capture(execute=True):
        return ticket_services.clocks_sweep(now=now)


def notes(ticket) -> list[str]:
    return list(
        Message.objects.filter(ticket=ticket, visibility="INTERNAL")
        .order_by("created_at", "id")
        .values_list("body", flat=True)
    )


def test_remote_read_success_stores_remote_reads(issue, django_capture_on_commit_callbacks):
    headend = FakeHeadEnd(values={"HP": 1200, "HC": 800})
    with django_capture_on_commit_callbacks(execute=True):
        result = workflow.meter_remote_read(ticket=issue, now=NOW, headend=headend)
    assert result.ok
    stored = Reading.objects.order_by("register__code")
    assert [(r.register.code, r.value, r.source, r.status) for r in stored] == [
        ("HC", 800, ReadingSource.REMOTE, ReadingStatus.ACCEPTED),
        ("HP", 1200, ReadingSource.REMOTE, ReadingStatus.ACCEPTED),
    ]
    assert all(r.ticket == issue for r in stored)
    assert [c[:2] for c in headend.calls] == [("M-0042", "HC"), ("M-0042", "HP")]
    assert "Télérelevé du compteur M-0042 réussi" in notes(issue)[-1]
    assert not mail.outbox and not LoggingSms.outbox
    [remote] = step(issue, REMOTE)
    assert (remote.status, remote.started_at, remote.met_at) == ("MET", NOW, NOW)
    assert not step(issue, CUSTOMER)
    # Nothing is left to breach: a sweep much later asks nobody and books nothing.
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.clocks_sweep(now=NOW + timedelta(days=30))
    assert not step(issue, CUSTOMER) and not step(issue, ONSITE)
    assert not mail.outbox and not LoggingSms.outbox


@pytest.mark.parametrize("mode", ["fail", "timeout"])
def test_remote_read_failure_asks_the_customer(issue, mode, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = workflow.meter_remote_read(ticket=issue, now=NOW, headend=FakeHeadEnd(mode=mode))
    assert not result.ok and not Reading.objects.exists()
    link = f"/portal/readings/{issue.supply_point_id}/"
    [email] = mail.outbox
    assert email.to == ["claire@example.fr"] and issue.reference in email.subject
    assert link in email.body
    [(to, sms)] = LoggingSms.outbox
    assert to == "+33612345678" and link in sms
    failure, request = notes(issue)[-2:]
    assert ("délai dépassé" if mode == "timeout" else "échec") in failure
    assert "Relevé demandé au client" in request and "SMS" in request
    # The remote step ended in time (without a value); the customer step runs:
    # Monday 10:00 + 5 working days, Saturday counting (the contact centre opens).
    [remote] = step(issue, REMOTE)
    [customer] = step(issue, CUSTOMER)
    assert (remote.status, remote.met_at) == ("MET", NOW)
    assert customer.status == "RUNNING" and customer.started_at == NOW
    assert customer.name == "Relevé client 5 jours ouvrés"
    assert customer.due_at == datetime(2026, 6, 20, 10, 0, tzinfo=PARIS)


def test_fake_headend_timeout_raises():
    with pytest.raises(HeadEndTimeout):
        FakeHeadEnd(mode="timeout").read_register("M", "BASE", timeout=2)


def test_headend_is_chosen_by_setting(settings):
    assert isinstance(headend_get(), FakeHeadEnd)
    settings.METERING_HEADEND = "tests.test_meter_workflow.StubHeadEnd"
    assert isinstance(headend_get(), StubHeadEnd)


class StubHeadEnd:
    def read_register(self, meter_serial, register, *, timeout):
        return 1


# --- On-site slot -------------------------------------------------------------

CAL = bcal.contact_centre_calendar(bcal.public_holidays("FR", range(2025, 2028)))


def assert_good_slot(slot, now, min_days=5, max_days=10):
    start, end = slot.start.astimezone(PARIS), slot.end.astimezone(PARIS)
    assert end - start == timedelta(hours=4)
    assert (slot.end - slot.start).total_seconds() == 4 * 3600
    assert start.weekday() < 5 and CAL.is_working_day(start.date())
    assert start.date() == end.date()
    assert CAL.is_open(slot.start) and CAL.is_open(slot.end - timedelta(seconds=1))
    first = bcal.add_working_days(CAL, now, min_days).astimezone(PARIS).date()
    last = bcal.add_working_days(CAL, now, max_days).astimezone(PARIS).date()
    assert first <= start.date() <= last
    return start, end


def test_slot_skips_the_may_day_holiday_and_the_weekend():
    now = datetime(2026, 4, 25, 10, 0, tzinfo=PARIS)  # a Saturday
    # 27, 28, 29, 30 April, (1 May closed), Saturday 2 May = 5th working day.
    slot = workflow.onsite_slot(CAL, now=now, min_days=5, max_days=10)
    start, end = assert_good_slot(slot, now)
    assert start == datetime(2026, 5, 4, 8, 0, tzinfo=PARIS)
    assert end == datetime(2026, 5, 4, 12, 0, tzinfo=PARIS)


def test_slot_across_the_spring_dst_change_is_four_real_hours():
    now = datetime(2026, 3, 24, 15, 0, tzinfo=PARIS)  # DST starts Sunday 29 March
    slot = workflow.onsite_slot(CAL, now=now, min_days=5, max_days=10)
    start, _ = assert_good_slot(slot, now)
    assert start == datetime(2026, 3, 30, 8, 0, tzinfo=PARIS)
    assert slot.start == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # CEST, UTC+2
    assert slot.end == datetime(2026, 3, 30, 10, 0, tzinfo=UTC)


def test_slot_across_the_autumn_dst_change():
    now = datetime(2026, 10, 20, 9, 0, tzinfo=PARIS)  # DST ends Sunday 25 October
    start, _ = assert_good_slot(workflow.onsite_slot(CAL, now=now, min_days=5, max_days=10), now)
    assert start == datetime(2026, 10, 26, 8, 0, tzinfo=PARIS)


def test_no_slot_when_closed_throughout():
    closed = bcal.BusinessCalendar(windows={5: (bcal.Window(bcal.time(9), bcal.time(13)),)})
    with pytest.raises(workflow.NoSlot):
        workflow.onsite_slot(closed, now=NOW, min_days=1, max_days=2)


def test_followup_without_a_read_books_the_on_site_check(issue):
    now = datetime(2026, 4, 25, 10, 0, tzinfo=PARIS)
    slot = workflow.meter_issue_followup(ticket=issue, since=now - timedelta(days=3), now=now)
    assert slot.start == datetime(2026, 5, 4, 8, 0, tzinfo=PARIS)  # the stored calendar
    assert "Vérification sur place planifiée le 04/05/2026 de 08:00 à 12:00" in notes(issue)[-1]
    [onsite] = step(issue, ONSITE)
    assert onsite.status == "RUNNING" and onsite.due_at == slot.end
    # Booking again while that check is pending returns it: no second slot, no note.
    assert workflow.onsite_check_book(ticket=issue, now=now + timedelta(hours=1)) == slot
    assert len(step(issue, ONSITE)) == 1
    assert sum("planifiée" in n for n in notes(issue)) == 1


def test_followup_with_an_accepted_customer_read_books_nothing(issue):
    register = MeterRegister.objects.get(code="HP")
    Reading.objects.create(
        register=register,
        read_at=NOW,
        value=10,
        source=ReadingSource.CUSTOMER,
        recorded_at=NOW,
    )
    assert (
        workflow.meter_issue_followup(ticket=issue, since=NOW - timedelta(days=1), now=NOW) is None
    )
    assert "pas de vérification sur place" in notes(issue)[-1]


def test_followup_with_a_read_under_review_still_books(issue):
    register = MeterRegister.objects.get(code="HP")
    Reading.objects.create(
        register=register,
        read_at=NOW,
        value=10,
        source=ReadingSource.CUSTOMER_PHOTO,
        status=ReadingStatus.NEEDS_REVIEW,
        recorded_at=NOW,
    )
    slot = workflow.meter_issue_followup(ticket=issue, since=NOW - timedelta(days=1), now=NOW)
    assert slot is not None
    assert_good_slot(slot, NOW)


# --- The steps on the SLA clocks ------------------------------------------------


def test_metering_ticket_runs_the_metering_policy(issue):
    assert issue.policy.code == "METERING"
    steps = dict(issue.policy.clocks.values_list("start_event", "stop_event"))
    assert steps[REMOTE] == workflow.REMOTE_READ_DONE
    assert steps[CUSTOMER] == workflow.READ_SETTLED
    assert steps[ONSITE] == workflow.ONSITE_CHECK_DONE
    # At creation only the ordinary clocks run; each step waits for its event.
    assert sorted(issue.clocks.values_list("name", flat=True)) == [
        "Inactivité 72 h",
        "Première réponse 24 h",
    ]


def test_clock_start_is_idempotent_and_takes_a_fixed_deadline(issue):
    first = ticket_services.ticket_clock_start(ticket=issue, event=CUSTOMER, now=NOW)
    again = ticket_services.ticket_clock_start(
        ticket=issue, event=CUSTOMER, now=NOW + timedelta(hours=1)
    )
    assert [c.pk for c in first] == [c.pk for c in again]
    assert len(step(issue, CUSTOMER)) == 1
    slot_end = NOW + timedelta(days=7)
    [onsite] = ticket_services.ticket_clock_start(
        ticket=issue, event=ONSITE, now=NOW, due_at=slot_end
    )
    assert onsite.due_at == slot_end and NOW < onsite.warn_at < slot_end
    assert not onsite.pauses_when_waiting  # an appointment does not move
    assert ticket_services.ticket_clock_start(ticket=issue, event="NO_SUCH_EVENT", now=NOW) == []
    [met] = ticket_services.ticket_clock_stop(
        ticket=issue, event=workflow.READ_SETTLED, now=NOW + timedelta(hours=2)
    )
    assert (met.status, met.met_at) == ("MET", NOW + timedelta(hours=2))
    assert (
        ticket_services.ticket_clock_stop(ticket=issue, event=workflow.READ_SETTLED, now=NOW) == []
    )
    # A resolved ticket starts no step.
    ticket_services.ticket_transition(ticket=issue, target="RESOLVED", actor=None, now=NOW)
    assert ticket_services.ticket_clock_start(ticket=issue, event=CUSTOMER, now=NOW) == []


def test_unmerge_restarts_only_the_clocks_started_at_creation(issue, make_user):
    other = ticket_services.ticket_create(
        channel="PHONE", category="OTHER", subject="Autre", body="Autre demande", now=NOW
    )
    agent = make_user(role=Role.AGENT, email="agent@powernext.example")
    ticket_services.ticket_merge(duplicate=issue, into=other, actor=agent, now=NOW)
    ticket_services.ticket_unmerge(duplicate=issue, actor=agent, now=NOW + timedelta(hours=1))
    assert not step(issue, REMOTE) and not step(issue, CUSTOMER) and not step(issue, ONSITE)


# Remote read failing at `start`; the customer clock due 5 working days later (the
# contact centre's Saturday counts, Sunday and holidays do not); the on-site slot
# 5 working days after that breach, on a weekday morning. Two of them span a DST
# change in Paris, where 5 working days are not 5 × 24 real hours.
CHAINS = {
    "summer": (
        datetime(2026, 6, 15, 10, 0, tzinfo=PARIS),  # Monday
        datetime(2026, 6, 20, 8, 0, tzinfo=UTC),  # Saturday 10:00 CEST
        datetime(2026, 6, 26, 6, 0, tzinfo=UTC),  # Friday 08:00 CEST
    ),
    "autumn-dst": (
        datetime(2026, 10, 21, 15, 0, tzinfo=PARIS),  # Wednesday, CEST; DST ends on the 25th
        datetime(2026, 10, 27, 14, 0, tzinfo=UTC),  # Tuesday 15:00 CET
        datetime(2026, 11, 2, 7, 0, tzinfo=UTC),  # Monday 08:00 CET (1 November is a Sunday)
    ),
    "spring-dst": (
        datetime(2026, 3, 25, 15, 0, tzinfo=PARIS),  # Wednesday, CET; DST starts on the 29th
        datetime(2026, 3, 31, 13, 0, tzinfo=UTC),  # Tuesday 15:00 CEST
        datetime(2026, 4, 7, 6, 0, tzinfo=UTC),  # Tuesday 08:00 CEST (Easter Monday closed)
    ),
}


def customer_asked(make_issue, start, capture):
    """A ticket opened at `start` whose remote read fails at once."""
    ticket = make_issue(start)
    with frozen(start), capture(execute=True):
        workflow.meter_remote_read(ticket=ticket, now=start, headend=FakeHeadEnd(mode="fail"))
    return ticket


@pytest.mark.parametrize("case", CHAINS)
def test_full_chain_remote_fails_customer_silent_on_site_booked(
    make_issue, case, django_capture_on_commit_callbacks
):
    start, customer_due, slot_start = CHAINS[case]
    ticket = customer_asked(make_issue, start, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1 and len(LoggingSms.outbox) == 1
    [customer] = step(ticket, CUSTOMER)
    assert customer.status == "RUNNING"
    assert customer.due_at == customer_due
    assert customer.due_at.astimezone(PARIS).time() == start.time()  # same wall-clock time

    sweep(customer_due - timedelta(seconds=1), django_capture_on_commit_callbacks)
    customer.refresh_from_db()
    assert customer.status == "RUNNING" and not step(ticket, ONSITE)

    sweep(customer_due, django_capture_on_commit_callbacks)
    customer.refresh_from_db()
    assert (customer.status, customer.breached_at) == ("BREACHED", customer_due)
    assert ClockAlert.objects.filter(clock=customer, kind="BREACH").count() == 1
    assert not Escalation.objects.filter(reason__startswith=customer.name).exists()
    [onsite] = step(ticket, ONSITE)
    assert onsite.status == "RUNNING" and onsite.started_at == customer_due
    assert onsite.due_at == slot_start + timedelta(hours=4)  # the end of the slot
    booked = workflow.OnsiteSlot(onsite.due_at - timedelta(hours=4), onsite.due_at)
    assert_good_slot(booked, customer_due)
    start_local = slot_start.astimezone(PARIS)
    assert (
        f"Vérification sur place planifiée le {start_local:%d/%m/%Y} de 08:00 à 12:00"
        in notes(ticket)[-1]
    )
    # Nobody else was written to on the way.
    assert len(mail.outbox) == 1 and len(LoggingSms.outbox) == 1


def test_head_end_never_answering_breaches_the_remote_clock_and_asks_the_customer(
    issue, django_capture_on_commit_callbacks
):
    class Hung:
        def read_register(self, meter_serial, register, *, timeout):
            raise RuntimeError("worker killed while waiting for the head-end")

    with frozen(NOW), pytest.raises(RuntimeError):
        workflow.meter_remote_read(ticket=issue, now=NOW, headend=Hung())
    [remote] = step(issue, REMOTE)
    # Monday 10:00 Paris + 2 business hours on the contact-centre calendar.
    assert remote.status == "RUNNING"
    assert remote.due_at == datetime(2026, 6, 15, 12, 0, tzinfo=PARIS)
    assert not step(issue, CUSTOMER)

    sweep(remote.due_at, django_capture_on_commit_callbacks)
    remote.refresh_from_db()
    assert remote.status == "BREACHED"
    [customer] = step(issue, CUSTOMER)
    assert customer.status == "RUNNING" and customer.started_at == remote.due_at
    [email] = mail.outbox
    assert email.to == ["claire@example.fr"] and issue.reference in email.subject
    assert len(LoggingSms.outbox) == 1
    assert any("Télérelevé sans réponse dans le délai" in n for n in notes(issue))
    assert "Relevé demandé au client" in notes(issue)[-1]


def test_customer_read_stops_the_customer_clock_and_nothing_is_booked(
    make_issue, django_capture_on_commit_callbacks
):
    start, customer_due, _ = CHAINS["autumn-dst"]
    ticket = customer_asked(make_issue, start, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    submitted = start + timedelta(days=2)
    with frozen(submitted):
        reading_services.readings_submit(
            supply_point=ticket.supply_point,
            account=ticket.account,
            values={"HP": 1200, "HC": 800},
            read_at=submitted,
            submitted_by=ticket.requester,
            now=submitted,
        )
    [customer] = step(ticket, CUSTOMER)
    assert (customer.status, customer.met_at) == ("MET", submitted)
    assert "fin de « Relevé client 5 jours ouvrés »" in notes(ticket)[-1]

    sweep(customer_due, django_capture_on_commit_callbacks)
    sweep(customer_due + timedelta(days=3), django_capture_on_commit_callbacks)
    customer.refresh_from_db()
    assert customer.status == "MET" and not customer.alerts.exists()
    assert not step(ticket, ONSITE)
    assert not any("Vérification sur place" in n for n in notes(ticket))
    assert not mail.outbox


def test_a_read_under_review_leaves_the_customer_clock_running(
    issue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.meter_remote_read(ticket=issue, now=NOW, headend=FakeHeadEnd(mode="timeout"))
    Reading.objects.create(
        register=MeterRegister.objects.get(code="HP"),
        read_at=NOW,
        value=10,
        source=ReadingSource.CUSTOMER_PHOTO,
        status=ReadingStatus.NEEDS_REVIEW,
        recorded_at=NOW + timedelta(hours=1),
    )
    [customer] = step(issue, CUSTOMER)
    assert customer.status == "RUNNING"


def test_sweeping_twice_books_nothing_twice(make_issue, django_capture_on_commit_callbacks):
    start, customer_due, _ = CHAINS["summer"]
    ticket = customer_asked(make_issue, start, django_capture_on_commit_callbacks)
    for later in (timedelta(0), timedelta(0), timedelta(minutes=5), timedelta(days=1)):
        sweep(customer_due + later, django_capture_on_commit_callbacks)
    [customer] = step(ticket, CUSTOMER)
    assert customer.status == "BREACHED"
    assert ClockAlert.objects.filter(clock=customer, kind="BREACH").count() == 1
    assert len(step(ticket, ONSITE)) == 1
    assert sum("Vérification sur place planifiée" in n for n in notes(ticket)) == 1
    assert len(mail.outbox) == 1  # the request for a read, nothing since


def test_a_failing_handler_keeps_the_breach_and_the_other_clocks(
    make_issue, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    start, customer_due, _ = CHAINS["summer"]
    broken = customer_asked(make_issue, start, django_capture_on_commit_callbacks)
    fine = customer_asked(
        lambda now: make_issue(now, name="bruno"), start, django_capture_on_commit_callbacks
    )
    real_followup = workflow.meter_issue_followup

    def followup(*, ticket, since, now):
        if ticket.pk == broken.pk:
            workflow._note(ticket, "written, then rolled back", now)
            raise workflow.NoSlot("calendar closed for the month")
        return real_followup(ticket=ticket, since=since, now=now)

    monkeypatch.setattr(workflow, "meter_issue_followup", followup)
    with caplog.at_level(logging.ERROR, logger="tickets.services"):
        result = sweep(customer_due, django_capture_on_commit_callbacks)

    [broken_clock], [fine_clock] = step(broken, CUSTOMER), step(fine, CUSTOMER)
    assert broken_clock.status == fine_clock.status == "BREACHED"
    assert (
        ClockAlert.objects.filter(clock__in=[broken_clock, fine_clock], kind="BREACH").count() == 2
    )
    assert result.breaches >= 2
    # The failing handler's own writes are gone; its failure is in the history.
    assert not step(broken, ONSITE)
    assert "written, then rolled back" not in notes(broken)
    event = TicketEvent.objects.get(ticket=broken, kind="BREACH_HOOK_FAILED")
    assert event.from_value == broken_clock.name and "NoSlot" in event.note
    assert "Breach handler" in caplog.text
    # The other ticket in the same batch went on to its on-site check.
    assert len(step(fine, ONSITE)) == 1
    # The breach is not reprocessed by the next sweep.
    sweep(customer_due + timedelta(minutes=1), django_capture_on_commit_callbacks)
    assert TicketEvent.objects.filter(kind="BREACH_HOOK_FAILED").count() == 1
    assert not step(broken, ONSITE)


def test_a_failing_extra_handler_does_not_stop_the_registered_one(
    make_issue, django_capture_on_commit_callbacks
):
    start, customer_due, _ = CHAINS["summer"]
    ticket = customer_asked(make_issue, start, django_capture_on_commit_callbacks)

    def boom(*, clock, now):
        raise ValueError("boom")

    hooks.register_breach_handler(workflow.READ_SETTLED, boom)
    try:
        sweep(customer_due, django_capture_on_commit_callbacks)
    finally:
        hooks.unregister_breach_handler(workflow.READ_SETTLED, boom)
    assert len(step(ticket, ONSITE)) == 1
    assert TicketEvent.objects.filter(ticket=ticket, kind="BREACH_HOOK_FAILED").count() == 1


def test_the_on_site_clock_stops_on_a_site_visit_read_or_the_agents_record(make_issue, make_user):
    now = datetime(2026, 6, 15, 10, 0, tzinfo=PARIS)
    first = make_issue(now)
    second = make_issue(now, name="bruno")
    agent = make_user(role=Role.AGENT, email="agent@powernext.example")
    for ticket in (first, second):
        workflow.onsite_check_book(ticket=ticket, now=now)
    [onsite] = step(first, ONSITE)
    visit = onsite.due_at - timedelta(hours=1)
    with frozen(visit):
        reading_services.reading_record(
            register=MeterRegister.objects.get(meter__supply_point=first.supply_point, code="HP"),
            value=4321,
            read_at=visit,
            source=ReadingSource.SITE_VISIT,
            now=visit,
            ticket=first,
        )
    onsite.refresh_from_db()
    assert (onsite.status, onsite.met_at) == ("MET", visit)
    with frozen(visit):
        workflow.onsite_check_done(ticket=second, actor=agent, now=visit, note="Compteur remplacé.")
    [other] = step(second, ONSITE)
    assert (other.status, other.met_at) == ("MET", visit)
    assert "Vérification sur place effectuée. Compteur remplacé." in notes(second)[-1]


def test_an_on_site_check_nobody_records_escalates(issue):
    now = datetime(2026, 6, 15, 10, 0, tzinfo=PARIS)
    slot = workflow.onsite_check_book(ticket=issue, now=now)
    ticket_services.ticket_reply(ticket=issue, author=None, body="Suivi", now=slot.end)
    result = ticket_services.clocks_sweep(now=slot.end)
    [onsite] = step(issue, ONSITE)
    assert onsite.status == "BREACHED" and result.breaches >= 1
    assert Escalation.objects.filter(ticket=issue, reason=f"{onsite.name} dépassé").exists()


def test_the_console_shows_each_step_with_its_due_time(
    make_issue, make_user, login, django_capture_on_commit_callbacks
):
    start, customer_due, _ = CHAINS["autumn-dst"]
    ticket = customer_asked(make_issue, start, django_capture_on_commit_callbacks)
    sweep(customer_due, django_capture_on_commit_callbacks)
    agent = make_user(role=Role.AGENT, email="agent@powernext.example")
    client = login(agent)
    with frozen(customer_due + timedelta(hours=1)):
        page = client.get(reverse("console_tickets:workspace", args=[ticket.reference]))
    assert page.status_code == 200
    body = page.content.decode()
    with translation.override("fr"):
        due = {
            c.name: formats.date_format(timezone.localtime(c.due_at), "SHORT_DATETIME_FORMAT")
            for c in ticket.clocks.all()
        }
    for name in (
        "Télérelevé 2 h ouvrées",
        "Relevé client 5 jours ouvrés",
        "Vérification sur place",
    ):
        assert f"<strong>{name}</strong>" in body
        assert due[name] in body
    assert due["Vérification sur place"].endswith("12:00")  # the end of the slot, Paris time
    assert "Vérification sur place planifiée le 02/11/2026 de 08:00 à 12:00" in body
    # Each workflow note restarted the inactivity clock; only its latest instance shows.
    assert ticket.clocks.filter(name="Inactivité 72 h").count() > 1
    assert body.count("<strong>Inactivité 72 h</strong>") == 1
    # Notes the workflow wrote are signed as automatic, not with the customer's name.
    assert "Automatique" in body


# --- The console's buttons -------------------------------------------------------


@pytest.fixture
def eager_tasks(settings):
    """Tasks run in-process when enqueued (the broker round trip is tested elsewhere)."""
    from powernext.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def agent_client(make_user, login):
    return login(make_user(role=Role.AGENT, email="agent@powernext.example"))


def check_url(ticket) -> str:
    return reverse("console_metering:check", args=[ticket.reference])


def test_agent_starts_the_check_and_the_task_reads_the_meter(
    issue, agent_client, eager_tasks, settings, django_capture_on_commit_callbacks
):
    settings.METERING_HEADEND = "tests.test_meter_workflow.AnsweringHeadEnd"
    with frozen(NOW), django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(check_url(issue))
    assert response.status_code == 302
    [remote] = step(issue, REMOTE)
    assert remote.status == "MET"
    assert sorted(Reading.objects.values_list("register__code", "value")) == [
        ("HC", 800),
        ("HP", 1200),
    ]
    assert "Contrôle du compteur lancé" in notes(issue)[0]
    # A redelivered task finds the step over: nothing is read twice.
    from metering.tasks import meter_remote_read_task

    assert meter_remote_read_task.apply(kwargs={"ticket_id": issue.pk}).get() == {"skipped": True}
    assert Reading.objects.count() == 2


class AnsweringHeadEnd(FakeHeadEnd):
    def __init__(self):
        super().__init__(values={"HP": 1200, "HC": 800})


def test_a_second_click_while_the_read_runs_is_refused(issue, agent_client):
    with frozen(NOW):  # no on-commit callbacks run: the task stays pending
        agent_client.post(check_url(issue))
        response = agent_client.post(check_url(issue), follow=True)
    assert "déjà en cours" in response.content.decode()
    assert len(step(issue, REMOTE)) == 1


def test_the_check_is_refused_on_a_ticket_of_another_queue(
    make_user, agent_client, metering_policy
):
    user = make_user(email="bob@example.fr")
    account = MembershipFactory(user=user).account
    ticket = ticket_services.ticket_create(
        channel="PHONE",
        category="BILL_QUERY",
        subject="Facture",
        body="Question",
        account=account,
        requester=user,
        now=NOW,
    )
    with frozen(NOW):
        response = agent_client.post(check_url(ticket), follow=True)
    assert "ne s'applique qu'à une demande Comptage" in html.unescape(response.content.decode())
    assert not ticket.clocks.filter(definition__start_event=REMOTE).exists()


def test_agent_records_the_site_visit(issue, agent_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        slot = workflow.onsite_check_book(ticket=issue, now=NOW)
    with frozen(slot.start + timedelta(hours=1)):
        response = agent_client.post(
            reverse("console_metering:visit_done", args=[issue.reference]),
            {"note": "Afficheur remplacé."},
        )
    assert response.status_code == 302
    [onsite] = step(issue, ONSITE)
    assert onsite.status == "MET"
    assert "Vérification sur place effectuée. Afficheur remplacé." in notes(issue)[-1]


@pytest.mark.parametrize("who", ["anonymous", "customer", "field"])
def test_only_console_staff_may_start_the_check(issue, who, make_user, login, client):
    if who == "customer":
        client = login(issue.requester)
    elif who == "field":
        client = login(make_user(role=Role.FIELD_TECHNICIAN, email="tech@powernext.example"))
    for name in ("check", "visit_done"):
        response = client.post(reverse(f"console_metering:{name}", args=[issue.reference]))
        assert response.status_code in (302, 403)
        if response.status_code == 302:
            assert "/accounts/login" in response["Location"]
    assert not step(issue, REMOTE) and not step(issue, ONSITE)


def test_unknown_ticket_is_404_and_get_is_not_allowed(issue, agent_client):
    assert (
        agent_client.post(check_url(issue).replace(issue.reference, "PN-0000-000000")).status_code
        == 404
    )
    assert agent_client.get(check_url(issue)).status_code == 405


def test_the_workspace_offers_the_buttons_only_on_metering_tickets(issue, agent_client):
    page = agent_client.get(reverse("console_tickets:workspace", args=[issue.reference]))
    assert check_url(issue) in page.content.decode()
