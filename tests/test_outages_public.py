"""Public outage pages: the status board and map (cached for anonymous visitors, a
fixed number of queries), an incident's page, outage and streetlight reports with
safety triage, tracking, subscriptions and the post-restoration survey."""

import re
from datetime import timedelta

import pytest
import time_machine
from celery import current_app
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.company import EMERGENCY_PHONE, EMERGENCY_TEL
from accounts.models import Role
from outages import selectors
from outages.domain import rules
from outages.models import (
    Incident,
    Notification,
    OutageFeedback,
    OutageReport,
    Subscription,
)
from outages.services import crews as crew_services
from outages.services import incidents as incident_services
from outages.services import notifications as notification_services
from outages.services import reports as report_services

from . import outage_kit as kit

pytestmark = pytest.mark.django_db

STATUS = "/outages/"
REPORT = "/outages/report/"
STREETLIGHT = "/outages/streetlight/"
TRACK = "/outages/track/"
SUBSCRIBE = "/outages/subscribe/"
FOOD_SAFETY = ("environ <strong>4 heures</strong>", "<strong>48 heures</strong>", "4\u00a0°C")


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Tasks the services queue after commit are recorded, not sent to a broker."""
    sent = []
    for name in ("outages.tasks.update_fan_out_task", "outages.tasks.incident_settle_task"):
        monkeypatch.setattr(
            current_app.tasks[name], "delay", lambda name=name, **kw: sent.append((name, kw))
        )
    return sent


@pytest.fixture
def clock():
    """Time stands still unless a test moves it (the board's one-second floor)."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a service call and its after-commit hooks (the public version bump)."""

    def run(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return run


def open_incident(postcodes=("75015",), *, at=None, title="Câble endommagé", customers=0):
    now = at or timezone.now()
    for _ in range(customers):
        kit.customer(postcode=postcodes[0])
    return incident_services.incident_open(title=title, now=now, postcodes=list(postcodes))


def page(response) -> str:
    return response.content.decode()


def anonymous_report(client, **overrides):
    data = {
        "postcode": "75015",
        "address": "12 rue de la Convention",
        "phone": "06 12 34 56 78",
        "breakers_checked": "on",
        **overrides,
    }
    return client.post(REPORT, data)


# --- Status board ----------------------------------------------------------------


def test_status_lists_live_incidents_by_area_with_estimate_updates_and_crew(client):
    incident = open_incident(customers=3)
    incident_services.incident_update_publish(
        incident=incident, message="Nos équipes sont mobilisées.", now=timezone.now(), actor=None
    )
    crew = kit.crew("Équipe Paris Sud")
    dispatch = crew_services.dispatch_create(
        incident=incident, crew=crew, now=timezone.now(), actor=None
    )
    crew_services.dispatch_transition(
        dispatch=dispatch, target="EN_ROUTE", now=timezone.now(), actor=None
    )
    open_incident(("69007",), title="Poste source en défaut", customers=2)
    incident.refresh_from_db()

    response = client.get(STATUS)

    assert response.status_code == 200
    html = page(response)
    paris = html[html.index('id="area-PARIS-15"') :]
    paris = paris[: paris.index("</section>")]
    assert incident.reference in paris and "Poste source" not in paris
    assert html.index('id="area-LYON-07"') < html.index('id="area-PARIS-15"')  # by name
    assert "Panne confirmée" in html
    assert f"Foyers concernés</dt><dd>{incident.customers_affected}</dd>" in html
    assert incident.customers_affected == 3
    assert selectors.local_time(incident.etr) in html
    assert "Estimation automatique" in html and "confiance faible" in html
    assert "Dernière mise à jour" in html and selectors.local_time(incident.last_update_at) in html
    assert "Prochain point avant" in html
    assert selectors.local_time(incident.next_update_due_at) in html
    assert "Équipe en route" in html
    assert "Nos équipes sont mobilisées." not in html  # updates are on the incident page
    assert f'href="/outages/{incident.reference}/"' in html


def test_map_colours_areas_by_worst_status_with_a_text_legend(client):
    open_incident(("75015",))
    suspect = report_services.report_submit(
        kind="OUTAGE",
        now=timezone.now(),
        postcode="69007",
        address="3 rue Marc",
        phone="0612345678",
    ).incident
    assert suspect.status == "SUSPECTED"

    html = page(client.get(STATUS))

    assert re.search(r'data-area="PARIS-15" data-status="CONFIRMED"', html)
    assert re.search(r'data-area="LYON-07" data-status="SUSPECTED"', html)
    assert re.search(r'data-area="RIGNAC" data-status="OK"', html)
    assert '<a href="#area-PARIS-15">' in html and 'id="area-PARIS-15"' in html
    assert "Paris 15e — panne confirmée</title>" in html
    legend = html[html.index('class="map-legend"') :]
    for label in (
        "Panne confirmée",
        "en cours d&#x27;analyse",
        "Travaux programmés",
        "Courant rétabli",
    ):
        assert label in legend
    # French number formatting ("325,0") must not leak into SVG coordinates.
    svg = html[html.index("<svg viewBox") : html.index("</svg>")]
    assert re.search(r"transform=\"translate\(\d+\.\d \d+\.\d\)\"", svg)


def test_recently_restored_incidents_are_listed_and_older_ones_are_not(client):
    now = timezone.now()
    recent = open_incident(("75015",), at=now - timedelta(hours=3), title="Récente")
    incident_services.incident_restore(incident=recent, now=now - timedelta(hours=1), actor=None)
    old = open_incident(("69007",), at=now - timedelta(hours=20), title="Ancienne")
    incident_services.incident_restore(incident=old, now=now - timedelta(hours=13), actor=None)

    html = page(client.get(STATUS))

    assert recent.reference in html and "Courant rétabli" in html
    assert old.reference not in html
    assert 'data-area="PARIS-15" data-status="RESTORED"' in html
    assert 'data-area="LYON-07" data-status="OK"' in html


def test_postcode_search_shows_that_postcode_only_and_keeps_the_whole_map(client):
    here = open_incident(("75015",))
    there = open_incident(("69007",))

    html = page(client.get(STATUS, {"postcode": "75015"}))
    assert here.reference in html and there.reference not in html
    assert 'data-area="LYON-07" data-status="CONFIRMED"' in html

    html = page(client.get(STATUS, {"postcode": "75014"}))
    assert "Aucune coupure connue au 75014" in html
    assert "Secteur : Paris 15e" in html
    assert f"{REPORT}?postcode=75014" in html


@pytest.mark.parametrize("bad", ["7501", "750155", "75O15", "abcde"])
def test_postcode_search_refuses_anything_but_five_digits(client, bad):
    incident = open_incident(("75015",))
    response = client.get(STATUS, {"postcode": bad})
    assert response.status_code == 400
    assert "Saisissez un code postal à 5 chiffres." in page(response)
    assert 'class="field has-error"' in page(response)
    assert incident.reference in page(response)  # the whole board, as without a search


def test_anonymous_status_page_is_cached_and_a_service_change_refreshes_it(
    client, committed, clock, django_assert_max_num_queries
):
    incident = committed(open_incident, postcodes=("75015",))
    first = client.get(STATUS)
    assert first.status_code == 200

    with django_assert_max_num_queries(2):
        second = client.get(STATUS)
    assert second.status_code == 200
    assert incident.reference in page(second)

    # A write that does not go through a service is not seen: the page is cached.
    Incident.objects.filter(pk=incident.pk).update(customers_affected=4321)
    clock.shift(timedelta(seconds=5))
    assert "4321" not in page(client.get(STATUS))

    version = selectors.public_version()
    estimate = timezone.now() + timedelta(hours=5)
    committed(
        incident_services.etr_revise,
        incident=incident,
        estimate=estimate,
        source="CREW",
        confidence="HIGH",
        now=timezone.now(),
        actor=None,
    )
    assert selectors.public_version() > version
    html = page(client.get(STATUS))
    assert selectors.local_time(estimate) in html
    assert "Équipe sur place" in html and "confiance élevée" in html
    assert "4321" in html


def test_during_a_storm_the_board_is_rebuilt_at_most_once_a_second(client, committed, clock):
    incident = committed(open_incident, postcodes=("75015",))
    assert "Estimation automatique" in page(client.get(STATUS))
    committed(
        incident_services.etr_revise,
        incident=incident,
        estimate=timezone.now() + timedelta(hours=2),
        source="OPERATOR",
        confidence="MEDIUM",
        now=timezone.now(),
        actor=None,
    )
    clock.shift(timedelta(milliseconds=900))
    assert "Estimation automatique" in page(client.get(STATUS))
    clock.shift(timedelta(milliseconds=200))
    assert "Opérateur" in page(client.get(STATUS))


def test_while_one_worker_rebuilds_the_others_serve_the_previous_board(client, committed, clock):
    incident = committed(open_incident, postcodes=("75015",))
    assert "Estimation automatique" in page(client.get(STATUS))
    committed(
        incident_services.etr_revise,
        incident=incident,
        estimate=timezone.now() + timedelta(hours=2),
        source="OPERATOR",
        confidence="MEDIUM",
        now=timezone.now(),
        actor=None,
    )
    clock.shift(timedelta(seconds=5))
    lock = "outages:public:status:fr::rebuilding"
    assert cache.add(lock, 1, 10)  # another worker is rebuilding the board

    assert "Estimation automatique" in page(client.get(STATUS))

    cache.delete(lock)
    html = page(client.get(STATUS))
    assert "Opérateur" in html and "Estimation automatique" not in html


def test_a_board_older_than_a_minute_is_rebuilt_without_a_version_bump(client, committed):
    now = timezone.now()
    restored = committed(open_incident, postcodes=("75015",), at=now - timedelta(hours=3))
    committed(
        incident_services.incident_restore,
        incident=restored,
        now=now - timedelta(hours=11, minutes=59, seconds=30),
        actor=None,
    )
    assert restored.reference in page(client.get(STATUS))
    with time_machine.travel(now + timedelta(seconds=61)):
        assert restored.reference not in page(client.get(STATUS))


def test_a_cached_page_carries_each_visitors_own_csrf_token(client):
    open_incident()
    assert client.get(STATUS).status_code == 200  # another visitor fills the cache

    visitor = Client(enforce_csrf_checks=True)
    response = visitor.get(STATUS)
    html = page(response)
    assert "csrf-token-of-this-visitor" not in html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert f'"X-CSRFToken": "{token}"' in html
    assert "csrftoken" in response.cookies
    switched = visitor.post(
        "/i18n/setlang/", {"language": "en", "next": STATUS, "csrfmiddlewaretoken": token}
    )
    assert switched.status_code == 302
    assert 'lang="en"' in page(visitor.get(STATUS))


def test_a_message_waiting_for_the_visitor_is_shown_on_the_cached_page(client):
    storage = CookieStorage(RequestFactory().get("/"))
    client.cookies["messages"] = storage._encode([Message(constants.SUCCESS, "Bien reçu")])
    assert "Bien reçu" in page(client.get(STATUS))  # this request builds the cached page
    assert "Bien reçu" not in page(client.get(STATUS))  # shown once
    assert "Bien reçu" not in page(Client().get(STATUS))  # and never to someone else


def test_the_cached_page_does_not_echo_another_visitors_query(client):
    first = page(client.get(STATUS, {"postcode": "75015", "utm_source": "tracker42"}))
    assert "tracker42" in first  # that visitor's own page sends them back to their URL
    html = page(client.get(STATUS, {"postcode": "75015"}))
    assert "tracker42" not in html
    assert 'name="next" type="hidden" value="/outages/?postcode=75015"' in html


def test_cache_is_keyed_by_postcode_and_language(client, committed):
    committed(open_incident, postcodes=("75015",))
    assert "Aucune coupure connue au 69007" in page(client.get(STATUS, {"postcode": "69007"}))
    assert "Aucune coupure connue" not in page(client.get(STATUS))
    client.post("/i18n/setlang/", {"language": "en", "next": STATUS})
    english = page(client.get(STATUS))
    assert 'lang="en"' in english
    assert 'data-area="PARIS-15" data-status="CONFIRMED"' in english


def test_signed_in_visitors_get_the_page_uncached(client, login, committed):
    user, _account, _premise, _point = kit.customer(postcode="75015")
    incident = committed(open_incident, postcodes=("75015",))
    login(user)
    assert client.get(STATUS).status_code == 200
    Incident.objects.filter(pk=incident.pk).update(customers_affected=4321)
    assert "4321" in page(client.get(STATUS))


def test_status_page_queries_do_not_grow_with_incidents(client):
    crew = kit.crew("Équipe Nord")
    postcodes = ["75015", "69007", "33000", "67000", "35000", "12390", "99999"]

    def add(n):
        for i in range(n):
            incident = open_incident((postcodes[i % len(postcodes)],), title=f"Panne {i}")
            if i % 2 == 0:
                crew_services.dispatch_create(
                    incident=incident, crew=crew, now=timezone.now(), actor=None
                )

    def measured() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(STATUS).status_code == 200
        return len(queries)

    add(2)
    small = measured()
    assert small <= 12
    add(18)
    assert Incident.objects.count() == 20
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        html = page(client.get(STATUS))
    assert len(queries) == small
    assert html.count('data-testid="incident"') == 20
    assert "Autres communes" in html  # 99999 is in no service area


def test_every_outage_page_shows_food_safety_and_the_emergency_number(client):
    incident = open_incident()
    report = report_services.report_submit(
        kind="OUTAGE", now=timezone.now(), postcode="75015", address="1 rue A", phone="0612345678"
    )
    sub = notification_services.subscription_create(
        channel="SMS", destination="0612345678", now=timezone.now(), postcode="75015"
    )
    token = notification_services.unsubscribe_token(sub)
    for path in [
        STATUS,
        f"{STATUS}?postcode=75015",
        f"/outages/{incident.reference}/",
        REPORT,
        f"{REPORT}?triage=1",
        f"{REPORT}?triage=1&hazards=SMOKE",
        STREETLIGHT,
        f"/outages/report/{report.reference}/",
        TRACK,
        f"{TRACK}?reference={report.reference}",
        SUBSCRIBE,
        f"/outages/subscribe/done/{token}/",
        f"/outages/unsubscribe/{token}/",
        "/outages/feedback/whatever/",
    ]:
        html = page(client.get(path))
        assert f'href="{EMERGENCY_TEL}" data-testid="safety-emergency">{EMERGENCY_PHONE}' in html
        for text in FOOD_SAFETY:
            assert text in html, (path, text)


# --- Incident page ------------------------------------------------------------------


def test_incident_page_shows_updates_and_only_the_current_estimate(client):
    now = timezone.now()
    incident = open_incident(at=now - timedelta(minutes=30))
    first_etr = incident.etr
    incident_services.incident_update_publish(
        incident=incident, message="Une équipe part sur place.", now=now, actor=None
    )
    later = now + timedelta(hours=6, minutes=7)
    incident_services.etr_revise(
        incident=incident,
        estimate=later,
        source="CREW",
        confidence="MEDIUM",
        now=now + timedelta(minutes=1),
        actor=None,
        message="Réparation plus longue que prévu.",
    )

    html = page(client.get(f"/outages/{incident.reference}/"))

    assert "Une équipe part sur place." in html and "Réparation plus longue que prévu." in html
    assert html.index("Réparation plus longue") < html.index("Une équipe part sur place.")
    assert "Premier avis" in html and "Point d&#x27;étape" in html
    assert selectors.local_time(later) in html
    assert selectors.local_time(first_etr) not in html
    assert "Dernière mise à jour" in html and "Prochain point avant" in html
    assert "médiane" not in html and "valeur par défaut" not in html  # the basis is internal


def test_incident_page_is_404_for_unknown_or_cancelled_incidents(client):
    suspect = report_services.report_submit(
        kind="OUTAGE", now=timezone.now(), postcode="75015", address="1 rue A", phone="0612345678"
    ).incident
    incident_services.incident_cancel(
        incident=suspect, reason="fausse alerte", now=timezone.now(), actor=None
    )
    assert client.get(f"/outages/{suspect.reference}/").status_code == 404
    assert client.get("/outages/INC-2026-99999/").status_code == 404
    assert client.get("/outages/NOPE/").status_code == 404


# --- Reports: triage first -------------------------------------------------------------


def test_triage_offers_every_hazard_then_the_emergency_number_or_the_breaker_guide(client):
    html = page(client.get(REPORT))
    for hazard in rules.HAZARDS:
        assert f'value="{hazard}"' in html
    assert 'method="get"' in html and 'name="triage"' in html

    danger = page(client.get(REPORT, {"triage": "1", "hazards": ["SPARKS", "HUMMING"]}))
    assert f'Appelez le <span class="nowrap">{EMERGENCY_PHONE}</span> maintenant' in danger
    assert f'href="{EMERGENCY_TEL}">Appeler le' in danger
    assert 'data-testid="hazard-call"' in danger
    assert 'data-testid="breaker-guide"' not in danger
    assert '<input type="hidden" name="hazards" value="SPARKS"' in danger
    assert 'name="postcode"' in danger and 'name="phone"' in danger

    calm = page(client.get(REPORT, {"triage": "1"}))
    assert 'data-testid="breaker-guide"' in calm and "disjoncteur" in calm
    assert 'data-testid="hazard-call"' not in calm
    assert calm.index("abord, vérifiez votre disjoncteur") < calm.index("outage-report-form")


def test_triage_refuses_an_unknown_hazard(client):
    response = client.get(REPORT, {"triage": "1", "hazards": "ALIENS"})
    assert response.status_code == 400
    assert "Choisissez parmi les dangers proposés." in page(response)


def test_anonymous_report_returns_a_reference_and_links_an_incident(client):
    response = anonymous_report(client)

    report = OutageReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/outages/report/{report.reference}/"
    assert re.fullmatch(rf"SIG-{timezone.now().year}-\d{{5}}", report.reference)
    assert report.kind == "OUTAGE" and report.account is None and report.reporter is None
    assert report.breakers_checked and not report.safety_critical
    assert report.incident.status == "SUSPECTED"

    html = page(client.get(response["Location"]))
    assert report.reference in html
    assert report.incident.reference in html and "Signalée, en cours d&#x27;analyse" in html
    assert f'href="{STATUS}?postcode=75015"' in html
    assert f'href="{SUBSCRIBE}?postcode=75015"' in html
    assert 'data-testid="hazard-call"' not in html


def test_a_hazard_still_files_the_report_flagged_safety_critical(client):
    response = anonymous_report(client, hazards=["FALLEN_LINE"])
    assert response.status_code == 302
    report = OutageReport.objects.get()
    assert report.safety_critical and report.hazards == ["FALLEN_LINE"]
    assert report.incident.safety_critical
    html = page(client.get(response["Location"]))
    assert f'appelez le <span class="nowrap">{EMERGENCY_PHONE}</span> maintenant' in html


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("postcode", "7501", "Saisissez un code postal à 5 chiffres."),
        ("postcode", "", "Saisissez un code postal à 5 chiffres."),
        ("phone", "12", "Saisissez un numéro de téléphone"),
        ("phone", "", "Ce champ est obligatoire."),
        ("address", "", "Ce champ est obligatoire."),
        ("address", "1 A", "Saisissez l&#x27;adresse (numéro et rue)."),
        ("hazards", "ALIENS", "Choisissez parmi les dangers proposés."),
    ],
)
def test_bad_report_input_is_a_field_error_and_writes_nothing(client, field, value, message):
    response = anonymous_report(client, **{field: value})
    assert response.status_code == 400
    assert message in page(response)
    assert OutageReport.objects.count() == 0
    assert Incident.objects.count() == 0


def test_report_needs_a_csrf_token():
    browser = Client(enforce_csrf_checks=True)
    response = anonymous_report(browser)
    assert response.status_code == 403
    assert OutageReport.objects.count() == 0
    form = page(browser.get(REPORT, {"triage": "1"}))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    assert anonymous_report(browser, csrfmiddlewaretoken=token).status_code == 302
    assert OutageReport.objects.count() == 1


def test_signed_in_customer_reports_for_their_premise_in_two_clicks(client, login):
    user, account, premise, _point = kit.customer(postcode="69007")
    login(user)

    step2 = page(client.get(REPORT, {"triage": "1"}))
    assert f'value="{premise.pk}"' in step2
    assert re.search(rf'value="{premise.pk}"[^>]*checked', step2)
    assert 'name="phone"' not in step2 and 'name="address"' not in step2

    response = client.post(REPORT, {"premise": premise.pk})
    assert response.status_code == 302
    report = OutageReport.objects.get()
    assert (report.premise, report.account, report.reporter) == (premise, account, user)
    assert report.postcode == "69007" and report.incident.customers_affected == 1


def test_another_customers_premise_is_refused_and_never_used(client, login):
    user, _account, _premise, _point = kit.customer(postcode="69007")
    _other, _other_account, other_premise, _p = kit.customer(postcode="33000")
    login(user)

    response = client.post(REPORT, {"premise": other_premise.pk})

    assert response.status_code == 400
    assert "Ce logement n&#x27;est pas rattaché à votre compte." in page(response)
    assert other_premise.address not in page(response)
    assert OutageReport.objects.count() == 0


def test_reports_from_one_postcode_join_one_incident_signed_in_or_not(client, login):
    assert anonymous_report(client, postcode="33000").status_code == 302
    user, _account, premise, _point = kit.customer(postcode="33000")
    login(user)
    assert client.post(REPORT, {"premise": premise.pk}).status_code == 302

    reports = list(OutageReport.objects.order_by("pk"))
    assert len(reports) == 2
    assert reports[0].incident_id == reports[1].incident_id
    assert Incident.objects.count() == 1
    assert reports[1].premise == premise


def test_a_staff_user_reports_like_an_anonymous_visitor(client, login, make_user):
    login(make_user(Role.AGENT, totp=True))
    step2 = page(client.get(REPORT, {"triage": "1"}))
    assert 'name="premise"' not in step2 and 'name="postcode"' in step2


def test_streetlight_report_returns_an_ep_reference_without_an_incident(client):
    html = page(client.get(STREETLIGHT, {"triage": "1"}))
    assert 'data-testid="streetlight-guide"' in html

    response = client.post(
        STREETLIGHT,
        {
            "postcode": "35000",
            "address": "Angle rue de Brest et rue Papu",
            "description": "Lampe clignotante, poteau n° 1234",
            "phone": "0612345678",
        },
    )

    assert response.status_code == 302
    report = OutageReport.objects.get()
    assert re.fullmatch(rf"EP-{timezone.now().year}-\d{{5}}", report.reference)
    assert report.kind == "STREETLIGHT" and report.incident is None
    assert Incident.objects.count() == 0
    assert report.reference in page(client.get(response["Location"]))


def test_streetlight_bad_postcode_is_a_field_error(client):
    response = client.post(
        STREETLIGHT, {"postcode": "350", "address": "Rue de Brest", "phone": "0612345678"}
    )
    assert response.status_code == 400
    assert "Saisissez un code postal à 5 chiffres." in page(response)
    assert OutageReport.objects.count() == 0


def test_tracking_shows_status_and_incident_but_no_personal_data(client):
    report = report_services.report_submit(
        kind="OUTAGE",
        now=timezone.now(),
        postcode="75015",
        address="12 rue Secrète",
        phone="06 99 88 77 66",
        description="Je suis Jeanne Dupont",
    )

    response = client.get(TRACK, {"reference": report.reference.lower()})

    html = page(response)
    assert response.status_code == 200
    assert report.reference in html and report.incident.reference in html
    assert "Rattaché à un incident" in html and "75015" in html
    for private in ("Secrète", "99 88", "+33699887766", "Jeanne"):
        assert private not in html


def test_tracking_a_streetlight_report(client):
    report = report_services.report_submit(
        kind="STREETLIGHT",
        now=timezone.now(),
        postcode="35000",
        address="Rue de Brest",
        phone="0612345678",
    )
    html = page(client.get(TRACK, {"reference": report.reference}))
    assert "Éclairage public en panne" in html and "Reçu" in html


def test_tracking_refuses_malformed_and_unknown_references(client):
    malformed = client.get(TRACK, {"reference": "hello"})
    assert malformed.status_code == 400
    assert "SIG-2026-00042" in page(malformed)
    unknown = client.get(TRACK, {"reference": "SIG-2026-99999"})
    assert unknown.status_code == 404
    assert "Aucun signalement ne porte cette référence." in page(unknown)
    assert client.get("/outages/report/SIG-2026-99999/").status_code == 404


# --- Subscriptions -------------------------------------------------------------------


def test_anonymous_subscribes_to_a_postcode_and_unsubscribes(client):
    form = page(client.get(SUBSCRIBE, {"postcode": "75015"}))
    assert 'value="75015"' in form and 'name="premise"' not in form

    response = client.post(
        SUBSCRIBE, {"postcode": "75015", "channel": "SMS", "destination": "06 12 34 56 78"}
    )

    assert response.status_code == 302
    sub = Subscription.objects.get()
    assert (sub.channel, sub.destination, sub.postcode, sub.active) == (
        "SMS",
        "+33612345678",
        "75015",
        True,
    )
    done = page(client.get(response["Location"]))
    link = re.search(r'href="(/outages/unsubscribe/[^"]+/)"', done).group(1)
    assert "Confirmer le désabonnement" in page(client.get(link))
    sub.refresh_from_db()
    assert sub.active  # a GET (a mail scanner following the link) changes nothing
    assert client.post(link).status_code == 200
    sub.refresh_from_db()
    assert not sub.active


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"postcode": "7501", "channel": "SMS", "destination": "0612345678"}, "5 chiffres"),
        ({"postcode": "", "channel": "SMS", "destination": "0612345678"}, "5 chiffres"),
        (
            {"postcode": "75015", "channel": "EMAIL", "destination": "not-an-email"},
            "Saisissez une adresse e-mail valide.",
        ),
        ({"postcode": "75015", "channel": "SMS", "destination": "12"}, "numéro de mobile valide"),
        ({"postcode": "75015", "channel": "FAX", "destination": "0612345678"}, "Sélectionnez"),
    ],
)
def test_bad_subscription_input_is_a_field_error(client, data, message):
    response = client.post(SUBSCRIBE, data)
    assert response.status_code == 400
    assert message in page(response)
    assert Subscription.objects.count() == 0


def test_anonymous_premise_id_is_ignored(client):
    _user, _account, premise, _point = kit.customer(postcode="69007")
    response = client.post(
        SUBSCRIBE, {"premise": premise.pk, "channel": "SMS", "destination": "0612345678"}
    )
    assert response.status_code == 400
    assert Subscription.objects.count() == 0


def test_customer_subscribes_to_their_premise_by_email(client, login):
    user, account, premise, _point = kit.customer(postcode="69007")
    login(user)
    form = page(client.get(SUBSCRIBE))
    assert f'value="{premise.pk}"' in form

    response = client.post(
        SUBSCRIBE, {"premise": premise.pk, "channel": "EMAIL", "destination": "Moi@Example.fr"}
    )

    assert response.status_code == 302
    sub = Subscription.objects.get()
    assert (sub.premise, sub.account, sub.postcode, sub.destination) == (
        premise,
        account,
        "",
        "moi@example.fr",
    )


def test_customer_cannot_subscribe_to_another_customers_premise(client, login):
    user, _account, _premise, _point = kit.customer(postcode="69007")
    _o, _oa, other_premise, _op = kit.customer(postcode="33000")
    login(user)
    response = client.post(
        SUBSCRIBE, {"premise": other_premise.pk, "channel": "SMS", "destination": "0612345678"}
    )
    assert response.status_code == 400
    assert "Ce logement n&#x27;est pas rattaché à votre compte." in page(response)
    assert Subscription.objects.count() == 0


def test_unsubscribe_with_a_forged_token_is_refused(client):
    sub = notification_services.subscription_create(
        channel="SMS", destination="0612345678", now=timezone.now(), postcode="75015"
    )
    token = notification_services.unsubscribe_token(sub)
    response = client.post(f"/outages/unsubscribe/{token[:-2]}xx/")
    assert response.status_code == 400
    assert "pas valide" in page(response)
    sub.refresh_from_db()
    assert sub.active


# --- Survey after restoration ------------------------------------------------------------


def _restored_notification() -> Notification:
    now = timezone.now()
    incident = open_incident(customers=1, at=now - timedelta(hours=2))
    incident_services.incident_restore(incident=incident, now=now, actor=None)
    update = incident.updates.get(kind="RESTORED")
    notification_services.update_fan_out(update_id=update.pk, now=now)
    return Notification.objects.get(update=update)


def test_feedback_records_the_answer_once(client):
    notification = _restored_notification()
    url = f"/outages/feedback/{notification_services.feedback_token(notification)}/"
    assert 'name="csat"' in page(client.get(url))

    response = client.post(url, {"csat": "4", "comment": "Rapide, merci."})

    assert response.status_code == 200
    assert "Merci pour votre réponse" in page(response)
    feedback = OutageFeedback.objects.get()
    assert (feedback.notification, feedback.csat, feedback.comment) == (
        notification,
        4,
        "Rapide, merci.",
    )
    again = client.post(url, {"csat": "1"})
    assert again.status_code == 400 and "déjà répondu" in page(again)
    assert OutageFeedback.objects.get().csat == 4


@pytest.mark.parametrize("csat", ["0", "6", "", "bof"])
def test_feedback_needs_a_score_from_1_to_5(client, csat):
    notification = _restored_notification()
    url = f"/outages/feedback/{notification_services.feedback_token(notification)}/"
    response = client.post(url, {"csat": csat})
    assert response.status_code == 400
    assert 'id="id_csat_error"' in page(response)
    assert OutageFeedback.objects.count() == 0


def test_feedback_with_a_bad_token_is_refused(client):
    response = client.post("/outages/feedback/not-a-token/", {"csat": "5"})
    assert response.status_code == 400
    assert "pas valide" in page(response)
    assert OutageFeedback.objects.count() == 0


# --- Ways in ----------------------------------------------------------------------------


def test_home_and_portal_lead_to_the_outage_pages(client, login):
    home = page(client.get("/"))
    assert f'href="{STATUS}"' in home and f'href="{REPORT}"' in home
    user, *_ = kit.customer()
    login(user)
    portal = page(client.get("/portal/"))
    assert f'<li><a href="{STATUS}" >Pannes</a></li>' in portal
