"""Playwright: one supervisor's round, end to end — the dashboard, a drill into the billing
queue, tomorrow's staffing plan, then last month's report: closing is refused while a
commitment missed by more than 2 % has no root-cause analysis, the analysis is recorded
(cause, actions, owner, due date) and the month closes. Desktop and phone width."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from kpi.domain import metrics
from kpi.services import snapshots
from tests.factories import UserFactory, add_totp
from tickets.models import Contact

from .conftest import PHONE, log_in
from .test_kpi_dashboard_journey import _data, afternoon  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Tomorrow's half-hours from 08:00: a morning ramp, a peak at 10:00, a lunch dip.
TOMORROW = [30, 48, 66, 80, 90, 84, 70, 52, 44, 50]


def _slow_billing_week(agents) -> None:
    """Last month, a week when the billing queue answered after 70-odd seconds: its ASA
    ends far above the 25 s target (more than 2 % off), which calls for an analysis."""
    now = timezone.now()
    last_month = (metrics.local_month(now) - timedelta(days=1)).replace(day=1)
    start = metrics.local_month_bounds(last_month)[0] + timedelta(days=10, hours=9)
    rows = []
    for i in range(30):
        offered = start + timedelta(minutes=11 * i)
        answered = offered + timedelta(seconds=70 + i % 7)
        rows.append(
            Contact(
                channel="PHONE",
                queue="BILLING",
                agent=agents[i % len(agents)],
                offered_at=offered,
                answered_at=answered,
                ended_at=answered + timedelta(seconds=250),
                wrap_up_ended_at=answered + timedelta(seconds=280),
                talk_seconds=250,
                wrap_seconds=30,
                first_contact=True,
                resolved_first_contact=True,
            )
        )
    Contact.objects.bulk_create(rows)
    snapshots.snapshot_month_build(month=last_month, now=now)
    return last_month


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_supervisor_reads_drills_plans_tomorrow_and_closes_last_month_with_an_analysis(
    live_server,
    page_factory,
    shot,
    viewport,
    afternoon,  # noqa: F811
):
    agents = _data()
    last_month = _slow_billing_week(agents)
    supervisor = UserFactory(
        role=Role.SUPERVISOR,
        first_name="Claire",
        last_name="Dubois",
        email=f"ronde-{viewport}@powernext.example",
    )
    device = add_totp(supervisor)
    page = page_factory(PHONE) if viewport == "phone" else page_factory()
    log_in(page, live_server.url, supervisor.email, device)

    # 1. The dashboard: tiles against their targets and the 12-month charts.
    expect(page.get_by_role("heading", name="Tableau de bord", exact=True)).to_be_visible()
    expect(page.get_by_test_id("tile-asa")).to_contain_text("Objectif : < 30 s")
    page.wait_for_function("window.Chart && Object.keys(Chart.instances).length === 3")
    shot(page, f"kpi-round-1-dashboard-{viewport}")

    # 2. Drill into the billing queue: its own ASA target.
    page.get_by_test_id("by-queue").get_by_role("link", name="Facturation").click()
    expect(page.get_by_role("heading", name="File Facturation")).to_be_visible()
    expect(page.get_by_test_id("tile-asa")).to_contain_text("Objectif : < 25 s")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"kpi-round-2-drill-{viewport}")

    # 3. Tomorrow's staffing from the forecast.
    page.get_by_role("link", name="Effectifs").click()
    page.get_by_label("Saisie des volumes par intervalle").check()
    page.get_by_label("Contacts par intervalle").fill("\n".join(str(n) for n in TOMORROW))
    page.get_by_label("Début du premier intervalle").fill("08:00")
    page.get_by_label("Durée d'un intervalle").select_option("30")
    page.get_by_label("Durée moyenne de traitement (s)").fill("300")
    page.get_by_label("Niveau de service visé (%)").fill("80")
    page.get_by_label("Délai de réponse visé (s)").fill("20")
    page.get_by_label("Taux d'indisponibilité (%)").fill("30")
    page.get_by_role("button", name="Calculer les effectifs").click()
    table = page.get_by_test_id("staffing-table")
    expect(table.locator("tbody tr")).to_have_count(len(TOMORROW))
    # 90 contacts × 300 s over 1800 s = 15 Erlangs: 19 agents reach 80 % in 20 s, and
    # ⌈19 ÷ 0.7⌉ = 28 FTE.
    peak = table.locator('tr[data-interval="10:00"]')
    expect(peak.get_by_test_id("agents")).to_have_text("19")
    expect(peak.get_by_test_id("fte")).to_have_text("28")
    expect(page.get_by_test_id("day-fte")).to_contain_text("28")
    shot(page, f"kpi-round-3-staffing-{viewport}")

    # 4. Last month's report: the billing ASA needs an analysis, so closing is refused.
    page.get_by_role("link", name="Rapport mensuel").click()
    expect(page.get_by_role("heading", name="Rapports mensuels")).to_be_visible()
    row = page.get_by_test_id("months").locator(f'tr[data-month="{last_month:%Y-%m}"]')
    expect(row).to_contain_text("manquante")
    row.get_by_role("link", name="Ouvrir").click()
    findings = page.get_by_test_id("findings")
    billing_asa = findings.locator('tr[data-code="asa:BILLING"]')
    expect(billing_asa).to_have_attribute("data-state", "RCA_NEEDED")
    needed = findings.locator('tr[data-state="RCA_NEEDED"]').count()
    assert needed >= 1
    page.get_by_role("button", name="Clôturer le mois").click()
    expect(page.get_by_test_id("refusal")).to_be_visible()
    expect(page.get_by_test_id("status")).not_to_contain_text("Clôturé")
    shot(page, f"kpi-round-4-refused-{viewport}")

    # 5. One analysis per missed commitment: a blank cause is a field error first.
    due = (timezone.localdate() + timedelta(days=21)).isoformat()
    for index in range(needed):
        form = page.get_by_test_id("rca-form").filter(has_not=page.get_by_text("enregistrée"))
        form = form.first
        if index == 0:
            form.get_by_label("Actions").fill("Renfort le lundi matin.")
            form.get_by_role("button", name="Enregistrer l'analyse").click()
            form = page.get_by_test_id("rca-form").filter(has_not=page.get_by_text("enregistrée"))
            form = form.first
            expect(form.get_by_label("Cause")).to_have_attribute("aria-invalid", "true")
            shot(page, f"kpi-round-5-rca-error-{viewport}")
        form.get_by_label("Cause").fill(
            "Deux conseillers facturation absents pendant la semaine des relances."
        )
        form.get_by_label("Actions").fill("Renfort de deux conseillers le lundi matin.")
        form.get_by_label("Responsable").select_option(label="Claire Dubois")
        form.get_by_label("Échéance").fill(due)
        form.get_by_role("button", name="Enregistrer l'analyse").click()
        expect(page.get_by_test_id("rca-form").get_by_text("enregistrée")).to_have_count(index + 1)
    shot(page, f"kpi-round-5-rca-{viewport}")

    # 6. Now the month closes, and the history says who closed it.
    page.get_by_role("button", name="Clôturer le mois").click()
    expect(page.get_by_test_id("status")).to_contain_text("Clôturé")
    expect(page.get_by_test_id("events")).to_contain_text("Claire Dubois")
    expect(page.get_by_test_id("rca").first).to_contain_text("Deux conseillers")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"kpi-round-6-closed-{viewport}")
