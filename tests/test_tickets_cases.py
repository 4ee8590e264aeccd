"""Merging, linking, the case dossier, deadlock letters on request, ombudsman referrals."""

import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from tickets import services
from tickets.models import Complaint, TicketEvent, TicketLink

from .factories import MembershipFactory, UserFactory


@pytest.fixture
def world(db, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    customer = UserFactory(email="cli@example.fr")
    account = MembershipFactory(user=customer, account__name="Client Dossier").account
    agent = UserFactory(role=Role.AGENT)
    now = timezone.now()

    def ticket(**kw):
        data = {"channel": "PORTAL", "category": "OTHER", "subject": "Question", "body": "Bonjour"}
        data.update(kw)
        return services.ticket_create(account=account, requester=customer, now=now, **data)

    return {"customer": customer, "account": account, "agent": agent, "now": now, "ticket": ticket}


def test_merge_is_undoable_and_link_is_recorded_once(world):
    a, b = world["ticket"](), world["ticket"](subject="Doublon")
    services.ticket_merge(duplicate=b, into=a, actor=world["agent"], now=world["now"])
    b.refresh_from_db()
    assert b.merged_into == a
    assert not b.clocks.filter(status="RUNNING").exists()
    with pytest.raises(services.TicketError):
        services.ticket_merge(duplicate=b, into=a, actor=world["agent"], now=world["now"])
    with pytest.raises(services.TicketError):
        services.ticket_merge(duplicate=a, into=a, actor=world["agent"], now=world["now"])
    services.ticket_unmerge(duplicate=b, actor=world["agent"], now=world["now"])
    b.refresh_from_db()
    assert b.merged_into is None and b.clocks.filter(status="RUNNING").exists()
    assert list(TicketEvent.objects.filter(ticket=b).values_list("kind", flat=True).order_by("id"))[
        -2:
    ] == ["MERGED", "UNMERGED"]
    services.ticket_link(ticket=a, other=b, actor=world["agent"], now=world["now"])
    services.ticket_link(ticket=a, other=b, actor=world["agent"], now=world["now"])
    assert TicketLink.objects.count() == 1


def test_case_dossier_has_the_timeline(world):
    from tickets import documents

    t = world["ticket"](subject="Coupure répétée", body="Troisième coupure ce mois-ci.")
    services.ticket_reply(
        ticket=t,
        author=world["agent"],
        body="Nous envoyons un technicien.",
        now=world["now"] + timedelta(hours=1),
    )
    services.ticket_reply(
        ticket=t,
        author=world["agent"],
        body="Vérifier le disjoncteur",
        internal=True,
        now=world["now"] + timedelta(hours=2),
    )
    pdf = documents.case_dossier_pdf(ticket=t, now=world["now"])
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True).stdout.decode()
    assert t.reference in text and "Client Dossier" in text
    assert "Troisième coupure" in text and "Nous envoyons un technicien" in text
    assert "Vérifier le disjoncteur" not in text  # internal notes stay internal


def test_customer_may_ask_for_the_deadlock_letter(
    client, world, mailoutbox, django_capture_on_commit_callbacks
):
    t = world["ticket"](
        category="COMPLAINT", subject="Réclamation", body="Je conteste votre réponse."
    )
    client.force_login(world["customer"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/portal/tickets/{t.reference}/deadlock-letter/")
    assert response.status_code == 302
    complaint = Complaint.objects.get(ticket=t)
    assert complaint.deadlock_letter_at is not None
    assert len([m for m in mailoutbox if "définitive" in m.subject]) == 1
    other = world["ticket"]()
    assert client.post(f"/portal/tickets/{other.reference}/deadlock-letter/").status_code == 404


def test_ombudsman_referral_sets_a_remedy_deadline(client, world, login):
    t = world["ticket"](category="COMPLAINT", subject="Réclamation", body="Litige")
    login(world["agent"])
    bad = client.post(
        f"/console/tickets/{t.reference}/referral/", {"reference": "", "decision": ""}
    )
    assert bad.status_code == 302
    assert Complaint.objects.get(ticket=t).ombudsman_reference == ""
    client.post(
        f"/console/tickets/{t.reference}/referral/",
        {"reference": "MNE-2026-0042", "decision": "Geste commercial", "remedy_amount": "80.00"},
    )
    complaint = Complaint.objects.get(ticket=t)
    assert complaint.ombudsman_reference == "MNE-2026-0042"
    assert complaint.ombudsman_remedy_amount == Decimal("80.00")
    assert complaint.remedy_due_at is not None


def test_agent_flags_a_complaint_and_escalates_up_the_ladder(client, world, login):
    t = world["ticket"]()
    login(world["agent"])
    client.post(
        f"/console/tickets/{t.reference}/complaint/", {"summary": "Client mécontent du délai"}
    )
    complaint = Complaint.objects.get(ticket=t)
    assert complaint.flag_source == "AGENT" and complaint.summary == "Client mécontent du délai"
    client.post(f"/console/tickets/{t.reference}/escalate/")
    client.post(f"/console/tickets/{t.reference}/escalate/")
    t.refresh_from_db()
    assert t.escalation_level == "COMPLAINTS"
    response = client.post(f"/console/tickets/{t.reference}/escalate/", follow=True)
    assert "already with the complaints team" in response.content.decode()
    assert client.post(f"/console/tickets/{t.reference}/unknown-action/").status_code == 404


def test_remedy_is_a_task_on_the_supervisor_page(client, world, login):
    t = world["ticket"](category="COMPLAINT", subject="Réclamation", body="Litige")
    complaint = Complaint.objects.get(ticket=t)
    services.ombudsman_referral_record(
        complaint=complaint,
        reference="MNE-1",
        decision="Avoir",
        remedy_amount=Decimal("50.00"),
        actor=world["agent"],
        now=world["now"],
    )
    supervisor = UserFactory(role=Role.SUPERVISOR)
    login(supervisor)
    page = client.get("/supervisor/escalations/").content.decode()
    assert "MNE-1" in page and "50,00" in page
    client.post("/supervisor/escalations/", {"remedy": complaint.pk})
    complaint.refresh_from_db()
    assert complaint.remedy_done_at is not None and complaint.resolved
    assert "MNE-1" not in client.get("/supervisor/escalations/").content.decode()
