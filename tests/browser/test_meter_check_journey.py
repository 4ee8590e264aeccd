"""Playwright: an agent starts the meter check on a METERING ticket; the head-end does
not answer, so the customer is asked for a read and the next step's clock shows."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role, SupplyPoint
from metering.models import Meter, MeterRegister
from tests.factories import MembershipFactory, PremiseFactory, UserFactory, add_totp
from tickets import services as ticket_services

from .conftest import DESKTOP, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager_tasks():
    from powernext.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_agent_runs_the_meter_check_from_the_workspace(
    live_server, page_factory, shot, settings, eager_tasks
):
    settings.METERING_HEADEND = "metering.headend.FakeHeadEnd"  # no value: the read fails
    now = timezone.now()
    customer = UserFactory(role=Role.CUSTOMER, email="claire@example.fr", phone="+33612345678")
    account = MembershipFactory(user=customer, account__name="Claire Devaux").account
    point = SupplyPoint.objects.create(
        premise=PremiseFactory(account=account),
        market="FR_PRM",
        identifier="12345678901234",
        subscribed_kva=9,
    )
    meter = Meter.objects.create(
        supply_point=point, serial="M-0042", installed_at=now - timedelta(days=400)
    )
    for code in ("HP", "HC"):
        MeterRegister.objects.create(meter=meter, code=code)
    ticket = ticket_services.ticket_create(
        channel="PHONE",
        category="METER_FAULT",
        subject="Compteur muet",
        body="L'écran du compteur ne s'allume plus.",
        account=account,
        requester=customer,
        supply_point=point,
        now=now,
    )
    agent = UserFactory(role=Role.AGENT, email="agent@powernext.example")
    device = add_totp(agent)

    desk = page_factory(DESKTOP)
    log_in(desk, live_server.url, agent.email, device)
    desk.goto(f"{live_server.url}/console/tickets/{ticket.reference}/")
    section = desk.get_by_role("region", name="Contrôle du compteur")
    expect(section).to_be_visible()
    section.get_by_role("button", name="Lancer le télérelevé").click()
    expect(desk.get_by_text("Télérelevé demandé ; le résultat s'affichera ici.")).to_be_visible()
    # The fake head-end has no value: the attempt fails and the next step starts.
    expect(desk.get_by_text("Relevé demandé au client").first).to_be_visible()
    expect(desk.get_by_text("Relevé client 5 jours ouvrés").first).to_be_visible()
    shot(desk, "console-meter-check")

    section.get_by_label("Compte rendu de la visite (facultatif)").fill("Afficheur remplacé.")
    section.get_by_role("button", name="Vérification sur place effectuée").click()
    expect(desk.get_by_text("Vérification sur place enregistrée.")).to_be_visible()
