"""Playwright: a supervisor finds a contact by its ticket reference, reads the exchange,
scores it on the QA checklist (a first try with criteria left blank, then complete), and
adds a coaching note linked to that review, on a desktop and at phone width."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from kpi.models import CoachingNote, QaReview
from tests.factories import UserFactory, add_totp
from tickets.models import Contact, Message, Ticket

from .conftest import PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Items 2 and 8 do not apply, 4 and 7 are missed: 6 of 10 weighted points → 60 %.
ANSWERS = ["Conforme", "Sans objet", "Conforme", "Non conforme", "Conforme", "Conforme"]
ANSWERS += ["Non conforme", "Sans objet"]


def _contact(agent, reference: str) -> Contact:
    now = timezone.now()
    ticket = Ticket.objects.create(
        reference=reference,
        channel="PHONE",
        queue="BILLING",
        category="billing_question",
        subject="Montant de la facture de mars",
        requester_name="Claire Martin",
        created_at=now - timedelta(hours=3),
        last_activity_at=now - timedelta(hours=2),
    )
    Message.objects.create(
        ticket=ticket,
        from_customer=True,
        visibility="PUBLIC",
        channel="PHONE",
        body="Ma facture de mars est deux fois plus élevée que d'habitude.",
        created_at=now - timedelta(hours=3),
    )
    Message.objects.create(
        ticket=ticket,
        author=agent,
        visibility="PUBLIC",
        channel="PHONE",
        body="Le relevé estimé était trop haut ; je demande une facture rectificative.",
        created_at=now - timedelta(hours=2),
    )
    return Contact.objects.create(
        ticket=ticket,
        channel="PHONE",
        queue="BILLING",
        agent=agent,
        offered_at=now - timedelta(hours=3),
        answered_at=now - timedelta(hours=3) + timedelta(seconds=18),
        ended_at=now - timedelta(hours=2, minutes=54),
        talk_seconds=320,
        hold_seconds=15,
        wrap_seconds=50,
        first_contact=True,
        resolved_first_contact=True,
    )


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_supervisor_scores_a_contact_and_coaches_the_agent(
    live_server, page_factory, shot, viewport
):
    # A transactional test starts from a flushed database: put the seeded checklist back.
    importlib.import_module("kpi.migrations.0002_default_qa_checklist").create(apps, None)
    supervisor = UserFactory(role=Role.SUPERVISOR, email=f"qualite-{viewport}@powernext.example")
    device = add_totp(supervisor)
    agent = UserFactory(role=Role.AGENT, first_name="Léa", last_name="Moreau")
    reference = "PN-2026-000777" if viewport == "desktop" else "PN-2026-000778"
    contact = _contact(agent, reference)

    page = page_factory(PHONE) if viewport == "phone" else page_factory()
    log_in(page, live_server.url, supervisor.email, device)
    page.get_by_role("link", name="Qualité", exact=True).click()
    expect(page.get_by_role("heading", name="Évaluations qualité")).to_be_visible()
    page.get_by_role("navigation", name="Qualité").get_by_role(
        "link", name="Évaluer un contact"
    ).click()
    page.get_by_label("Numéro du contact ou référence du dossier").fill(reference)
    page.get_by_role("button", name="Rechercher").click()

    expect(page.get_by_role("heading", name=f"Évaluer le contact n° {contact.pk}")).to_be_visible()
    facts = page.get_by_test_id("contact-facts")
    expect(facts).to_contain_text("Léa Moreau")
    expect(facts).to_contain_text(reference)
    expect(page.get_by_test_id("thread")).to_contain_text("deux fois plus élevée")

    # Only the first three criteria answered: the others are flagged, nothing saved.
    for position, answer in enumerate(ANSWERS[:3], start=1):
        page.locator(f'fieldset[data-item="{position}"]').get_by_label(answer, exact=True).check()
    page.get_by_role("button", name="Enregistrer l'évaluation").click()
    missing = page.locator("fieldset.qa-item.has-error")
    expect(missing).to_have_count(5)
    expect(missing.first).to_contain_text("Choisissez une réponse.")
    expect(
        page.locator('fieldset[data-item="2"]').get_by_label("Sans objet", exact=True)
    ).to_be_checked()
    assert not QaReview.objects.exists()
    shot(page, f"kpi-quality-review-errors-{viewport}")

    for position, answer in enumerate(ANSWERS, start=1):
        page.locator(f'fieldset[data-item="{position}"]').get_by_label(answer, exact=True).check()
    page.get_by_label("Commentaires pour le conseiller").fill(
        "Bonne explication du relevé estimé ; annoncer la prochaine étape."
    )
    shot(page, f"kpi-quality-review-form-{viewport}")
    page.get_by_role("button", name="Enregistrer l'évaluation").click()

    expect(page.get_by_text("Évaluation enregistrée.")).to_be_visible()
    expect(page.get_by_test_id("review-score")).to_contain_text("60 %")
    expect(page.get_by_test_id("answers")).to_contain_text("Non conforme")

    page.get_by_role("link", name="Ajouter une note de coaching").click()
    expect(page.get_by_role("heading", name="Léa Moreau")).to_be_visible()
    expect(page.get_by_test_id("qa-average")).to_contain_text("60 %")
    review = QaReview.objects.get()
    expect(page.get_by_label("Évaluation concernée")).to_have_value(str(review.pk))
    page.get_by_label("Note de coaching").fill(
        "Toujours récapituler et annoncer la facture rectificative avant de raccrocher."
    )
    follow_up = (timezone.localdate() + timedelta(days=14)).isoformat()
    page.get_by_label("Date de suivi").fill(follow_up)
    page.get_by_role("button", name="Enregistrer la note").click()

    expect(page.get_by_text("Note de coaching enregistrée.")).to_be_visible()
    notes = page.get_by_test_id("coaching-notes")
    expect(notes).to_contain_text("annoncer la facture rectificative")
    expect(notes).to_contain_text(f"évaluation du contact {contact.pk}")
    note = CoachingNote.objects.get()
    assert note.review == review and note.author == supervisor
    # Nothing scrolls sideways at phone width.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"kpi-quality-coaching-{viewport}")
