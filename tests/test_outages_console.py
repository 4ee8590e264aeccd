"""The dispatchers' outage pages: the incident board (with streetlights and the
priority call list), opening incidents and planned works, and every action of the
incident page through its own URL. Happy paths, bad input (field errors, nothing
written), moves the state forbids (a message, no change), permissions, and a board
whose number of queries does not grow with the incidents."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from accounts.models import Role
from outages.models import (
    CallListEntry,
    Dispatch,
    EtrRevision,
    FieldNote,
    Incident,
    IncidentEvent,
    IncidentTicket,
    OutageReport,
    PublicUpdate,
    ReportEvent,
)
from outages.services import crews, incidents, notifications, reports
from tests import outage_kit as kit
from tickets import services as ticket_services

from .factories import UserFactory

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
BOARD = "/console/outages/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Fan-out and settlement tasks are not the pages' business: record them."""
    queued = []
    monkeypatch.setattr(incidents, "_enqueue", lambda task, **kw: queued.append((task, kw)))
    return queued


@pytest.fixture
def ops(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    agent = UserFactory(role=Role.AGENT, email="dispatch@powernext.example")
    tech = UserFactory(role=Role.FIELD_TECHNICIAN)
    south = kit.crew("Équipe Paris Sud", tech, area_codes=("PARIS-15",))
    lyon = kit.crew("Équipe Lyon", area_codes=("LYON-07",))
    for _ in range(2):
        kit.customer(postcode="75015")
    kit.customer(postcode="75015", priority=True)
    return {"agent": agent, "tech": tech, "south": south, "lyon": lyon}


@pytest.fixture
def agent(ops, login):
    return login(ops["agent"])


def open_incident(postcodes=("75015",), *, title="Câble HTA endommagé", ago=60, **kwargs):
    now = timezone.now()
    return incidents.incident_open(
        title=title,
        postcodes=list(postcodes),
        started_at=now - timedelta(minutes=ago),
        now=now,
        actor=None,
        **kwargs,
    )


def suspect(postcode="69007", address="12 rue de Marseille", **kwargs):
    report = reports.report_submit(
        kind="OUTAGE",
        now=timezone.now(),
        postcode=postcode,
        address=address,
        phone="06 12 34 56 78",
        **kwargs,
    )
    return report.incident


def local_input(instant) -> str:
    return instant.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def url(incident, action=""):
    return f"{BOARD}{incident.reference}/{action + '/' if action else ''}"


# --- Board --------------------------------------------------------------------------


def test_board_lists_live_incidents_by_class_then_age_with_their_figures(agent, ops):
    old_p3 = open_incident(["69007"], title="Lyon isolé", ago=300)  # no customers: P3
    p1 = open_incident(["75015"], title="Paris 15", ago=30)
    older_p1 = open_incident(["75015"], title="Paris 15 bis", ago=90, safety_critical=True)
    restored = open_incident(["75015"], title="Fini")
    incidents.incident_restore(incident=restored, now=timezone.now(), actor=None)
    incidents.incident_class_override(
        incident=p1,
        klass="P2",
        reason="Poste privé, un seul bâtiment",
        now=timezone.now(),
        actor=ops["agent"],
    )
    crews.dispatch_create(incident=older_p1, crew=ops["south"], now=timezone.now(), actor=None)
    Incident.objects.filter(pk=older_p1.pk).update(
        next_update_due_at=timezone.now() - timedelta(minutes=5)
    )

    page = agent.get(BOARD)

    assert page.status_code == 200
    refs = [row["incident"].reference for row in page.context["rows"]]
    assert refs == [older_p1.reference, p1.reference, old_p3.reference]
    html = page.content.decode()
    assert restored.reference not in html
    rows = {r["incident"].reference: r for r in page.context["rows"]}
    assert rows[older_p1.reference]["update_late"] is True
    assert rows[p1.reference]["update_late"] is False
    assert "Poste privé, un seul bâtiment" in html  # the override reason
    assert 'data-testid="proposed-class">proposée P1' in html
    assert 'data-testid="safety"' in html
    assert "Équipe Paris Sud" in html and "Équipe missionnée" in html
    assert 'data-late="1"' in html
    # The command ticket's clocks: the P1 notice and the crew's on-site target.
    clock_names = [c["clock"].name for c in rows[older_p1.reference]["clocks"]]
    assert "Avis public P1 15 min" in clock_names
    assert "Équipe sur place (urbain) 4 h" in clock_names
    assert rows[older_p1.reference]["incident"].customers_affected == 3
    assert 'data-testid="priority-count"' in html


def test_board_shows_the_nav_entry_and_is_empty_without_incidents(agent):
    page = agent.get(BOARD)
    assert page.status_code == 200
    assert "Aucun incident en cours." in page.content.decode()
    assert f'href="{BOARD}" aria-current="page"' in page.content.decode()


def _grow(ops, n):
    """n more live incidents, each with a crew, a report, a call to make and a light."""
    for i in range(n):
        incident = open_incident(["75015"], title=f"Incident {i}")
        crews.dispatch_create(incident=incident, crew=ops["south"], now=timezone.now(), actor=None)
        _, account, _, _ = kit.customer(postcode="75015", priority=True)
        notifications.call_list_add(
            incident=incident, account_id=account.pk, reason="SMS en échec", now=timezone.now()
        )
        reports.report_submit(
            kind="STREETLIGHT",
            now=timezone.now(),
            postcode="75015",
            address=f"{i} rue Lecourbe",
            phone="0612345678",
        )
    suspect(postcode="33000", address=f"{n} cours Victor Hugo")


def test_board_runs_the_same_number_of_queries_however_many_incidents(
    agent, ops, django_assert_max_num_queries
):
    _grow(ops, 1)
    with CaptureQueriesContext(connection) as small:
        first = agent.get(BOARD)
    _grow(ops, 6)
    with CaptureQueriesContext(connection) as large:
        second = agent.get(BOARD)
    assert len(first.context["rows"]) == 2 and len(second.context["rows"]) == 8
    assert len(second.context["calls"]) == 7 and len(second.context["streetlights"]) == 7
    assert len(large) == len(small)
    with django_assert_max_num_queries(12):
        agent.get(BOARD)


# --- Opening incidents and works ----------------------------------------------------


def test_dispatcher_opens_an_incident_from_the_form(agent, ops):
    started = timezone.now() - timedelta(hours=1)
    response = agent.post(
        f"{BOARD}new/",
        {
            "title": "Transformateur en panne",
            "postcodes": "75015, 75014 75007",
            "cause": "EQUIPMENT",
            "started_at": local_input(started),
            "feeder": "HTA-12",
            "safety_critical": "on",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url(incident)
    assert incident.postcodes == ["75007", "75014", "75015"]
    assert incident.cause == "EQUIPMENT" and incident.feeder == "HTA-12"
    assert incident.safety_critical and incident.klass == "P1"
    assert incident.created_by == ops["agent"]
    # Typed in Paris time, stored as the same instant (to the minute).
    assert incident.started_at == started.replace(second=0, microsecond=0)
    assert agent.get(f"{BOARD}new/").status_code == 200


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": "", "postcodes": "75015"}, "title"),
        ({"title": "Panne", "postcodes": ""}, "postcodes"),
        ({"title": "Panne", "postcodes": "75015, 7501$"}, "postcodes"),
        ({"title": "Panne", "postcodes": "75015", "cause": "ALIENS"}, "cause"),
        ({"title": "Panne", "postcodes": "75015", "started_at": "hier"}, "started_at"),
        # The service refuses a start in the future: shown on the same field.
        ({"title": "Panne", "postcodes": "75015", "future": True}, "started_at"),
    ],
)
def test_open_incident_bad_input_shows_field_errors_and_writes_nothing(agent, data, field):
    data = {"cause": "UNKNOWN", **data}
    if data.pop("future", False):
        data["started_at"] = local_input(timezone.now() + timedelta(hours=2))
    response = agent.post(f"{BOARD}new/", data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Incident.objects.exists()


def test_dispatcher_announces_planned_works(agent):
    start = timezone.now() + timedelta(days=10)
    response = agent.post(
        f"{BOARD}planned/new/",
        {
            "title": "Renouvellement du poste Lecourbe",
            "postcodes": "75015",
            "planned_start": local_input(start),
            "planned_end": local_input(start + timedelta(hours=4)),
            "message": "Coupure de 9 h à 13 h pour travaux.",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == url(incident)
    assert incident.status == "PLANNED" and incident.planned
    assert incident.customers_affected == 3 and incident.priority_customers == 1
    assert PublicUpdate.objects.get(incident=incident).kind == "PLANNED"
    assert agent.get(f"{BOARD}planned/new/").status_code == 200


@pytest.mark.parametrize(
    ("start_in", "length", "field"),
    [
        (timedelta(hours=3), timedelta(hours=2), "planned_start"),  # announced too late
        (timedelta(days=10), -timedelta(hours=1), "planned_end"),
    ],
)
def test_planned_works_bad_input(agent, start_in, length, field):
    start = timezone.now() + start_in
    response = agent.post(
        f"{BOARD}planned/new/",
        {
            "title": "Travaux",
            "postcodes": "75015",
            "planned_start": local_input(start),
            "planned_end": local_input(start + length),
            "message": "Avis",
        },
    )
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Incident.objects.exists() and not PublicUpdate.objects.exists()


# --- Incident page ----------------------------------------------------------------


def test_incident_page_shows_timeline_reports_estimates_and_updates(agent, ops):
    incident = suspect(postcode="75015", address="3 rue Lecourbe", hazards=["SPARKS"])
    incidents.incident_confirm(incident=incident, now=timezone.now(), actor=None)
    incidents.incident_update_publish(
        incident=incident, message="Équipes en route.", now=timezone.now(), actor=ops["agent"]
    )
    page = agent.get(url(incident))
    assert page.status_code == 200
    html = page.content.decode()
    report = OutageReport.objects.get(incident=incident)
    assert report.reference in html and "SPARKS" in html
    assert "Équipes en route." in html
    assert "Estimation automatique" in html  # the SYSTEM revision
    kinds = [row["event"].kind for row in page.context["timeline"]]
    assert {"CREATED", "REPORT", "STATUS", "ETR", "PUBLISHED_NOTICE"} <= set(kinds)
    # Crews covering the incident's area come first in the dispatch form.
    choices = [label for _, label in page.context["forms"]["dispatch"].fields["crew"].choices]
    assert choices[1:] == ["Équipe Paris Sud ★", "Équipe Lyon"]


def test_unknown_incident_is_404(agent):
    assert agent.get(f"{BOARD}INC-2026-99999/").status_code == 404
    assert (
        agent.post(f"{BOARD}INC-2026-99999/publish/", {"publish-message": "x"}).status_code == 404
    )


def _count(incident):
    return IncidentEvent.objects.filter(incident=incident).count()


def test_confirm_a_suspect_with_more_postcodes_and_a_cause(agent):
    incident = suspect(postcode="75015")
    response = agent.post(
        url(incident, "confirm"), {"confirm-postcodes": "75015 75014", "confirm-cause": "WEATHER"}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "CONFIRMED" and incident.cause == "WEATHER"
    assert incident.postcodes == ["75014", "75015"]
    assert incident.customers_affected == 4  # three homes in 75015 and the reporter
    assert "Incident confirmé." in messages_of(response)


def test_override_class_with_a_reason(agent, ops):
    incident = open_incident()
    response = agent.post(
        url(incident, "override"), {"override-klass": "P2", "override-reason": "Un seul immeuble"}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.klass == "P2" and incident.proposed_klass == "P1"
    assert incident.class_override_reason == "Un seul immeuble"
    assert IncidentEvent.objects.filter(
        incident=incident, kind="CLASS_OVERRIDE", actor=ops["agent"]
    ).exists()


def test_publish_an_update(agent, ops):
    incident = open_incident()
    response = agent.post(url(incident, "publish"), {"publish-message": "Réparation en cours."})
    assert response.status_code == 302
    update = PublicUpdate.objects.get(incident=incident)
    assert update.message == "Réparation en cours." and update.kind == "NOTICE"
    assert update.author == ops["agent"]


def test_revise_the_etr_as_operator(agent, ops):
    incident = open_incident()
    estimate = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    response = agent.post(
        url(incident, "etr"), {"etr-estimate": local_input(estimate), "etr-confidence": "HIGH"}
    )
    assert response.status_code == 302
    revision = EtrRevision.objects.filter(incident=incident).latest("issued_at")
    assert (revision.source, revision.confidence, revision.estimate) == (
        "OPERATOR",
        "HIGH",
        estimate,
    )
    assert revision.issued_by == ops["agent"]
    assert PublicUpdate.objects.filter(incident=incident).exists()


def test_dispatch_a_crew_then_move_it(agent, ops):
    incident = open_incident()
    response = agent.post(url(incident, "dispatch"), {"dispatch-crew": ops["south"].pk})
    assert response.status_code == 302
    dispatch = Dispatch.objects.get(incident=incident)
    assert dispatch.crew == ops["south"] and dispatch.status == "DISPATCHED"
    response = agent.post(f"{url(incident)}dispatches/{dispatch.pk}/move/", {"target": "EN_ROUTE"})
    assert response.status_code == 302
    dispatch.refresh_from_db()
    assert dispatch.status == "EN_ROUTE" and dispatch.en_route_at is not None
    page = agent.get(url(incident))
    assert [v for v, _ in page.context["dispatch_rows"][0]["targets"]] == ["ON_SITE", "CANCELLED"]


def test_merge_a_suspect_into_another_incident(agent):
    target = open_incident(["75015"])
    stray = suspect(postcode="69007")
    response = agent.post(url(stray, "merge"), {"merge-into": target.reference})
    assert response.status_code == 302
    stray.refresh_from_db()
    assert stray.status == "CANCELLED"
    assert OutageReport.objects.get().incident == target


def test_link_a_customer_ticket(agent, ops):
    incident = open_incident()
    user, account, _, _ = kit.customer(postcode="75015")
    ticket = ticket_services.ticket_create(
        account=account,
        requester=user,
        channel="PORTAL",
        category="OTHER",
        subject="Plus de courant",
        body="Depuis ce matin",
        now=timezone.now(),
    )
    response = agent.post(url(incident, "link"), {"link-reference": ticket.reference})
    assert response.status_code == 302
    assert IncidentTicket.objects.filter(incident=incident, ticket=ticket).exists()


def test_restore_then_close(agent):
    incident = open_incident()
    response = agent.post(url(incident, "restore"), {"restore-message": "Tout est rentré."})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "RESTORED" and incident.ended_at is not None
    assert PublicUpdate.objects.get(incident=incident, kind="RESTORED").message == (
        "Tout est rentré."
    )
    response = agent.post(url(incident, "close"))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "CLOSED"


def test_cancel_with_a_reason(agent):
    incident = suspect(postcode="69007")
    response = agent.post(url(incident, "cancel"), {"cancel-reason": "Fausse alerte"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "CANCELLED"


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("confirm", {"confirm-postcodes": "75014, ?"}, "postcodes"),
        ("override", {"override-klass": "P2", "override-reason": ""}, "reason"),
        ("override", {"override-klass": "P9", "override-reason": "x"}, "klass"),
        ("publish", {"publish-message": "  "}, "message"),
        ("etr", {"etr-estimate": "", "etr-confidence": "HIGH"}, "estimate"),
        ("etr", {"etr-estimate": "past", "etr-confidence": "HIGH"}, "estimate"),
        ("etr", {"etr-estimate": "later", "etr-confidence": "SURE"}, "confidence"),
        ("dispatch", {"dispatch-crew": ""}, "crew"),
        ("dispatch", {"dispatch-crew": "inactive"}, "crew"),
        ("dispatch", {"dispatch-crew": "busy"}, "crew"),
        ("merge", {"merge-into": "INC-1999-00001"}, "into"),
        ("merge", {"merge-into": "self"}, "into"),
        ("link", {"link-reference": "PN-1999-000001"}, "reference"),
        ("link", {"link-reference": "own"}, "reference"),
        ("cancel", {"cancel-reason": ""}, "reason"),
    ],
)
def test_action_bad_input_shows_the_field_error_and_writes_nothing(agent, ops, action, data, field):
    incident = suspect(postcode="75015") if action in ("merge", "confirm") else open_incident()
    if action == "merge":
        open_incident(["75014"])
    if action == "dispatch" and data["dispatch-crew"] == "busy":
        crews.dispatch_create(incident=incident, crew=ops["south"], now=timezone.now(), actor=None)
    ops["lyon"].active = data.get("dispatch-crew") != "inactive"
    ops["lyon"].save()
    replace = {
        "past": local_input(timezone.now() - timedelta(hours=1)),
        "later": local_input(timezone.now() + timedelta(hours=1)),
        "inactive": str(ops["lyon"].pk),
        "busy": str(ops["south"].pk),
        "self": incident.reference,
        "own": incident.ticket.reference,
    }
    data = {k: replace.get(v, v) for k, v in data.items()}
    before = {
        "events": _count(incident),
        "etrs": EtrRevision.objects.count(),
        "updates": PublicUpdate.objects.count(),
        "dispatches": Dispatch.objects.count(),
        "links": IncidentTicket.objects.count(),
        "status": incident.status,
        "klass": incident.klass,
    }
    response = agent.post(url(incident, action), data)
    assert response.status_code == 400
    assert field in response.context["forms"][action].errors
    incident.refresh_from_db()
    assert before == {
        "events": _count(incident),
        "etrs": EtrRevision.objects.count(),
        "updates": PublicUpdate.objects.count(),
        "dispatches": Dispatch.objects.count(),
        "links": IncidentTicket.objects.count(),
        "status": incident.status,
        "klass": incident.klass,
    }
    # The page says so next to the field, and keeps the form open.
    assert f'data-action="{action}"' in response.content.decode()
    assert 'class="errorlist"' in response.content.decode()


def _restored():
    incident = open_incident()
    incidents.incident_restore(incident=incident, now=timezone.now(), actor=None)
    return incident


def _closed():
    incident = _restored()
    incidents.incident_close(incident=incident, now=timezone.now(), actor=None)
    return incident


@pytest.mark.parametrize(
    ("make", "action", "data"),
    [
        (open_incident, "confirm", {}),  # already confirmed
        (suspect, "restore", {}),  # a suspect is confirmed first
        (open_incident, "close", {}),  # not restored yet
        (_restored, "cancel", {"cancel-reason": "erreur"}),
        (_closed, "restore", {}),
        (_restored, "publish", {"publish-message": "Encore ?"}),
        (_closed, "override", {"override-klass": "P1", "override-reason": "x"}),
        (_restored, "dispatch", {"dispatch-crew": "south"}),
        (open_incident, "merge", {"merge-into": "other"}),  # no report to regroup
    ],
)
def test_moves_the_state_forbids_are_refused_with_a_message(agent, ops, make, action, data):
    incident = make()
    incident.refresh_from_db()
    other = open_incident(["75014"])
    data = {
        k: {"south": str(ops["south"].pk), "other": other.reference}.get(v, v)
        for k, v in data.items()
    }
    status, events = incident.status, _count(incident)
    response = agent.post(url(incident, action), data)
    assert response.status_code == 302 and response["Location"] == url(incident)
    text = messages_of(response)
    assert len(text) == 1 and text[0]
    incident.refresh_from_db()
    assert (incident.status, _count(incident)) == (status, events)
    # The message is shown on the page it leads back to.
    assert escape(text[0]) in agent.get(url(incident)).content.decode()


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("DISPATCHED", "ON_SITE"),
        ("DISPATCHED", "RESTORED"),
        ("EN_ROUTE", "RESTORED"),
        ("ON_SITE", "CANCELLED"),
        ("CANCELLED", "EN_ROUTE"),
    ],
)
def test_illegal_dispatch_moves_are_refused(agent, ops, start, target):
    incident = open_incident()
    dispatch = crews.dispatch_create(
        incident=incident, crew=ops["south"], now=timezone.now(), actor=None
    )
    path = {"DISPATCHED": [], "EN_ROUTE": ["EN_ROUTE"], "ON_SITE": ["EN_ROUTE", "ON_SITE"]}
    for step in path.get(start, [start]):
        crews.dispatch_transition(dispatch=dispatch, target=step, now=timezone.now(), actor=None)
    response = agent.post(f"{url(incident)}dispatches/{dispatch.pk}/move/", {"target": target})
    assert response.status_code == 302
    assert "Action impossible" in messages_of(response)[0]
    dispatch.refresh_from_db()
    assert dispatch.status == start


def test_a_dispatch_of_another_incident_is_404(agent, ops):
    one, two = open_incident(), open_incident(["75014"])
    dispatch = crews.dispatch_create(
        incident=two, crew=ops["south"], now=timezone.now(), actor=None
    )
    response = agent.post(f"{url(one)}dispatches/{dispatch.pk}/move/", {"target": "EN_ROUTE"})
    assert response.status_code == 404


def test_console_shows_a_field_photo(agent, ops):
    incident = open_incident()
    dispatch = crews.dispatch_create(
        incident=incident, crew=ops["south"], now=timezone.now(), actor=None
    )
    note = crews.field_note_add(
        dispatch=dispatch,
        text="Câble arraché",
        photo=SimpleUploadedFile("cable.png", PNG, content_type="image/png"),
        now=timezone.now(),
        author=ops["tech"],
    )
    page = agent.get(url(incident))
    assert f"{BOARD}notes/{note.pk}/photo/" in page.content.decode()
    response = agent.get(f"{BOARD}notes/{note.pk}/photo/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG
    text_only = FieldNote.objects.create(
        dispatch=dispatch, author=None, at=timezone.now(), text="x"
    )
    assert agent.get(f"{BOARD}notes/{text_only.pk}/photo/").status_code == 404


# --- Streetlights and calls ---------------------------------------------------------


def streetlight():
    return reports.report_submit(
        kind="STREETLIGHT",
        now=timezone.now(),
        postcode="75015",
        address="5 rue Lecourbe",
        phone="0612345678",
    )


@pytest.mark.parametrize(
    ("steps", "expected"),
    [(["schedule"], "SCHEDULED"), (["schedule", "fixed"], "FIXED"), (["reject"], "REJECTED")],
)
def test_streetlight_report_moves(agent, steps, expected):
    report = streetlight()
    for step in steps:
        response = agent.post(f"{BOARD}streetlights/{report.pk}/{step}/")
        assert response.status_code == 302 and response["Location"] == BOARD
    report.refresh_from_db()
    assert report.status == expected
    still_listed = report in agent.get(BOARD).context["streetlights"]
    assert still_listed == (expected == "SCHEDULED")


def test_streetlight_illegal_move_and_outage_report_refused(agent):
    report = streetlight()
    events = ReportEvent.objects.count()
    response = agent.post(f"{BOARD}streetlights/{report.pk}/fixed/")
    assert "Action impossible" in messages_of(response)[0]
    report.refresh_from_db()
    assert report.status == "RECEIVED" and ReportEvent.objects.count() == events
    outage = OutageReport.objects.get(incident=suspect())
    assert agent.post(f"{BOARD}streetlights/{outage.pk}/schedule/").status_code == 404
    assert agent.post(f"{BOARD}streetlights/{report.pk}/explode/").status_code == 404


def test_call_list_entry_marked_called(agent, ops):
    incident = open_incident()
    _, account, _, _ = kit.customer(postcode="75015", priority=True)
    notifications.call_list_add(
        incident=incident, account_id=account.pk, reason="Aucun canal", now=timezone.now()
    )
    entry = CallListEntry.objects.get()
    assert account.name in agent.get(BOARD).content.decode()
    response = agent.post(f"{BOARD}calls/{entry.pk}/done/", {"outcome": ""})
    assert response.status_code == 400
    assert "outcome" in response.context["bound_call"][1].errors
    entry.refresh_from_db()
    assert entry.called_at is None
    response = agent.post(
        f"{BOARD}calls/{entry.pk}/done/", {"outcome": "Joint, groupe électrogène OK"}
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.called_by == ops["agent"] and entry.outcome == "Joint, groupe électrogène OK"
    assert account.name not in agent.get(BOARD).content.decode()
    again = agent.post(f"{BOARD}calls/{entry.pk}/done/", {"outcome": "Rappel"})
    assert again.status_code == 302 and "déjà noté" in messages_of(again)[0]


# --- Permissions ------------------------------------------------------------------

PAGES = ["", "new/", "planned/new/", "{ref}/"]
POSTS = ["{ref}/publish/", "{ref}/restore/", "streetlights/1/schedule/", "calls/1/done/"]


@pytest.mark.parametrize("path", PAGES + POSTS)
def test_anonymous_is_sent_to_login(client, ops, path):
    incident = open_incident()
    target = BOARD + path.format(ref=incident.reference)
    response = client.post(target) if path in POSTS else client.get(target)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not PublicUpdate.objects.exists()


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.FIELD_TECHNICIAN])
@pytest.mark.parametrize("path", PAGES + POSTS)
def test_customers_and_technicians_cannot_use_the_console(login, ops, role, path):
    incident = open_incident()
    user = ops["tech"] if role == Role.FIELD_TECHNICIAN else kit.customer()[0]
    client = login(user)
    target = BOARD + path.format(ref=incident.reference)
    response = (
        client.post(target, {"publish-message": "x"}) if path in POSTS else client.get(target)
    )
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == "CONFIRMED" and not PublicUpdate.objects.exists()


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMIN])
def test_supervisors_and_admins_use_the_board(make_user, login, role):
    assert login(make_user(role)).get(BOARD).status_code == 200


def test_incident_page_queries_do_not_grow_with_reports_crews_and_notes(agent, ops):
    incident = suspect(postcode="75015", address="1 rue Lecourbe")
    incidents.incident_confirm(incident=incident, now=timezone.now(), actor=None)

    def grow(n):
        for i in range(n):
            suspect(postcode="75015", address=f"{i + 2} rue Lecourbe", hazards=["SMOKE"])
            crew = kit.crew(f"Renfort {Dispatch.objects.count()}", area_codes=("PARIS-15",))
            dispatch = crews.dispatch_create(
                incident=incident, crew=crew, now=timezone.now(), actor=None
            )
            crews.field_note_add(
                dispatch=dispatch, text="Sur place", now=timezone.now(), author=ops["tech"]
            )

    grow(1)
    with CaptureQueriesContext(connection) as small:
        first = agent.get(url(incident))
    grow(6)
    with CaptureQueriesContext(connection) as large:
        second = agent.get(url(incident))
    assert len(first.context["reports"]) == 2 and len(second.context["reports"]) == 8
    assert len(second.context["dispatch_rows"]) == 7
    assert len(large) == len(small)
