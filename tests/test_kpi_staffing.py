"""Staffing planner: the supervisor page /supervisor/staffing/ (typed forecast or a past
day's contacts) and GET /api/v1/kpi/staffing. SUPERVISOR and ADMIN only; bad input and
loads no staffing can serve are 400s with the message on the field; the history read
is one query whatever the volume."""

from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from kpi import selectors
from tickets.models import Contact

from .test_api_b2b import (  # noqa: F401 (_ratelimit_keys is an autouse fixture)
    _ratelimit_keys,
    assert_error,
    bearer,
    business_api_client,
)

PARIS = ZoneInfo("Europe/Paris")
PAGE = "/supervisor/staffing/"
API = "/api/v1/kpi/staffing"
PUBLISHED = {
    "contacts": "100",
    "interval_minutes": "30",
    "aht_seconds": "180",
    "target_service_level": "0.8",
    "target_answer_seconds": "20",
    "shrinkage": "0.3",
}


def form_data(**overrides) -> dict:
    data = {
        "source": "manual",
        "forecast": "100\n100",
        "start_time": "08:00",
        "interval_minutes": "30",
        "aht_seconds": "180",
        "target_service_level": "80",
        "target_answer_seconds": "20",
        "shrinkage": "30",
        "max_occupancy": "",
        "channel": "PHONE",
    }
    data.update(overrides)
    return data


@pytest.fixture
def supervisor(make_user, login):
    return login(make_user(Role.SUPERVISOR, totp=True))


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


def contact(at: datetime, **fields) -> Contact:
    values = {"channel": "PHONE", "queue": "BILLING", "offered_at": at}
    values.update(fields)
    return Contact(**values)


# --- Page: access ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_is_for_supervisors_and_admins_only(client, make_user, login):
    anonymous = client.get(PAGE)
    assert anonymous.status_code == 302 and "/accounts/login" in anonymous["Location"]

    for role in (Role.CUSTOMER, Role.AGENT, Role.FIELD_TECHNICIAN):
        assert login(make_user(role, totp=role != Role.CUSTOMER)).get(PAGE).status_code == 403

    unverified = make_user(Role.SUPERVISOR, totp=True)
    response = login(unverified, verified=False).get(PAGE)
    assert response.status_code == 302 and "otp" in response["Location"]

    for role in (Role.SUPERVISOR, Role.ADMIN):
        response = login(make_user(role, totp=True)).get(PAGE, form_data())
        assert response.status_code == 200
        assert response.context["report"].plan.peak_agents == 14


@pytest.mark.django_db
def test_the_empty_form_offers_the_defaults(supervisor):
    response = supervisor.get(reverse("supervisor:staffing"))
    assert response.status_code == 200
    assert response.context["report"] is None
    page = response.content.decode()
    assert 'name="shrinkage"' in page and 'value="30"' in page
    assert "staffing-result" not in page


# --- Page: a typed forecast ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_typed_forecast_gives_agents_service_level_asa_occupancy_and_fte(supervisor):
    response = supervisor.get(PAGE, form_data(forecast="40, 100\n0 ; 62.5", start_time="08:00"))

    assert response.status_code == 200
    report = response.context["report"]
    rows = report.rows
    assert [f"{r.starts:%H:%M}-{r.ends:%H:%M}" for r in rows] == [
        "08:00-08:30",
        "08:30-09:00",
        "09:00-09:30",
        "09:30-10:00",
    ]
    assert [r.staffing.agents for r in rows][1] == 14
    assert rows[2].staffing.agents == 0 and rows[2].staffing.service_level is None
    assert report.plan.peak_agents == 14 and report.plan.fte == 20
    assert rows[1].is_peak and not rows[0].is_peak
    page = response.content.decode()
    # The published figures, in French formats, with the assumptions beside them.
    assert "88,8 %" in page and "7,8 s" in page and "71,4 %" in page
    assert "A = contacts × 180 s ÷ 1800 s" in page
    assert "NS ≥ 80 % en 20 s" in page
    assert "⌈N ÷ (1 − 30 %)⌉" in page
    assert "⌈14 conseillers en pointe ÷ (1 − 30 %)⌉" in page
    assert 'id="staffing-data"' in page and "chart.umd.min.js" in page
    assert report.chart["agents"] == [r.staffing.agents for r in rows]


@pytest.mark.django_db
def test_the_worked_example_over_sixteen_half_hours_is_28_fte(supervisor):
    response = supervisor.get(
        PAGE,
        form_data(
            forecast=",".join(["75"] * 16),
            aht_seconds="330",
            target_service_level="90",
        ),
    )
    assert response.status_code == 200
    plan = response.context["report"].plan
    assert plan.peak_agents == 19 and plan.fte == 28 and plan.agent_hours == 152
    assert "16 intervalles de 30 min, de 08:00 à 16:00." in response.content.decode()


@pytest.mark.django_db
def test_shares_are_read_in_french_and_kept_exact(supervisor):
    # 21 Erlangs would need 22 agents; here 20 Erlangs and a tiny target give 21 → 30 FTE.
    response = supervisor.get(
        PAGE,
        form_data(
            forecast="240",
            interval_minutes="60",
            aht_seconds="300",
            target_service_level="0,001",
            target_answer_seconds="0",
            shrinkage="30,0",
            max_occupancy="99,5",
        ),
    )
    assert response.status_code == 200, response.context["form"].errors
    row = response.context["report"].rows[0]
    assert (row.staffing.agents, row.staffing.fte) == (21, 30)


# --- Page: bad input -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"forecast": ""}, "forecast", "au moins un intervalle"),
        ({"forecast": " \n , "}, "forecast", "au moins un intervalle"),
        ({"forecast": "12\nabc\n7"}, "forecast", "« abc » (intervalle 2)"),
        ({"forecast": "12,-5"}, "forecast", "négatif"),
        ({"forecast": "1e3"}, "forecast", "« 1e3 »"),
        ({"forecast": ",".join(["5"] * 33), "start_time": "08:00"}, "forecast", "minuit"),
        ({"start_time": ""}, "start_time", "premier intervalle"),
        ({"interval_minutes": "0"}, "interval_minutes", ""),
        ({"interval_minutes": "45"}, "interval_minutes", ""),
        ({"aht_seconds": "0"}, "aht_seconds", ""),
        ({"aht_seconds": "-30"}, "aht_seconds", ""),
        ({"target_service_level": "101"}, "target_service_level", "100 au plus"),
        ({"target_service_level": "0"}, "target_service_level", "supérieur à 0"),
        ({"target_service_level": "beaucoup"}, "target_service_level", ""),
        ({"target_answer_seconds": "-1"}, "target_answer_seconds", ""),
        ({"shrinkage": "100"}, "shrinkage", "sous 100 %"),
        ({"shrinkage": "-5"}, "shrinkage", ""),
        ({"max_occupancy": "0"}, "max_occupancy", "supérieur à 0"),
        ({"max_occupancy": "120"}, "max_occupancy", "100 au plus"),
        ({"source": "history"}, "history_day", "Choisissez la journée"),
        ({"source": "elsewhere"}, "source", ""),
    ],
)
def test_bad_input_is_a_400_with_the_error_on_its_field(supervisor, overrides, field, text):
    response = supervisor.get(PAGE, form_data(**overrides))

    assert response.status_code == 400
    assert response.context["report"] is None
    errors = response.context["form"].errors
    assert field in errors, errors
    assert text in " ".join(errors[field])
    page = response.content.decode()
    assert 'data-testid="staffing-errors"' in page and 'aria-invalid="true"' in page
    assert "staffing-result" not in page


@pytest.mark.django_db
def test_a_history_day_must_be_in_the_past(supervisor):
    today = timezone.localdate()
    response = supervisor.get(
        PAGE, form_data(source="history", history_day=today.isoformat(), forecast="")
    )
    assert response.status_code == 400
    assert "journée passée" in " ".join(response.context["form"].errors["history_day"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"forecast": "1\n100", "max_occupancy": "0,001"}, "max_occupancy", "Intervalle 2 — "),
        ({"target_service_level": "100"}, "target_service_level", "jamais atteint"),
        ({"forecast": "1\n200000000"}, "forecast", "plus de 50"),
    ],
)
def test_a_load_no_staffing_can_serve_is_explained_not_a_crash(supervisor, overrides, field, text):
    response = supervisor.get(PAGE, form_data(**overrides))
    assert response.status_code == 400
    assert text in " ".join(response.context["form"].errors[field])
    assert response.context["report"] is None


# --- Page: forecast from a past day ----------------------------------------------------------------


def _history_day() -> date:
    return timezone.localdate() - timedelta(days=3)


def _fill_day(day: date, per_slot: int) -> None:
    """`per_slot` billing calls at 09:05, 09:40 and 11:10 and chats at 11:20; two abandons
    at 10:40 that count (after exactly 5 s, and with no end known); and contacts that are
    not offered or not this day's: another queue, outbound, turned away, the chatbot's
    own, an e-mail, a hang-up after 3 s, the evenings before and after."""

    def at(hhmm: str, d: date = day) -> datetime:
        return datetime.combine(d, time.fromisoformat(hhmm), tzinfo=PARIS)

    rows = []
    for _ in range(per_slot):
        rows += [contact(at("09:05")), contact(at("09:40")), contact(at("11:10"))]
        rows += [contact(at("11:20"), channel="CHAT")]
    rows += [
        contact(at("10:40"), abandoned=True, ended_at=at("10:40") + timedelta(seconds=5)),
        contact(at("10:40"), abandoned=True),
        contact(at("10:00"), queue="METERING"),
        contact(at("10:00"), inbound=False),
        contact(at("10:00"), outcome="BUSY"),
        contact(at("10:00"), channel="CHATBOT"),
        contact(at("10:00"), channel="EMAIL"),
        contact(at("10:00"), abandoned=True, ended_at=at("10:00") + timedelta(seconds=3)),
        contact(at("23:59", day - timedelta(days=1))),
        contact(at("00:00", day + timedelta(days=1))),
    ]
    Contact.objects.bulk_create(rows)


@pytest.mark.django_db
def test_a_past_day_gives_the_forecast_of_its_queue_and_channel(supervisor):
    day = _history_day()
    _fill_day(day, 3)

    response = supervisor.get(
        PAGE,
        form_data(
            source="history",
            forecast="",
            history_day=day.isoformat(),
            queue="BILLING",
            channel="PHONE",
        ),
    )

    assert response.status_code == 200, response.context["form"].errors
    report = response.context["report"]
    # Trimmed to 09:00–11:30; on the phone only (the chats are another channel).
    assert [f"{r.starts:%H:%M}" for r in report.rows] == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
    ]
    assert [int(r.contacts) for r in report.rows] == [3, 3, 0, 2, 3]
    assert report.plan.contacts == 11
    page = response.content.decode()
    assert "file : Facturation ; canal : Téléphone" in page

    # Every queue and every real-time channel: the meter reading call and the chats too.
    everything = supervisor.get(
        PAGE, form_data(source="history", forecast="", history_day=day.isoformat(), channel="")
    )
    rows = everything.context["report"].rows
    assert [int(r.contacts) for r in rows] == [3, 3, 1, 2, 6]


@pytest.mark.django_db
def test_a_past_day_without_contacts_says_so(supervisor):
    response = supervisor.get(
        PAGE, form_data(source="history", history_day=_history_day().isoformat())
    )
    assert response.status_code == 400
    assert "Aucun contact" in " ".join(response.context["form"].errors["history_day"])


@pytest.mark.django_db
@pytest.mark.parametrize("per_slot", [2, 40])
def test_the_history_page_runs_a_constant_number_of_queries(
    supervisor, django_assert_max_num_queries, per_slot
):
    day = _history_day()
    _fill_day(day, per_slot)
    # Session, user, OTP device, then the one grouped count of the day's contacts.
    with django_assert_max_num_queries(5):
        response = supervisor.get(
            PAGE,
            form_data(
                source="history",
                history_day=day.isoformat(),
                interval_minutes="15",
                queue="BILLING",
            ),
        )
    assert response.status_code == 200
    assert response.context["report"].plan.contacts == 3 * per_slot + 2


@pytest.mark.django_db
def test_history_intervals_follow_the_clock_change():
    # 29 March 2026: 02:00 becomes 03:00 in Paris, so the day has 46 half-hours.
    Contact.objects.bulk_create(
        [
            contact(paris("2026-03-29T01:40")),
            contact(datetime(2026, 3, 29, 1, 10, tzinfo=UTC)),  # 03:10 in Paris
            contact(paris("2026-03-29T23:50")),
        ]
    )
    counts = selectors.contacts_offered_per_interval(day=date(2026, 3, 29), interval_minutes=30)
    assert len(counts) == 46
    assert counts[3] == 1 and counts[4] == 1 and counts[45] == 1 and sum(counts) == 3

    report = selectors.staffing_plan(
        history_day=date(2026, 3, 29),
        interval_minutes=30,
        aht_seconds=180,
        target_service_level=Fraction(4, 5),
        target_answer_seconds=20,
        shrinkage=Fraction(3, 10),
    )
    labels = [f"{r.starts:%H:%M}-{r.ends:%H:%M}" for r in report.rows]
    assert labels[:2] == ["01:30-03:00", "03:00-03:30"]
    assert labels[-1] == "23:30-00:00"


# --- API ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_gives_the_published_figures(supervisor):
    response = supervisor.get(API, PUBLISHED)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["traffic_erlangs"] == 10.0
    assert body["agents"] == 14
    assert round(body["service_level"], 4) == 0.8884
    assert round(body["probability_of_waiting"], 4) == 0.1741
    assert round(body["asa_seconds"], 2) == 7.84
    assert round(body["occupancy"], 3) == 0.714
    assert body["fte"] == 20
    # The inputs as understood, echoed.
    assert body["contacts"] == 100 and body["interval_minutes"] == 30
    assert body["target_service_level"] == 0.8 and body["shrinkage"] == 0.3
    assert body["max_occupancy"] is None


@pytest.mark.django_db
def test_api_worked_example_with_the_default_shrinkage(supervisor):
    query = {
        "contacts": "1200",
        "interval_minutes": "480",
        "aht_seconds": "330",
        "target_service_level": "0.9",
        "target_answer_seconds": "20",
    }
    body = supervisor.get(API, query).json()
    assert (body["agents"], body["fte"], body["shrinkage"]) == (19, 28, 0.3)
    assert body["traffic_erlangs"] == 13.75


@pytest.mark.django_db
def test_api_handles_thousands_of_agents_and_an_occupancy_ceiling(supervisor):
    big = supervisor.get(API, {**PUBLISHED, "contacts": "24000"}).json()
    assert big["traffic_erlangs"] == 2400 and 2400 < big["agents"] < 2500
    capped = supervisor.get(API, {**PUBLISHED, "max_occupancy": "0.7"}).json()
    assert capped["agents"] == 15 and capped["occupancy"] <= 0.7


@pytest.mark.django_db
def test_api_without_contacts_needs_nobody(supervisor):
    body = supervisor.get(API, {**PUBLISHED, "contacts": "0"}).json()
    assert (body["agents"], body["fte"]) == (0, 0)
    assert body["service_level"] is None and body["asa_seconds"] is None


@pytest.mark.django_db
def test_api_is_for_supervisor_and_admin_sessions_only(client, make_user, login):
    assert_error(client.get(API, PUBLISHED), 401, "not_authenticated")

    for role in (Role.CUSTOMER, Role.AGENT, Role.FIELD_TECHNICIAN):
        http = login(make_user(role, totp=role != Role.CUSTOMER))
        assert_error(http.get(API, PUBLISHED), 403, "permission_denied")
        http.logout()

    unverified = login(make_user(Role.SUPERVISOR, totp=True), verified=False)
    assert_error(unverified.get(API, PUBLISHED), 403, "permission_denied")
    unverified.logout()

    for role in (Role.SUPERVISOR, Role.ADMIN):
        http = login(make_user(role, totp=True))
        assert http.get(API, PUBLISHED).status_code == 200
        http.logout()


@pytest.mark.django_db
def test_api_refuses_business_oauth_clients(client):
    api_client, secret = business_api_client(scopes=["invoices:read", "tickets:write"])
    response = client.get(API, PUBLISHED, **bearer(client, api_client, secret))
    assert_error(response, 403, "permission_denied")


def _fields(response) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (400, "invalid")
    return error["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"contacts": "-1"}, "contacts"),
        ({"contacts": "beaucoup"}, "contacts"),
        ({"interval_minutes": "0"}, "interval_minutes"),
        ({"aht_seconds": "0"}, "aht_seconds"),
        ({"target_service_level": "1.5"}, "target_service_level"),
        ({"target_service_level": "0"}, "target_service_level"),
        ({"target_answer_seconds": "-3"}, "target_answer_seconds"),
        ({"shrinkage": "1"}, "shrinkage"),
        ({"max_occupancy": "0"}, "max_occupancy"),
        ({"max_occupancy": "1.2"}, "max_occupancy"),
    ],
)
def test_api_bad_input_is_a_400_with_field_errors(supervisor, overrides, field):
    fields = _fields(supervisor.get(API, {**PUBLISHED, **overrides}))
    assert list(fields) == [field]


@pytest.mark.django_db
def test_api_missing_parameters_are_each_reported(supervisor):
    fields = _fields(supervisor.get(API, {"shrinkage": "0.3"}))
    assert set(fields) == {
        "contacts",
        "interval_minutes",
        "aht_seconds",
        "target_service_level",
        "target_answer_seconds",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"target_service_level": "1"}, "target_service_level", "never reaches 1"),
        ({"max_occupancy": "0.00001"}, "max_occupancy", "more than 50000 agents"),
        ({"contacts": "10000000"}, "contacts", "more than 50000 agents"),
    ],
)
def test_api_a_load_no_staffing_can_serve_is_a_400(supervisor, overrides, field, text):
    fields = _fields(supervisor.get(API, {**PUBLISHED, **overrides}))
    assert text in fields[field][0]
