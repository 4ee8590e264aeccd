"""Playwright: a supervisor reads the reliability indices and their trend charts, then
completes a post-incident review, on a desktop and at phone width."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from outages.models import Incident, IncidentEvent, Interruption, PostIncidentReview, ServiceArea
from tests import outage_kit as kit
from tests.factories import UserFactory, add_totp

from .conftest import PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _data():
    area = ServiceArea.objects.get(code="RIGNAC")
    points = [kit.customer(postcode="12390")[3] for _ in range(10)]
    now = timezone.now()
    incidents = []
    for months_ago, minutes in [(0, 90), (1, 45), (3, 200), (6, 30)]:
        started = now - timedelta(days=30 * months_ago, hours=2)
        incident = Incident.objects.create(
            reference=f"INC-2026-9{months_ago:04d}",
            title="Câble arraché",
            klass="P1",
            proposed_klass="P1",
            status="RESTORED",
            area_class="RURAL",
            customers_affected=4,
            started_at=started,
            ended_at=started + timedelta(minutes=minutes),
            created_at=started,
            updated_at=started,
        )
        for point in points[:4]:
            Interruption.objects.create(
                incident=incident,
                supply_point=point,
                account_id=point.premise.account_id,
                area=area,
                started_at=started,
                ended_at=started + timedelta(minutes=minutes),
            )
        incidents.append(incident)
    late = incidents[2]
    IncidentEvent.objects.create(
        incident=late,
        kind="STATUS",
        at=late.started_at,
        from_value="SUSPECTED",
        to_value="CONFIRMED",
    )
    return PostIncidentReview.objects.create(
        incident=late,
        reason="Objectif de rétablissement de 6 h dépassé",
        opened_at=late.ended_at,
        due_at=late.ended_at + timedelta(days=7),
    )


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_supervisor_reads_reliability_and_completes_a_review(
    live_server, page_factory, shot, viewport
):
    review = _data()
    supervisor = UserFactory(role=Role.SUPERVISOR, email=f"chef-{viewport}@powernext.example")
    device = add_totp(supervisor)
    page = page_factory(PHONE) if viewport == "phone" else page_factory()
    log_in(page, live_server.url, supervisor.email, device)

    page.get_by_role("link", name="Pannes").click()
    expect(page.get_by_role("heading", name="Fiabilité du réseau")).to_be_visible()
    page.wait_for_function("window.Chart && Object.keys(Chart.instances).length === 2")
    row = page.locator('tr[data-area="RIGNAC"]')
    expect(row).to_contain_text("10")
    expect(page.get_by_test_id("trend")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"outages-supervisor-reliability-{viewport}")

    page.get_by_label("Zone", exact=True).select_option("RIGNAC")
    page.get_by_role("button", name="Afficher").last.click()
    expect(page.get_by_role("heading", name="Évolution sur 12 mois — Rignac")).to_be_visible()

    page.get_by_role("link", name="Revues post-incident").click()
    page.get_by_role("link", name=f"Rédiger {review.incident.reference}").click()
    expect(page.get_by_label("Chronologie")).to_contain_text("SUSPECTED → CONFIRMED")
    page.get_by_label("Cause et raison du dépassement").fill("Câble")
    page.get_by_role("button", name="Terminer la revue").click()
    expect(page.get_by_text("Détaillez (au moins quelques mots).").first).to_be_visible()
    shot(page, f"outages-supervisor-review-errors-{viewport}")
    page.get_by_label("Cause et raison du dépassement").fill(
        "Câble arraché par un engin agricole, accès difficile au poste."
    )
    page.get_by_label("Actions décidées (qui, quoi, pour quand)").fill(
        "Balisage du câble avant la moisson ; astreinte rurale renforcée."
    )
    page.get_by_role("button", name="Terminer la revue").click()
    expect(
        page.get_by_text(f"Revue de l'incident {review.incident.reference} terminée.")
    ).to_be_visible()
    review.refresh_from_db()
    assert review.status == "DONE"
    shot(page, f"outages-supervisor-reviews-{viewport}")
