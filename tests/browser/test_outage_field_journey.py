"""Playwright, at phone width: a technician opens his job, goes en route then on
site, publishes a new restoration estimate with high confidence and adds a note;
an anonymous visitor then reads that estimate and its message on the public
incident page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from outages.models import Dispatch, EtrRevision, FieldNote, Incident
from outages.selectors import PARIS, local_time
from outages.services import crews, incidents
from tests import outage_kit as kit
from tests.factories import UserFactory, add_totp

from .conftest import PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _incident_with_my_crew():
    tech = UserFactory(
        role=Role.FIELD_TECHNICIAN,
        first_name="Hugo",
        last_name="Marchand",
        email="tech@powernext.example",
    )
    device = add_totp(tech)
    crew = kit.crew("Équipe Paris Sud", tech, area_codes=("PARIS-15",))
    for _ in range(3):
        kit.customer(postcode="75015")
    now = timezone.now()
    incident = incidents.incident_open(
        title="Câble souterrain endommagé, rue Lecourbe",
        postcodes=["75015"],
        cause="THIRD_PARTY",
        started_at=now - timedelta(minutes=20),
        now=now,
        actor=None,
    )
    dispatch = crews.dispatch_create(incident=incident, crew=crew, now=now, actor=None)
    return tech, device, incident, dispatch


def test_technician_updates_the_etr_from_a_phone_and_the_public_page_shows_it(
    live_server, page_factory, shot
):
    tech, device, incident, dispatch = _incident_with_my_crew()

    # 1. The technician signs in on his phone and finds his job.
    page = page_factory(PHONE)
    log_in(page, live_server.url, tech.email, device)
    expect(page.get_by_role("heading", name="Mes interventions")).to_be_visible()
    job_link = page.get_by_test_id("field-job")
    expect(job_link).to_contain_text(incident.reference)
    expect(job_link).to_contain_text("Sur place avant")
    shot(page, "outage-field-home-phone")
    job_link.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(incident.reference)
    shot(page, "outage-field-job-phone")

    # 2. En route, then on site: one big button each time.
    page.get_by_role("button", name="Je pars : en route").click()
    expect(page.get_by_test_id("dispatch-status")).to_have_text("Équipe en route")
    page.get_by_role("button", name="Je suis sur place").click()
    expect(page.get_by_test_id("dispatch-status")).to_have_text("Équipe sur place")
    expect(page.get_by_role("button", name="Courant rétabli")).to_be_visible()
    shot(page, "outage-field-on-site-phone")

    # 3. A new estimate, high confidence: the local date is already today's.
    estimate = (timezone.now() + timedelta(hours=2, minutes=30)).astimezone(PARIS)
    estimate = estimate.replace(second=0, microsecond=0)
    date_input = page.get_by_label("Jour", exact=True)
    expect(date_input).to_have_value(timezone.localdate().isoformat())
    date_input.fill(estimate.date().isoformat())  # the same day, unless past midnight
    page.get_by_label("Heure", exact=True).fill(estimate.strftime("%H:%M"))
    page.get_by_label("Confiance").select_option("HIGH")
    shot(page, "outage-field-etr-form-phone")
    page.get_by_role("button", name="Publier l'estimation").click()
    expect(page.get_by_text("Estimation publiée pour les clients.")).to_be_visible()
    expect(page.get_by_test_id("current-etr")).to_contain_text(estimate.strftime("%d/%m %H:%M"))
    expect(page.get_by_test_id("current-etr")).to_contain_text("Équipe sur place")
    shot(page, "outage-field-etr-done-phone")

    # 4. A note for the dispatcher.
    page.get_by_label("Note", exact=True).fill(
        "Câble sectionné par une pelleteuse, jonction à refaire."
    )
    page.get_by_role("button", name="Ajouter la note").click()
    expect(page.get_by_text("Note ajoutée.")).to_be_visible()
    expect(page.get_by_test_id("field-notes")).to_contain_text("jonction à refaire")
    shot(page, "outage-field-note-phone")

    dispatch.refresh_from_db()
    assert dispatch.status == "ON_SITE"
    revision = EtrRevision.objects.filter(incident=incident).latest("issued_at")
    assert (revision.source, revision.confidence, revision.estimate) == (
        "CREW",
        "HIGH",
        estimate,
    )
    assert FieldNote.objects.get(dispatch=dispatch).author == tech

    # 5. Anyone can read the new estimate and its message on the public page.
    public = page_factory(PHONE)
    public.goto(f"{live_server.url}/outages/{incident.reference}/")
    when = local_time(estimate)
    expect(public.get_by_role("heading", level=1)).to_have_text(incident.title)
    expect(public.get_by_text(when).first).to_be_visible()
    expect(public.get_by_test_id("updates")).to_contain_text(
        f"Nouvelle heure estimée de rétablissement : {when}."
    )
    shot(public, "outage-public-incident-after-crew-etr-phone")
    assert Incident.objects.get(pk=incident.pk).etr == estimate
    assert Dispatch.objects.filter(incident=incident, status="ON_SITE").count() == 1


def test_dispatcher_opens_an_incident_and_sends_the_crew(live_server, page_factory, shot):
    """The console side of the same work, so its pages are seen at desktop width."""
    from .conftest import DESKTOP

    agent = UserFactory(
        role=Role.AGENT, first_name="Lucas", last_name="Bernard", email="agent@powernext.example"
    )
    device = add_totp(agent)
    kit.crew("Équipe Lyon", area_codes=("LYON-07",))
    kit.crew("Équipe Paris Sud", area_codes=("PARIS-15",))
    for _ in range(2):
        kit.customer(postcode="75015")
    kit.customer(postcode="75015", priority=True)

    page = page_factory(DESKTOP)
    log_in(page, live_server.url, agent.email, device)
    page.get_by_role("link", name="Incidents", exact=True).click()
    expect(page.get_by_text("Aucun incident en cours.")).to_be_visible()
    page.get_by_role("link", name="Ouvrir un incident").click()
    page.get_by_label("Titre").fill("Poste source déclenché")
    page.get_by_label("Codes postaux touchés").fill("75015, 75014")
    page.get_by_label("Cause").select_option("EQUIPMENT")
    shot(page, "outage-console-new-desktop")
    page.get_by_role("button", name="Ouvrir l'incident").click()
    expect(page.get_by_test_id("incident-class")).to_have_text("P1")
    incident = Incident.objects.get()

    page.locator("summary", has_text="Envoyer une équipe").click()
    crew_select = page.get_by_label("Équipe", exact=True)
    # The crew covering Paris 15e is offered first.
    expect(crew_select.locator("option").nth(1)).to_have_text("Équipe Paris Sud ★")
    crew_select.select_option(label="Équipe Paris Sud ★")
    page.get_by_role("button", name="Envoyer une équipe").click()
    expect(page.get_by_text("Équipe Paris Sud : mission envoyée.")).to_be_visible()
    page.locator("summary", has_text="Publier un point d'étape").click()
    page.get_by_label("Message publié", exact=True).fill(
        "Le poste source a déclenché ; une équipe est en route."
    )
    page.get_by_role("button", name="Publier un point d'étape").click()
    expect(page.get_by_test_id("public-updates")).to_contain_text("une équipe est en route")
    shot(page, "outage-console-incident-desktop")

    page.get_by_role("link", name="Incidents", exact=True).click()
    row = page.get_by_test_id("incident-row")
    expect(row).to_contain_text(incident.reference)
    expect(row).to_contain_text("Équipe missionnée")
    expect(row).to_contain_text("1 prioritaire")
    shot(page, "outage-console-board-desktop")
    page.set_viewport_size(PHONE)
    shot(page, "outage-console-board-phone")
    assert Dispatch.objects.get(incident=incident).status == "DISPATCHED"
