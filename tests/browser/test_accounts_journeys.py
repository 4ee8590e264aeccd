"""Playwright: a customer changes the email behind step-up 2FA; an agent finds them by PRM."""

import time

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from accounts import services
from accounts.models import AuditEntry, Parameter, Role, User
from tests.factories import (
    MembershipFactory,
    PremiseFactory,
    UserFactory,
    add_totp,
    totp_now,
)

from .conftest import DESKTOP, PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_customer_changes_email_with_step_up(live_server, page_factory, shot):
    customer = UserFactory(role=Role.CUSTOMER, first_name="Claire", email="claire@example.fr")
    MembershipFactory(user=customer, account__name="Claire Devaux")
    device = add_totp(customer)
    # A one-second window so that the change needs a fresh code in this test.
    Parameter.objects.create(key="step_up_max_age_seconds", value=1)
    cache.clear()
    page = page_factory(PHONE)
    log_in(page, live_server.url, customer.email, device)
    expect(page.get_by_role("heading", name="Bonjour Claire")).to_be_visible()
    page.get_by_role("link", name="Coordonnées", exact=True).first.click()
    expect(page.get_by_test_id("current-email")).to_contain_text("claire@example.fr")
    shot(page, "portal-profile-phone")
    time.sleep(2.5)
    page.get_by_test_id("current-email").get_by_role("link", name="Modifier").click()
    expect(page.get_by_role("heading", name="Confirmez votre identité")).to_be_visible()
    shot(page, "portal-step-up-phone")
    time.sleep(30 - time.time() % 30 + 1)  # a fresh TOTP step: codes are single-use
    page.get_by_label("Code à usage unique").fill(totp_now(device))
    page.get_by_role("button", name="Confirmer").click()
    expect(page.get_by_role("heading", name="Changer d'adresse e-mail")).to_be_visible()
    Parameter.objects.filter(key="step_up_max_age_seconds").update(value=600)
    cache.clear()
    page.get_by_label("Nouvelle adresse e-mail").fill("claire.devaux@example.fr")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Votre adresse e-mail est modifiée.")).to_be_visible()
    expect(page.get_by_test_id("current-email")).to_contain_text("claire.devaux@example.fr")
    shot(page, "portal-email-changed-phone")
    assert User.objects.get(pk=customer.pk).email == "claire.devaux@example.fr"
    entry = AuditEntry.objects.get(field="email")
    assert (entry.old_value, entry.new_value, entry.channel) == (
        "claire@example.fr",
        "claire.devaux@example.fr",
        "PORTAL",
    )


def test_agent_finds_customer_by_prm(live_server, page_factory, shot):
    customer = UserFactory(role=Role.CUSTOMER, email="marcel.pagnol@example.fr", last_name="Pagnol")
    account = MembershipFactory(user=customer, account__name="Marcel Pagnol").account
    premise = PremiseFactory(
        account=account, address="6 boulevard Longchamp", postcode="13001", city="Marseille"
    )
    services.supply_point_add(
        premise=premise,
        market="FR_PRM",
        identifier="25896314702587",
        subscribed_kva="9",
        actor=None,
        channel="SYSTEM",
        now=timezone.now(),
    )
    for i in range(5):
        MembershipFactory(account__name=f"Autre client {i}")
    agent = UserFactory(role=Role.AGENT, email="agent@powernext.example", first_name="Lucas")
    device = add_totp(agent)
    page = page_factory(DESKTOP)
    log_in(page, live_server.url, agent.email, device)
    expect(page.get_by_role("heading", name="Rechercher un client")).to_be_visible()
    page.get_by_label("Rechercher un client").fill("2589 6314 7025 87")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="1 résultat")).to_be_visible()
    shot(page, "console-search-prm")
    page.get_by_role("link", name=account.number).click()
    expect(page.get_by_role("heading", name="Marcel Pagnol")).to_be_visible()
    expect(page.get_by_text("25896314702587", exact=True)).to_be_visible()
    shot(page, "console-customer-360")
