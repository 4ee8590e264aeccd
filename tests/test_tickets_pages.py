"""Portal and console pages of the tickets app: happy paths, permissions, bad input,
constant queries."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts import services as account_services
from accounts.models import MemberRole, Role
from tickets import services
from tickets.models import Attachment, CannedResponse, Escalation, Message, Ticket

from .factories import MembershipFactory, PremiseFactory, UserFactory


@pytest.fixture
def setup(db, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    now = timezone.now()
    customer = UserFactory(email="cli@example.fr", first_name="Léa")
    account = MembershipFactory(user=customer).account
    premise = PremiseFactory(account=account)
    point = account_services.supply_point_add(
        premise=premise,
        market="FR_PRM",
        identifier="11112222333344",
        subscribed_kva="6",
        actor=None,
        channel="SYSTEM",
        now=now,
    )
    other = UserFactory(email="other@example.fr")
    other_account = MembershipFactory(user=other).account
    other_ticket = services.ticket_create(
        account=other_account,
        requester=other,
        channel="PORTAL",
        category="OTHER",
        subject="Secret",
        body="Données d'un autre",
        now=now,
    )
    agent = UserFactory(role=Role.AGENT, email="agent@powernext.example", first_name="Lucas")
    return {
        "customer": customer,
        "account": account,
        "point": point,
        "other": other,
        "other_ticket": other_ticket,
        "agent": agent,
    }


def billing_post(setup, **extra):
    data = {
        "category": "BILL_QUERY",
        "subject": "Facture de mars",
        "supply_point": str(setup["point"].pk),
        "invoice_number": "FA-2026-000123",
        "problem_date": "2026-03-15",
        "body": "Le montant me semble trop élevé.",
    }
    data.update(extra)
    return data


def test_customer_opens_a_billing_ticket(
    client, setup, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(setup["customer"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/portal/tickets/new/", billing_post(setup))
    assert response.status_code == 302
    ticket = Ticket.objects.get(account=setup["account"])
    assert response["Location"] == f"/portal/tickets/{ticket.reference}/"
    assert ticket.queue == "BILLING" and ticket.details["invoice_number"] == "FA-2026-000123"
    page = client.get(response["Location"]).content.decode()
    assert ticket.reference in page and "au plus tard le" in page
    assert any(ticket.reference in m.subject for m in mailoutbox)


@pytest.mark.parametrize("missing", ["supply_point", "invoice_number", "problem_date"])
def test_billing_ticket_needs_its_identifiers(client, setup, missing):
    client.force_login(setup["customer"])
    response = client.post("/portal/tickets/new/", billing_post(setup, **{missing: ""}))
    assert response.status_code == 400
    assert missing in response.context["form"].errors
    assert not Ticket.objects.filter(account=setup["account"]).exists()


def test_attachment_checked_by_content_and_nothing_half_written(client, setup):
    client.force_login(setup["customer"])
    fake = SimpleUploadedFile(
        "facture.pdf", b"<html>not a pdf</html>", content_type="application/pdf"
    )
    response = client.post("/portal/tickets/new/", {**billing_post(setup), "attachments": [fake]})
    assert response.status_code == 400 and "attachments" in response.context["form"].errors
    assert not Ticket.objects.filter(account=setup["account"]).exists()
    real = SimpleUploadedFile(
        "photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 50, content_type="image/png"
    )
    assert (
        client.post(
            "/portal/tickets/new/", {**billing_post(setup), "attachments": [real]}
        ).status_code
        == 302
    )
    assert Attachment.objects.get().content_type == "image/png"


def test_another_customers_ticket_is_404(client, setup):
    client.force_login(setup["customer"])
    ref = setup["other_ticket"].reference
    assert client.get(f"/portal/tickets/{ref}/").status_code == 404
    assert client.post(f"/portal/tickets/{ref}/", {"body": "hi"}).status_code == 404
    assert client.get(f"/portal/tickets/{ref}/dossier.pdf").status_code == 404
    assert "Secret" not in client.get("/portal/tickets/").content.decode()


def test_viewer_reads_but_cannot_reply(client, setup):
    viewer = MembershipFactory(account=setup["account"], role=MemberRole.VIEWER).user
    ticket = services.ticket_create(
        account=setup["account"],
        requester=setup["customer"],
        channel="PORTAL",
        category="OTHER",
        subject="Question",
        body="?",
        now=timezone.now(),
    )
    client.force_login(viewer)
    assert client.get(f"/portal/tickets/{ticket.reference}/").status_code == 200
    assert client.post(f"/portal/tickets/{ticket.reference}/", {"body": "x"}).status_code == 403
    assert client.get("/portal/tickets/new/").status_code == 403


@pytest.mark.parametrize(
    "path", ["/portal/tickets/", "/console/queues/", "/supervisor/escalations/"]
)
def test_anonymous_is_sent_to_login(client, db, path):
    assert client.get(path)["Location"].startswith("/accounts/login/")


def test_wrong_roles_are_refused(client, setup, login):
    client.force_login(setup["customer"])
    assert client.get("/console/queues/").status_code == 403
    login(setup["agent"])
    assert client.get("/portal/tickets/").status_code == 403
    assert client.get("/supervisor/escalations/").status_code == 403


def test_agent_takes_next_replies_and_resolves(
    client, setup, login, mailoutbox, django_capture_on_commit_callbacks
):
    now = timezone.now()
    t = services.ticket_create(
        account=setup["account"],
        requester=setup["customer"],
        channel="PORTAL",
        category="OTHER",
        subject="Question",
        body="Bonjour",
        now=now,
    )
    login(setup["agent"])
    taken = client.post("/console/take-next/")
    # The other customer's older ticket is taken first: same urgency, older.
    first = Ticket.objects.get(assignee=setup["agent"])
    assert taken["Location"] == f"/console/tickets/{first.reference}/"
    client.post("/console/take-next/")
    assert Ticket.objects.get(pk=t.pk).assignee == setup["agent"]
    page = client.get(f"/console/tickets/{t.reference}/")
    assert page.status_code == 200 and "reste" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(
            f"/console/tickets/{t.reference}/",
            {"body": "Voici la réponse.", "then_status": "RESOLVED"},
        )
    assert reply.status_code == 302
    t.refresh_from_db()
    assert t.status == "RESOLVED" and t.first_response_at is not None
    assert any("résolue" in m.subject for m in mailoutbox), [m.subject for m in mailoutbox]


def test_internal_notes_never_reach_the_customer(client, setup, login):
    t = services.ticket_create(
        account=setup["account"],
        requester=setup["customer"],
        channel="PORTAL",
        category="OTHER",
        subject="Question",
        body="Bonjour",
        now=timezone.now(),
    )
    login(setup["agent"])
    client.post(
        f"/console/tickets/{t.reference}/",
        {"body": "Client difficile, vérifier l'index", "internal": "on"},
    )
    assert Message.objects.filter(ticket=t, visibility="INTERNAL").count() == 1
    client.logout()
    client.force_login(setup["customer"])
    assert "Client difficile" not in client.get(f"/portal/tickets/{t.reference}/").content.decode()


def test_agent_reply_needs_text(client, setup, login):
    t = setup["other_ticket"]
    login(setup["agent"])
    response = client.post(f"/console/tickets/{t.reference}/", {"body": ""})
    assert response.status_code == 400 and "body" in response.context["form"].errors


def test_canned_response_placeholders(client, setup, login):
    CannedResponse.objects.create(
        title="Accusé",
        body="Bonjour {customer_name}, votre demande {reference} est suivie par {agent_name}.",
    )
    t = setup["other_ticket"]
    services.ticket_assign(ticket=t, agent=setup["agent"], actor=setup["agent"], now=timezone.now())
    login(setup["agent"])
    page = client.get(f"/console/tickets/{t.reference}/").content.decode()
    assert f"votre demande {t.reference} est suivie par Lucas" in page


def test_phone_call_is_logged_with_handling_times(client, setup, login):
    login(setup["agent"])
    response = client.post(
        "/console/calls/new/",
        {
            "account_number": setup["account"].number,
            "category": "BILL_QUERY",
            "subject": "Appel facture",
            "notes": "Explication de la régularisation",
            "talk_seconds": "240",
            "hold_seconds": "30",
            "wrap_seconds": "45",
            "resolved": "on",
        },
    )
    assert response.status_code == 302
    t = Ticket.objects.get(channel="PHONE")
    assert t.status == "RESOLVED"
    contact = t.contacts.get(first_contact=True)
    assert (
        contact.talk_seconds,
        contact.hold_seconds,
        contact.wrap_seconds,
        contact.resolved_first_contact,
    ) == (240, 30, 45, True)
    bad = client.post(
        "/console/calls/new/",
        {
            "account_number": "9999999999",
            "category": "OTHER",
            "subject": "x",
            "notes": "y",
            "talk_seconds": "-1",
            "hold_seconds": "0",
            "wrap_seconds": "0",
        },
    )
    assert bad.status_code == 400
    assert set(bad.context["form"].errors) >= {"talk_seconds"}


def test_supervisor_acknowledges_escalation(client, setup, login):
    t = setup["other_ticket"]
    services.clocks_sweep(now=timezone.now() + timedelta(hours=25))
    esc = Escalation.objects.get(ticket=t)
    supervisor = UserFactory(role=Role.SUPERVISOR)
    login(supervisor)
    assert t.reference in client.get("/supervisor/escalations/").content.decode()
    client.post("/supervisor/escalations/", {"escalation": esc.pk})
    esc.refresh_from_db()
    assert esc.acknowledged_by == supervisor


def test_survey_page_once(client, setup):
    from django.core import signing

    t = setup["other_ticket"]
    services.ticket_transition(ticket=t, target="RESOLVED", actor=None, now=timezone.now())
    token = signing.dumps({"survey": t.survey.pk}, salt="survey")
    assert client.get(f"/survey/{token}/").status_code == 200
    bad = client.post(f"/survey/{token}/", {"csat": "9"})
    assert bad.status_code == 400 and "csat" in bad.context["form"].errors
    assert (
        client.post(f"/survey/{token}/", {"csat": "4", "nps": "9", "comment": "Bien"}).status_code
        == 200
    )
    again = client.post(f"/survey/{token}/", {"csat": "1", "nps": "0"})
    assert again.status_code == 400
    t.survey.refresh_from_db()
    assert (t.survey.csat, t.survey.nps) == (4, 9)


def test_queue_and_ticket_pages_have_constant_queries(
    client, setup, login, django_assert_max_num_queries
):
    login(setup["agent"])
    now = timezone.now()

    def add(n):
        for i in range(n):
            t = services.ticket_create(
                account=setup["account"],
                requester=setup["customer"],
                channel="PORTAL",
                category="BILL_QUERY",
                subject=f"Q{i}",
                body="…",
                now=now,
            )
            services.ticket_reply(ticket=t, author=setup["agent"], body="Réponse", now=now)

    add(2)
    with django_assert_max_num_queries(16):
        client.get("/console/queues/")
    t = Ticket.objects.filter(account=setup["account"]).first()
    with django_assert_max_num_queries(30):
        client.get(f"/console/tickets/{t.reference}/")
    add(15)
    for i in range(10):
        services.ticket_reply(ticket=t, author=setup["agent"], body=f"R{i}", now=now)
    with django_assert_max_num_queries(16):
        assert client.get("/console/queues/").status_code == 200
    with django_assert_max_num_queries(30):
        assert client.get(f"/console/tickets/{t.reference}/").status_code == 200
    client.logout()
    client.force_login(setup["customer"])
    with django_assert_max_num_queries(14):
        assert client.get("/portal/tickets/").status_code == 200
    with django_assert_max_num_queries(16):
        assert client.get(f"/portal/tickets/{t.reference}/").status_code == 200
