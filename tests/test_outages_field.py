"""The field technicians' pages: their crews' missions (and only theirs), the job
page and its forms (next status, new estimate, note or photo, diagnostic fee).
Happy paths, bad input (field errors, nothing written), moves the state forbids,
permissions, and a list whose number of queries does not grow."""

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from billing.models import LedgerEntry
from outages.models import (
    DiagnosticCharge,
    Dispatch,
    EtrRevision,
    FieldNote,
    Incident,
    IncidentEvent,
    PublicUpdate,
)
from outages.selectors import local_time
from outages.services import crews, incidents, reports
from tests import outage_kit as kit

from .factories import UserFactory

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
HOME = "/field/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    queued = []
    monkeypatch.setattr(incidents, "_enqueue", lambda task, **kw: queued.append((task, kw)))
    return queued


@pytest.fixture
def team(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    tech = UserFactory(role=Role.FIELD_TECHNICIAN, first_name="Hugo")
    other_tech = UserFactory(role=Role.FIELD_TECHNICIAN)
    mine = kit.crew("Équipe Paris Sud", tech, area_codes=("PARIS-15",))
    theirs = kit.crew("Équipe Lyon", other_tech, area_codes=("LYON-07",))
    user, account, premise, _ = kit.customer(postcode="75015")
    kit.customer(postcode="75015", priority=True)
    now = timezone.now()
    # A customer's report with a hazard, then the dispatcher confirms the extent.
    report = reports.report_submit(
        kind="OUTAGE",
        now=now,
        account=account,
        premise=premise,
        reporter=user,
        hazards=["SPARKS"],
        description="Des étincelles sur le poteau",
    )
    incident = report.incident
    incidents.incident_confirm(incident=incident, postcodes=["75015"], now=now, actor=None)
    dispatch = crews.dispatch_create(incident=incident, crew=mine, now=now, actor=None)
    lyon = incidents.incident_open(title="Lyon", postcodes=["69007"], now=now, actor=None)
    foreign = crews.dispatch_create(incident=lyon, crew=theirs, now=now, actor=None)
    return {
        "tech": tech,
        "other_tech": other_tech,
        "mine": mine,
        "theirs": theirs,
        "account": account,
        "incident": incident,
        "dispatch": dispatch,
        "foreign": foreign,
    }


@pytest.fixture
def tech(team, login):
    return login(team["tech"])


def job(dispatch, action=""):
    return f"{HOME}jobs/{dispatch.pk}/{action + '/' if action else ''}"


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def move(dispatch, *targets):
    for target in targets:
        crews.dispatch_transition(dispatch=dispatch, target=target, now=timezone.now(), actor=None)
    dispatch.refresh_from_db()


# --- My jobs --------------------------------------------------------------------------


def test_home_lists_only_my_crews_live_missions(tech, team):
    done_incident = incidents.incident_open(
        title="Fini", postcodes=["75014"], now=timezone.now(), actor=None
    )
    done = crews.dispatch_create(
        incident=done_incident, crew=team["mine"], now=timezone.now(), actor=None
    )
    move(done, "EN_ROUTE", "ON_SITE", "RESTORED")
    page = tech.get(HOME)
    assert page.status_code == 200
    assert [j["dispatch"] for j in page.context["jobs"]] == [team["dispatch"]]
    html = page.content.decode()
    incident = team["incident"]
    assert incident.reference in html and "75015" in html and "Paris 15e" in html
    assert "Sur place avant" in html and "reste 3 h" in html  # urban: 4 h from the start
    assert local_time(incident.etr).split(" ")[1] in html
    assert "Lyon" not in html and done_incident.reference not in html


def test_home_without_missions(login, make_user):
    page = login(make_user(Role.FIELD_TECHNICIAN)).get(HOME)
    assert page.status_code == 200
    assert "Aucune intervention ne vous est affectée." in page.content.decode()


def test_supervisor_sees_every_crews_missions(login, make_user, team):
    page = login(make_user(Role.SUPERVISOR)).get(HOME)
    assert {j["dispatch"] for j in page.context["jobs"]} == {team["dispatch"], team["foreign"]}
    assert login(make_user(Role.SUPERVISOR)).get(job(team["foreign"])).status_code == 200


def test_home_runs_the_same_number_of_queries_however_many_missions(
    tech, team, django_assert_max_num_queries
):
    def grow(n):
        for i in range(n):
            incident = incidents.incident_open(
                title=f"Panne {i}", postcodes=["75014"], now=timezone.now(), actor=None
            )
            crews.dispatch_create(
                incident=incident, crew=team["mine"], now=timezone.now(), actor=None
            )

    with CaptureQueriesContext(connection) as small:
        first = tech.get(HOME)
    grow(6)
    with CaptureQueriesContext(connection) as large:
        second = tech.get(HOME)
    assert len(first.context["jobs"]) == 1 and len(second.context["jobs"]) == 7
    assert len(large) == len(small)
    with django_assert_max_num_queries(10):
        tech.get(HOME)


# --- The job page ---------------------------------------------------------------------


def test_job_page_shows_the_incident_hazards_and_the_next_step(tech, team):
    page = tech.get(job(team["dispatch"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="hazards"' in html and "Étincelles" in html
    assert "Des étincelles sur le poteau" in html
    assert page.context["incident"].customers_affected == 2
    assert "1 client prioritaire (médical)" in html
    assert page.context["next_status"] == "EN_ROUTE"
    assert "Je pars : en route" in html
    # A date input only takes ISO dates: today's is there already.
    assert f'value="{timezone.localdate().isoformat()}"' in html
    assert page.context["accounts"][0] == team["account"]


def test_the_status_button_walks_the_mission_to_restored(tech, team):
    dispatch = team["dispatch"]
    for target, label in [
        ("EN_ROUTE", "Je suis sur place"),
        ("ON_SITE", "Courant rétabli"),
        ("RESTORED", None),
    ]:
        response = tech.post(job(dispatch, "status"), {"target": target, "confirm": "on"})
        assert response.status_code == 302 and response["Location"] == job(dispatch)
        dispatch.refresh_from_db()
        assert dispatch.status == target
        page = tech.get(job(dispatch))
        if label:
            assert label in page.content.decode()
        else:
            assert page.context["next_status"] is None
    # The last crew back restores the incident.
    team["incident"].refresh_from_db()
    assert team["incident"].status == "RESTORED"
    assert IncidentEvent.objects.filter(kind="CREW", actor=team["tech"]).count() == 3


@pytest.mark.parametrize(
    ("done", "target"),
    [
        ([], "ON_SITE"),
        ([], "RESTORED"),
        (["EN_ROUTE"], "EN_ROUTE"),  # a second tap on the same button
        (["EN_ROUTE", "ON_SITE", "RESTORED"], "ON_SITE"),
    ],
)
def test_illegal_status_moves_are_refused_with_a_message(tech, team, done, target):
    dispatch = team["dispatch"]
    move(dispatch, *done)
    events = IncidentEvent.objects.count()
    response = tech.post(job(dispatch, "status"), {"target": target, "confirm": "on"})
    assert response.status_code == 302
    assert "Action impossible" in messages_of(response)[0]
    before = dispatch.status
    dispatch.refresh_from_db()
    assert dispatch.status == before and IncidentEvent.objects.count() == events


def test_restored_needs_the_box_ticked(tech, team):
    dispatch = team["dispatch"]
    move(dispatch, "EN_ROUTE", "ON_SITE")
    page = tech.get(job(dispatch))
    assert 'name="confirm"' in page.content.decode()
    response = tech.post(job(dispatch, "status"), {"target": "RESTORED"})
    assert response.status_code == 302
    assert messages_of(response) == ["Cochez la case pour confirmer que le courant est rétabli."]
    dispatch.refresh_from_db()
    team["incident"].refresh_from_db()
    assert dispatch.status == "ON_SITE" and team["incident"].status == "CONFIRMED"


def test_a_technician_cannot_cancel_a_mission(tech, team):
    response = tech.post(job(team["dispatch"], "status"), {"target": "CANCELLED"})
    assert response.status_code == 302 and messages_of(response) == ["Statut inconnu."]
    team["dispatch"].refresh_from_db()
    assert team["dispatch"].status == "DISPATCHED"


def test_crew_sets_a_new_etr(tech, team):
    incident = team["incident"]
    later = (timezone.now() + timedelta(hours=2)).astimezone(PARIS)
    response = tech.post(
        job(team["dispatch"], "etr"),
        {
            "etr-date": later.date().isoformat(),
            "etr-time": later.strftime("%H:%M"),
            "etr-confidence": "HIGH",
        },
    )
    assert response.status_code == 302
    revision = EtrRevision.objects.filter(incident=incident).latest("issued_at")
    assert (revision.source, revision.confidence, revision.issued_by) == (
        "CREW",
        "HIGH",
        team["tech"],
    )
    assert revision.estimate == later.replace(second=0, microsecond=0)
    incident.refresh_from_db()
    assert incident.etr == revision.estimate and incident.etr_source == "CREW"
    update = PublicUpdate.objects.filter(incident=incident).latest("seq")
    assert local_time(revision.estimate) in update.message


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"etr-time": ""}, "time"),
        ({"etr-time": "25:61"}, "time"),
        ({"etr-date": "demain"}, "date"),
        ({"etr-confidence": "CERTAIN"}, "confidence"),
        ({"past": True}, "time"),  # the service refuses an estimate in the past
        ({"etr-date": "2031-01-01"}, "time"),  # more than 14 days ahead
    ],
)
def test_etr_bad_input_shows_field_errors_and_writes_nothing(tech, team, data, field):
    later = (timezone.now() + timedelta(hours=2)).astimezone(PARIS)
    earlier = (timezone.now() - timedelta(hours=1)).astimezone(PARIS)
    post = {
        "etr-date": later.date().isoformat(),
        "etr-time": later.strftime("%H:%M"),
        "etr-confidence": "MEDIUM",
    }
    if data.pop("past", False):
        post |= {"etr-date": earlier.date().isoformat(), "etr-time": earlier.strftime("%H:%M")}
    post |= data
    revisions, updates = EtrRevision.objects.count(), PublicUpdate.objects.count()
    response = tech.post(job(team["dispatch"], "etr"), post)
    assert response.status_code == 400
    assert field in response.context["forms"]["etr"].errors
    assert (EtrRevision.objects.count(), PublicUpdate.objects.count()) == (revisions, updates)
    assert 'class="errorlist"' in response.content.decode()


def test_etr_on_a_restored_incident_is_refused(tech, team):
    move(team["dispatch"], "EN_ROUTE", "ON_SITE", "RESTORED")
    later = (timezone.now() + timedelta(hours=2)).astimezone(PARIS)
    revisions = EtrRevision.objects.count()
    response = tech.post(
        job(team["dispatch"], "etr"),
        {
            "etr-date": later.date().isoformat(),
            "etr-time": later.strftime("%H:%M"),
            "etr-confidence": "HIGH",
        },
    )
    assert response.status_code == 302 and messages_of(response) == ["Cet incident est terminé."]
    assert EtrRevision.objects.count() == revisions


def test_crew_adds_a_note_and_a_photo(tech, team):
    dispatch = team["dispatch"]
    response = tech.post(job(dispatch, "notes"), {"note-text": "Poteau à remplacer"})
    assert response.status_code == 302
    photo = SimpleUploadedFile("poteau.png", PNG, content_type="image/png")
    response = tech.post(job(dispatch, "notes"), {"note-text": "", "note-photo": photo})
    assert response.status_code == 302
    notes = list(FieldNote.objects.filter(dispatch=dispatch).order_by("pk"))
    assert [n.text for n in notes] == ["Poteau à remplacer", ""]
    assert notes[1].photo and notes[1].author == team["tech"]
    page = tech.get(job(dispatch))
    assert "Poteau à remplacer" in page.content.decode()
    photo_url = f"{HOME}notes/{notes[1].pk}/photo/"
    assert photo_url in page.content.decode()
    response = tech.get(photo_url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG


@pytest.mark.parametrize(
    ("text", "photo", "field"),
    [
        ("  ", None, "text"),
        ("", SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain"), "photo"),
        (
            "Gros fichier",
            SimpleUploadedFile(
                "big.jpg", b"\xff" * (8 * 1024 * 1024 + 1), content_type="image/jpeg"
            ),
            "photo",
        ),
    ],
)
def test_note_bad_input_shows_field_errors_and_writes_nothing(tech, team, text, photo, field):
    data = {"note-text": text}
    if photo is not None:
        data["note-photo"] = photo
    response = tech.post(job(team["dispatch"], "notes"), data)
    assert response.status_code == 400
    assert field in response.context["forms"]["note"].errors
    assert not FieldNote.objects.exists()


# --- Diagnostic fee -------------------------------------------------------------------


def test_customer_told_before_the_visit_then_charged_after(tech, team):
    dispatch, account = team["dispatch"], team["account"]
    response = tech.post(job(dispatch, "diagnostic/notice"), {"notice-account": account.pk})
    assert response.status_code == 302
    charge = DiagnosticCharge.objects.get(dispatch=dispatch)
    assert charge.account == account and charge.charged_at is None
    move(dispatch, "EN_ROUTE", "ON_SITE")
    page = tech.get(job(dispatch))
    assert "Facturer" in page.content.decode()
    assert page.context["forms"]["charge"]["fee"].value() == Decimal("90.00")
    response = tech.post(
        job(dispatch, "diagnostic/charge"),
        {"charge-charge": charge.pk, "charge-fee": "95.00", "charge-parts": "12.50"},
    )
    assert response.status_code == 302
    entry = LedgerEntry.objects.get(account=account, kind="DIAGNOSTIC")
    assert entry.amount == Decimal("107.50")
    charge.refresh_from_db()
    assert charge.charged_at is not None and charge.recorded_by == team["tech"]


def test_notice_after_arrival_is_refused(tech, team):
    move(team["dispatch"], "EN_ROUTE", "ON_SITE")
    response = tech.post(
        job(team["dispatch"], "diagnostic/notice"), {"notice-account": team["account"].pk}
    )
    assert response.status_code == 302
    assert "avant l'arrivée" in messages_of(response)[0]
    assert not DiagnosticCharge.objects.exists()


def test_notice_for_an_account_not_on_the_incident_is_a_field_error(tech, team):
    _, stranger, _, _ = kit.customer(postcode="69007")
    response = tech.post(
        job(team["dispatch"], "diagnostic/notice"), {"notice-account": stranger.pk}
    )
    assert response.status_code == 400
    assert "account" in response.context["forms"]["notice"].errors
    assert not DiagnosticCharge.objects.exists()


@pytest.mark.parametrize(
    ("fee", "parts", "field"),
    [("60", "0", "fee"), ("130", "0", "fee"), ("abc", "0", "fee"), ("90", "-1", "parts")],
)
def test_charge_bad_input_shows_field_errors_and_books_nothing(tech, team, fee, parts, field):
    dispatch = team["dispatch"]
    charge = crews.diagnostic_notice(
        dispatch=dispatch, account=team["account"], now=timezone.now(), actor=None
    )
    move(dispatch, "EN_ROUTE", "ON_SITE")
    response = tech.post(
        job(dispatch, "diagnostic/charge"),
        {"charge-charge": charge.pk, "charge-fee": fee, "charge-parts": parts},
    )
    assert response.status_code == 400
    assert field in response.context["forms"]["charge"].errors
    assert not LedgerEntry.objects.filter(kind="DIAGNOSTIC").exists()
    charge.refresh_from_db()
    assert charge.charged_at is None


def test_charge_before_arrival_is_refused(tech, team):
    dispatch = team["dispatch"]
    charge = crews.diagnostic_notice(
        dispatch=dispatch, account=team["account"], now=timezone.now(), actor=None
    )
    response = tech.post(
        job(dispatch, "diagnostic/charge"),
        {"charge-charge": charge.pk, "charge-fee": "90", "charge-parts": "0"},
    )
    assert response.status_code == 302
    assert "après le passage" in messages_of(response)[0]
    assert not LedgerEntry.objects.filter(kind="DIAGNOSTIC").exists()


# --- Permissions ------------------------------------------------------------------------

ACTIONS = {
    "": None,
    "status/": {"target": "EN_ROUTE"},
    "etr/": {"etr-date": "2030-01-01", "etr-time": "10:00", "etr-confidence": "HIGH"},
    "notes/": {"note-text": "Intrus"},
    "diagnostic/notice/": {"notice-account": "1"},
    "diagnostic/charge/": {"charge-charge": "1", "charge-fee": "90"},
}


@pytest.mark.parametrize("action", ACTIONS)
def test_another_crews_job_is_not_found(tech, team, action):
    foreign = team["foreign"]
    target = f"{job(foreign)}{action}"
    data = ACTIONS[action]
    response = tech.get(target) if data is None else tech.post(target, data)
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == "DISPATCHED" and not FieldNote.objects.exists()
    assert not DiagnosticCharge.objects.exists()


def test_another_crews_photo_is_not_found(login, team):
    note = crews.field_note_add(
        dispatch=team["foreign"],
        text="",
        photo=SimpleUploadedFile("x.png", PNG, content_type="image/png"),
        now=timezone.now(),
        author=team["other_tech"],
    )
    assert login(team["tech"]).get(f"{HOME}notes/{note.pk}/photo/").status_code == 404


@pytest.mark.parametrize("action", ACTIONS)
def test_anonymous_is_sent_to_login(client, team, action):
    target = f"{job(team['dispatch'])}{action}"
    data = ACTIONS[action]
    response = client.get(target) if data is None else client.post(target, data)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Dispatch.objects.get(pk=team["dispatch"].pk).status == "DISPATCHED"


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.AGENT])
@pytest.mark.parametrize("action", ACTIONS)
def test_customers_and_agents_cannot_use_the_field_pages(make_user, login, team, role, action):
    client = login(make_user(role))
    target = f"{job(team['dispatch'])}{action}"
    data = ACTIONS[action]
    response = client.get(target) if data is None else client.post(target, data)
    assert response.status_code == 403
    assert client.get(HOME).status_code == 403
    assert Dispatch.objects.get(pk=team["dispatch"].pk).status == "DISPATCHED"


def test_technician_cannot_reach_the_console(tech, team):
    ref = team["incident"].reference
    assert tech.get("/console/outages/").status_code == 403
    assert tech.get(f"/console/outages/{ref}/").status_code == 403
    response = tech.post(f"/console/outages/{ref}/publish/", {"publish-message": "x"})
    assert response.status_code == 403
    assert Incident.objects.get(reference=ref).last_update_at is None


def test_job_page_queries_do_not_grow_with_reports_and_notes(tech, team):
    dispatch = team["dispatch"]

    def grow(n):
        for i in range(n):
            reports.report_submit(
                kind="OUTAGE",
                now=timezone.now(),
                postcode="75015",
                address=f"{i} rue Lecourbe",
                phone="0612345678",
                hazards=["HUMMING"],
            )
            crews.field_note_add(
                dispatch=dispatch, text=f"Note {i}", now=timezone.now(), author=team["tech"]
            )

    grow(1)
    tech.get(job(dispatch))  # the configurable fee bounds are read once, then cached
    with CaptureQueriesContext(connection) as small:
        first = tech.get(job(dispatch))
    grow(6)
    with CaptureQueriesContext(connection) as large:
        second = tech.get(job(dispatch))
    assert len(first.context["notes"]) == 1 and len(second.context["notes"]) == 7
    assert len(second.context["hazard_reports"]) == 8
    assert len(large) == len(small)


def test_an_etr_in_the_hour_skipped_by_summer_time_is_a_field_error(tech, team):
    # 29 March 2026, 01:00 in Paris: 02:00–03:00 does not exist that night.
    with time_machine.travel("2026-03-29T00:00:00+00:00", tick=False):
        response = tech.post(
            job(team["dispatch"], "etr"),
            {"etr-date": "2026-03-29", "etr-time": "02:30", "etr-confidence": "HIGH"},
        )
        assert response.status_code == 400
        assert "time" in response.context["forms"]["etr"].errors
        ok = tech.post(
            job(team["dispatch"], "etr"),
            {"etr-date": "2026-03-29", "etr-time": "03:30", "etr-confidence": "HIGH"},
        )
    assert ok.status_code == 302
    revision = EtrRevision.objects.filter(source="CREW").get()
    assert revision.estimate.isoformat() == "2026-03-29T01:30:00+00:00"  # 03:30 CEST
