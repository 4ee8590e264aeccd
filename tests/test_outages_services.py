"""Outage services on the real database: reports and grouping, classification and
overrides, the P1 cadence on the SLA engine, notifications sent once, crews,
compensation credited once, availability credits, reviews and linked tickets."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection

from billing.models import LedgerEntry
from metering.headend import LoggingSms
from outages.domain import states
from outages.models import (
    AvailabilityCredit,
    CallListEntry,
    Compensation,
    DiagnosticCharge,
    Incident,
    IncidentEvent,
    Interruption,
    Notification,
    OutageReport,
    PostIncidentReview,
)
from outages.services import (
    InvalidInput,
    NotAllowed,
    crews,
    incidents,
    notifications,
    reports,
    settlement,
    sweep,
)
from tests import outage_kit as kit
from tickets import services as ticket_services
from tickets.models import ClockAlert, ClockInstance, Escalation

from .factories import UserFactory

PARIS = ZoneInfo("Europe/Paris")


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Tasks enqueued after commit are recorded; the sweep does their work here."""
    queued = []
    monkeypatch.setattr(incidents, "_enqueue", lambda task, **kw: queued.append((task, kw)))
    LoggingSms.outbox.clear()
    return queued


def full_sweep(now):
    """What beat runs each minute: the SLA clocks, then the outage sweep."""
    ticket_services.clocks_sweep(now=now)
    return sweep.outages_sweep(now=now)


# --- Reports ------------------------------------------------------------------------


@pytest.mark.django_db
def test_reports_in_the_same_postcode_join_one_incident():
    now = paris("2026-06-01T20:00:00")
    user, account, premise, _ = kit.customer(postcode="69007")
    anonymous = reports.report_submit(
        kind="OUTAGE",
        now=now,
        postcode="69007",
        address="12 rue de Marseille",
        phone="06 12 34 56 78",
    )
    logged = reports.report_submit(
        kind="OUTAGE",
        now=now + timedelta(minutes=1),
        account=account,
        premise=premise,
        reporter=user,
        breakers_checked=True,
    )
    other_town = reports.report_submit(
        kind="OUTAGE",
        now=now,
        postcode="33000",
        address="1 cours Victor Hugo",
        phone="0611111111",
    )
    assert anonymous.reference.startswith("SIG-2026-")
    assert anonymous.incident_id == logged.incident_id != other_town.incident_id
    incident = Incident.objects.get(pk=anonymous.incident_id)
    assert incident.status == "SUSPECTED"
    # Two households: the proposal, followed while nobody overrides it, is P1.
    assert incident.customers_affected == 2
    assert (incident.proposed_klass, incident.klass) == ("P1", "P1")
    assert incident.etr is not None and incident.etr_source == "SYSTEM"
    assert anonymous.phone == "+33612345678"
    assert list(
        Interruption.objects.filter(incident=incident).values_list(
            "supply_point__premise_id", flat=True
        )
    ) == [premise.pk]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_reports_in_one_street_make_one_suspect():
    now = paris("2026-06-01T20:00:00")
    barrier = threading.Barrier(6)
    errors = []

    def report(i):
        try:
            barrier.wait(timeout=10)
            reports.report_submit(
                kind="OUTAGE",
                now=now,
                postcode="35000",
                address=f"{i} rue de Brest",
                phone=f"06000000{i:02d}",
            )
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=report, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert OutageReport.objects.count() == 6
    assert Incident.objects.count() == 1
    assert Incident.objects.get().customers_affected == 6


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"postcode": "7501", "address": "1 rue A", "phone": "0612345678"}, "postcode"),
        ({"postcode": "75015", "address": "", "phone": "0612345678"}, "address"),
        ({"postcode": "75015", "address": "1 rue A", "phone": "12"}, "phone"),
        (
            {"postcode": "75015", "address": "1 rue A", "phone": "0612345678", "hazards": ["LAVA"]},
            "hazards",
        ),
    ],
)
def test_bad_reports_are_refused_by_field_and_write_nothing(kwargs, field):
    with pytest.raises(InvalidInput) as caught:
        reports.report_submit(kind="OUTAGE", now=paris("2026-06-01T20:00:00"), **kwargs)
    assert field in caught.value.errors
    assert OutageReport.objects.count() == 0
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_another_customers_premise_is_refused():
    _, mine, _, _ = kit.customer()
    _, _, theirs, _ = kit.customer()
    with pytest.raises(InvalidInput) as caught:
        reports.report_submit(
            kind="OUTAGE", now=paris("2026-06-01T20:00:00"), account=mine, premise=theirs
        )
    assert "premise" in caught.value.errors
    assert OutageReport.objects.count() == 0


@pytest.mark.django_db
def test_a_hazard_report_is_safety_critical_p1_with_an_urgent_safety_ticket():
    report = reports.report_submit(
        kind="OUTAGE",
        now=paris("2026-06-01T20:00:00"),
        postcode="21000",
        address="4 rue de la Liberté",
        phone="0699999999",
        hazards=["SPARKS"],
        description="des étincelles au pied du poteau",
    )
    incident = report.incident
    assert report.safety_critical and incident.safety_critical
    assert incident.klass == "P1"
    assert report.ticket.safety_critical and report.ticket.category == "SAFETY"
    assert incident.ticket_links.filter(ticket=report.ticket).exists()


@pytest.mark.django_db
def test_streetlight_reports_are_tracked_by_reference():
    agent = UserFactory(role="AGENT")
    now = paris("2026-06-01T20:00:00")
    report = reports.report_submit(
        kind="STREETLIGHT",
        now=now,
        postcode="34000",
        address="angle rue Foch / rue Bonnard",
        phone="0612121212",
    )
    assert report.reference.startswith("EP-2026-") and report.incident is None
    reports.streetlight_transition(report=report, target="SCHEDULED", now=now, actor=agent)
    reports.streetlight_transition(report=report, target="FIXED", now=now, actor=agent)
    report.refresh_from_db()
    assert report.status == "FIXED"
    assert list(report.events.values_list("to_value", flat=True)) == [
        "RECEIVED",
        "SCHEDULED",
        "FIXED",
    ]
    with pytest.raises(states.IllegalTransition):
        reports.streetlight_transition(report=report, target="SCHEDULED", now=now, actor=agent)


@pytest.mark.django_db
def test_a_dispatcher_regroups_a_suspect_into_the_real_incident():
    agent = UserFactory(role="AGENT")
    now = paris("2026-06-01T20:00:00")
    for _ in range(3):
        kit.customer(postcode="67000")
    main = incidents.incident_open(
        title="Poste source Strasbourg", postcodes=["67000"], now=now, actor=agent
    )
    _, account, premise, _ = kit.customer(postcode="67100")
    stray = reports.report_submit(kind="OUTAGE", now=now, account=account, premise=premise)
    suspect = stray.incident
    assert suspect.pk != main.pk
    reports.incident_merge(suspect=suspect, into=main, now=now, actor=agent)
    stray.refresh_from_db()
    suspect.refresh_from_db()
    main.refresh_from_db()
    assert stray.incident_id == main.pk
    assert suspect.status == "CANCELLED"
    assert main.customers_affected == 4
    assert IncidentEvent.objects.filter(incident=main, kind="REPORT_IN").count() == 1


# --- Classification and overrides ------------------------------------------------------


@pytest.mark.django_db
def test_override_with_reason_sticks_and_stops_the_p1_cadence():
    agent = UserFactory(role="AGENT")
    now = paris("2026-06-01T20:00:00")
    for _ in range(3):
        kit.customer(postcode="63000")
    incident = incidents.incident_open(title="Clermont", postcodes=["63000"], now=now, actor=agent)
    assert incident.klass == "P1"
    notice = ClockInstance.objects.get(ticket=incident.ticket, stop_event="PUBLIC_NOTICE")
    assert notice.status == "RUNNING"
    with pytest.raises(InvalidInput) as caught:
        incidents.incident_class_override(
            incident=incident, klass="P2", reason="  ", now=now, actor=agent
        )
    assert "reason" in caught.value.errors
    incidents.incident_class_override(
        incident=incident,
        klass="P2",
        reason="Un seul immeuble, alimenté par groupe",
        now=now,
        actor=agent,
    )
    incident.refresh_from_db()
    notice.refresh_from_db()
    assert (incident.klass, incident.proposed_klass) == ("P2", "P1")
    assert notice.status == "CANCELLED"
    event = IncidentEvent.objects.get(incident=incident, kind="CLASS_OVERRIDE")
    assert (event.from_value, event.to_value, event.actor) == ("P1", "P2", agent)
    # Another household reports it: the proposal is recounted, the dispatcher's
    # class stays.
    user, account, premise, _ = kit.customer(postcode="63000")
    reports.report_submit(kind="OUTAGE", now=now, account=account, premise=premise, reporter=user)
    incident.refresh_from_db()
    assert (incident.klass, incident.proposed_klass, incident.customers_affected) == (
        "P2",
        "P1",
        4,
    )


@pytest.mark.django_db
def test_an_override_to_p1_starts_the_notice_clock():
    agent = UserFactory(role="AGENT")
    now = paris("2026-06-01T20:00:00")
    kit.customer(postcode="12390", area_class="RURAL")
    incident = incidents.incident_open(title="Rignac", postcodes=["12390"], now=now, actor=agent)
    assert incident.klass == "P3"
    assert incident.area_class == "RURAL"
    assert not ClockInstance.objects.filter(ticket=incident.ticket, stop_event="PUBLIC_NOTICE")
    on_site = ClockInstance.objects.get(ticket=incident.ticket, stop_event="CREW_ON_SITE")
    assert on_site.due_at == now + timedelta(hours=24)
    incidents.incident_class_override(
        incident=incident,
        klass="P1",
        reason="Ferme laitière, chambre froide",
        now=now,
        actor=agent,
    )
    clock = ClockInstance.objects.get(ticket=incident.ticket, stop_event="PUBLIC_NOTICE")
    assert clock.due_at == now + timedelta(minutes=15)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first", "then"),
    [("restore", "confirm"), ("restore", "restore"), ("cancel", "confirm"), ("close", None)],
)
def test_illegal_incident_moves_through_the_services(first, then):
    agent = UserFactory(role="AGENT")
    now = paris("2026-06-01T20:00:00")
    kit.customer(postcode="75015")
    incident = incidents.incident_open(title="X", postcodes=["75015"], now=now, actor=agent)
    call = {
        "restore": lambda: incidents.incident_restore(incident=incident, now=now, actor=agent),
        "confirm": lambda: incidents.incident_confirm(incident=incident, now=now, actor=agent),
        "cancel": lambda: incidents.incident_cancel(
            incident=incident, reason="fausse alerte", now=now, actor=agent
        ),
        "close": lambda: incidents.incident_close(incident=incident, now=now, actor=agent),
    }
    if then is None:
        with pytest.raises(states.IllegalTransition):
            call[first]()
        return
    call[first]()
    before = IncidentEvent.objects.filter(incident=incident).count()
    with pytest.raises(states.IllegalTransition):
        call[then]()
    assert IncidentEvent.objects.filter(incident=incident).count() == before


# --- The P1 cadence ------------------------------------------------------------------------


def _p1(now, customers=3, postcode="75015", priority=0):
    agent = UserFactory(role="AGENT")
    for _ in range(customers):
        kit.customer(postcode=postcode)
    for _ in range(priority):
        kit.customer(postcode=postcode, priority=True, now=now)
    incident = incidents.incident_open(
        title="Panne HTA", postcodes=[postcode], now=now, actor=agent
    )
    assert incident.klass == "P1"
    return incident, agent


@pytest.mark.django_db
def test_p1_cadence_notice_updates_and_a_breach_across_the_spring_clock_change():
    # 01:40 on 29 March 2026: at 02:00 Paris clocks jump to 03:00. The test moves
    # in UTC, as Python adds wall-clock time to two instants sharing a zone.
    t0 = paris("2026-03-29T01:40:00").astimezone(UTC)
    # The clock is frozen as well: nothing may read it behind the `now` passed in.
    with time_machine.travel(t0 - timedelta(days=30), tick=False):
        _cadence(t0)


def _cadence(t0):
    incident, agent = _p1(t0)

    full_sweep(t0 + timedelta(minutes=9))
    incident.refresh_from_db()
    assert incident.first_notice_at is None

    # Nobody wrote a notice: the platform publishes one before the 15 minutes are up.
    result = full_sweep(t0 + timedelta(minutes=10))
    incident.refresh_from_db()
    assert result.notices == 1
    assert incident.first_notice_at == t0 + timedelta(minutes=10)
    notice = ClockInstance.objects.get(ticket=incident.ticket, stop_event="PUBLIC_NOTICE")
    assert notice.status == "MET"
    update_clock = ClockInstance.objects.get(
        ticket=incident.ticket, stop_event="PUBLIC_UPDATE", status="RUNNING"
    )
    # Thirty real minutes, although the wall clock jumps an hour in between.
    assert update_clock.due_at == t0 + timedelta(minutes=40)
    assert incident.next_update_due_at == update_clock.due_at
    assert update_clock.due_at.astimezone(PARIS).strftime("%H:%M") == "03:20"

    incidents.incident_update_publish(
        incident=incident,
        message="Équipe en route.",
        now=t0 + timedelta(minutes=35),
        actor=agent,
    )
    incidents.incident_update_publish(
        incident=incident,
        message="Câble localisé.",
        now=t0 + timedelta(minutes=64),
        actor=agent,
    )
    assert (
        ClockInstance.objects.filter(
            ticket=incident.ticket, stop_event="PUBLIC_UPDATE", status="MET"
        ).count()
        == 2
    )
    assert not ClockAlert.objects.filter(clock__ticket=incident.ticket, kind="BREACH").exists()

    # The update due at +94 min does not come: a breach, recorded and escalated.
    full_sweep(t0 + timedelta(minutes=93))
    assert not ClockAlert.objects.filter(clock__ticket=incident.ticket, kind="BREACH").exists()
    full_sweep(t0 + timedelta(minutes=94))
    breaches = ClockAlert.objects.filter(clock__ticket=incident.ticket, kind="BREACH")
    assert breaches.count() == 1
    assert breaches.get().clock.due_at == t0 + timedelta(minutes=94)
    assert Escalation.objects.filter(ticket=incident.ticket, level="SUPERVISOR").count() == 1
    # A second sweep at the same moment records nothing more.
    full_sweep(t0 + timedelta(minutes=94))
    assert breaches.count() == 1
    # The cadence goes on from the breach: the next update is still owed.
    assert ClockInstance.objects.filter(
        ticket=incident.ticket, stop_event="PUBLIC_UPDATE", status="RUNNING"
    ).get().due_at == t0 + timedelta(minutes=124)


@pytest.mark.django_db
def test_restoration_ends_the_cadence():
    t0 = paris("2026-06-01T20:00:00")
    incident, agent = _p1(t0)
    incidents.incident_update_publish(incident=incident, message="Avis", now=t0, actor=agent)
    incidents.incident_restore(incident=incident, now=t0 + timedelta(minutes=20), actor=agent)
    assert not ClockInstance.objects.filter(
        ticket=incident.ticket, status__in=["RUNNING", "PAUSED"]
    ).exists()
    full_sweep(t0 + timedelta(hours=3))
    assert not ClockAlert.objects.filter(clock__ticket=incident.ticket, kind="BREACH").exists()


@pytest.mark.django_db
def test_each_update_reaches_each_destination_once_priority_first():
    t0 = paris("2026-06-01T20:00:00")
    incident, agent = _p1(t0, customers=3, priority=1)
    # A subscriber using the same phone as an affected account gets one message.
    shared_phone = Incident.objects.get(pk=incident.pk).interruptions.first().account.phone
    notifications.subscription_create(
        channel="SMS", destination=shared_phone, postcode="75015", now=t0
    )
    notifications.subscription_create(
        channel="EMAIL", destination="voisin@example.fr", postcode="75015", now=t0
    )
    incidents.incident_update_publish(incident=incident, message="Avis", now=t0, actor=agent)
    first = sweep.outages_sweep(now=t0 + timedelta(minutes=1))
    again = sweep.outages_sweep(now=t0 + timedelta(minutes=2))
    assert (first.sent, again.sent) == (5, 0)  # 4 accounts + 1 e-mail subscriber
    assert Notification.objects.filter(status="SENT").count() == 5
    assert len(LoggingSms.outbox) == 4
    assert len({to for to, _ in LoggingSms.outbox}) == 4
    assert [m.to for m in mail.outbox] == [["voisin@example.fr"]]
    # A subscriber can stop the messages from the message itself.
    link = mail.outbox[0].body.split("/outages/unsubscribe/")[1].split("/")[0]
    assert notifications.subscription_cancel(token=link).destination == "voisin@example.fr"
    assert all("/outages/unsubscribe/" not in body for _, body in LoggingSms.outbox)
    # Priority-register customers are first in line.
    assert Notification.objects.order_by("sent_at", "pk").first().priority is True
    body = LoggingSms.outbox[0][1]
    assert incident.reference in body and "+33 1 98 76 54 32" in body


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_send_every_message_exactly_once(monkeypatch):
    monkeypatch.setattr(incidents, "_enqueue", lambda task, **kw: None)
    LoggingSms.outbox.clear()
    t0 = paris("2026-06-01T20:00:00")
    incident, agent = _p1(t0, customers=40)
    incidents.incident_update_publish(incident=incident, message="Avis", now=t0, actor=agent)
    incidents.incident_update_publish(
        incident=incident, message="Point", now=t0 + timedelta(minutes=1), actor=agent
    )
    barrier = threading.Barrier(4)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(sweep.outages_sweep(now=t0 + timedelta(minutes=2)))
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert Notification.objects.count() == 80
    assert sum(r.sent for r in results) == 80
    assert len(LoggingSms.outbox) == 80
    assert len(set(LoggingSms.outbox)) == 80
    assert sweep.outages_sweep(now=t0 + timedelta(minutes=3)).sent == 0


@pytest.mark.django_db
def test_unreachable_priority_customers_go_on_the_call_list():
    t0 = paris("2026-06-01T20:00:00")
    _, silent, _, _ = kit.customer(
        postcode="58140", area_class="RURAL", priority=True, notify="NONE", now=t0
    )
    _, failing, _, _ = kit.customer(postcode="58140", area_class="RURAL", priority=True, now=t0)
    kit.customer(postcode="58140", area_class="RURAL")
    agent = UserFactory(role="AGENT")
    incident = incidents.incident_open(title="Lormes", postcodes=["58140"], now=t0, actor=agent)
    incidents.incident_update_publish(incident=incident, message="Avis", now=t0, actor=agent)

    class Broken:
        def send(self, *, to, body):
            if to == failing.phone:
                raise ConnectionError("gateway down")
            LoggingSms.outbox.append((to, body))

    import outages.services.notifications as module

    original = module.sms_get
    module.sms_get = Broken
    try:
        result = sweep.outages_sweep(now=t0 + timedelta(minutes=1))
    finally:
        module.sms_get = original
    assert (result.sent, result.failed) == (1, 1)
    assert set(CallListEntry.objects.values_list("account_id", flat=True)) == {
        silent.pk,
        failing.pk,
    }
    # Not sent, so tried again later: after 5 then 10 minutes, then given up.
    failed = Notification.objects.get(destination=failing.phone)
    assert (failed.status, failed.attempts) == ("PENDING", 1)
    assert failed.due_at == t0 + timedelta(minutes=6)
    module.sms_get = Broken
    try:
        sweep.outages_sweep(now=t0 + timedelta(minutes=6))
        sweep.outages_sweep(now=t0 + timedelta(minutes=16))
        sweep.outages_sweep(now=t0 + timedelta(hours=2))
    finally:
        module.sms_get = original
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("FAILED", 3)
    assert "gateway down" in failed.error
    assert CallListEntry.objects.filter(account=failing).count() == 1
    assert Notification.objects.filter(status="SENT").count() == 1
    entry = CallListEntry.objects.get(account=failing)
    notifications.call_list_done(
        entry_id=entry.pk, outcome="Joint, autonomie 4 h", now=t0, actor=agent
    )
    with pytest.raises(NotAllowed):
        notifications.call_list_done(entry_id=entry.pk, outcome="again", now=t0, actor=agent)


@pytest.mark.django_db
def test_planned_works_reach_the_priority_register_a_day_earlier():
    now = paris("2026-06-01T09:00:00")
    planner = UserFactory(role="SUPERVISOR")
    kit.customer(postcode="52160", area_class="RURAL", priority=True, now=now)
    kit.customer(postcode="52160", area_class="RURAL")
    with pytest.raises(InvalidInput) as caught:
        incidents.planned_outage_announce(
            title="Élagage",
            postcodes=["52160"],
            planned_start=now + timedelta(days=2),
            planned_end=now + timedelta(days=2, hours=4),
            message="Coupure pour élagage",
            now=now,
            actor=planner,
        )
    assert "planned_start" in caught.value.errors
    start = paris("2026-06-10T08:30:00")
    incident = incidents.planned_outage_announce(
        title="Élagage",
        postcodes=["52160"],
        planned_start=start,
        planned_end=start + timedelta(hours=4),
        message="Coupure pour élagage",
        now=now,
        actor=planner,
    )
    assert (incident.status, incident.klass, incident.customers_affected) == ("PLANNED", "P3", 2)
    assert not incident.interruptions.exists()
    sweep.outages_sweep(now=now + timedelta(minutes=1))
    # The priority customer has the notice now; the other one a day later.
    sent = Notification.objects.filter(status="SENT")
    assert list(sent.values_list("priority", flat=True)) == [True]
    assert Notification.objects.get(priority=False).due_at == now + timedelta(hours=24)
    sweep.outages_sweep(now=now + timedelta(hours=24))
    assert sent.count() == 2
    incidents.incident_confirm(incident=incident, now=start, actor=planner)
    incident.refresh_from_db()
    assert incident.status == "CONFIRMED" and incident.interruptions.count() == 2


# --- Crews -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_crew_path_meets_the_on_site_clock_and_restores_the_incident():
    t0 = paris("2026-06-01T20:00:00")
    incident, agent = _p1(t0)
    tech = UserFactory(role="FIELD_TECHNICIAN")
    team = kit.crew("Équipe Paris 15", tech)
    dispatch = crews.dispatch_create(incident=incident, crew=team, now=t0, actor=agent)
    assert dispatch.on_site_due_at == t0 + timedelta(hours=4)
    with pytest.raises(InvalidInput):
        crews.dispatch_create(incident=incident, crew=team, now=t0, actor=agent)
    with pytest.raises(states.IllegalTransition):
        crews.dispatch_transition(dispatch=dispatch, target="ON_SITE", now=t0, actor=tech)
    crews.dispatch_transition(dispatch=dispatch, target="EN_ROUTE", now=t0, actor=tech)
    crews.dispatch_transition(
        dispatch=dispatch, target="ON_SITE", now=t0 + timedelta(hours=1), actor=tech
    )
    clock = ClockInstance.objects.get(ticket=incident.ticket, stop_event="CREW_ON_SITE")
    assert clock.status == "MET"
    crews.dispatch_transition(
        dispatch=dispatch, target="RESTORED", now=t0 + timedelta(hours=2), actor=tech
    )
    incident.refresh_from_db()
    assert incident.status == "RESTORED"
    assert incident.ended_at == t0 + timedelta(hours=2)
    assert not incident.interruptions.filter(ended_at__isnull=True).exists()
    kinds = list(incident.events.filter(kind="CREW").values_list("to_value", flat=True))
    assert kinds == ["DISPATCHED", "EN_ROUTE", "ON_SITE", "RESTORED"]


@pytest.mark.django_db
def test_crew_etr_replaces_the_system_estimate_and_is_published():
    t0 = paris("2026-06-01T20:00:00")
    incident, _agent = _p1(t0)
    tech = UserFactory(role="FIELD_TECHNICIAN")
    assert incident.etr_source == "SYSTEM"
    with pytest.raises(InvalidInput) as caught:
        incidents.etr_revise(
            incident=incident,
            estimate=t0 - timedelta(minutes=1),
            source="CREW",
            confidence="HIGH",
            now=t0,
            actor=tech,
        )
    assert "estimate" in caught.value.errors
    incidents.etr_revise(
        incident=incident,
        estimate=t0 + timedelta(hours=3),
        source="CREW",
        confidence="HIGH",
        now=t0 + timedelta(minutes=5),
        actor=tech,
    )
    incident.refresh_from_db()
    assert (incident.etr, incident.etr_source, incident.etr_confidence) == (
        t0 + timedelta(hours=3),
        "CREW",
        "HIGH",
    )
    revisions = list(incident.etrs.order_by("issued_at").values_list("source", "issued_at"))
    assert [s for s, _ in revisions] == ["SYSTEM", "CREW"]
    assert revisions[1][1] == t0 + timedelta(minutes=5)
    # It is news: the first publication of a P1 is its notice.
    assert incident.first_notice_at == t0 + timedelta(minutes=5)


@pytest.mark.django_db
def test_first_estimate_uses_the_median_of_similar_past_incidents():
    agent = UserFactory(role="AGENT")
    base = paris("2026-05-01T10:00:00")
    kit.customer(postcode="33000")
    for i, minutes in enumerate([60, 90, 120, 150, 600]):
        past = incidents.incident_open(
            title=f"p{i}",
            postcodes=["33000"],
            cause="WEATHER",
            now=base + timedelta(days=i),
            actor=agent,
        )
        incidents.incident_restore(
            incident=past, actor=agent, now=base + timedelta(days=i, minutes=minutes)
        )
    now = paris("2026-06-01T20:00:00")
    fresh = incidents.incident_open(
        title="new", postcodes=["33000"], cause="WEATHER", now=now, actor=agent
    )
    assert fresh.etr == now + timedelta(minutes=120)


@pytest.mark.django_db
def test_diagnostic_fee_told_before_the_visit_and_charged_once():
    t0 = paris("2026-06-01T20:00:00")
    user, account, premise, _ = kit.customer(postcode="04150", area_class="RURAL")
    report = reports.report_submit(
        kind="OUTAGE", now=t0, account=account, premise=premise, reporter=user
    )
    incident = report.incident
    incidents.incident_confirm(incident=incident, now=t0, actor=None)
    tech = UserFactory(role="FIELD_TECHNICIAN")
    dispatch = crews.dispatch_create(
        incident=incident, crew=kit.crew("Banon", tech), now=t0, actor=None
    )
    charge = crews.diagnostic_notice(dispatch=dispatch, account=account, now=t0, actor=tech)
    with pytest.raises(NotAllowed):
        crews.diagnostic_charge(charge=charge, fee="90", parts="0", now=t0, actor=tech)
    crews.dispatch_transition(dispatch=dispatch, target="EN_ROUTE", now=t0, actor=tech)
    crews.dispatch_transition(dispatch=dispatch, target="ON_SITE", now=t0, actor=tech)
    with pytest.raises(NotAllowed):
        crews.diagnostic_notice(dispatch=dispatch, account=account, now=t0, actor=tech)
    for fee, parts, field in [
        ("60", "0", "fee"),
        ("130", "0", "fee"),
        ("90", "-1", "parts"),
        ("abc", "0", "fee"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            crews.diagnostic_charge(charge=charge, fee=fee, parts=parts, now=t0, actor=tech)
        assert field in caught.value.errors
    crews.diagnostic_charge(charge=charge, fee="95.00", parts="12.50", now=t0, actor=tech)
    with pytest.raises(NotAllowed):
        crews.diagnostic_charge(charge=charge, fee="95.00", parts="12.50", now=t0, actor=tech)
    entry = LedgerEntry.objects.get(account=account, kind="DIAGNOSTIC")
    assert entry.amount == Decimal("107.50")
    assert DiagnosticCharge.objects.get().charged_at == t0


# --- Settlement ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (timedelta(hours=4, minutes=59), None),
        (timedelta(hours=5), Decimal("18.00")),  # 1 slice × 2 € × 9 kVA
        (timedelta(hours=10), Decimal("36.00")),
        (timedelta(hours=250), Decimal("720.00")),  # capped at 40 slices
    ],
)
def test_compensation_at_the_slice_boundaries_is_credited_once(duration, expected):
    t0 = paris("2026-06-01T20:00:00")
    _, account, _, _ = kit.customer(postcode="43170", area_class="RURAL", kva="9")
    incident = incidents.incident_open(title="Saugues", postcodes=["43170"], now=t0, actor=None)
    incidents.incident_restore(incident=incident, now=t0 + duration, actor=None)
    later = t0 + duration + timedelta(minutes=1)
    settlement.incident_compensate(incident_id=incident.pk, now=later)
    settlement.incident_compensate(incident_id=incident.pk, now=later)
    sweep.outages_sweep(now=later)
    credits = LedgerEntry.objects.filter(account=account, kind="COMPENSATION")
    if expected is None:
        assert not credits.exists() and not Compensation.objects.exists()
        return
    assert credits.count() == 1
    assert credits.get().amount == -expected
    assert Compensation.objects.get().amount == expected


@pytest.mark.django_db(transaction=True)
def test_concurrent_settlements_credit_once(monkeypatch):
    monkeypatch.setattr(incidents, "_enqueue", lambda task, **kw: None)
    t0 = paris("2026-06-01T20:00:00")
    for _ in range(5):
        kit.customer(postcode="19160", area_class="RURAL")
    incident = incidents.incident_open(title="Neuvic", postcodes=["19160"], now=t0, actor=None)
    incidents.incident_restore(incident=incident, now=t0 + timedelta(hours=6), actor=None)
    barrier = threading.Barrier(3)

    def run():
        try:
            barrier.wait(timeout=10)
            settlement.incident_compensate(incident_id=incident.pk, now=t0 + timedelta(hours=7))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    sweep.outages_sweep(now=t0 + timedelta(hours=8))
    assert LedgerEntry.objects.filter(kind="COMPENSATION").count() == 5
    assert Compensation.objects.count() == 5


@pytest.mark.django_db
def test_planned_works_and_in_home_faults_are_not_compensated():
    t0 = paris("2026-06-01T20:00:00")
    kit.customer(postcode="43170", area_class="RURAL")
    incident = incidents.incident_open(
        title="X", postcodes=["43170"], now=t0, actor=None, cause="CUSTOMER_INSTALLATION"
    )
    incidents.incident_restore(incident=incident, now=t0 + timedelta(hours=12), actor=None)
    assert (
        settlement.incident_compensate(incident_id=incident.pk, now=t0 + timedelta(hours=13)) == 0
    )


@pytest.mark.django_db
def test_enterprise_availability_below_target_earns_one_credit_per_month():
    from accounts.models import SlaPackage

    now = paris("2026-07-01T05:00:00")
    _, account, _, _ = kit.customer(postcode="75015")
    account.sla_package = SlaPackage.objects.get(code="ENTERPRISE")
    account.save()
    _, standard, _, _ = kit.customer(postcode="75015")
    # June has 43 200 minutes; the 99.90 % target allows 43.2 minutes off.
    incident = incidents.incident_open(
        title="Juin", postcodes=["75015"], now=paris("2026-06-10T10:00:00"), actor=None
    )
    incidents.incident_restore(incident=incident, now=paris("2026-06-10T10:44:00"), actor=None)
    assert settlement.availability_credits(month=date(2026, 6, 1), now=now) == 1
    assert settlement.availability_credits(month=date(2026, 6, 1), now=now) == 0
    credit = AvailabilityCredit.objects.get()
    assert credit.account == account and credit.amount == Decimal("49.99")
    assert credit.availability_percent < Decimal("99.90")
    assert LedgerEntry.objects.filter(account=account, kind="COMPENSATION").count() == 1
    assert not LedgerEntry.objects.filter(account=standard).exists()


@pytest.mark.django_db
def test_enterprise_month_within_target_earns_nothing():
    from accounts.models import SlaPackage

    _, account, _, _ = kit.customer(postcode="75015")
    account.sla_package = SlaPackage.objects.get(code="ENTERPRISE")
    account.save()
    incident = incidents.incident_open(
        title="Juin", postcodes=["75015"], now=paris("2026-06-10T10:00:00"), actor=None
    )
    incidents.incident_restore(incident=incident, now=paris("2026-06-10T10:43:00"), actor=None)
    assert (
        settlement.availability_credits(month=date(2026, 6, 1), now=paris("2026-07-01T05:00:00"))
        == 0
    )


@pytest.mark.django_db
def test_a_late_restoration_opens_one_review_and_the_form_needs_content():
    t0 = paris("2026-06-01T20:00:00")
    incident, _agent = _p1(t0)
    supervisor = UserFactory(role="SUPERVISOR")
    sweep.outages_sweep(now=t0 + timedelta(hours=6))
    assert not PostIncidentReview.objects.exists()
    sweep.outages_sweep(now=t0 + timedelta(hours=6, minutes=1))
    sweep.outages_sweep(now=t0 + timedelta(hours=6, minutes=2))
    review = PostIncidentReview.objects.get()
    assert review.incident_id == incident.pk and review.status == "OPEN"
    with pytest.raises(InvalidInput) as caught:
        settlement.review_complete(
            review=review, timeline="", cause="x", actions="y", now=t0, actor=supervisor
        )
    assert set(caught.value.errors) == {"timeline", "cause", "actions"}
    settlement.review_complete(
        review=review,
        timeline="20:00 alerte, 20:10 avis, 02:10 rétablissement",
        cause="Câble HTA endommagé par un engin de chantier",
        actions="Rappel DT-DICT au chantier, second câble en boucle",
        now=t0,
        actor=supervisor,
    )
    review.refresh_from_db()
    assert review.status == "DONE" and review.completed_by == supervisor


@pytest.mark.django_db
def test_an_isolated_fault_has_24_hours():
    t0 = paris("2026-06-01T20:00:00")
    kit.customer(postcode="21000")
    incident = incidents.incident_open(title="Un client", postcodes=["21000"], now=t0, actor=None)
    incidents.incident_restore(incident=incident, now=t0 + timedelta(hours=20), actor=None)
    assert (
        settlement.review_open_if_due(incident_id=incident.pk, now=t0 + timedelta(days=1)) is None
    )


@pytest.mark.django_db
def test_restoration_resolves_the_linked_customer_tickets_with_a_message():
    t0 = paris("2026-06-01T20:00:00")
    incident, agent = _p1(t0)
    user, account, _, _ = kit.customer(postcode="75015")
    ticket = ticket_services.ticket_create(
        channel="PHONE",
        category="OUTAGE",
        subject="Plus de courant",
        body="Depuis 20 h",
        now=t0,
        account=account,
        requester=user,
    )
    with pytest.raises(InvalidInput):
        incidents.incident_link_ticket(
            incident=incident, reference="PN-0000-000000", now=t0, actor=agent
        )
    incidents.incident_link_ticket(
        incident=incident, reference=ticket.reference, now=t0, actor=agent
    )
    incidents.incident_restore(
        incident=incident,
        now=t0 + timedelta(hours=1),
        actor=agent,
        message="Courant rétabli dans tout le quartier.",
    )
    ticket.refresh_from_db()
    assert ticket.status == "RESOLVED"
    assert ticket.messages.filter(body="Courant rétabli dans tout le quartier.").exists()
    assert incident.events.filter(kind="TICKETS_RESOLVED", to_value="1").exists()


@pytest.mark.django_db
def test_restored_message_invites_the_survey_unless_a_complaint_is_open():
    t0 = paris("2026-06-01T20:00:00")
    incident, agent = _p1(t0, customers=2)
    complaining = incident.interruptions.order_by("pk").first().account
    ticket = ticket_services.ticket_create(
        channel="PHONE",
        category="COMPLAINT",
        subject="Réclamation",
        body="Inadmissible",
        now=t0,
        account=complaining,
    )
    assert ticket.is_complaint or hasattr(ticket, "complaint")
    incidents.incident_restore(incident=incident, now=t0 + timedelta(hours=1), actor=agent)
    sweep.outages_sweep(now=t0 + timedelta(hours=1, minutes=1))
    by_phone = dict(LoggingSms.outbox)
    assert "/outages/feedback/" not in by_phone[complaining.phone]
    others = [body for to, body in LoggingSms.outbox if to != complaining.phone]
    assert others and all("/outages/feedback/" in body for body in others)
    token = others[0].split("/outages/feedback/")[1].split("/")[0]
    feedback = notifications.feedback_answer(token=token, csat=5, comment="Merci", now=t0)
    assert feedback.csat == 5
    with pytest.raises(NotAllowed):
        notifications.feedback_answer(token=token, csat=4, comment="", now=t0)
    with pytest.raises(NotAllowed):
        notifications.feedback_answer(token="forged", csat=4, comment="", now=t0)


def test_instants_are_utc_safe():
    assert datetime(2026, 3, 29, 3, 0, tzinfo=PARIS).astimezone(UTC).hour == 1


@pytest.mark.django_db
def test_the_tasks_take_iso_strings_and_do_the_sweeps_work():
    from outages import tasks

    t0 = paris("2026-06-01T20:00:00")
    incident, _agent = _p1(t0)
    result = tasks.outages_sweep_task(now_iso=(t0 + timedelta(minutes=11)).isoformat())
    assert result["notices"] == 1 and result["sent"] == 3
    assert tasks.outages_sweep_task(now_iso=(t0 + timedelta(minutes=12)).isoformat())["sent"] == 0
    incident.refresh_from_db()
    assert incident.first_notice_at == t0 + timedelta(minutes=11)
    assert tasks.availability_credits_task(month_iso="2026-06-01") == 0


@pytest.mark.django_db
def test_restoration_fixes_every_linked_report_with_its_event():
    t0 = paris("2026-06-01T20:00:00")
    refs = [
        reports.report_submit(
            kind="OUTAGE",
            now=t0,
            postcode="35000",
            address=f"{i} rue de Brest",
            phone=f"06000000{i:02d}",
        ).reference
        for i in range(3)
    ]
    incident = OutageReport.objects.get(reference=refs[0]).incident
    incidents.incident_confirm(incident=incident, now=t0, actor=None)
    incidents.incident_restore(incident=incident, now=t0 + timedelta(hours=1), actor=None)
    fixed = OutageReport.objects.filter(reference__in=refs)
    assert set(fixed.values_list("status", flat=True)) == {"FIXED"}
    for report in fixed:
        last = report.events.order_by("pk").last()
        assert (last.from_value, last.to_value, last.at) == (
            "LINKED",
            "FIXED",
            t0 + timedelta(hours=1),
        )
