"""Playwright: a supervisor reads last month's agent results — the league table of the
best performers, the agents to coach with the figures below target — opens one agent's
scorecard and 12-month trend chart, then goes to that agent's coaching page. Desktop and
phone width."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from kpi import selectors
from kpi.domain import metrics
from kpi.models import QaReview
from kpi.services import snapshots
from tests.factories import UserFactory, add_totp
from tickets.models import Contact, Survey, Ticket

from .conftest import PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _month_of(agent, start, *, n: int, talk: int, resolved: int, csat: int, qa: str, reviewer):
    """`n` handled first calls (the first `resolved` of them resolved), one survey on a
    ticket of the agent, one QA review."""
    Contact.objects.bulk_create(
        Contact(
            channel="PHONE",
            queue="BILLING",
            agent=agent,
            offered_at=start + timedelta(minutes=6 * i),
            answered_at=start + timedelta(minutes=6 * i, seconds=12),
            ended_at=start + timedelta(minutes=6 * i, seconds=12 + talk),
            talk_seconds=talk,
            first_contact=True,
            resolved_first_contact=i < resolved,
        )
        for i in range(n)
    )
    answered = start + timedelta(days=2)
    ticket = Ticket.objects.create(
        reference=f"PN-2026-{900000 + agent.pk:06d}",
        channel="PHONE",
        queue="BILLING",
        category="BILL_QUERY",
        subject="Question sur ma facture",
        created_at=answered - timedelta(days=1),
        last_activity_at=answered,
        resolved_at=answered - timedelta(hours=1),
        status="RESOLVED",
        assignee=agent,
    )
    Survey.objects.create(ticket=ticket, created_at=answered, csat=csat, answered_at=answered)
    reviewed = Contact.objects.create(
        channel="EMAIL",
        queue="BILLING",
        agent=agent,
        inbound=False,
        offered_at=answered,
        answered_at=answered,
    )
    QaReview.objects.create(
        contact=reviewed,
        checklist=selectors.qa_checklist_active(),
        reviewer=reviewer,
        agent=agent,
        score=Decimal(qa),
        created_at=answered,
    )


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_supervisor_reads_the_league_and_opens_an_agents_scorecard(
    live_server, page_factory, shot, viewport
):
    now = timezone.now()
    last_month = (metrics.local_month(now) - timedelta(days=1)).replace(day=1)
    start = metrics.local_month_bounds(last_month)[0] + timedelta(days=8, hours=8)
    supervisor = UserFactory(role=Role.SUPERVISOR, email=f"equipe-{viewport}@powernext.example")
    star = UserFactory(role=Role.AGENT, first_name="Inès", last_name="Moreau")
    steady = UserFactory(role=Role.AGENT, first_name="Hugo", last_name="Lefèvre")
    slow = UserFactory(role=Role.AGENT, first_name="Paul", last_name="Garnier")
    _month_of(star, start, n=24, talk=290, resolved=23, csat=5, qa="96", reviewer=supervisor)
    _month_of(steady, start, n=22, talk=320, resolved=18, csat=4, qa="84", reviewer=supervisor)
    # 8-minute calls (AHT red) and 15 of 22 first calls resolved (FCR 68 %, red).
    _month_of(slow, start, n=22, talk=480, resolved=15, csat=4, qa="82", reviewer=supervisor)
    snapshots.snapshot_month_build(month=last_month, now=now)

    device = add_totp(supervisor)
    page = page_factory(PHONE) if viewport == "phone" else page_factory()
    log_in(page, live_server.url, supervisor.email, device)
    page.get_by_role("link", name="Conseillers").click()
    expect(page.get_by_role("heading", name="Résultats des conseillers")).to_be_visible()
    page.get_by_label("Mois", exact=True).fill(f"{last_month:%Y-%m}")
    page.get_by_role("button", name="Afficher").click()

    league = page.get_by_test_id("league")
    expect(league.locator("tbody tr")).to_have_count(3)
    expect(league.locator("tbody tr").first).to_contain_text("Inès Moreau")
    training = page.get_by_test_id("training")
    expect(training.locator("tbody tr")).to_have_count(1)
    row = training.locator(f'tr[data-agent="{slow.pk}"]')
    expect(row.locator('[data-reason="aht"]')).to_contain_text("8 min")
    expect(row.locator('[data-reason="fcr"]')).to_contain_text("68,2 %")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"kpi-people-month-{viewport}")

    page.get_by_test_id("league").get_by_role("link", name="Inès Moreau").click()
    expect(page.get_by_role("heading", name="Fiche de Inès Moreau")).to_be_visible()
    expect(page.get_by_test_id("tile-handled")).to_contain_text("24")
    page.wait_for_function("window.Chart && Object.keys(Chart.instances).length >= 1")
    expect(page.get_by_test_id("trend").locator("tbody tr")).to_have_count(12)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"kpi-people-agent-{viewport}")

    page.go_back()
    page.get_by_test_id("training").get_by_role("link", name="Coaching et formation").click()
    expect(page.get_by_role("heading", name="Paul Garnier")).to_be_visible()
