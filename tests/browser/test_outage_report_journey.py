"""Playwright: an anonymous visitor on a phone opens the outage page, reports an outage
through the safety triage (a hazard shows the emergency number at once; no hazard
shows the breaker guidance first), gets a reference, then finds the incident on the
status page by postcode."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.company import EMERGENCY_PHONE
from outages.models import OutageReport

from .conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_anonymous_visitor_reports_an_outage_with_triage_and_finds_it(
    live_server, page_factory, shot
):
    page = page_factory(PHONE)

    # The status page, before anything is reported: the emergency number is there.
    page.goto(f"{live_server.url}/outages/")
    expect(page.get_by_role("heading", name="Pannes et travaux en cours")).to_be_visible()
    expect(page.get_by_test_id("no-incident")).to_be_visible()
    expect(page.get_by_test_id("safety-emergency")).to_have_text(EMERGENCY_PHONE)
    shot(page, "outages-status-empty-phone")

    # Triage with a hazard: the number shows as soon as the box is ticked, then in full.
    page.get_by_test_id("report-outage").click()
    expect(page.get_by_text("Étape 1 sur 2")).to_be_visible()
    expect(page.get_by_test_id("hazard-now")).to_be_hidden()
    page.get_by_label("Des étincelles").check()
    expect(page.get_by_test_id("hazard-now")).to_be_visible()
    expect(page.get_by_test_id("hazard-now")).to_contain_text(EMERGENCY_PHONE)
    shot(page, "outages-triage-sparks-phone")
    page.get_by_role("button", name="Continuer").click()
    call = page.get_by_test_id("hazard-call")
    expect(call).to_be_visible()
    expect(call.get_by_role("heading")).to_have_text(f"Appelez le {EMERGENCY_PHONE} maintenant")
    expect(call.get_by_role("link", name=f"Appeler le {EMERGENCY_PHONE}")).to_have_attribute(
        "href", "tel:" + EMERGENCY_PHONE.replace(" ", "")
    )
    expect(page.get_by_test_id("breaker-guide")).to_have_count(0)
    shot(page, "outages-report-hazard-phone")

    # Without a hazard: the breaker guidance comes before the form.
    page.goto(f"{live_server.url}/outages/report/")
    page.get_by_role("button", name="Continuer").click()
    guide = page.get_by_test_id("breaker-guide")
    expect(guide).to_be_visible()
    expect(guide).to_contain_text("disjoncteur")
    expect(page.get_by_test_id("hazard-call")).to_have_count(0)
    shot(page, "outages-report-breakers-phone")
    page.get_by_label("Code postal").fill("75015")
    page.get_by_label("Adresse (numéro et rue)").fill("12 rue de la Convention")
    page.get_by_label("Téléphone pour vous tenir informé").fill("06 12 34 56 78")
    page.get_by_label("J'ai vérifié mon disjoncteur et mes fusibles").check()
    page.get_by_role("button", name="Signaler la coupure").click()

    reference = page.get_by_test_id("report-reference")
    expect(reference).to_have_text(re.compile(rf"^SIG-{timezone.now().year}-\d{{5}}$"))
    report = OutageReport.objects.select_related("incident").get()
    assert reference.inner_text() == report.reference
    assert not report.safety_critical and report.breakers_checked
    expect(page.get_by_text("Signalée, en cours d'analyse")).to_be_visible()
    shot(page, "outages-report-done-phone")

    # The status page, searched by postcode, shows the incident the report opened.
    page.goto(f"{live_server.url}/outages/")
    page.get_by_label("Code postal").fill("75015")
    page.get_by_role("button", name="Rechercher").click()
    card = page.locator(f'[data-reference="{report.incident.reference}"]')
    expect(card).to_be_visible()
    expect(card).to_contain_text("Signalée, en cours d'analyse")
    expect(card).to_contain_text("Rétablissement estimé")
    expect(card).to_contain_text("Dernière mise à jour")
    expect(page.locator('[data-area="PARIS-15"]')).to_have_attribute("data-status", "SUSPECTED")
    expect(page.get_by_test_id("safety-emergency")).to_have_text(EMERGENCY_PHONE)
    shot(page, "outages-status-phone")
    page.set_viewport_size(DESKTOP)
    shot(page, "outages-status-desktop")

    # The incident's page, then subscribing to its postcode, then tracking the report.
    card.get_by_role("link").click()
    expect(page.get_by_test_id("incident-status")).to_have_text("Signalée, en cours d'analyse")
    expect(page.get_by_test_id("safety-emergency")).to_have_text(EMERGENCY_PHONE)
    shot(page, "outages-incident-desktop")
    page.get_by_role("link", name="Être alerté par SMS ou e-mail").click()
    expect(page.get_by_label("Code postal")).to_have_value("75015")
    page.get_by_label("SMS").check()
    page.get_by_label("Numéro de mobile ou adresse e-mail").fill("06 12 34 56 78")
    page.get_by_role("button", name="M'abonner").click()
    expect(page.get_by_test_id("unsubscribe-link")).to_be_visible()
    shot(page, "outages-subscribed-desktop")
    page.set_viewport_size(PHONE)
    page.get_by_role("link", name="Suivre un signalement").click()
    page.get_by_label("Référence du signalement").fill(report.reference)
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_test_id("report-status")).to_contain_text(report.incident.reference)
    expect(page.get_by_test_id("report-status")).not_to_contain_text("Convention")
    shot(page, "outages-track-phone")
