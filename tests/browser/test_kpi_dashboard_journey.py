"""Playwright: a supervisor opens the KPI dashboard (tiles against their targets, the
12-month trend charts), drills into the billing queue, then watches the live wallboard
pick up a new caller through its htmx poll — on a desktop and at phone width."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from kpi.domain import metrics
from kpi.services import snapshots
from tests.factories import UserFactory, add_totp
from tickets import services as tickets
from tickets.models import Contact, Survey

from .conftest import PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _calls(day_start, agents, *, n: int, wait: int, talk: int, queue_cycle=("BILLING", "GENERAL")):
    rows = []
    for i in range(n):
        offered = day_start + timedelta(hours=9, minutes=7 * i)
        answered = offered + timedelta(seconds=wait + (i % 5) * 3)
        rows.append(
            Contact(
                channel="PHONE" if i % 4 else "CHAT",
                queue=queue_cycle[i % len(queue_cycle)],
                agent=agents[i % len(agents)],
                offered_at=offered,
                answered_at=answered,
                ended_at=answered + timedelta(seconds=talk),
                wrap_up_ended_at=answered + timedelta(seconds=talk + 30),
                talk_seconds=talk,
                wrap_seconds=30,
                first_contact=True,
                resolved_first_contact=i % 6 != 0,
            )
        )
    rows.append(
        Contact(
            channel="PHONE",
            queue="BILLING",
            offered_at=day_start + timedelta(hours=11),
            abandoned=True,
            ended_at=day_start + timedelta(hours=11, seconds=50),
        )
    )
    Contact.objects.bulk_create(rows)


def _data():
    now = timezone.now()
    agents = [
        UserFactory(role=Role.AGENT, first_name="Alice", last_name="Martin"),
        UserFactory(role=Role.AGENT, first_name="Bruno", last_name="Petit"),
    ]
    this_month = metrics.local_month(now)
    month = this_month
    for back in range(1, 12):
        month = (month - timedelta(days=1)).replace(day=1)
        start = metrics.local_month_bounds(month)[0]
        _calls(
            start + timedelta(days=3), agents, n=12 + back, wait=12 + back * 2, talk=240 + back * 9
        )
        ticket = tickets.ticket_create(
            channel="EMAIL",
            category="BILL_QUERY",
            subject="Facture",
            body="Bonjour",
            now=start + timedelta(days=4),
            requester_contact="client@example.fr",
        )
        tickets.ticket_transition(
            ticket=ticket, target="RESOLVED", actor=agents[0], now=start + timedelta(days=5)
        )
        Survey.objects.filter(ticket=ticket).update(
            csat=5 if back % 3 else 3,
            nps=9 if back % 2 else 6,
            answered_at=start + timedelta(days=6),
        )
        snapshots.snapshot_month_build(month=month, now=now)
    today_start = metrics.local_day_bounds(metrics.local_day(now))[0]
    _calls(today_start, agents, n=6, wait=14, talk=280)
    return agents


@pytest.fixture
def afternoon():
    """Today at 15:00 in Paris, ticking: the morning's calls are over whenever it runs."""
    today = timezone.localdate()
    with time_machine.travel(
        datetime.combine(today, time(15), ZoneInfo("Europe/Paris")), tick=True
    ):
        yield


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_supervisor_reads_the_dashboard_drills_into_a_queue_and_watches_the_wallboard(
    live_server, page_factory, shot, viewport, afternoon
):
    _data()
    supervisor = UserFactory(role=Role.SUPERVISOR, email=f"pilote-{viewport}@powernext.example")
    device = add_totp(supervisor)
    page = page_factory(PHONE) if viewport == "phone" else page_factory()
    log_in(page, live_server.url, supervisor.email, device)

    # The supervisor lands on the dashboard: today's tiles, live, with their verdicts.
    expect(page.get_by_role("heading", name="Tableau de bord", exact=True)).to_be_visible()
    asa = page.get_by_test_id("tile-asa")
    expect(asa).to_contain_text("Vitesse moyenne de réponse (ASA)")
    expect(asa).to_contain_text("Objectif : < 30 s")
    expect(asa.locator(".rag-badge")).to_have_text("✓ Objectif atteint")
    expect(page.get_by_test_id("tile-abandonment")).to_contain_text("Hors objectif")
    expect(page.get_by_test_id("tile-csat")).to_contain_text("Pas de données")
    expect(page.get_by_test_id("period-status")).to_contain_text("Aujourd'hui, en direct")
    page.wait_for_function("window.Chart && Object.keys(Chart.instances).length === 3")
    trend = page.get_by_test_id("trend")
    expect(trend.locator("tbody tr")).to_have_count(12)
    expect(trend.locator("tbody tr").last).to_contain_text("en cours")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"kpi-dashboard-today-{viewport}")

    # A past month from its snapshot.
    last_month = (metrics.local_month(timezone.now()) - timedelta(days=1)).replace(day=1)
    page.get_by_label("Un mois", exact=True).fill(f"{last_month:%Y-%m}")
    page.get_by_role("button", name="Voir ce mois").click()
    expect(page.get_by_test_id("period-status")).to_contain_text("instantané mis à jour le")
    expect(page.get_by_test_id("tile-csat")).not_to_contain_text("Pas de données")
    page.wait_for_function("window.Chart && Object.keys(Chart.instances).length === 3")
    shot(page, f"kpi-dashboard-month-{viewport}")

    # Drill into the billing queue: the same tiles for that queue, its own ASA target.
    page.get_by_test_id("by-queue").get_by_role("link", name="Facturation").click()
    expect(page.get_by_role("heading", name="File Facturation")).to_be_visible()
    expect(page.get_by_test_id("tile-asa")).to_contain_text("Objectif : < 25 s")
    expect(page.get_by_test_id("tile-mttr")).to_have_count(0)
    expect(page.get_by_role("heading", name="Évolution sur 12 mois — Facturation")).to_be_visible()
    page.wait_for_function("window.Chart && Object.keys(Chart.instances).length === 3")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"kpi-dashboard-drill-{viewport}")

    # The wallboard refreshes itself: a caller joins the queue, the board shows it.
    page.goto(f"{live_server.url}/supervisor/wallboard/?poll=1")
    expect(page.get_by_role("heading", name="Mur d'activité en direct")).to_be_visible()
    waiting = page.get_by_test_id("waiting")
    expect(waiting).to_have_text("0")
    expect(page.get_by_test_id("agents-available")).to_have_text("2")
    Contact.objects.create(
        channel="PHONE", queue="BILLING", offered_at=timezone.now() - timedelta(seconds=75)
    )
    expect(waiting).to_have_text("1", timeout=10_000)
    expect(page.get_by_test_id("queues")).to_contain_text("Facturation")
    expect(page.get_by_test_id("longest-wait")).to_contain_text("min")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"kpi-wallboard-{viewport}")
    page.get_by_role("link", name="Arrêter l'actualisation automatique").click()
    expect(page.get_by_role("link", name="Reprendre l'actualisation automatique")).to_be_visible()
