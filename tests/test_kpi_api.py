"""The KPI API for BI tools (docs/kpi-api.md): GET /api/v1/kpi/figures, /kpi/targets and
/kpi/alerts. Rows come from the snapshots built by the real builders; every ratio equals
kpi.domain.metrics on the same raw records; periods are rendered with their Paris offset
(a DST day is 25 hours); supervisors, admins and staff clients only, business clients
refused; bad input is a 400 on its parameter; pages are capped and the query count does not
grow with the data."""

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.domain import PARAMETER_DEFAULTS
from accounts.models import Parameter, Role
from accounts.services import ApiClientRefused, api_client_create_staff
from kpi.domain import metrics as m
from kpi.domain import snapshots as snap
from kpi.domain import targets
from kpi.models import KpiAlert
from kpi.services import snapshots as builder
from tickets.models import Contact

from .test_api_b2b import (  # noqa: F401 (_ratelimit_keys is an autouse fixture)
    _ratelimit_keys,
    assert_error,
    bearer,
    business_api_client,
)
from .test_kpi_snapshots import AUTUMN, NOW, ORDINARY, build_world, expected_cell, local

FIGURES = "/api/v1/kpi/figures"
TARGETS = "/api/v1/kpi/targets"
ALERTS = "/api/v1/kpi/alerts"
DAY_QUERY = {"grain": "DAY", "from": ORDINARY.isoformat(), "to": ORDINARY.isoformat()}
RATIOS = {
    "asa": "asa_seconds",
    "aht": "aht_seconds",
    "fcr": "fcr_percent",
    "abandonment": "abandonment_percent",
    "service_level": "service_level_percent",
    "contact_success": "contact_success_percent",
    "repeat": "repeat_contact_percent",
    "csat": "csat_percent",
    "nps": "nps",
    "sla": "sla_percent",
    "mttr": "mttr_seconds",
}


@pytest.fixture
def frozen():
    # The builds and the requests happen long after the days they cover.
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def supervisor(frozen, make_user, login):
    return login(make_user(Role.SUPERVISOR, totp=True))


def call(offered: datetime, *, wait: float, talk: int = 300, agent=None, **fields) -> Contact:
    answered = offered + timedelta(seconds=wait)
    return Contact.objects.create(
        channel=fields.pop("channel", "PHONE"),
        queue=fields.pop("queue", "BILLING"),
        agent=agent,
        offered_at=offered,
        answered_at=answered,
        ended_at=answered + timedelta(seconds=talk),
        wrap_up_ended_at=answered + timedelta(seconds=talk),
        talk_seconds=talk,
        **fields,
    )


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def fields_of(response) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (400, "invalid")
    return error["fields"]


def span(row: dict) -> timedelta:
    return datetime.fromisoformat(row["period_end"]) - datetime.fromisoformat(row["period_start"])


def api_cell(row: dict) -> dict:
    """A row of the API in the shape of test_kpi_snapshots.expected_cell."""
    values = {name: row[field] for name, field in RATIOS.items()}
    values |= {
        "sla_due": row["commitments_due"],
        "offered": row["offered"],
        "handled": row["handled"],
        "contacts": row["contacts"],
    }
    if row["dimension"] in {"OVERALL", "QUEUE", "CHANNEL", "AGENT"}:
        values["backlog"] = row["backlog"]
        values["ageing"] = row["backlog_ageing"]
    return values


def assert_same(actual: dict, expected: dict, label: str) -> None:
    assert actual.keys() == expected.keys(), label
    for name, value in expected.items():
        if value is None or isinstance(value, dict | int):
            assert actual[name] == value, f"{label}: {name} {actual[name]!r} != {value!r}"
        else:
            assert actual[name] == pytest.approx(value, abs=1e-9), f"{label}: {name}"


# --- Figures: the values ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_day_row_has_its_counts_and_the_ratios_worked_out_by_hand(supervisor, make_user):
    agent = make_user(Role.AGENT)
    call(local(ORDINARY, "09:00"), wait=10, agent=agent)
    call(local(ORDINARY, "09:10"), wait=40, agent=agent)
    Contact.objects.create(
        channel="PHONE",
        queue="BILLING",
        offered_at=local(ORDINARY, "09:20"),
        abandoned=True,
        ended_at=local(ORDINARY, "09:20") + timedelta(seconds=30),
    )
    builder.snapshot_day_build(day=ORDINARY, now=NOW)

    (row,) = results(supervisor.get(FIGURES, {**DAY_QUERY, "dimension": "OVERALL"}))

    # Paris winter time on both ends; built at NOW, shown in Paris time.
    assert row["period_start"] == "2026-03-10T00:00:00+01:00"
    assert row["period_end"] == "2026-03-11T00:00:00+01:00"
    assert row["built_at"] == NOW.astimezone(ZoneInfo("Europe/Paris")).isoformat()
    assert (row["grain"], row["dimension"], row["key"]) == ("DAY", "OVERALL", "")
    assert row["in_progress"] is False
    assert row["answer_target_seconds"] == m.SERVICE_LEVEL_SECONDS
    # Three offered (two answered, one abandoned after 30 s), all reached the queue.
    assert (row["contacts"], row["offered"], row["answered"], row["abandoned"]) == (3, 3, 2, 1)
    assert (row["attempts"], row["reached_queue"]) == (3, 3)
    assert row["wait_us_sum"] == (10 + 40) * 1_000_000
    assert (row["handled"], row["handle_seconds_sum"]) == (2, 300 + 300)
    assert row["answered_within_target"] == 1  # 10 s ≤ 20 s; 40 s is not
    assert row["asa_seconds"] == pytest.approx((10 + 40) / 2)
    assert row["aht_seconds"] == pytest.approx(300)
    assert row["abandonment_percent"] == pytest.approx(100 / 3)
    assert row["service_level_percent"] == pytest.approx(100 / 3)
    assert row["contact_success_percent"] == pytest.approx(100)
    # Nothing to compute them from: null, not 0.
    for name in ("fcr_percent", "csat_percent", "nps", "sla_percent", "mttr_seconds"):
        assert row[name] is None, name
    assert row["repeat_contact_percent"] is None
    assert row["backlog"] == 0
    assert row["backlog_ageing"] == dict.fromkeys(snap.AGEING_NAMES, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("grain", ["DAY", "MONTH"])
def test_every_row_equals_the_metrics_on_the_raw_records(supervisor, make_user, grain):
    build_world(ORDINARY, make_user)
    builder.snapshot_day_build(day=ORDINARY, now=NOW, interval_minutes=30)
    builder.snapshot_month_build(month=ORDINARY.replace(day=1), now=NOW)

    response = supervisor.get(FIGURES, {**DAY_QUERY, "grain": grain, "page_size": "1000"})

    rows = results(response)
    assert response.json()["count"] == len(rows)
    assert {row["dimension"] for row in rows} == {
        "OVERALL", "QUEUE", "CHANNEL", "AGENT", "COMMITMENT", "INCIDENT_CLASS"
    }  # fmt: skip
    for row in rows:
        assert row["grain"] == grain
        start = datetime.fromisoformat(row["period_start"])
        end = datetime.fromisoformat(row["period_end"])
        bounds = m.local_day_bounds if grain == "DAY" else m.local_month_bounds
        assert (start, end) == bounds(ORDINARY)
        label = f"{grain} {row['dimension']}={row['key']}"
        assert_same(api_cell(row), expected_cell(row["dimension"], row["key"], start, end), label)
    # Stable order: (period_start, dimension, key).
    order = [(r["period_start"], r["dimension"], r["key"]) for r in rows]
    assert order == sorted(order)


@pytest.mark.django_db
def test_interval_rows_equal_the_metrics_of_their_half_hour(supervisor, make_user):
    build_world(ORDINARY, make_user)
    builder.snapshot_day_build(day=ORDINARY, now=NOW, interval_minutes=30)

    rows = results(
        supervisor.get(FIGURES, {**DAY_QUERY, "grain": "INTERVAL", "dimension": "OVERALL"})
    )

    assert [datetime.fromisoformat(r["period_start"]) for r in rows] == m.day_intervals(ORDINARY)
    for row in rows:
        start = datetime.fromisoformat(row["period_start"])
        end = datetime.fromisoformat(row["period_end"])
        assert end - start == timedelta(minutes=30)
        assert_same(api_cell(row), expected_cell("OVERALL", "", start, end), row["period_start"])


@pytest.mark.django_db
def test_dimension_and_key_filter_the_rows(supervisor, make_user):
    world = build_world(ORDINARY, make_user)
    builder.snapshot_day_build(day=ORDINARY, now=NOW, interval_minutes=30)
    alice = world["agents"][0]

    queue = results(supervisor.get(FIGURES, {**DAY_QUERY, "dimension": "QUEUE"}))
    billing = results(
        supervisor.get(FIGURES, {**DAY_QUERY, "dimension": "QUEUE", "key": "BILLING"})
    )
    agent = results(supervisor.get(FIGURES, {**DAY_QUERY, "dimension": "AGENT", "key": alice.pk}))
    empty_key = results(supervisor.get(FIGURES, {**DAY_QUERY, "dimension": "QUEUE", "key": ""}))

    assert {r["dimension"] for r in queue} == {"QUEUE"} and len(queue) > 1
    assert [(r["dimension"], r["key"]) for r in billing] == [("QUEUE", "BILLING")]
    assert billing[0] == next(r for r in queue if r["key"] == "BILLING")
    assert [(r["dimension"], r["key"]) for r in agent] == [("AGENT", str(alice.pk))]
    start, end = m.local_day_bounds(ORDINARY)
    assert agent[0]["asa_seconds"] == pytest.approx(
        expected_cell("AGENT", str(alice.pk), start, end)["asa"]
    )
    assert empty_key == queue  # an empty key is no filter


@pytest.mark.django_db
def test_a_range_selects_the_periods_starting_in_its_paris_days_or_months(supervisor, make_user):
    agent = make_user(Role.AGENT)
    for day in (date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 31), date(2026, 4, 1)):
        call(local(day, "00:05"), wait=5, agent=agent)
        builder.snapshot_day_build(day=day, now=NOW)
    for month in (date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)):
        builder.snapshot_month_build(month=month, now=NOW)

    days = results(
        supervisor.get(
            FIGURES,
            {"grain": "DAY", "dimension": "OVERALL", "from": "2026-03-01", "to": "2026-03-31"},
        )
    )
    months = results(
        supervisor.get(
            FIGURES,
            {"grain": "MONTH", "dimension": "OVERALL", "from": "2026-03-15", "to": "2026-03-15"},
        )
    )

    assert [r["period_start"][:10] for r in days] == ["2026-03-01", "2026-03-31"]
    assert [r["offered"] for r in days] == [1, 1]
    # The month of `from`, whatever its day; March has 743 hours (spring forward).
    assert [r["period_start"] for r in months] == ["2026-03-01T00:00:00+01:00"]
    assert months[0]["period_end"] == "2026-04-01T00:00:00+02:00"
    assert span(months[0]) == timedelta(hours=743) and months[0]["offered"] == 2


@pytest.mark.django_db
def test_the_autumn_dst_day_is_25_hours_with_both_offsets(supervisor, make_user):
    agent = make_user(Role.AGENT)
    summer_0210 = local(AUTUMN, "02:10")  # fold 0: summer time
    call(summer_0210, wait=9, agent=agent)
    call(summer_0210 + timedelta(hours=1), wait=11, agent=agent)  # 02:10 again, winter time
    builder.snapshot_day_build(day=AUTUMN, now=NOW, interval_minutes=30)
    builder.snapshot_month_build(month=AUTUMN.replace(day=1), now=NOW)
    query = {"from": AUTUMN.isoformat(), "to": AUTUMN.isoformat(), "dimension": "OVERALL"}

    (day,) = results(supervisor.get(FIGURES, {**query, "grain": "DAY"}))
    intervals = results(supervisor.get(FIGURES, {**query, "grain": "INTERVAL"}))
    (month,) = results(supervisor.get(FIGURES, {**query, "grain": "MONTH"}))

    assert day["period_start"] == "2026-10-25T00:00:00+02:00"
    assert day["period_end"] == "2026-10-26T00:00:00+01:00"
    assert span(day) == timedelta(hours=25)
    assert day["asa_seconds"] == pytest.approx((9 + 11) / 2)
    # 50 half-hours; the two 02:00 ones are told apart by their offset.
    assert len(intervals) == 50
    assert all(span(r) == timedelta(minutes=30) for r in intervals)
    twice = {r["period_start"]: r["offered"] for r in intervals if "T02:00" in r["period_start"]}
    assert twice == {"2026-10-25T02:00:00+02:00": 1, "2026-10-25T02:00:00+01:00": 1}
    assert span(month) == timedelta(days=31, hours=1)
    # Paris offsets whatever zone the request runs in.
    with timezone.override(UTC):
        assert results(supervisor.get(FIGURES, {**query, "grain": "DAY"})) == [day]


@pytest.mark.django_db
def test_a_period_not_yet_ended_is_flagged_in_progress(supervisor, make_user):
    agent = make_user(Role.AGENT)
    today = m.local_day(NOW)
    yesterday = today - timedelta(days=1)
    call(NOW - timedelta(hours=1), wait=6, agent=agent)
    builder.snapshot_day_build(day=yesterday, now=NOW)
    builder.snapshot_day_build(day=today, now=NOW)  # what the 15-minute beat does

    rows = results(
        supervisor.get(
            FIGURES,
            {"grain": "DAY", "dimension": "OVERALL", "from": yesterday, "to": today},
        )
    )

    assert [(r["period_start"][:10], r["in_progress"]) for r in rows] == [
        (yesterday.isoformat(), False),
        (today.isoformat(), True),
    ]
    assert rows[1]["offered"] == 1
    assert datetime.fromisoformat(rows[1]["built_at"]) == NOW


# --- Figures: pagination and cost -----------------------------------------------------------


@pytest.mark.django_db
def test_pages_follow_next_links_and_the_page_size_is_capped(supervisor):
    builder.snapshots_rebuild(
        day_from=date(2026, 3, 1), day_to=date(2026, 3, 31), now=NOW, months=False
    )
    # Every half-hour of March has its OVERALL row: 46 on the 29th (spring forward).
    expected = sum(len(m.day_intervals(date(2026, 3, d))) for d in range(1, 32))
    query = {"grain": "INTERVAL", "dimension": "OVERALL", "from": "2026-03-01", "to": "2026-03-31"}

    default = supervisor.get(FIGURES, query).json()
    capped = supervisor.get(FIGURES, {**query, "page_size": "5000"}).json()
    following = supervisor.get(capped["next"]).json()

    assert default["count"] == expected == 30 * 48 + 46
    assert len(default["results"]) == 200
    assert len(capped["results"]) == 1000 and capped["previous"] is None
    next_query = parse_qs(urlparse(capped["next"]).query)
    assert next_query["page"] == ["2"] and next_query["grain"] == ["INTERVAL"]
    assert len(following["results"]) == expected - 1000 and following["next"] is None
    starts = [r["period_start"] for r in capped["results"] + following["results"]]
    instants = [datetime.fromisoformat(s) for s in starts]
    assert instants == sorted(set(instants)) and len(instants) == expected


@pytest.mark.django_db
def test_the_query_count_does_not_grow_with_the_rows(
    supervisor, make_user, django_assert_max_num_queries
):
    query = {"grain": "DAY", "from": "2026-03-01", "to": "2026-03-31", "page_size": "1000"}
    requests = {FIGURES: query, ALERTS: {}, TARGETS: {}}
    counts: dict[str, list[int]] = {path: [] for path in requests}
    sizes = []
    for size in (1, 8):
        agents = [make_user(Role.AGENT) for _ in range(size)]
        for n in range(size):
            day = date(2026, 3, 1 + n)
            for agent in agents:
                call(local(day, "10:00"), wait=12, agent=agent, queue=("BILLING", "GENERAL")[n % 2])
            builder.snapshot_day_build(day=day, now=NOW)
            KpiAlert.objects.create(
                metric="ASA", scope=f"Q{size}-{n}", raised_at=local(day, "10:00"),
                value_at_raise=40, threshold=30, cleared_at=local(day, "10:30"),
            )  # fmt: skip
        supervisor.get(TARGETS)  # parameters cached, as between two polls
        sizes.append(len(results(supervisor.get(FIGURES, query))))
        for path, params in requests.items():
            with CaptureQueriesContext(connection) as queries:
                assert supervisor.get(path, params).status_code == 200
            counts[path].append(len(queries))
    assert sizes[1] > 5 * sizes[0]
    for path, (small, large) in counts.items():
        assert small == large, path
    with django_assert_max_num_queries(counts[FIGURES][1]):
        supervisor.get(FIGURES, query)


# --- Figures: bad input -----------------------------------------------------------------------


GOOD = {"grain": "DAY", "from": "2026-03-01", "to": "2026-03-31"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grain": None}, "grain"),
        ({"grain": "WEEK"}, "grain"),
        ({"dimension": "TEAM"}, "dimension"),
        ({"key": "BILLING"}, "key"),  # without its dimension
        ({"dimension": "OVERALL", "key": "x"}, "key"),
        ({"dimension": "QUEUE", "key": "x" * 121}, "key"),
        ({"from": None}, "from"),
        ({"from": "2026-02-30"}, "from"),
        ({"from": "01/03/2026"}, "from"),
        ({"to": None}, "to"),
        ({"to": "2026-03-31T00:00"}, "to"),
        ({"from": "2026-04-01"}, "to"),  # after `to`
        ({"grain": "INTERVAL", "to": "2026-04-01"}, "to"),  # 32 days
        ({"to": "2027-04-05"}, "to"),  # 401 days
        ({"grain": "MONTH", "from": "2021-03-01", "to": "2026-03-31"}, "to"),  # 61 months
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"page": "0"}, "page"),
        ({"page": "2"}, "page"),  # there is one page (of no rows)
        ({"page": "last"}, "page"),
    ],
)
def test_bad_input_is_a_400_on_its_parameter(supervisor, changes, field):
    query = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    assert list(fields_of(supervisor.get(FIGURES, query))) == [field]


@pytest.mark.django_db
def test_every_missing_parameter_is_reported(supervisor):
    assert set(fields_of(supervisor.get(FIGURES))) == {"grain", "from", "to"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"grain": "INTERVAL", "from": "2026-03-01", "to": "2026-03-31"},  # 31 days
        {"grain": "DAY", "from": "2026-03-01", "to": "2027-04-04"},  # 400 days
        {"grain": "MONTH", "from": "2021-04-30", "to": "2026-03-01"},  # 60 months
        {"grain": "DAY", "from": "2026-03-01", "to": "2026-03-01"},
    ],
)
def test_the_longest_ranges_are_accepted(supervisor, query):
    assert supervisor.get(FIGURES, query).status_code == 200


# --- Targets ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_targets_are_the_configured_ones_with_the_billing_queue_own(supervisor):
    Parameter.objects.create(key="kpi_target_asa_seconds", value=28)
    Parameter.objects.create(key="kpi_target_asa_billing_seconds", value=22)
    # The billing FCR equal to the default: no override to list.
    Parameter.objects.create(key="kpi_target_fcr_percent", value=75)
    Parameter.objects.create(key="kpi_target_fcr_billing_percent", value=75)

    response = supervisor.get(TARGETS)

    assert response.status_code == 200
    rows = {(r["dimension"], r["key"], r["kpi"]): r for r in response.json()}
    asa = rows[(None, None, "asa")]
    assert (asa["rule"], asa["low"], asa["high"], asa["unit"]) == ("below", None, 28, "seconds")
    assert asa["amber_band"] == targets.AMBER_BANDS["asa"] and asa["figure"] == "asa_seconds"
    assert rows[("QUEUE", "BILLING", "asa")]["high"] == 22
    assert rows[(None, None, "fcr")]["low"] == 75
    assert [k for k in rows if k[0] is not None] == [("QUEUE", "BILLING", "asa")]
    aht = rows[(None, None, "aht")]
    assert (aht["rule"], aht["low"], aht["high"]) == (
        "between",
        PARAMETER_DEFAULTS["kpi_target_aht_min_seconds"],
        PARAMETER_DEFAULTS["kpi_target_aht_max_seconds"],
    )
    mttr = rows[(None, None, "mttr")]
    assert mttr["high"] == PARAMETER_DEFAULTS["outage_mttr_network_hours"] * 3600
    assert rows[(None, None, "nps")]["unit"] == "points"
    assert rows[(None, None, "csat")]["unit"] == "percent"
    # Figures without a target (backlog, contact success, repeats) are not listed.
    assert {k[2] for k in rows} == {
        "asa", "aht", "fcr", "csat", "nps", "abandonment", "service_level", "sla", "mttr"
    }  # fmt: skip


@pytest.mark.django_db
def test_each_target_names_a_field_of_the_figures(supervisor):
    builder.snapshot_day_build(day=ORDINARY, now=NOW)
    (row,) = results(supervisor.get(FIGURES, {**DAY_QUERY, "dimension": "OVERALL"}))
    assert {t["figure"] for t in supervisor.get(TARGETS).json()} <= row.keys()


# --- Alerts ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_alerts_newest_first_filtered_on_open(supervisor):
    old = KpiAlert.objects.create(
        metric="QUEUE_LENGTH",
        scope=KpiAlert.OVERALL,
        raised_at=local(AUTUMN, "02:10"),  # summer time
        value_at_raise=14,
        threshold=10,
        cleared_at=local(AUTUMN, "02:10") + timedelta(hours=1),  # 02:10 again, winter time
        value_at_clear=8,
    )
    current = KpiAlert.objects.create(
        metric="ASA", scope="BILLING", raised_at=NOW - timedelta(minutes=5),
        value_at_raise=41.5, threshold=25,
    )  # fmt: skip

    every = results(supervisor.get(ALERTS))
    open_ = results(supervisor.get(ALERTS, {"open": "true"}))
    cleared = results(supervisor.get(ALERTS, {"open": "false"}))

    assert [a["id"] for a in every] == [current.pk, old.pk]
    assert [a["id"] for a in open_] == [current.pk] and open_[0]["open"] is True
    assert [a["id"] for a in cleared] == [old.pk] and cleared[0]["open"] is False
    assert open_[0]["cleared_at"] is None and open_[0]["value_at_clear"] is None
    assert (open_[0]["metric"], open_[0]["scope"], open_[0]["value_at_raise"]) == (
        "ASA",
        "BILLING",
        41.5,
    )
    assert cleared[0]["raised_at"] == "2026-10-25T02:10:00+02:00"
    assert cleared[0]["cleared_at"] == "2026-10-25T02:10:00+01:00"


@pytest.mark.django_db
def test_alerts_bad_input_is_a_400_on_its_parameter(supervisor):
    assert list(fields_of(supervisor.get(ALERTS, {"open": "maybe"}))) == ["open"]
    assert list(fields_of(supervisor.get(ALERTS, {"page_size": "-1"}))) == ["page_size"]


# --- Access ------------------------------------------------------------------------------------

ENDPOINTS = [(FIGURES, DAY_QUERY), (TARGETS, {}), (ALERTS, {"open": "true"})]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "query"), ENDPOINTS, ids=["figures", "targets", "alerts"])
def test_only_supervisor_and_admin_sessions_get_in(client, make_user, login, path, query):
    assert_error(client.get(path, query), 401, "not_authenticated")

    for role in (Role.CUSTOMER, Role.AGENT, Role.FIELD_TECHNICIAN):
        http = login(make_user(role, totp=role != Role.CUSTOMER))
        assert_error(http.get(path, query), 403, "permission_denied")
        http.logout()

    unverified = login(make_user(Role.SUPERVISOR, totp=True), verified=False)
    assert_error(unverified.get(path, query), 403, "permission_denied")
    unverified.logout()

    for role in (Role.SUPERVISOR, Role.ADMIN):
        http = login(make_user(role, totp=True))
        assert http.get(path, query).status_code == 200
        http.logout()


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "query"), ENDPOINTS, ids=["figures", "targets", "alerts"])
def test_business_clients_are_refused_whatever_their_scopes_staff_clients_get_in(
    client, make_user, path, query
):
    api_client, secret = business_api_client(scopes=list(settings.API_SCOPES))
    response = client.get(path, query, **bearer(client, api_client, secret))
    assert_error(response, 403, "permission_denied")

    # A staff client (tests/test_api_staff_clients.py) holding kpi:read is let in.
    staff, staff_secret = api_client_create_staff(
        owner=make_user(Role.SUPERVISOR),
        name="BI",
        scopes=["kpi:read"],
        actor=make_user(Role.ADMIN),
        now=timezone.now(),
    )
    assert client.get(path, query, **bearer(client, staff, staff_secret)).status_code == 200


@pytest.mark.django_db
def test_no_business_client_can_be_granted_a_kpi_scope():
    # Business accounts pick their own scopes: a KPI scope would open the centre's
    # figures (per agent included) to any customer integration. kpi:read is staff-only.
    assert "kpi:read" in settings.STAFF_API_SCOPES
    assert "kpi:read" not in settings.API_SCOPES
    with pytest.raises(ApiClientRefused):
        business_api_client(scopes=["kpi:read"])


# --- OpenAPI -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schema_documents_the_endpoints_and_their_parameters(client, make_user, login):
    login(make_user(Role.CUSTOMER))
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    figures = schema["paths"][FIGURES]["get"]
    names = {p["name"]: p for p in figures["parameters"]}
    assert {"grain", "dimension", "key", "from", "to", "page", "page_size"} <= names.keys()
    assert names["grain"]["required"] and names["from"]["required"] and names["to"]["required"]
    assert figures["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PaginatedKpiFigureRowList"
    )
    row = schema["components"]["schemas"]["KpiFigureRow"]["properties"]
    assert {"built_at", "in_progress", "asa_seconds", "sla_percent", "wait_us_sum"} <= row.keys()
    assert {p["name"] for p in schema["paths"][ALERTS]["get"]["parameters"]} >= {"open"}
    assert TARGETS in schema["paths"]
