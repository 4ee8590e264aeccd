"""Playwright: a signed-in customer asks the chatbot for the balance, then asks for a
person; an agent picks the chat up in the console, sees what the bot already said, and
answers; the reply appears in the customer's open chat. The customer is on a phone, the
agent on a desktop; both run against one live server during live-chat hours."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect

from accounts.models import Role, SupplyPoint
from billing.models import Invoice
from billing.services.ledger import ledger_post
from tests.factories import MembershipFactory, PremiseFactory, UserFactory, add_totp

from .conftest import PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A Tuesday morning in Paris: live chat is open. The clock ticks, so polling works.
OPEN = datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture
def chat_hours():
    with time_machine.travel(OPEN, tick=True):
        yield


def _customer_with_a_bill():
    customer = UserFactory(
        role=Role.CUSTOMER, email="camille.roux@example.fr", first_name="Camille", last_name="Roux"
    )
    account = MembershipFactory(user=customer).account
    premise = PremiseFactory(account=account, postcode="75015")
    point = SupplyPoint.objects.create(
        premise=premise, market="FR_PRM", identifier="41000000000321", subscribed_kva=6
    )
    invoice = Invoice.objects.create(
        supply_point=point,
        kind="INVOICE",
        number="FA-2026-000321",
        status="ISSUED",
        account=account,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 2, 1),
        issue_date=date(2026, 2, 20),
        due_date=date(2026, 3, 20),
        tariff_name="Tarif Base",
        total_gross=Decimal("84.50"),
        created_at=OPEN - timedelta(days=18),
    )
    ledger_post(
        account=account,
        kind="CHARGE",
        amount=Decimal("84.50"),
        description="Facture",
        now=OPEN - timedelta(days=18),
        invoice=invoice,
    )
    return customer


def test_customer_asks_the_balance_then_a_person_and_reads_the_agents_answer(
    live_server, page_factory, shot, chat_hours
):
    customer = _customer_with_a_bill()
    agent = UserFactory(role=Role.AGENT, first_name="Léa", last_name="Girard")
    device = add_totp(agent)

    # The customer, on a phone: the bot gives the balance of the signed-in account.
    phone = page_factory(PHONE)
    log_in(phone, live_server.url, customer.email)
    phone.get_by_test_id("chat-launcher").click()
    panel = phone.get_by_test_id("chat-panel")
    expect(panel).to_be_visible()
    panel.get_by_label("Votre message").fill("Bonjour, quel est mon solde ?")
    panel.get_by_role("button", name="Envoyer").click()
    expect(panel).to_contain_text("84,50")
    shot(phone, "kb-chat-balance-phone")

    # Then a person.
    panel.get_by_test_id("chat-hand-off").click()
    expect(panel).to_contain_text("Un conseiller va vous répondre")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(phone, "kb-chat-waiting-phone")

    # The agent picks it up in the console, with what the bot already did.
    desk = page_factory()
    log_in(desk, live_server.url, agent.email, device)
    desk.goto(f"{live_server.url}/console/chats/")
    expect(desk.get_by_role("heading", name="Chats en direct")).to_be_visible()
    expect(desk.get_by_test_id("waiting-row")).to_have_count(1)
    desk.get_by_role("button", name="Prendre en charge").click()
    expect(desk.get_by_test_id("authenticated")).to_be_visible()
    expect(desk.get_by_test_id("bot-part")).to_contain_text("quel est mon solde")
    expect(desk.get_by_test_id("bot-context")).to_contain_text("BALANCE")
    desk.get_by_label("Votre message").fill(
        "Bonjour Camille, je suis Léa. Je vois votre facture de 84,50 € : que puis-je faire ?"
    )
    desk.get_by_role("button", name="Envoyer").click()
    expect(desk.get_by_test_id("live-part")).to_contain_text("je suis Léa")
    shot(desk, "kb-chat-console-desktop")

    # The reply reaches the customer's open chat through its poll.
    expect(panel).to_contain_text("je suis Léa", timeout=15_000)
    shot(phone, "kb-chat-agent-reply-phone")
