"""Playwright journeys in Debian chromium against a live server."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from tests.factories import (
    MembershipFactory,
    PremiseFactory,
    UserFactory,
    add_totp,
    totp_now,
)

from .conftest import DESKTOP, PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("viewport", "suffix"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_public_home(live_server, page_factory, shot, viewport, suffix):
    page = page_factory(viewport)
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Votre électricité, simplement.")).to_be_visible()
    expect(page.get_by_role("link", name="Signaler une panne", exact=True)).to_be_visible()
    expect(page.locator(".emergency")).to_contain_text("+33 1 98 76 54 32")
    # The vendored htmx loaded from our own origin.
    assert page.evaluate("typeof window.htmx") == "object"
    # Keyboard users get the skip link first.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    # No horizontal scrolling at phone width.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"home-{suffix}")


@pytest.mark.parametrize(("viewport", "suffix"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_customer_logs_in_to_portal(live_server, page_factory, shot, viewport, suffix):
    customer = UserFactory(
        role=Role.CUSTOMER, first_name="Claire", email=f"claire-{suffix}@example.fr"
    )
    account = MembershipFactory(user=customer, account__name="Claire Devaux").account
    PremiseFactory(account=account, address="12 rue Oberkampf", postcode="75011", city="Paris")
    page = page_factory(viewport)
    log_in(page, live_server.url, customer.email)
    expect(page).to_have_url(f"{live_server.url}/portal/")
    expect(page.get_by_role("heading", name="Bonjour Claire")).to_be_visible()
    expect(page.get_by_test_id("account-number").first).to_have_text(account.number)
    expect(page.get_by_text("12 rue Oberkampf, 75011 Paris")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"portal-customer-{suffix}")

    page.goto(f"{live_server.url}/console/")
    expect(page.get_by_role("heading", name="Accès refusé")).to_be_visible()


def test_agent_logs_in_with_totp_to_console(live_server, page_factory, shot):
    agent = UserFactory(
        role=Role.AGENT, first_name="Lucas", last_name="Bernard", email="lucas@powernext.example"
    )
    device = add_totp(agent)
    MembershipFactory(account__name="Boulangerie Rousseau SARL")
    page = page_factory(DESKTOP)
    log_in(page, live_server.url, agent.email)
    expect(page.get_by_role("heading", name="Vérification en deux étapes")).to_be_visible()
    shot(page, "agent-otp-verify")
    page.get_by_label("Code à usage unique").fill(totp_now(device))
    page.get_by_role("button", name="Vérifier").click()
    expect(page).to_have_url(f"{live_server.url}/console/")
    expect(page.get_by_role("heading", name="Derniers comptes clients")).to_be_visible()
    expect(page.get_by_role("cell", name="Boulangerie Rousseau SARL")).to_be_visible()
    shot(page, "console-agent-desktop")

    page.goto(f"{live_server.url}/supervisor/")
    expect(page.get_by_role("heading", name="Accès refusé")).to_be_visible()


def test_new_agent_enrols_totp(live_server, page_factory, shot):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    agent = UserFactory(role=Role.AGENT, email="new.agent@powernext.example")
    page = page_factory(PHONE)
    log_in(page, live_server.url, agent.email)
    expect(
        page.get_by_role("heading", name="Activer la vérification en deux étapes")
    ).to_be_visible()
    expect(page.locator(".qr svg")).to_be_visible()
    shot(page, "agent-enrol-phone")
    pending = TOTPDevice.objects.get(user=agent, confirmed=False)
    page.get_by_label("Code à usage unique").fill(totp_now(pending))
    page.get_by_role("button", name="Activer").click()
    expect(page.get_by_test_id("backup-codes").locator("li")).to_have_count(10)
    shot(page, "agent-backup-codes-phone")
    page.get_by_role("link", name="J'ai noté mes codes, continuer").click()
    expect(page).to_have_url(f"{live_server.url}/console/")


def test_language_switch_in_browser(live_server, page_factory):
    page = page_factory(DESKTOP)
    page.goto(live_server.url + "/")
    page.get_by_label("Langue").select_option("en")
    expect(page.get_by_role("link", name="Report an outage", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
