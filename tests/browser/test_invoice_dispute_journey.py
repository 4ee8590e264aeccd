"""Playwright: a customer downloads an invoice PDF and disputes it; an agent acknowledges
the dispute, examines it and upholds it; the customer sees the credit note."""

import subprocess
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import MemberRole, Role, SupplyPoint
from billing.domain import add_months
from billing.models import Dispute, LedgerEntry, Tariff, TariffSubscription
from billing.services.invoices import invoice_compute, invoice_issue
from billing.services.pdf import invoice_pdf_build
from tests.factories import MembershipFactory, PremiseFactory, UserFactory, add_totp

from .conftest import DESKTOP, PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _customer_with_issued_invoice():
    customer = UserFactory(role=Role.CUSTOMER, first_name="Claire", email="claire@example.fr")
    account = MembershipFactory(
        user=customer, role=MemberRole.HOLDER, account__name="Claire Devaux"
    ).account
    point = SupplyPoint.objects.create(
        premise=PremiseFactory(account=account, address="12 rue Oberkampf", city="Paris"),
        market="FR_PRM",
        identifier="09876543210123",
        subscribed_kva=D("9.0"),
    )
    now = timezone.now()
    this_month = timezone.localdate(now).replace(day=1)
    start = add_months(this_month, -1)
    TariffSubscription.objects.create(
        supply_point=point,
        tariff=Tariff.objects.get(code="BASE"),
        start=add_months(this_month, -14),
        created_at=now,
    )
    with connection.cursor() as cursor:
        # 14 months of hourly data, so that the invoice compares with last year.
        cursor.execute(
            "INSERT INTO metering_interval (supply_point_id, start, wh, quality) "
            "SELECT %s, g, 450 + (extract(hour from g)::int %% 5) * 100, 0 "
            "FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 hour', "
            "interval '1 hour') g",
            [point.pk, add_months(this_month, -14).isoformat(), this_month.isoformat()],
        )
    draft = invoice_compute(supply_point=point, period_start=start, period_end=this_month, now=now)
    invoice = invoice_issue(invoice=draft, now=now)
    invoice_pdf_build(invoice_id=invoice.pk, now=now)  # what the Celery task does on issue
    invoice.refresh_from_db()
    return customer, account, point, invoice


def test_customer_downloads_and_disputes_an_invoice_agent_upholds_it(
    live_server, page_factory, shot, tmp_path
):
    customer, account, point, invoice = _customer_with_issued_invoice()
    agent = UserFactory(
        role=Role.AGENT, first_name="Lucas", last_name="Bernard", email="agent@powernext.example"
    )
    agent_device = add_totp(agent)

    # 1. The customer finds the invoice and downloads its PDF.
    page = page_factory(PHONE)
    log_in(page, live_server.url, customer.email)
    page.get_by_role("link", name="Factures", exact=True).first.click()
    expect(page.get_by_text(invoice.number)).to_be_visible()
    shot(page, "billing-invoices-list-phone")
    page.get_by_role("link", name=invoice.number).first.click()
    expect(page.get_by_text(point.identifier).first).to_be_visible()
    shot(page, "billing-invoice-detail-phone")
    page.set_viewport_size(DESKTOP)
    shot(page, "billing-invoice-detail-desktop")
    page.set_viewport_size(PHONE)
    with page.expect_download() as info:
        page.get_by_role("link", name="Télécharger la facture (PDF)").click()
    path = tmp_path / "facture.pdf"
    info.value.save_as(path)
    assert info.value.suggested_filename == f"{invoice.number}.pdf"
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()
    flat = " ".join(text.split())
    assert invoice.number in flat and point.identifier in flat
    assert f"{invoice.total_gross}".replace(".", ",") in flat

    # 2. They dispute it from the invoice page: the form knows the invoice and the PRM.
    page.get_by_role("link", name="Contester cette facture").click()
    expect(page.get_by_role("heading", name="Contester une facture")).to_be_visible()
    expect(page.get_by_label("Numéro de la facture contestée")).to_have_value(invoice.number)
    page.get_by_label("Numéro de compte").fill(account.number)
    page.get_by_label("Date du problème").fill(invoice.issue_date.isoformat())
    page.get_by_label("Ce qui ne va pas").fill(
        "La consommation facturée est le double de celle de l'an dernier alors que "
        "le logement était vide pendant trois semaines."
    )
    page.get_by_label("Montant contesté en euros (facultatif)").fill("30")
    shot(page, "billing-dispute-form-phone")
    page.get_by_role("button", name="Envoyer la contestation").click()
    expect(page.get_by_text("Déposée").first).to_be_visible()
    shot(page, "billing-dispute-submitted-phone")
    dispute = Dispute.objects.get(invoice=invoice)
    assert dispute.status == "SUBMITTED" and dispute.ticket.queue == "BILLING"

    # 3. An agent acknowledges it, examines it and upholds it with a 30 € credit.
    desk = page_factory(DESKTOP)
    log_in(desk, live_server.url, agent.email, agent_device)
    desk.goto(f"{live_server.url}/console/billing/disputes/")
    desk.get_by_role("link", name=dispute.ticket.reference).click()
    expect(desk.get_by_test_id("dispute-status")).to_have_text("Déposée")
    expect(desk.get_by_test_id("collections-on-hold")).to_be_visible()
    shot(desk, "billing-dispute-console-submitted")
    desk.get_by_role("button", name="Accuser réception (réponse au client)").click()
    expect(desk.get_by_test_id("dispute-status")).to_have_text("Prise en compte")
    desk.get_by_role("button", name="Commencer l'examen").click()
    expect(desk.get_by_test_id("dispute-status")).to_have_text("En cours d'examen")
    upheld = desk.get_by_role("region", name="Contestation fondée : avoir ou remboursement")
    upheld.get_by_label("Montant en euros (TTC)").fill("30")
    shot(desk, "billing-dispute-console-investigating")
    upheld.get_by_role("button", name="Contestation fondée : avoir ou remboursement").click()
    expect(desk.get_by_test_id("dispute-status")).to_have_text("Avoir émis")
    shot(desk, "billing-dispute-console-credited")

    dispute.refresh_from_db()
    assert dispute.status == "CREDITED" and dispute.credit_note is not None
    credit = LedgerEntry.objects.get(account=account, kind="CREDIT")
    assert credit.amount == D("-30.00") and credit.txn_id
    assert list(dispute.events.values_list("to_status", flat=True).order_by("at", "id")) == [
        "SUBMITTED",
        "ACKNOWLEDGED",
        "INVESTIGATING",
        "UPHELD",
        "CREDITED",
    ]

    # 4. The customer sees the outcome on the dispute's page.
    page.reload()
    expect(page.get_by_text("Avoir émis").first).to_be_visible()
    expect(page.get_by_text(dispute.credit_note.number).first).to_be_visible()
    shot(page, "billing-dispute-credited-phone")
    page.get_by_role("link", name="Voir l'avoir").click()
    expect(page.get_by_role("heading", name=f"Avoir {dispute.credit_note.number}")).to_be_visible()
    expect(page.get_by_text(f"Avoir sur la facture {invoice.number}")).to_be_visible()
    expect(page.get_by_text("Annule et remplace")).to_have_count(0)
    shot(page, "billing-credit-note-phone")
    assert timezone.now() - dispute.created_at < timedelta(minutes=5)
