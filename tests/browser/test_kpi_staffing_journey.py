"""Playwright: a supervisor plans tomorrow's staffing with the Erlang C planner — a typo
in the forecast first, then sixteen half-hours from 08:00 — and reads the agents, FTE and
assumptions per interval, on a desktop and at phone width."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from tests.factories import UserFactory, add_totp

from .conftest import PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Tomorrow's half-hours from 08:00 to 16:00: a morning peak, a lunch dip, an afternoon bump.
TOMORROW = [40, 62, 80, 96, 100, 92, 84, 70, 58, 50, 64, 75, 72, 66, 54, 36]


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_supervisor_plans_tomorrows_staffing(live_server, page_factory, shot, viewport):
    supervisor = UserFactory(role=Role.SUPERVISOR, email=f"planif-{viewport}@powernext.example")
    device = add_totp(supervisor)
    page = page_factory(PHONE) if viewport == "phone" else page_factory()
    log_in(page, live_server.url, supervisor.email, device)

    page.get_by_role("link", name="Effectifs").click()
    expect(
        page.get_by_role("heading", name="Planification des effectifs (Erlang C)")
    ).to_be_visible()
    # With the script, only the chosen source's inputs show.
    expect(page.get_by_label("Contacts par intervalle")).to_be_visible()
    expect(page.get_by_label("Journée de référence")).to_be_hidden()
    page.get_by_label("Reprise d'une journée passée").check()
    expect(page.get_by_label("Journée de référence")).to_be_visible()
    expect(page.get_by_label("Contacts par intervalle")).to_be_hidden()
    page.get_by_label("Saisie des volumes par intervalle").check()

    forecast = page.get_by_label("Contacts par intervalle")
    forecast.fill("40\n62\nquatre-vingts")
    page.get_by_role("button", name="Calculer les effectifs").click()
    expect(page.get_by_test_id("staffing-errors")).to_be_visible()
    expect(page.get_by_text("« quatre-vingts » (intervalle 3)")).to_be_visible()
    expect(page.get_by_label("Contacts par intervalle")).to_have_attribute("aria-invalid", "true")
    shot(page, f"kpi-staffing-errors-{viewport}")

    page.get_by_label("Contacts par intervalle").fill("\n".join(str(n) for n in TOMORROW))
    page.get_by_label("Début du premier intervalle").fill("08:00")
    page.get_by_label("Durée d'un intervalle").select_option("30")
    page.get_by_label("Durée moyenne de traitement (s)").fill("330")
    page.get_by_label("Niveau de service visé (%)").fill("90")
    page.get_by_label("Délai de réponse visé (s)").fill("20")
    page.get_by_label("Taux d'indisponibilité (%)").fill("30")
    page.get_by_label("Occupation maximale (%)").fill("85")
    page.get_by_role("button", name="Calculer les effectifs").click()

    expect(page.get_by_test_id("staffing-result")).to_be_visible()
    table = page.get_by_test_id("staffing-table")
    expect(table.locator("tbody tr")).to_have_count(16)
    # The 10:00 half-hour (100 contacts, 18.33 Erlangs) is the peak: 25 agents, 36 FTE.
    peak = table.locator('tr[data-interval="10:00"]')
    expect(peak).to_contain_text("10:00–10:30")
    expect(peak).to_contain_text("pointe")
    expect(peak.get_by_test_id("agents")).to_have_text("25")
    expect(peak.get_by_test_id("fte")).to_have_text("36")
    expect(page.get_by_test_id("day-fte")).to_contain_text("36")
    expect(page.get_by_test_id("assumptions")).to_contain_text("A = contacts × 330 s ÷ 1800 s")
    expect(page.get_by_test_id("assumptions")).to_contain_text(
        "16 intervalles de 30 min, de 08:00 à 16:00."
    )
    expect(table).to_contain_text("occupation ≤ 85 %")
    page.wait_for_function("window.Chart && Object.keys(Chart.instances).length === 1")
    # The table scrolls inside its box; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"kpi-staffing-plan-{viewport}")
