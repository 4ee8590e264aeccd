"""Ticket life: references, routing, the status machine, clocks, the sweep, take next."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import close_old_connections, connection

from accounts import services as account_services
from accounts.models import Role
from tickets import services
from tickets.domain import states
from tickets.models import (
    ClockAlert,
    ClockInstance,
    Complaint,
    Contact,
    Escalation,
    Survey,
    Ticket,
    TicketEvent,
)

from .factories import MembershipFactory, UserFactory

PARIS = ZoneInfo("Europe/Paris")


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@pytest.fixture
def customer(db):
    return UserFactory(role=Role.CUSTOMER, email="client@example.fr")


@pytest.fixture
def account(customer):
    return MembershipFactory(user=customer).account


def make_ticket(account, customer, now, **kw):
    defaults = {
        "channel": "PORTAL",
        "category": "BILL_QUERY",
        "subject": "Facture trop élevée",
        "body": "Ma facture de mars est plus élevée que d'habitude.",
    }
    defaults.update(kw)
    return services.ticket_create(account=account, requester=customer, now=now, **defaults)


def test_references_are_gapless_per_year(account, customer):
    first = make_ticket(account, customer, paris("2026-12-31T23:30:00"))
    second = make_ticket(account, customer, paris("2026-12-31T23:59:00"))
    third = make_ticket(account, customer, paris("2027-01-01T00:01:00"))
    assert [first.reference, second.reference, third.reference] == [
        "PN-2026-000001",
        "PN-2026-000002",
        "PN-2027-000001",
    ]


def test_routing_safety_goes_to_the_top(account, customer):
    now = paris("2026-06-01T10:00:00")
    normal = make_ticket(account, customer, now)
    safety = make_ticket(
        account,
        customer,
        now,
        category="OTHER",
        subject="Odeur de brûlé",
        body="Il y a des étincelles et de la fumée au compteur !",
    )
    assert safety.safety_critical and safety.queue == "OUTAGE" and safety.priority == "URGENT"
    assert safety.urgency_rank > normal.urgency_rank
    assert safety.policy.code == "SAFETY"
    assert {c.name for c in safety.clocks.all()} == {"Première réponse 4 h", "Inactivité 72 h"}


def test_enterprise_and_priority_register_get_their_rules(db):
    from accounts.models import SlaPackage

    now = paris("2026-06-01T10:00:00")
    owner = UserFactory()
    business = MembershipFactory(user=owner, role="OWNER", account__type="BUSINESS").account
    business.sla_package = SlaPackage.objects.get(code="ENTERPRISE")
    business.save()
    ticket = services.ticket_create(
        account=business,
        requester=owner,
        channel="EMAIL",
        category="OTHER",
        subject="Question",
        body="Bonjour",
        now=now,
    )
    assert ticket.policy.code == "ENTERPRISE" and ticket.priority == "HIGH"
    clock = ticket.clocks.get(name="Réponse 2 h ouvrées")
    assert clock.due_at == paris("2026-06-01T12:00:00")

    fragile = MembershipFactory().account
    account_services.priority_registration_set(
        account=fragile,
        actor=None,
        channel="CONSOLE",
        now=now,
        medical_equipment=True,
        dependency_level="CRITICAL",
        backup_autonomy_hours=4,
        review_date=now.date(),
    )
    t2 = services.ticket_create(
        account=fragile,
        requester=None,
        channel="PHONE",
        category="OTHER",
        subject="Info",
        body="Question",
        now=now,
    )
    assert t2.priority == "HIGH"


def test_billing_ticket_runs_two_clocks_with_different_units(account, customer):
    # Friday 2026-05-01 is a public holiday (Labour Day).
    now = paris("2026-04-30T15:00:00")
    ticket = make_ticket(account, customer, now)
    clocks = {c.name: c for c in ticket.clocks.all()}
    assert clocks["Accusé de réception 24 h"].due_at == paris("2026-05-01T15:00:00")
    # 10 working days, skipping the holiday, weekends and Ascension (Thu 14 May).
    assert (
        clocks["Instruction 10 jours ouvrés"].due_at.astimezone(PARIS).date().isoformat()
        == "2026-05-15"
    )


@pytest.mark.parametrize("current", states.ALL)
@pytest.mark.parametrize("target", states.ALL)
def test_every_illegal_transition_is_rejected(account, customer, current, target):
    ticket = make_ticket(account, customer, paris("2026-06-01T10:00:00"))
    Ticket.objects.filter(pk=ticket.pk).update(status=current)
    ticket.refresh_from_db()
    events_before = TicketEvent.objects.filter(ticket=ticket).count()
    if target in states.TRANSITIONS[current]:
        services.ticket_transition(
            ticket=ticket, target=target, actor=None, now=paris("2026-06-01T11:00:00")
        )
        assert Ticket.objects.get(pk=ticket.pk).status == target
        event = TicketEvent.objects.filter(ticket=ticket, kind="STATUS").latest("id")
        assert (event.from_value, event.to_value) == (current, target)
    else:
        with pytest.raises(states.IllegalTransition):
            services.ticket_transition(
                ticket=ticket, target=target, actor=None, now=paris("2026-06-01T11:00:00")
            )
        assert Ticket.objects.get(pk=ticket.pk).status == current
        assert TicketEvent.objects.filter(ticket=ticket).count() == events_before


def test_waiting_pauses_and_resuming_moves_the_deadline(account, customer):
    start = paris("2026-06-01T10:00:00")
    ticket = make_ticket(account, customer, start, category="OTHER", channel="PORTAL")
    clock = ticket.clocks.get(name="Première réponse 24 h")
    assert clock.due_at == paris("2026-06-02T10:00:00")
    services.ticket_transition(
        ticket=ticket, target="WAITING_CUSTOMER", actor=None, now=paris("2026-06-01T12:00:00")
    )
    clock.refresh_from_db()
    assert clock.status == "PAUSED"
    services.ticket_reply(
        ticket=ticket,
        author=customer,
        body="Voici ma photo",
        from_customer=True,
        now=paris("2026-06-01T15:00:00"),
    )
    clock.refresh_from_db()
    assert clock.status == "RUNNING"
    assert clock.due_at == paris("2026-06-02T13:00:00")  # 3 hours of waiting added


def test_customer_reply_reopens_within_seven_days_only(account, customer):
    t = make_ticket(account, customer, paris("2026-06-01T10:00:00"))
    services.ticket_transition(
        ticket=t, target="RESOLVED", actor=None, now=paris("2026-06-02T10:00:00")
    )
    services.ticket_reply(
        ticket=t,
        author=customer,
        body="Pas résolu !",
        from_customer=True,
        now=paris("2026-06-08T10:00:00"),
    )
    assert Ticket.objects.get(pk=t.pk).status == "OPEN"
    services.ticket_transition(
        ticket=t, target="RESOLVED", actor=None, now=paris("2026-06-10T10:00:00")
    )
    services.ticket_reply(
        ticket=t,
        author=customer,
        body="Merci",
        from_customer=True,
        now=paris("2026-06-18T10:00:00"),
    )
    assert Ticket.objects.get(pk=t.pk).status == "RESOLVED"


def test_first_agent_reply_meets_the_first_response_clock(account, customer):
    agent = UserFactory(role=Role.AGENT)
    t = make_ticket(account, customer, paris("2026-06-01T10:00:00"))
    services.ticket_reply(
        ticket=t, author=agent, body="Note", internal=True, now=paris("2026-06-01T10:05:00")
    )
    assert t.clocks.get(name="Accusé de réception 24 h").status == "RUNNING"
    services.ticket_reply(
        ticket=t, author=agent, body="Bonjour, nous regardons.", now=paris("2026-06-01T10:30:00")
    )
    clock = t.clocks.get(name="Accusé de réception 24 h")
    assert clock.status == "MET" and clock.met_at == paris("2026-06-01T10:30:00")
    assert Ticket.objects.get(pk=t.pk).status == "OPEN"


def test_a_live_chat_line_is_kept_on_the_ticket_without_a_contact_or_an_email(
    account, customer, mailoutbox, django_capture_on_commit_callbacks
):
    agent = UserFactory(role=Role.AGENT)
    # A portal ticket: its replies are e-mailed (a chat ticket's are not), which is what
    # the live-chat line must not do.
    t = make_ticket(account, customer, paris("2026-06-01T10:00:00"))
    contacts = Contact.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(
            ticket=t,
            author=agent,
            body="Je regarde.",
            now=paris("2026-06-01T10:01:00"),
            live_chat=True,
        )
    assert t.messages.filter(body="Je regarde.", visibility="PUBLIC").exists()
    assert t.clocks.get(name="Accusé de réception 24 h").status == "MET"
    assert Contact.objects.count() == contacts and mailoutbox == []
    # An ordinary reply still records its contact and tells the customer.
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(
            ticket=t, author=agent, body="Réglé.", now=paris("2026-06-01T10:09:00")
        )
    assert Contact.objects.count() == contacts + 1 and len(mailoutbox) == 1


def test_finishing_a_contact_writes_it_once(account, customer):
    agent = UserFactory(role=Role.AGENT)
    t = make_ticket(account, customer, paris("2026-06-01T10:00:00"), channel="CHAT")
    contact = Contact.objects.create(
        ticket=t, channel="CHATBOT_HANDOFF", queue="BILLING", offered_at=t.created_at
    )
    answered, ended = paris("2026-06-01T10:02:00"), paris("2026-06-01T10:10:00")
    kwargs = {"agent": agent, "answered_at": answered, "ended_at": ended, "talk_seconds": 480}
    assert services.contact_finish(contact_id=contact.pk, **kwargs)
    assert not services.contact_finish(contact_id=contact.pk, **{**kwargs, "talk_seconds": 9})
    contact.refresh_from_db()
    assert (contact.agent, contact.answered_at, contact.ended_at, contact.talk_seconds) == (
        agent,
        answered,
        ended,
        480,
    )
    with pytest.raises(services.TicketError):
        services.contact_finish(contact_id=contact.pk, **{**kwargs, "talk_seconds": -1})


# --- Sweep --------------------------------------------------------------------


def test_sweep_warns_then_breaches_then_escalates_once(account, customer, mailoutbox):
    # The day before the autumn DST change; arithmetic in UTC is real time.
    start = paris("2026-10-24T12:00:00").astimezone(ZoneInfo("UTC"))
    t = make_ticket(account, customer, start, category="OTHER")
    clock = t.clocks.get(name="Première réponse 24 h")
    # 24 real hours across the change: 11:00 local on the 25th.
    assert clock.due_at == datetime.fromisoformat("2026-10-25T10:00:00+00:00")
    assert clock.due_at.astimezone(PARIS).hour == 11
    assert services.clocks_sweep(now=start + timedelta(hours=19)).warnings == 0
    r = services.clocks_sweep(now=start + timedelta(hours=20))
    assert (r.warnings, r.breaches) == (1, 0)
    r = services.clocks_sweep(now=start + timedelta(hours=24))
    assert (r.warnings, r.breaches, r.escalations) == (0, 1, 1)
    again = services.clocks_sweep(now=start + timedelta(hours=25))
    assert (again.warnings, again.breaches, again.escalations) == (0, 0, 0)
    assert ClockAlert.objects.filter(clock=clock).count() == 2
    escalation = Escalation.objects.get(ticket=t)
    assert escalation.level == "SUPERVISOR"
    assert Ticket.objects.get(pk=t.pk).escalation_level == "SUPERVISOR"


def test_inactivity_escalates_and_supervisor_acknowledges(account, customer):
    start = paris("2026-06-01T10:00:00")
    t = make_ticket(account, customer, start, category="OTHER")
    agent = UserFactory(role=Role.AGENT)
    services.ticket_reply(
        ticket=t, author=agent, body="Nous étudions.", now=start + timedelta(minutes=5)
    )
    r = services.clocks_sweep(now=start + timedelta(hours=73))
    assert r.breaches == 1 and r.escalations == 1
    esc = Escalation.objects.get(ticket=t)
    assert "Inactivité" in esc.reason
    supervisor = UserFactory(role=Role.SUPERVISOR)
    with pytest.raises(services.NotAllowed):
        services.escalation_acknowledge(
            escalation_id=esc.pk, supervisor=agent, now=start + timedelta(hours=74)
        )
    services.escalation_acknowledge(
        escalation_id=esc.pk, supervisor=supervisor, now=start + timedelta(hours=74)
    )
    # Acknowledged in time: no move to the complaints team.
    r = services.clocks_sweep(now=start + timedelta(hours=80))
    assert r.timeouts == 0
    assert Ticket.objects.get(pk=t.pk).escalation_level == "SUPERVISOR"


def test_unacknowledged_escalation_goes_to_complaints(account, customer):
    start = paris("2026-06-01T10:00:00")
    t = make_ticket(account, customer, start, category="OTHER")
    services.clocks_sweep(now=start + timedelta(hours=25))
    r = services.clocks_sweep(now=start + timedelta(hours=25 + 4))
    assert r.timeouts == 1
    assert Ticket.objects.get(pk=t.pk).escalation_level == "COMPLAINTS"
    assert services.clocks_sweep(now=start + timedelta(hours=40)).timeouts == 0


def test_complaint_deadline_produces_the_deadlock_letter_once(
    account, customer, mailoutbox, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    start = paris("2026-01-15T10:00:00")
    t = make_ticket(
        account,
        customer,
        start,
        category="COMPLAINT",
        subject="Réclamation",
        body="C'est inadmissible, je veux une réclamation formelle.",
    )
    complaint = Complaint.objects.get(ticket=t)
    assert complaint.deadline_at == paris("2026-03-15T10:00:00")  # two calendar months
    assert services.clocks_sweep(now=paris("2026-03-15T09:59:00")).deadlocks == 0
    mailoutbox.clear()
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert services.clocks_sweep(now=paris("2026-03-15T10:01:00")).deadlocks == 1
    assert services.clocks_sweep(now=paris("2026-03-16T10:00:00")).deadlocks == 0
    complaint.refresh_from_db()
    assert complaint.deadlock_letter_at and complaint.deadlock_letter.name.endswith(".pdf")
    letters = [m for m in mailoutbox if "Réponse définitive" in m.subject]
    assert len(letters) == 1 and len(letters[0].attachments) == 2
    import subprocess

    text = subprocess.run(
        ["pdftotext", complaint.deadlock_letter.path, "-"], capture_output=True, text=True
    ).stdout
    assert "Médiateur national de l'énergie" in text
    assert "gratuit" in text and "indépendante" in text and "remboursement" in text


def test_survey_after_resolution_once_and_suppressed_by_open_complaint(
    account, customer, mailoutbox
):
    t = make_ticket(account, customer, paris("2026-06-01T10:00:00"))
    services.ticket_transition(
        ticket=t, target="RESOLVED", actor=None, now=paris("2026-06-02T10:00:00")
    )
    assert Survey.objects.filter(ticket=t).count() == 1
    services.ticket_transition(
        ticket=t, target="OPEN", actor=None, now=paris("2026-06-03T10:00:00")
    )
    services.ticket_transition(
        ticket=t, target="RESOLVED", actor=None, now=paris("2026-06-04T10:00:00")
    )
    assert Survey.objects.filter(ticket=t).count() == 1  # never repeated

    complaint_ticket = make_ticket(
        account,
        customer,
        paris("2026-06-05T10:00:00"),
        category="COMPLAINT",
        subject="Réclamation",
        body="Je suis mécontent.",
    )
    other = make_ticket(account, customer, paris("2026-06-05T11:00:00"))
    services.ticket_transition(
        ticket=other, target="RESOLVED", actor=None, now=paris("2026-06-06T10:00:00")
    )
    assert not Survey.objects.filter(ticket=other).exists()
    assert TicketEvent.objects.filter(ticket=other, kind="SURVEY_SUPPRESSED").exists()
    assert (
        complaint_ticket.is_complaint or Complaint.objects.filter(ticket=complaint_ticket).exists()
    )


def test_survey_answer_once_by_signed_link(account, customer):
    from django.core import signing

    t = make_ticket(account, customer, paris("2026-06-01T10:00:00"))
    services.ticket_transition(
        ticket=t, target="RESOLVED", actor=None, now=paris("2026-06-02T10:00:00")
    )
    token = signing.dumps({"survey": t.survey.pk}, salt="survey")
    services.survey_answer(
        token=token, csat=5, nps=9, comment="Parfait", now=paris("2026-06-02T12:00:00")
    )
    with pytest.raises(services.SurveyRefused):
        services.survey_answer(
            token=token, csat=1, nps=0, comment="", now=paris("2026-06-02T13:00:00")
        )
    with pytest.raises(services.SurveyRefused):
        services.survey_answer(
            token=token + "x", csat=5, nps=9, comment="", now=paris("2026-06-02T13:00:00")
        )
    assert Survey.objects.get(ticket=t).csat == 5


# --- Concurrency against the real PostgreSQL -------------------------------------


@pytest.mark.django_db(transaction=True)
def test_take_next_never_hands_out_a_ticket_twice():
    owner = UserFactory()
    account = MembershipFactory(user=owner).account
    now = paris("2026-06-01T10:00:00")
    for i in range(50):
        services.ticket_create(
            account=account,
            requester=owner,
            channel="PHONE",
            category="OTHER",
            subject=f"Demande {i}",
            body="…",
            now=now + timedelta(seconds=i),
        )
    agents = [UserFactory(role=Role.AGENT, email=f"a{i}@powernext.example") for i in range(8)]
    taken: list[tuple[int, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def work(agent):
        barrier.wait()
        try:
            while True:
                try:
                    ticket = services.ticket_take_next(agent=agent, now=now + timedelta(hours=1))
                except services.NothingToTake:
                    return
                with lock:
                    taken.append((ticket.pk, agent.pk))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [pk for pk, _ in taken]
    assert len(ids) == 50 and len(set(ids)) == 50
    assert len({agent for _, agent in taken}) > 1
    assert Ticket.objects.filter(assignee__isnull=True).count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_send_nothing_twice():
    owner = UserFactory()
    account = MembershipFactory(user=owner).account
    start = paris("2026-06-01T10:00:00")
    for i in range(40):
        services.ticket_create(
            account=account,
            requester=owner,
            channel="PHONE",
            category="OTHER",
            subject=f"Demande {i}",
            body="…",
            now=start,
        )
    results = []
    barrier = threading.Barrier(4)

    errors = []

    def sweep():
        barrier.wait()
        try:
            results.append(services.clocks_sweep(now=start + timedelta(hours=30), batch=7))
        except Exception as exc:  # noqa: BLE001 - any failure is asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(r.breaches for r in results) == 40
    assert sum(r.escalations for r in results) == 40
    assert ClockAlert.objects.filter(kind="BREACH").count() == 40
    assert Escalation.objects.count() == 40
    # A sweep after a crash mid-way picks up only what is left: nothing.
    assert services.clocks_sweep(now=start + timedelta(hours=31)).breaches == 0
    assert ClockInstance.objects.filter(status="BREACHED").count() == 40


def test_policy_edit_never_rewrites_a_running_clock(account, customer):
    from tickets.models import ClockDefinition

    start = paris("2026-06-01T10:00:00")
    t = make_ticket(account, customer, start, category="OTHER")
    clock = t.clocks.get(name="Première réponse 24 h")
    ClockDefinition.objects.filter(pk=clock.definition_id).update(amount=2)
    # A pause and resume recomputes the deadline from the clock's own copied terms.
    services.ticket_transition(
        ticket=t, target="WAITING_CUSTOMER", actor=None, now=start + timedelta(hours=1)
    )
    services.ticket_transition(ticket=t, target="OPEN", actor=None, now=start + timedelta(hours=2))
    clock.refresh_from_db()
    assert clock.amount == 24 and clock.policy_version == 1
    assert clock.due_at == start + timedelta(hours=25)
    # A new ticket gets the edited terms.
    newer = make_ticket(account, customer, start, category="OTHER")
    assert newer.clocks.get(name="Première réponse 24 h").due_at == start + timedelta(hours=2)
