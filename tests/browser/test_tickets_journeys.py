"""Playwright: a billing ticket from the portal, taken and resolved in the console,
then the customer's survey answer."""

import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from accounts import services as account_services
from accounts.models import Role
from tests.factories import (
    MembershipFactory,
    PremiseFactory,
    UserFactory,
    add_totp,
)
from tickets.models import Survey, Ticket

from .conftest import DESKTOP, PHONE, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_billing_ticket_from_portal_to_survey(live_server, page_factory, shot):
    customer = UserFactory(role=Role.CUSTOMER, first_name="Claire", email="claire@example.fr")
    account = MembershipFactory(user=customer, account__name="Claire Devaux").account
    premise = PremiseFactory(
        account=account, address="12 rue Oberkampf", postcode="75011", city="Paris"
    )
    point = account_services.supply_point_add(
        premise=premise,
        market="FR_PRM",
        identifier="12345678901234",
        subscribed_kva="9",
        actor=None,
        channel="SYSTEM",
        now=timezone.now(),
    )
    agent = UserFactory(
        role=Role.AGENT, first_name="Lucas", last_name="Bernard", email="agent@powernext.example"
    )
    device = add_totp(agent)

    # 1. The customer opens a billing ticket from a phone.
    phone = page_factory(PHONE)
    log_in(phone, live_server.url, customer.email)
    phone.get_by_role("link", name="Mes demandes").click()
    phone.get_by_role("link", name="Nouvelle demande").click()
    phone.get_by_label("Votre demande concerne").select_option("BILL_QUERY")
    phone.get_by_label("Objet").fill("Facture de mars trop élevée")
    phone.get_by_role("button", name="Envoyer la demande").click()
    expect(
        phone.locator(".errorlist").first
    ).to_be_visible()  # the billing identifiers are required
    shot(phone, "ticket-create-errors-phone")
    phone.get_by_label("Point de livraison").select_option(str(point.pk))
    phone.get_by_label("Numéro de la dernière facture").fill("FA-2026-000412")
    phone.get_by_label("Date du problème").fill("2026-03-15")
    phone.get_by_label("Votre message").fill("Le montant de mars est le double de février.")
    phone.get_by_role("button", name="Envoyer la demande").click()
    expect(phone.get_by_test_id("ticket-reference")).to_have_text(re.compile(r"PN-\d{4}-\d{6}"))
    reference = phone.get_by_test_id("ticket-reference").inner_text()
    expect(phone.get_by_text("au plus tard le").first).to_be_visible()
    shot(phone, "ticket-created-phone")

    # 2. The agent takes it with "take next", replies and resolves.
    desk = page_factory(DESKTOP)
    log_in(desk, live_server.url, agent.email, device)
    desk.goto(f"{live_server.url}/console/queues/")
    expect(desk.get_by_role("link", name=reference)).to_be_visible()
    shot(desk, "console-queues")
    desk.get_by_test_id("take-next").click()
    expect(desk.get_by_role("heading", name="Facture de mars trop élevée")).to_be_visible()
    expect(desk.get_by_test_id("time-left").first).to_be_visible()
    desk.get_by_label("Message").fill(
        "Bonjour, votre index de mars était estimé ; nous avons corrigé la facture."
    )
    desk.get_by_label("Puis passer la demande en").select_option("RESOLVED")
    desk.get_by_role("button", name="Envoyer", exact=True).click()
    expect(desk.get_by_test_id("ticket-status")).to_have_text("Résolue")
    shot(desk, "console-workspace-resolved")
    ticket = Ticket.objects.get(reference=reference)
    assert ticket.assignee == agent and ticket.status == "RESOLVED"

    # 3. The customer follows the survey link from the email.
    survey_mail = next(m for m in mail.outbox if "avis" in m.subject.lower())
    link = re.search(r"/survey/[^/\s]+/", survey_mail.body).group(0)
    phone.goto(live_server.url + link)
    phone.get_by_text("4", exact=True).first.click()
    phone.locator("fieldset").nth(1).get_by_text("9", exact=True).click()
    phone.get_by_label("Un commentaire ?").fill("Réponse rapide, merci.")
    shot(phone, "survey-phone")
    phone.get_by_role("button", name="Envoyer").click()
    expect(phone.get_by_role("heading", name="Merci pour votre réponse !")).to_be_visible()
    survey = Survey.objects.get(ticket=ticket)
    assert (survey.csat, survey.nps) == (4, 9)
