"""Billing disputes: the portal form and its checks, the state machine on a BILLING
ticket (every illegal move refused), the SLA clocks swept at frozen instants (French
holidays, both DST changes), the reasoned rejection letter, collections on hold, the
console and portal pages, permissions and query counts."""

import importlib
import itertools
import subprocess
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery import current_app
from django.apps import apps
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import MemberRole, Role
from billing import domain
from billing.models import (
    ApprovalStatus,
    CreditRequest,
    Dispute,
    DisputeEvent,
    Invoice,
    LedgerEntry,
)
from billing.selectors.disputes import collections_on_hold
from billing.services import disputes as services
from tickets import services as ticket_services
from tickets.models import Attachment, ClockInstance, Escalation, Message, Survey, Ticket

from .factories import AccountFactory, MembershipFactory, UserFactory
from .test_api_b2b import add_supply_points

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
D = Decimal
PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ACK, INVESTIGATION, INACTIVITY = (
    "Accusé de réception 24 h",
    "Instruction 10 jours ouvrés",
    "Inactivité 72 h",
)
SETTLEMENT = "Avoir ou remboursement 30 jours"


def local(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _settlement_clock(_reference_data):
    """A transactional test flushes the migration's data: put the clock back."""
    importlib.import_module("tickets.migrations.0006_dispute_settlement_clock").create(apps, None)


@pytest.fixture
def pdf_tasks(monkeypatch):
    """Stand in for the invoice PDF task (written by invoicing), recording what is queued."""
    calls = []
    name = services.PDF_TASK
    stand_in = type("StandIn", (), {"delay": staticmethod(lambda **kw: calls.append(kw))})()
    if name in current_app.tasks:
        monkeypatch.setattr(current_app.tasks[name], "delay", stand_in.delay)
    else:
        monkeypatch.setitem(current_app.tasks, name, stand_in)
    return calls


_numbers = itertools.count(1)


def make_invoice(account, point, *, issued: date, gross: str = "250.00") -> Invoice:
    """An issued invoice, written directly: computing and issuing are invoicing's part."""
    gross = D(gross)
    return Invoice.objects.create(
        kind="INVOICE",
        number=f"FA-{issued.year}-{900000 + next(_numbers):06d}",
        status="ISSUED",
        account=account,
        supply_point=point,
        period_start=issued - timedelta(days=61),
        period_end=issued - timedelta(days=1),
        issue_date=issued,
        due_date=issued + timedelta(days=14),
        tariff_name="Base 6 kVA",
        consumption_kwh=D("812.000"),
        total_net=(gross / D("1.2")).quantize(D("0.01")),
        total_vat=gross - (gross / D("1.2")).quantize(D("0.01")),
        total_gross=gross,
        created_at=local(issued.year, issued.month, issued.day, 6),
    )


def customer_with_invoice(*, issued: date, gross: str = "250.00", email=None):
    membership = MembershipFactory(
        role=MemberRole.HOLDER, **({"user__email": email} if email else {})
    )
    point = add_supply_points(membership.account, 1)[0]
    invoice = make_invoice(membership.account, point, issued=issued, gross=gross)
    return membership.user, membership.account, point, invoice


def open_dispute(*, now: datetime, issued: date | None = None, gross: str = "250.00", **kw):
    user, account, point, invoice = customer_with_invoice(
        issued=issued or (now.astimezone(PARIS).date() - timedelta(days=10)), gross=gross
    )
    return services.dispute_open(
        account=account,
        requester=user,
        supply_point=point,
        invoice=invoice,
        problem_date=invoice.issue_date,
        description="Ma consommation a doublé alors que la maison était vide.",
        now=now,
        **kw,
    )


@pytest.fixture
def staff(make_user):
    return {
        "agent": make_user(Role.AGENT, email="agent@powernext.example"),
        "agent2": make_user(Role.AGENT, email="agent2@powernext.example"),
        "supervisor": make_user(Role.SUPERVISOR, email="sup@powernext.example"),
        "supervisor2": make_user(Role.SUPERVISOR, email="sup2@powernext.example"),
    }


def clock(dispute: Dispute, name: str) -> ClockInstance:
    return ClockInstance.objects.filter(ticket=dispute.ticket, name=name).latest("id")


# --- Opening ------------------------------------------------------------------------------


def test_dispute_open_creates_ticket_dispute_event_and_evidence(staff):
    now = local(2026, 5, 12, 9, 30)
    evidence = SimpleUploadedFile("releve.png", PNG_BYTES, content_type="image/png")
    dispute = open_dispute(now=now, claimed_amount=D("120.00"), evidence=evidence)

    ticket = dispute.ticket
    assert (ticket.channel, ticket.category, ticket.queue) == ("PORTAL", "BILL_DISPUTE", "BILLING")
    assert ticket.account_id == dispute.account_id
    assert ticket.supply_point_id == dispute.supply_point_id
    assert ticket.requester is not None
    assert ticket.details["invoice_number"] == dispute.invoice.number
    assert ticket.policy.code == "BILLING"
    assert dispute.status == "SUBMITTED"
    assert dispute.claimed_amount == D("120.00")
    assert dispute.evidence_type == "image/png"
    assert dispute.evidence.read() == PNG_BYTES
    (event,) = dispute.events.all()
    assert (event.from_status, event.to_status, event.actor) == ("", "SUBMITTED", ticket.requester)
    attachment = Attachment.objects.get(message__ticket=ticket)
    assert attachment.content_type == "image/png"
    names = set(ticket.clocks.values_list("name", flat=True))
    assert names == {ACK, INVESTIGATION, INACTIVITY}


def test_a_second_open_dispute_on_the_same_invoice_is_refused():
    now = local(2026, 5, 12, 9, 30)
    dispute = open_dispute(now=now)
    with pytest.raises(services.DisputeRefused) as exc:
        services.dispute_open(
            account=dispute.account,
            requester=dispute.ticket.requester,
            supply_point=dispute.supply_point,
            invoice=dispute.invoice,
            problem_date=dispute.problem_date,
            description="Encore",
            now=now,
        )
    assert exc.value.field == "invoice_number"
    assert Dispute.objects.count() == 1
    assert Ticket.objects.count() == 1


# --- The state machine --------------------------------------------------------------------

STATUSES = [
    "SUBMITTED",
    "ACKNOWLEDGED",
    "INVESTIGATING",
    "ESCALATED",
    "UPHELD",
    "CREDITED",
    "REFUNDED",
    "REJECTED",
]
ILLEGAL = [
    (source, target)
    for source in STATUSES
    for target in STATUSES
    if target != "SUBMITTED" and target not in domain.DISPUTE_TRANSITIONS[source]
]
LEGAL = [
    (source, target)
    for source, targets in domain.DISPUTE_TRANSITIONS.items()
    for target in sorted(targets)
]


def _attempt(dispute: Dispute, target: str, *, actor, now):
    """The service that moves a dispute to `target`."""
    if target == "ACKNOWLEDGED":
        return services.dispute_acknowledge(dispute_id=dispute.pk, actor=actor, now=now)
    if target == "INVESTIGATING":
        return services.dispute_investigate(dispute_id=dispute.pk, actor=actor, now=now)
    if target == "ESCALATED":
        return services.dispute_escalate(
            dispute_id=dispute.pk, actor=actor, reason="Montant important", now=now
        )
    if target == "UPHELD":
        return services.dispute_uphold(
            dispute_id=dispute.pk, amount=D("500.00"), kind="CREDIT", actor=actor, now=now
        )
    if target == "REJECTED":
        return services.dispute_reject(
            dispute_id=dispute.pk, reason="Index relevé conforme.", actor=actor, now=now
        )
    # CREDITED / REFUNDED: only a booked credit request settles a dispute.
    request = CreditRequest.objects.create(
        account=dispute.account,
        dispute=dispute,
        kind="CREDIT" if target == "CREDITED" else "REFUND",
        amount=D("10.00"),
        reason="test",
        status=ApprovalStatus.APPROVED,
        requested_by=actor,
        requested_at=now,
        decided_by=actor,
        decided_at=now,
    )
    return services.credit_request_book(request_id=request.pk, actor=actor, now=now)


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_every_illegal_transition_is_refused_and_writes_nothing(source, target, staff, pdf_tasks):
    now = local(2026, 6, 2, 10)
    dispute = open_dispute(now=now, gross="900.00")
    Dispute.objects.filter(pk=dispute.pk).update(status=source)
    events, notes = DisputeEvent.objects.count(), Message.objects.count()
    invoices, entries = Invoice.objects.count(), LedgerEntry.objects.count()

    with pytest.raises(domain.IllegalTransition):
        _attempt(dispute, target, actor=staff["supervisor"], now=now)

    dispute.refresh_from_db()
    assert dispute.status == source
    assert DisputeEvent.objects.count() == events
    assert Message.objects.count() == notes
    assert Invoice.objects.count() == invoices
    assert LedgerEntry.objects.count() == entries
    assert not dispute.letter


@pytest.mark.parametrize(("source", "target"), LEGAL)
def test_every_legal_transition_writes_an_event_and_a_ticket_note(source, target, staff, pdf_tasks):
    now = local(2026, 6, 2, 10)
    dispute = open_dispute(now=now, gross="900.00")
    Dispute.objects.filter(pk=dispute.pk).update(status=source)
    messages = Message.objects.filter(ticket=dispute.ticket).count()
    actor = staff["supervisor"]

    _attempt(dispute, target, actor=actor, now=now)

    dispute.refresh_from_db()
    event = dispute.events.filter(from_status=source, to_status=target).get()
    assert (event.actor, event.at) == (actor, now)
    assert dispute.status == target or (target == "UPHELD" and dispute.status == "CREDITED")
    assert Message.objects.filter(ticket=dispute.ticket).count() > messages


def test_only_a_supervisor_decides_an_escalated_dispute(staff):
    now = local(2026, 6, 2, 10)
    dispute = open_dispute(now=now)
    services.dispute_acknowledge(dispute_id=dispute.pk, actor=staff["agent"], now=now)
    services.dispute_escalate(dispute_id=dispute.pk, actor=staff["agent"], reason="Doute", now=now)
    with pytest.raises(services.NotAllowed):
        services.dispute_reject(dispute_id=dispute.pk, reason="Non", actor=staff["agent"], now=now)
    dispute.refresh_from_db()
    assert dispute.status == "ESCALATED"
    ticket = dispute.ticket
    ticket.refresh_from_db()
    assert ticket.escalation_level == "SUPERVISOR"
    assert Escalation.objects.filter(ticket=ticket, level="SUPERVISOR").count() == 1


def test_a_customer_cannot_move_a_dispute():
    now = local(2026, 6, 2, 10)
    dispute = open_dispute(now=now)
    with pytest.raises(services.NotAllowed):
        services.dispute_acknowledge(dispute_id=dispute.pk, actor=dispute.ticket.requester, now=now)


# --- Clocks, swept at frozen instants -----------------------------------------------------


def sweep(at: datetime):
    with time_machine.travel(at, tick=False):
        return ticket_services.clocks_sweep(now=at)


def test_acknowledgement_clock_breaches_after_24_real_hours_across_spring_dst():
    # Opened Saturday 28 March 2026 12:00 CET; the clocks go forward that night, so 24
    # real hours end at 13:00 CEST on the wall.
    opened = local(2026, 3, 28, 12)
    with time_machine.travel(opened, tick=False):
        dispute = open_dispute(now=opened)
    ack = clock(dispute, ACK)
    assert ack.due_at == local(2026, 3, 29, 13)
    sweep(local(2026, 3, 29, 12, 59, 59))
    assert clock(dispute, ACK).status == "RUNNING"
    result = sweep(local(2026, 3, 29, 13))
    ack = clock(dispute, ACK)
    assert ack.status == "BREACHED"
    assert result.escalations >= 1
    assert Escalation.objects.filter(ticket=dispute.ticket, level="SUPERVISOR").exists()


def test_acknowledging_meets_the_24_hour_clock(staff):
    opened = local(2026, 3, 28, 12)
    with time_machine.travel(opened, tick=False):
        dispute = open_dispute(now=opened)
    at = local(2026, 3, 29, 9)
    with time_machine.travel(at, tick=False):
        services.dispute_acknowledge(dispute_id=dispute.pk, actor=staff["agent"], now=at)
    ack = clock(dispute, ACK)
    assert (ack.status, ack.met_at) == ("MET", at)
    reply = Message.objects.filter(ticket=dispute.ticket, from_customer=False).get()
    assert reply.visibility == "PUBLIC"
    assert dispute.invoice.number in reply.body
    sweep(local(2026, 3, 29, 13))
    assert clock(dispute, ACK).status == "MET"


@pytest.mark.parametrize(
    ("opened", "due"),
    [
        # Thu 5 Nov 2026; Wednesday 11 November (Armistice) does not count: Fri 6, Sat 7,
        # Mon 9, Tue 10, Thu 12, Fri 13, Sat 14, Mon 16, Tue 17, Wed 18.
        (local(2026, 11, 5, 10), local(2026, 11, 18, 10)),
        # Fri 18 Dec 2026; Friday 25 December does not count: Sat 19, Mon 21 … Thu 24,
        # Sat 26, Mon 28, Tue 29, Wed 30, Thu 31.
        (local(2026, 12, 18, 10), local(2026, 12, 31, 10)),
        # Thu 15 Oct 2026 10:00 CEST; the clocks go back on Sunday 25: the deadline keeps
        # the wall-clock time, 10:00 CET on Tue 27 (25 real hours later than 10 × 24 h).
        (local(2026, 10, 15, 10), local(2026, 10, 27, 10)),
    ],
    ids=["armistice", "christmas", "autumn-dst"],
)
def test_investigation_clock_counts_10_working_days_on_the_contact_centre_calendar(opened, due):
    with time_machine.travel(opened, tick=False):
        dispute = open_dispute(now=opened)
    assert clock(dispute, INVESTIGATION).due_at == due
    # Keep the inactivity clock from escalating first: it is not what is tested here.
    ClockInstance.objects.filter(ticket=dispute.ticket, name=INACTIVITY).update(status="CANCELLED")
    sweep(due - timedelta(seconds=1))
    assert clock(dispute, INVESTIGATION).status == "RUNNING"
    sweep(due)
    investigation = clock(dispute, INVESTIGATION)
    assert (investigation.status, investigation.breached_at) == ("BREACHED", due)
    assert Escalation.objects.filter(ticket=dispute.ticket, reason__startswith=INVESTIGATION)


def test_a_decision_meets_the_investigation_clock(staff, pdf_tasks):
    opened = local(2026, 11, 5, 10)
    with time_machine.travel(opened, tick=False):
        dispute = open_dispute(now=opened)
    at = local(2026, 11, 16, 15)
    services.dispute_acknowledge(dispute_id=dispute.pk, actor=staff["agent"], now=at)
    services.dispute_investigate(dispute_id=dispute.pk, actor=staff["agent"], now=at)
    services.dispute_uphold(
        dispute_id=dispute.pk, amount=D("150.00"), kind="CREDIT", actor=staff["agent"], now=at
    )
    assert (clock(dispute, INVESTIGATION).status, clock(dispute, INVESTIGATION).met_at) == (
        "MET",
        at,
    )
    sweep(local(2026, 11, 18, 10))
    assert clock(dispute, INVESTIGATION).status == "MET"


def test_settlement_clock_runs_30_days_from_upholding_and_escalates(staff):
    opened = local(2026, 10, 6, 9)
    with time_machine.travel(opened, tick=False):
        dispute = open_dispute(now=opened, gross="900.00")
    upheld = local(2026, 10, 10, 12)
    services.dispute_acknowledge(dispute_id=dispute.pk, actor=staff["agent"], now=upheld)
    services.dispute_investigate(dispute_id=dispute.pk, actor=staff["agent"], now=upheld)
    # Above the 100 € threshold: it waits for a supervisor, and the clock runs meanwhile.
    services.dispute_uphold(
        dispute_id=dispute.pk, amount=D("400.00"), kind="CREDIT", actor=staff["agent"], now=upheld
    )
    settlement = clock(dispute, SETTLEMENT)
    # 720 real hours across the autumn change: 11:00 CET on the wall, 9 November.
    assert settlement.due_at == local(2026, 11, 9, 11)
    assert (settlement.pauses_when_waiting, settlement.escalate_to) == (False, "SUPERVISOR")
    ClockInstance.objects.filter(ticket=dispute.ticket, name=INACTIVITY).update(status="CANCELLED")
    sweep(local(2026, 11, 9, 10, 59))
    assert clock(dispute, SETTLEMENT).status == "RUNNING"
    sweep(local(2026, 11, 9, 11))
    assert clock(dispute, SETTLEMENT).status == "BREACHED"
    assert Escalation.objects.filter(ticket=dispute.ticket, reason__startswith=SETTLEMENT)


def test_72_hours_without_activity_escalate_to_a_supervisor_and_activity_restarts_it(staff):
    opened = local(2026, 6, 1, 9)
    with time_machine.travel(opened, tick=False):
        dispute = open_dispute(now=opened)
    ClockInstance.objects.filter(ticket=dispute.ticket, name=ACK).update(status="CANCELLED")
    # A dispute move is activity: the inactivity clock starts again from it.
    moved = local(2026, 6, 2, 9)
    services.dispute_acknowledge(dispute_id=dispute.pk, actor=staff["agent"], now=moved)
    inactivity = clock(dispute, INACTIVITY)
    assert inactivity.started_at == moved
    assert inactivity.due_at == moved + timedelta(hours=72)
    sweep(moved + timedelta(hours=72) - timedelta(seconds=1))
    assert not Escalation.objects.filter(ticket=dispute.ticket).exists()
    sweep(moved + timedelta(hours=72))
    escalation = Escalation.objects.get(ticket=dispute.ticket)
    assert (escalation.level, escalation.reason) == ("SUPERVISOR", f"{INACTIVITY} dépassé")
    ticket = Ticket.objects.get(pk=dispute.ticket_id)
    assert ticket.escalation_level == "SUPERVISOR"
    # Left alone, the case keeps surfacing: a fresh inactivity clock is running.
    assert clock(dispute, INACTIVITY).status == "RUNNING"


# --- Rejection ----------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def test_rejection_sends_a_reasoned_letter_naming_the_ombudsman(
    staff, django_capture_on_commit_callbacks
):
    opened = local(2026, 6, 1, 9)
    dispute = open_dispute(now=opened)
    at = local(2026, 6, 3, 11)
    services.dispute_acknowledge(dispute_id=dispute.pk, actor=staff["agent"], now=at)
    services.dispute_investigate(dispute_id=dispute.pk, actor=staff["agent"], now=at)
    assert collections_on_hold(account_id=dispute.account_id)
    mail.outbox.clear()
    reason = "Le relevé du 3 mai (index 45 210) confirme la consommation facturée."
    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_reject(dispute_id=dispute.pk, reason=reason, actor=staff["agent"], now=at)

    dispute.refresh_from_db()
    assert (dispute.status, dispute.rejection_reason, dispute.closed_at) == ("REJECTED", reason, at)
    text = " ".join(pdf_text(dispute.letter.read()).split())
    assert "index 45 210" in text
    assert dispute.invoice.number in text
    assert "Médiateur national de l'énergie" in text
    assert "gratuit" in text and "indépendante" in text
    assert "www.energie-mediateur.fr" in text
    (letter_mail,) = [m for m in mail.outbox if "contestation" in m.subject]
    assert letter_mail.to == [dispute.ticket.requester.email]
    (attachment,) = letter_mail.attachments
    assert attachment[2] == "application/pdf"
    assert "index 45 210" in " ".join(pdf_text(attachment[1]).split())
    ticket = Ticket.objects.get(pk=dispute.ticket_id)
    assert ticket.status == "RESOLVED"
    assert clock(dispute, INVESTIGATION).status == "MET"
    assert Survey.objects.filter(ticket=ticket).exists()
    assert not collections_on_hold(account_id=dispute.account_id)


def test_a_rejection_needs_a_reason(staff):
    now = local(2026, 6, 1, 9)
    dispute = open_dispute(now=now)
    Dispute.objects.filter(pk=dispute.pk).update(status="INVESTIGATING")
    with pytest.raises(services.DisputeRefused) as exc:
        services.dispute_reject(dispute_id=dispute.pk, reason="  ", actor=staff["agent"], now=now)
    assert exc.value.field == "reason"
    dispute.refresh_from_db()
    assert dispute.status == "INVESTIGATING" and not dispute.letter


# --- The portal form ----------------------------------------------------------------------


def form_data(account, point, invoice, **overrides):
    data = {
        "account_number": account.number,
        "meter_point": point.identifier,
        "invoice_number": invoice.number,
        "problem_date": invoice.issue_date.isoformat(),
        "description": "Estimation bien trop haute.",
        "claimed_amount": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_portal_form_is_prefilled_and_opens_a_dispute(login):
    today = date(2026, 5, 20)
    user, account, point, invoice = customer_with_invoice(issued=date(2026, 5, 2))
    client = login(user)
    with time_machine.travel(local(2026, 5, 20, 10), tick=False):
        page = client.get(f"/portal/disputes/new/?invoice={invoice.number}")
        assert page.status_code == 200
        form = page.context["form"]
        assert form.initial["invoice_number"] == invoice.number
        assert form.initial["meter_point"] == point.identifier
        assert form.initial["account_number"] == account.number
        assert 'for="id_evidence"' in page.content.decode()
        upload = SimpleUploadedFile("facture.pdf", PDF_BYTES, content_type="application/pdf")
        response = client.post(
            "/portal/disputes/new/",
            {**form_data(account, point, invoice, claimed_amount="80.50"), "evidence": upload},
        )
    dispute = Dispute.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/portal/disputes/{dispute.pk}/"
    assert dispute.claimed_amount == D("80.50") and dispute.evidence_type == "application/pdf"
    assert dispute.problem_date == invoice.issue_date <= today
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert dispute.ticket.reference in detail.content.decode()
    assert "Déposée" in detail.content.decode()


def _field_cases():
    return [
        ("account_number", {"account_number": ""}),
        ("account_number", {"account_number": "9999999999"}),
        ("meter_point", {"meter_point": ""}),
        ("meter_point", {"meter_point": "12345678901234"}),
        ("invoice_number", {"invoice_number": ""}),
        ("invoice_number", {"invoice_number": "FA-2026-123456"}),
        ("problem_date", {"problem_date": ""}),
        ("problem_date", {"problem_date": "2026-05-21"}),
        ("problem_date", {"problem_date": "21/13/2026"}),
        ("description", {"description": ""}),
        ("claimed_amount", {"claimed_amount": "-3"}),
    ]


@pytest.mark.parametrize(("field", "overrides"), _field_cases())
def test_portal_form_reports_each_bad_field_and_writes_nothing(login, field, overrides):
    user, account, point, invoice = customer_with_invoice(issued=date(2026, 5, 2))
    client = login(user)
    with time_machine.travel(local(2026, 5, 20, 10), tick=False):
        response = client.post(
            "/portal/disputes/new/", form_data(account, point, invoice, **overrides)
        )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field], errors
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not Dispute.objects.exists() and not Ticket.objects.exists()


def test_portal_form_refuses_another_accounts_invoice_and_another_supply_point(login):
    user, account, point, invoice = customer_with_invoice(issued=date(2026, 5, 2))
    _other_user, _other_account, other_point, other_invoice = customer_with_invoice(
        issued=date(2026, 5, 2)
    )
    second_point = add_supply_points(account, 1, premise=point.premise)[0]
    client = login(user)
    with time_machine.travel(local(2026, 5, 20, 10), tick=False):
        theirs = client.post(
            "/portal/disputes/new/",
            form_data(account, point, invoice, invoice_number=other_invoice.number),
        )
        their_point = client.post(
            "/portal/disputes/new/",
            form_data(account, point, invoice, meter_point=other_point.identifier),
        )
        wrong_point = client.post(
            "/portal/disputes/new/",
            form_data(account, point, invoice, meter_point=second_point.identifier),
        )
    assert theirs.status_code == 400
    assert list(theirs.context["form"].errors) == ["invoice_number"]
    assert other_invoice.number not in str(theirs.context["form"].errors)
    assert list(their_point.context["form"].errors) == ["meter_point"]
    assert "autre point de livraison" in str(wrong_point.context["form"].errors["invoice_number"])
    assert not Dispute.objects.exists() and not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("issued", "accepted"),
    [(date(2026, 1, 28), True), (date(2026, 1, 27), False)],
    ids=["day-60", "day-61"],
)
def test_dispute_window_is_60_days_counted_in_paris_across_spring_dst(login, issued, accepted):
    # 00:30 on 29 March in Paris is still 28 March in UTC: the window counts local days.
    user, account, point, invoice = customer_with_invoice(issued=issued)
    client = login(user)
    with time_machine.travel(local(2026, 3, 29, 0, 30), tick=False):
        response = client.post("/portal/disputes/new/", form_data(account, point, invoice))
    if accepted:
        assert response.status_code == 302
        assert Dispute.objects.count() == 1
    else:
        assert response.status_code == 400
        assert "60 jours" in str(response.context["form"].errors["invoice_number"])
        assert not Dispute.objects.exists()


@pytest.mark.parametrize(
    ("content", "size_limit"),
    [(b"MZ\x90\x00 not a pdf at all", None), (PDF_BYTES + b"0" * 2048, 1024)],
    ids=["sniffed-not-a-pdf", "too-large"],
)
def test_portal_form_checks_evidence_by_content_and_size(login, content, size_limit, monkeypatch):
    from accounts import selectors as account_selectors

    if size_limit:
        real = account_selectors.parameter_get
        monkeypatch.setattr(
            account_selectors,
            "parameter_get",
            lambda *, key: size_limit if key == "attachment_max_bytes" else real(key=key),
        )
    user, account, point, invoice = customer_with_invoice(issued=date(2026, 5, 2))
    client = login(user)
    upload = SimpleUploadedFile("preuve.pdf", content, content_type="application/pdf")
    with time_machine.travel(local(2026, 5, 20, 10), tick=False):
        response = client.post(
            "/portal/disputes/new/", {**form_data(account, point, invoice), "evidence": upload}
        )
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["evidence"]
    assert not Dispute.objects.exists() and not Attachment.objects.exists()


def test_evidence_of_10_mb_is_accepted(login):
    user, account, point, invoice = customer_with_invoice(issued=date(2026, 5, 2))
    client = login(user)
    content = PDF_BYTES + b"0" * (10 * 1024 * 1024 - len(PDF_BYTES))
    upload = SimpleUploadedFile("gros.pdf", content, content_type="application/pdf")
    with time_machine.travel(local(2026, 5, 20, 10), tick=False):
        response = client.post(
            "/portal/disputes/new/", {**form_data(account, point, invoice), "evidence": upload}
        )
    assert response.status_code == 302
    assert Dispute.objects.get().evidence.size == 10 * 1024 * 1024


# --- Pages, permissions and query counts --------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/portal/disputes/",
        "/portal/disputes/new/",
        "/console/billing/disputes/",
        "/supervisor/billing/credits/",
    ],
)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_another_customers_dispute_is_a_404_never_data(login):
    now = local(2026, 6, 1, 9)
    dispute = open_dispute(now=now)
    Dispute.objects.filter(pk=dispute.pk).update(letter="private/disputes/letters/x.pdf")
    stranger = MembershipFactory(role=MemberRole.HOLDER).user
    client = login(stranger)
    for url in (f"/portal/disputes/{dispute.pk}/", f"/portal/disputes/{dispute.pk}/letter.pdf"):
        response = client.get(url)
        assert response.status_code == 404
        assert dispute.invoice.number.encode() not in response.content
    listing = client.get("/portal/disputes/")
    assert dispute.ticket.reference not in listing.content.decode()


def test_a_viewer_member_may_not_see_disputes(login):
    membership = MembershipFactory(role=MemberRole.VIEWER)
    client = login(membership.user)
    assert client.get("/portal/disputes/").status_code == 403
    assert client.get("/portal/disputes/new/").status_code == 403


def test_a_billing_member_may_dispute(login):
    _user, account, point, invoice = customer_with_invoice(issued=date(2026, 5, 2))
    member = MembershipFactory(account=account, role=MemberRole.BILLING).user
    client = login(member)
    with time_machine.travel(local(2026, 5, 20, 10), tick=False):
        response = client.post("/portal/disputes/new/", form_data(account, point, invoice))
    assert response.status_code == 302
    assert Dispute.objects.get().ticket.requester == member


def test_customers_are_forbidden_the_console_and_agents_the_supervisor_pages(login, staff):
    dispute = open_dispute(now=local(2026, 6, 1, 9))
    client = login(dispute.ticket.requester)
    assert client.get("/console/billing/disputes/").status_code == 403
    assert client.get(f"/console/billing/disputes/{dispute.pk}/").status_code == 403
    assert client.post(f"/console/billing/disputes/{dispute.pk}/ACKNOWLEDGED/").status_code == 403
    client.logout()
    client = login(staff["agent"])
    assert client.get("/supervisor/billing/credits/").status_code == 403
    assert (
        client.post("/supervisor/billing/credits/1/decide", {"decision": "approve"}).status_code
        == 403
    )


def test_console_page_shows_invoice_customer_timeline_clocks_and_hold(login, staff):
    dispute = open_dispute(now=local(2026, 6, 1, 9), claimed_amount=D("42.00"))
    client = login(staff["agent"])
    with time_machine.travel(local(2026, 6, 1, 10), tick=False):
        page = client.get(f"/console/billing/disputes/{dispute.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert dispute.invoice.number in html and dispute.account.number in html
    assert 'data-testid="collections-on-hold"' in html
    assert ACK in html and INVESTIGATION in html and INACTIVITY in html
    assert 'data-testid="dispute-timeline"' in html
    assert [a["code"] for a in page.context["actions"]] == ["ACKNOWLEDGED"]
    workspace = client.get(f"/console/tickets/{dispute.ticket.reference}/")
    assert f"/console/billing/disputes/{dispute.pk}/" in workspace.content.decode()


def test_console_moves_a_dispute_through_its_forms(login, staff):
    dispute = open_dispute(now=local(2026, 6, 1, 9), gross="900.00")
    client = login(staff["agent"])
    base = f"/console/billing/disputes/{dispute.pk}"
    assert client.post(f"{base}/ACKNOWLEDGED/", {"acknowledged-note": ""}).status_code == 302
    assert (
        client.post(f"{base}/INVESTIGATING/", {"investigating-note": "Relevé demandé"}).status_code
        == 302
    )
    missing = client.post(f"{base}/REJECTED/", {"rejected-reason": ""})
    assert missing.status_code == 400
    bad = next(a for a in missing.context["actions"] if a["code"] == "REJECTED")["form"]
    assert list(bad.errors) == ["reason"]
    too_much = client.post(f"{base}/UPHELD/", {"upheld-amount": "1000.00", "upheld-kind": "CREDIT"})
    assert too_much.status_code == 400
    assert "dépasse" in str(
        next(a for a in too_much.context["actions"] if a["code"] == "UPHELD")["form"].errors[
            "amount"
        ]
    )
    assert (
        client.post(f"{base}/ESCALATED/", {"escalated-reason": "Montant élevé"}).status_code == 302
    )
    # An agent may not decide an escalated dispute; the page says why.
    refused = client.post(f"{base}/UPHELD/", {"upheld-amount": "300.00", "upheld-kind": "CREDIT"})
    assert refused.status_code == 400
    assert "superviseur" in refused.content.decode()
    illegal = client.post(f"{base}/INVESTIGATING/", {"investigating-note": ""})
    assert illegal.status_code == 400
    dispute.refresh_from_db()
    assert dispute.status == "ESCALATED"
    assert [e.to_status for e in dispute.events.all()] == [
        "SUBMITTED",
        "ACKNOWLEDGED",
        "INVESTIGATING",
        "ESCALATED",
    ]
    assert client.post(f"{base}/NOPE/").status_code == 404


def test_console_list_portal_list_keep_constant_queries(
    login, staff, django_assert_max_num_queries
):
    now = local(2026, 6, 1, 9)
    first = open_dispute(now=now)
    user = first.ticket.requester

    def add(n):
        for _ in range(n):
            point = add_supply_points(first.account, 1, premise=first.supply_point.premise)[0]
            invoice = make_invoice(first.account, point, issued=date(2026, 5, 25))
            services.dispute_open(
                account=first.account,
                requester=user,
                supply_point=point,
                invoice=invoice,
                problem_date=date(2026, 5, 25),
                description="…",
                now=now,
            )

    agent = login(staff["agent"])
    with django_assert_max_num_queries(12):
        assert agent.get("/console/billing/disputes/").status_code == 200
    add(12)
    with django_assert_max_num_queries(12):
        page = agent.get("/console/billing/disputes/")
    assert len(page.context["disputes"]) == 13
    with django_assert_max_num_queries(12):
        assert agent.get("/console/billing/disputes/?status=SUBMITTED").status_code == 200
    with django_assert_max_num_queries(25):
        assert agent.get(f"/console/billing/disputes/{first.pk}/").status_code == 200
    agent.logout()
    customer = login(user)
    with django_assert_max_num_queries(12):
        page = customer.get("/portal/disputes/")
    assert len(page.context["disputes"]) == 13


def test_console_list_query_count_does_not_grow(login, staff, django_assert_max_num_queries):
    """Same page at 1 and 15 disputes: the same number of queries, to the query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    now = local(2026, 6, 1, 9)
    open_dispute(now=now)
    agent = login(staff["agent"])
    with CaptureQueriesContext(connection) as small:
        agent.get("/console/billing/disputes/")
    for _ in range(14):
        open_dispute(now=now)
    with CaptureQueriesContext(connection) as large:
        agent.get("/console/billing/disputes/")
    assert len(large) == len(small)


def test_portal_timeline_hides_staff_notes(login, staff):
    dispute = open_dispute(now=local(2026, 6, 1, 9))
    services.dispute_acknowledge(
        dispute_id=dispute.pk, actor=staff["agent"], now=local(2026, 6, 1, 10)
    )
    services.dispute_investigate(
        dispute_id=dispute.pk,
        actor=staff["agent"],
        note="Client connu pour contester",
        now=local(2026, 6, 1, 11),
    )
    client = login(dispute.ticket.requester)
    html = client.get(f"/portal/disputes/{dispute.pk}/").content.decode()
    assert "En cours d&#x27;examen" in html or "En cours d'examen" in html
    assert "Client connu" not in html
    assert staff["agent"].email not in html


def test_collections_on_hold_only_while_a_dispute_is_open():
    account = AccountFactory()
    assert not collections_on_hold(account_id=account.pk)
    dispute = open_dispute(now=local(2026, 6, 1, 9))
    assert collections_on_hold(account_id=dispute.account_id)
    for status in ("ACKNOWLEDGED", "INVESTIGATING", "ESCALATED", "UPHELD"):
        Dispute.objects.filter(pk=dispute.pk).update(status=status)
        assert collections_on_hold(account_id=dispute.account_id)
    for status in ("CREDITED", "REFUNDED", "REJECTED"):
        Dispute.objects.filter(pk=dispute.pk).update(status=status)
        assert not collections_on_hold(account_id=dispute.account_id)
    assert UserFactory  # the factory module is shared with the credit tests
