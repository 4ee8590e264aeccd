"""Playwright: the text scan has flagged a chat — an angry customer and an agent's
forbidden phrase. A supervisor opens the flags, dismisses one, and starts a QA review of
the contact from the other. Desktop and phone width."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from kpi.services import text
from tests.factories import UserFactory, add_totp
from tickets import services as tickets
from tickets.models import Contact

from .conftest import PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _flagged_chat():
    agent = UserFactory(role=Role.AGENT, first_name="Léo", last_name="Bernard")
    start = timezone.now() - timedelta(hours=2)
    ticket = tickets.ticket_create(
        channel="CHAT",
        category="BILL_QUERY",
        subject="Facture trop élevée",
        body="Bonjour, j'ai une question sur ma facture.",
        now=start,
        requester_contact="client@example.fr",
    )
    Contact.objects.create(
        ticket=ticket,
        channel="CHAT",
        queue="BILLING",
        agent=agent,
        offered_at=start,
        answered_at=start + timedelta(seconds=20),
        ended_at=start + timedelta(minutes=9),
        talk_seconds=520,
    )
    tickets.ticket_reply(
        ticket=ticket,
        author=None,
        from_customer=True,
        body="C'est inadmissible, troisième facture fausse d'affilée, j'en ai vraiment marre !",
        now=start + timedelta(minutes=2),
    )
    tickets.ticket_reply(
        ticket=ticket,
        author=agent,
        body="Calmez-vous, ce n'est pas mon problème, voyez avec la comptabilité.",
        now=start + timedelta(minutes=3),
    )
    report = text.text_scan(now=timezone.now())
    return ticket, report


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_supervisor_dismisses_one_flag_and_reviews_the_flagged_contact(
    live_server, page_factory, shot, viewport
):
    ticket, report = _flagged_chat()
    assert (report.negative, report.forbidden) == (1, 1)
    supervisor = UserFactory(role=Role.SUPERVISOR, email=f"qualite-{viewport}@powernext.example")
    device = add_totp(supervisor)
    page = page_factory(PHONE) if viewport == "phone" else page_factory()
    log_in(page, live_server.url, supervisor.email, device)

    page.get_by_role("link", name="Qualité", exact=True).click()
    page.get_by_role("link", name="Signalements").click()
    expect(page.get_by_role("heading", name="Signalements à relire")).to_be_visible()
    flags = page.get_by_test_id("flags")
    expect(flags.locator("tbody tr")).to_have_count(2)
    expect(flags).to_contain_text("Client mécontent")
    expect(flags).to_contain_text("Formulation à proscrire")
    expect(flags).to_contain_text(ticket.reference)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"kpi-flags-{viewport}")

    unhappy = flags.locator("tbody tr", has_text="Client mécontent")
    unhappy.get_by_role("button", name="Écarter").click()
    expect(page.get_by_test_id("flags").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("flag-total")).to_contain_text("1 signalement ouvert")

    page.get_by_test_id("flags").get_by_role("link", name="Évaluer le contact").click()
    expect(page.get_by_role("heading", name="Évaluer le contact n°")).to_be_visible()
    shot(page, f"kpi-flags-review-{viewport}")
