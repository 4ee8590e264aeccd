"""Supervisor outage pages: reliability indices (IEEE 1366) per area and Paris month
with a hand-computed example, restoration times per class against their targets, the
P1 notice and update cadence from the SLA clocks, post-incident reviews, and
compensation totals. SUPERVISOR and ADMIN only; constant queries as data grows."""

import itertools
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AccountType, Parameter, Role
from outages import selectors as outage_selectors
from outages import selectors_reporting as reporting
from outages.domain import reliability
from outages.models import (
    AvailabilityCredit,
    Compensation,
    Incident,
    IncidentEvent,
    Interruption,
    PostIncidentReview,
    ServiceArea,
)
from outages.services import incidents
from tests import outage_kit as kit
from tickets import services as ticket_services

from .factories import AccountFactory

PARIS = ZoneInfo("Europe/Paris")
_refs = itertools.count(1)


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Tasks queued after commit are not this file's business."""
    monkeypatch.setattr(incidents, "_enqueue", lambda task, **kw: None)


@pytest.fixture
def supervisor(make_user, login):
    return login(make_user(Role.SUPERVISOR, totp=True))


def points_at(postcode: str, count: int) -> list:
    return [kit.customer(postcode=postcode)[3] for _ in range(count)]


def make_incident(*, started: datetime, ended: datetime | None = None, **fields) -> Incident:
    n = next(_refs)
    defaults = {
        "reference": f"INC-T-{n:05d}",
        "title": f"Coupure {n}",
        "klass": "P1",
        "proposed_klass": "P1",
        "status": "RESTORED" if ended else "CONFIRMED",
        "area_class": "URBAN",
        "started_at": started,
        "ended_at": ended,
        "created_at": started,
        "updated_at": ended or started,
    }
    defaults.update(fields)
    return Incident.objects.create(**defaults)


def interrupt(incident, points, *, started: datetime, minutes: float | None, area=None):
    """One interruption record per supply point, `minutes` long (None: still off)."""
    ended = started + timedelta(minutes=minutes) if minutes is not None else None
    for point in points:
        Interruption.objects.create(
            incident=incident,
            supply_point=point,
            account_id=point.premise.account_id,
            area=area,
            started_at=started,
            ended_at=ended,
        )


# --- Access -----------------------------------------------------------------------------

PAGES = [
    "outages_supervisor:reliability",
    "outages_supervisor:mttr",
    "outages_supervisor:cadence",
    "outages_supervisor:compensation",
    "outages_supervisor:reviews",
]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_pages_are_for_supervisors_and_admins_only(client, make_user, login, name):
    url = reverse(name)
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/accounts/login" in anonymous["Location"]

    for role in (Role.CUSTOMER, Role.AGENT, Role.FIELD_TECHNICIAN):
        assert login(make_user(role, totp=role != Role.CUSTOMER)).get(url).status_code == 403

    # A supervisor who has not entered their code is sent to do so first.
    unverified = make_user(Role.SUPERVISOR, totp=True)
    response = login(unverified, verified=False).get(url)
    assert response.status_code == 302 and "otp" in response["Location"]

    for role in (Role.SUPERVISOR, Role.ADMIN):
        response = login(make_user(role, totp=True)).get(url)
        assert response.status_code == 200
        assert reverse("outages_supervisor:reliability") in response.content.decode()


@pytest.mark.django_db
def test_outages_home_leads_to_reliability_and_the_shell_links_it(supervisor):
    response = supervisor.get(reverse("outages_supervisor:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("outages_supervisor:reliability")
    page = supervisor.get(reverse("supervisor:home")).content.decode()
    assert f'href="{reverse("outages_supervisor:reliability")}"' in page and "Pannes" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-13", "Choisissez un mois au format AAAA-MM."),
        ("mars", "Choisissez un mois au format AAAA-MM."),
        ("2026-05", "Choisissez un mois passé ou le mois en cours."),
        ("1999-12", "Choisissez un mois à partir de janvier 2000."),
    ],
)
@pytest.mark.parametrize("name", PAGES[:4])
def test_a_bad_month_is_a_field_error_without_figures(supervisor, name, month, message):
    with time_machine.travel(paris("2026-04-15 10:00"), tick=False):
        response = supervisor.get(reverse(name), {"month": month})
    assert response.status_code == 400
    body = response.content.decode()
    assert message.replace("'", "&#x27;") in body
    assert 'aria-invalid="true"' in body
    assert response.context["report"] is None


# --- Reliability: months ------------------------------------------------------------------


def test_paris_months_last_their_real_hours():
    # 29 March 2026 and 25 October 2026 change the clocks in Paris.
    for month, hours in [
        (date(2026, 3, 1), 743),
        (date(2026, 10, 1), 745),
        (date(2026, 6, 1), 720),
    ]:
        start, end = reporting.month_span(month)
        assert (end - start) == timedelta(hours=hours)
    start, _ = reporting.month_span(date(2026, 3, 1))
    assert start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert reporting.months_ending(date(2026, 2, 1), 3) == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]


# --- Reliability: the worked example --------------------------------------------------------


def worked_example():
    """Rignac (a rural area, postcodes 12390/12220/12240) has 10 supply points.

    In March 2026 (Paris):
      - incident A: 4 customers off for 90 min            → sustained
      - incident B: 2 customers off for 30 min            → sustained
      - incident C: 3 customers off for 2, 2 and 3 min    → momentary (≤ 3 min threshold),
        starting at 00:10 on 1 March in Paris, which is still 28 February in UTC;
      - incident D: 1 customer off for 120 min from 23:30 on 28 February (Paris):
        it started in February, so it belongs to February for its whole duration;
      - incident E was cancelled: its 60-minute record is not an outage.
    Paris 15e (another area) has 1 supply point, off for 10 min in March.
    """
    rignac = ServiceArea.objects.get(code="RIGNAC")
    paris15 = ServiceArea.objects.get(code="PARIS-15")
    points = points_at("12390", 6) + points_at("12220", 4)
    other = points_at("75015", 1)
    a = make_incident(started=paris("2026-03-10 08:00"), ended=paris("2026-03-10 09:30"))
    interrupt(a, points[0:4], started=a.started_at, minutes=90, area=rignac)
    b = make_incident(started=paris("2026-03-15 14:00"), ended=paris("2026-03-15 14:30"))
    interrupt(b, points[4:6], started=b.started_at, minutes=30, area=rignac)
    c = make_incident(started=paris("2026-03-01 00:10"), ended=paris("2026-03-01 00:13"))
    interrupt(c, points[6:8], started=c.started_at, minutes=2, area=rignac)
    interrupt(c, points[8:9], started=c.started_at, minutes=3, area=rignac)
    d = make_incident(started=paris("2026-02-28 23:30"), ended=paris("2026-03-01 01:30"))
    interrupt(d, points[9:10], started=d.started_at, minutes=120, area=rignac)
    e = make_incident(started=paris("2026-03-20 10:00"), status="CANCELLED")
    interrupt(e, points[0:1], started=e.started_at, minutes=60, area=rignac)
    f = make_incident(started=paris("2026-03-05 10:00"), ended=paris("2026-03-05 10:10"))
    interrupt(f, other, started=f.started_at, minutes=10, area=paris15)
    return rignac, paris15


MARCH_MINUTES = 743 * 60  # 31 days less the hour lost on 29 March


@pytest.mark.django_db
def test_reliability_worked_example_by_hand():
    rignac, _ = worked_example()
    report = reporting.reliability_report(month=date(2026, 3, 1), now=paris("2026-04-15 10:00"))
    row = next(r for r in report["rows"] if r.area == rignac)
    i = row.indices
    assert report["period_minutes"] == MARCH_MINUTES
    assert (i.customers_served, i.sustained_interruptions, i.momentary_interruptions) == (10, 6, 3)
    # SAIFI = sustained customer interruptions / customers served = (4 + 2) / 10
    assert i.saifi == pytest.approx(0.6, abs=1e-12)
    # SAIDI = customer minutes / customers served = (4 × 90 + 2 × 30) / 10 = 420 / 10
    assert i.customer_minutes == pytest.approx(420, abs=1e-9)
    assert i.saidi == pytest.approx(42.0, abs=1e-12)
    # CAIDI = SAIDI / SAIFI = 42 / 0.6 = 70 minutes per sustained interruption
    assert i.caidi == pytest.approx(70.0, abs=1e-9)
    # MAIFI = momentary customer interruptions / customers served = 3 / 10
    assert i.maifi == pytest.approx(0.3, abs=1e-12)
    # ASAI = 1 − customer minutes off / (customers × minutes in March)
    #      = 1 − 420 / (10 × 743 × 60) = 1 − 420 / 445 800
    assert i.asai == pytest.approx(1 - 420 / 445_800, abs=1e-12)
    assert row.asai_percent == pytest.approx(100 * (1 - 420 / 445_800), abs=1e-10)

    # February holds incident D: 1 sustained interruption of 120 min over 10 customers.
    # (The trend is of the whole network unless an area is asked for.)
    network_feb = dict(report["trend"])[date(2026, 2, 1)].indices
    assert (network_feb.sustained_interruptions, network_feb.customer_minutes) == (1, 120)

    # The whole network: 11 customers, 7 sustained (the 10-minute one in Paris 15e too).
    overall = report["overall"].indices
    assert (overall.customers_served, overall.sustained_interruptions) == (11, 7)
    assert overall.customer_minutes == pytest.approx(430, abs=1e-9)
    assert overall.saidi == pytest.approx(430 / 11, abs=1e-12)


@pytest.mark.django_db
def test_the_sql_sums_agree_with_the_record_by_record_selector():
    rignac, paris15 = worked_example()
    now = paris("2026-04-15 10:00")
    start, end = reporting.month_span(date(2026, 3, 1))
    report = reporting.reliability_report(month=date(2026, 3, 1), now=now)
    by_area = {r.area: r.indices for r in report["rows"]}
    for area in (rignac, paris15, None):
        expected = outage_selectors.reliability_indices(
            area=area, start=start, end=end, now=now, threshold=3
        )
        got = by_area[area] if area else report["overall"].indices
        assert asdict(got) == pytest.approx(asdict(expected), abs=1e-9)


@pytest.mark.django_db
def test_the_threshold_is_the_configured_parameter():
    rignac, _ = worked_example()
    # At 2 minutes, the 3-minute record of incident C becomes sustained.
    Parameter.objects.create(key="outage_sustained_threshold_minutes", value=2)
    report = reporting.reliability_report(month=date(2026, 3, 1), now=paris("2026-04-15 10:00"))
    i = next(r for r in report["rows"] if r.area == rignac).indices
    assert (i.sustained_interruptions, i.momentary_interruptions) == (7, 2)
    assert i.customer_minutes == pytest.approx(423, abs=1e-9)


@pytest.mark.django_db
def test_an_open_interruption_counts_up_to_now_and_asai_uses_the_minutes_lived():
    area = ServiceArea.objects.get(code="RIGNAC")
    points = points_at("12390", 4)
    now = paris("2026-03-20 12:00")
    live = make_incident(started=paris("2026-03-20 10:00"))
    interrupt(live, points[:1], started=live.started_at, minutes=None, area=area)
    report = reporting.reliability_report(month=date(2026, 3, 1), now=now)
    i = next(r for r in report["rows"] if r.area == area).indices
    assert i.customer_minutes == pytest.approx(120, abs=1e-9)
    # 1 to 20 March, noon: 19.5 days, no clock change yet.
    lived = 19.5 * 24 * 60
    assert report["period_minutes"] == lived
    assert i.asai == pytest.approx(1 - 120 / (4 * lived), abs=1e-12)


@pytest.mark.django_db
def test_areas_without_customers_show_no_indices():
    report = reporting.reliability_report(month=date(2026, 3, 1), now=paris("2026-04-15 10:00"))
    assert all(r.indices.saifi is None for r in report["rows"])
    assert (
        reliability.indices_from_totals(
            customers_served=0,
            sustained_interruptions=0,
            momentary_interruptions=0,
            customer_minutes=0,
            period_minutes=MARCH_MINUTES,
        ).saidi
        is None
    )


@pytest.mark.django_db
def test_reliability_page_shows_the_example_trend_and_chart_data(supervisor):
    worked_example()
    with time_machine.travel(paris("2026-04-15 10:00"), tick=False):
        response = supervisor.get(
            reverse("outages_supervisor:reliability"), {"month": "2026-03", "area": "RIGNAC"}
        )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-area="RIGNAC"' in body
    row = body.split('data-area="RIGNAC"')[1].split("</tr>")[0]
    # customers, sustained, momentary, SAIFI, SAIDI, CAIDI, MAIFI, ASAI (French decimals)
    for cell in ["<td>10</td>", "<td>6</td>", "<td>3</td>", "0,600", "42,0", "70,0", "0,300"]:
        assert cell in row, cell
    assert f"{100 * (1 - 420 / 445_800):.4f}".replace(".", ",") in row
    assert "mars 2026" in body
    assert "Évolution sur 12 mois — Rignac" in body
    chart = response.context["report"]["chart"]
    assert chart["labels"][0] == "04/2025" and chart["labels"][-1] == "03/2026"
    assert chart["saidi"][-1] == 42.0 and chart["saifi"][-1] == 0.6 and chart["maifi"][-1] == 0.3
    assert chart["saidi"][-2] == 12.0  # February: 120 min over 10 customers
    assert 'id="reliability-data"' in body
    assert "vendor/chartjs/chart.umd.min.js" in body and "outages/reliability.js" in body
    assert 'data-month="2026-02"' in body  # the table fallback under the charts


@pytest.mark.django_db
def test_reliability_defaults_to_the_current_paris_month(supervisor):
    # 23:30 UTC on 31 March is already 1 April in Paris.
    with time_machine.travel(datetime(2026, 3, 31, 22, 30, tzinfo=UTC), tick=False):
        response = supervisor.get(reverse("outages_supervisor:reliability"))
    assert response.context["report"]["month"] == date(2026, 4, 1)


def _queries(http, url, params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert http.get(url, params).status_code == 200
    return len(ctx.captured_queries)


def _grow_reliability(n: int) -> None:
    """n incidents spread over several areas and months, each with 3 records."""
    areas = list(ServiceArea.objects.order_by("code"))
    for k in range(n):
        area = areas[k % len(areas)]
        points = points_at(area.postcodes[0], 3)
        started = paris("2026-03-10 08:00") - timedelta(days=31 * (k % 10))
        incident = make_incident(started=started, ended=started + timedelta(minutes=45))
        interrupt(incident, points, started=started, minutes=45 if k % 2 else 2, area=area)


@pytest.mark.django_db
def test_reliability_page_queries_do_not_grow_with_areas_and_months(
    supervisor, django_assert_max_num_queries
):
    url = reverse("outages_supervisor:reliability")
    params = {"month": "2026-03"}
    with time_machine.travel(paris("2026-04-15 10:00"), tick=False):
        supervisor.get(url, params)  # warms the parameter cache
        _grow_reliability(2)
        small = _queries(supervisor, url, params)
        _grow_reliability(30)
        with django_assert_max_num_queries(small):
            supervisor.get(url, params)
        assert _queries(supervisor, url, {**params, "area": "RIGNAC"}) == small


# --- MTTR ----------------------------------------------------------------------------------


def mttr_example():
    """March 2026: two P1 network faults (5 customers) of 2 h and 8 h (target 6 h), two
    P3 isolated faults of 20 h and 30 h (target 24 h); the 8-hour one has its review.
    Not counted: a planned work, a cancelled suspect, one still off, and (for March)
    one started in February."""
    p1_ok = make_incident(
        started=paris("2026-03-02 10:00"), ended=paris("2026-03-02 12:00"), customers_affected=5
    )
    p1_late = make_incident(
        started=paris("2026-03-03 10:00"), ended=paris("2026-03-03 18:00"), customers_affected=5
    )
    review = PostIncidentReview.objects.create(
        incident=p1_late,
        reason="Objectif de rétablissement de 6 h dépassé",
        opened_at=p1_late.ended_at,
        due_at=p1_late.ended_at + timedelta(days=7),
    )
    p3_ok = make_incident(
        started=paris("2026-03-04 10:00"),
        ended=paris("2026-03-05 06:00"),
        klass="P3",
        customers_affected=1,
    )
    p3_late = make_incident(
        started=paris("2026-03-06 10:00"),
        ended=paris("2026-03-07 16:00"),
        klass="P3",
        customers_affected=1,
    )
    make_incident(
        started=paris("2026-03-08 08:00"),
        ended=paris("2026-03-09 20:00"),
        klass="P3",
        planned=True,
    )
    make_incident(started=paris("2026-03-08 08:00"), status="CANCELLED", klass="P3")
    make_incident(started=paris("2026-03-30 08:00"), customers_affected=5)
    make_incident(
        started=paris("2026-02-27 08:00"), ended=paris("2026-02-27 09:00"), customers_affected=5
    )
    return p1_ok, p1_late, p3_ok, p3_late, review


@pytest.mark.django_db
def test_mttr_per_class_and_month_against_targets():
    _, p1_late, _, p3_late, review = mttr_example()
    report = reporting.mttr_report(month=date(2026, 3, 1))
    classes = {c["klass"]: c for c in report["classes"]}
    p1 = classes["P1"]["current"]
    # (2 h + 8 h) / 2 = 5 h; the median of two is their mean; 1 of 2 within 6 h.
    assert (p1["count"], p1["mean"], p1["median"], p1["within"]) == (2, 300, 300, 1)
    assert (p1["mean_text"], p1["share_percent"]) == ("5 h 00", 50)
    p3 = classes["P3"]["current"]
    # (20 h + 30 h) / 2 = 25 h; 1 of 2 within 24 h.
    assert (p3["count"], p3["mean"], p3["within"]) == (2, 1500, 1)
    assert classes["P2"]["current"]["count"] == 0
    feb = classes["P1"]["trend"][-2]
    assert (feb["month"], feb["count"], feb["mean_text"]) == (date(2026, 2, 1), 1, "1 h 00")
    late = {row["reference"]: row for row in report["over_target"]}
    assert set(late) == {p1_late.reference, p3_late.reference}
    assert late[p1_late.reference]["review__id"] == review.pk
    assert late[p1_late.reference]["late_by"] == "2 h 00"
    assert late[p3_late.reference]["review__id"] is None


@pytest.mark.django_db
def test_mttr_targets_come_from_the_parameters():
    _, p1_late, *_ = mttr_example()
    Parameter.objects.create(key="outage_mttr_network_hours", value=10)
    report = reporting.mttr_report(month=date(2026, 3, 1))
    p1 = next(c for c in report["classes"] if c["klass"] == "P1")["current"]
    assert p1["within"] == 2
    assert p1_late.reference not in {r["reference"] for r in report["over_target"]}


@pytest.mark.django_db
def test_mttr_page_links_late_incidents_to_their_review(supervisor, django_assert_max_num_queries):
    _, p1_late, _, p3_late, review = mttr_example()
    url = reverse("outages_supervisor:mttr")
    with time_machine.travel(paris("2026-04-15 10:00"), tick=False):
        response = supervisor.get(url, {"month": "2026-03"})
        body = response.content.decode()
        assert p1_late.reference in body
        assert reverse("outages_supervisor:review", args=[review.pk]) in body
        assert p3_late.reference in body and "Pas encore ouverte" in body
        assert "5 h 00" in body and "1 / 2 (50 %)" in body
        small = _queries(supervisor, url, {"month": "2026-03"})
        for k in range(20):
            started = paris("2026-03-12 08:00") + timedelta(hours=k)
            late = make_incident(
                started=started, ended=started + timedelta(hours=7), customers_affected=3
            )
            PostIncidentReview.objects.create(
                incident=late, reason="x", opened_at=late.ended_at, due_at=late.ended_at
            )
        with django_assert_max_num_queries(small):
            response = supervisor.get(url, {"month": "2026-03"})
    assert len(response.context["report"]["over_target"]) == 22


# --- P1 cadence -------------------------------------------------------------------------------


def p1_with_a_missed_update():
    """A P1 opened at 09:00: notice at 09:10 (due 09:15, met), update due 09:40 missed
    (breached by the 09:45 sweep, which starts the next one), update at 10:00 (met),
    restored at 10:20 (the running update clock is cancelled, not counted)."""
    points_at("33000", 3)
    t0 = paris("2026-03-10 09:00")
    incident = incidents.incident_open(title="Poste Bordeaux", postcodes=["33000"], now=t0)
    assert incident.klass == "P1"
    incidents.incident_update_publish(
        incident=incident, message="Coupure en cours.", now=t0 + timedelta(minutes=10), actor=None
    )
    ticket_services.clocks_sweep(now=t0 + timedelta(minutes=45))
    incidents.incident_update_publish(
        incident=incident, message="Équipe sur place.", now=t0 + timedelta(minutes=60), actor=None
    )
    incidents.incident_restore(incident=incident, now=t0 + timedelta(minutes=80), actor=None)
    return incident


@pytest.mark.django_db
def test_cadence_counts_notices_and_updates_met_and_breached():
    incident = p1_with_a_missed_update()
    report = reporting.cadence_report(month=date(2026, 3, 1))
    current = report["current"]
    assert current["notice"] == {"due": 1, "met": 1, "breached": 0, "attainment_percent": 100}
    assert current["update"] == {"due": 2, "met": 1, "breached": 1, "attainment_percent": 50}
    [breach] = report["breaches"]
    assert breach["incident_reference"] == incident.reference
    assert breach["name"] == "Point d'étape 30 min"
    assert breach["due_at"] == paris("2026-03-10 09:40")
    assert breach["breached_at"] == paris("2026-03-10 09:45")
    # February knows nothing of it.
    assert report["trend"][-2]["update"]["due"] == 0


@pytest.mark.django_db
def test_an_update_published_after_its_deadline_is_late_even_before_the_sweep():
    points_at("33000", 2)
    t0 = paris("2026-03-10 09:00")
    incident = incidents.incident_open(title="Poste", postcodes=["33000"], now=t0)
    # The notice comes at 09:20, past its 09:15 deadline, before any sweep ran.
    incidents.incident_update_publish(
        incident=incident, message="Coupure.", now=t0 + timedelta(minutes=20), actor=None
    )
    report = reporting.cadence_report(month=date(2026, 3, 1))
    assert report["current"]["notice"]["breached"] == 1
    [late] = report["breaches"]
    assert late["status"] == "MET" and late["late_at"] == paris("2026-03-10 09:20")


@pytest.mark.django_db
def test_cadence_page_lists_breaches_in_constant_queries(supervisor, django_assert_max_num_queries):
    incident = p1_with_a_missed_update()
    url = reverse("outages_supervisor:cadence")
    with time_machine.travel(paris("2026-04-15 10:00"), tick=False):
        response = supervisor.get(url, {"month": "2026-03"})
        body = response.content.decode()
        assert incident.reference in body and "Point d&#x27;étape 30 min" in body
        assert "50 %" in body
        small = _queries(supervisor, url, {"month": "2026-03"})
        for k in range(4):
            incidents.incident_open(
                title=f"Poste {k}",
                postcodes=["33000"],
                now=paris("2026-03-12 09:00") + timedelta(hours=k),
            )
        ticket_services.clocks_sweep(now=paris("2026-03-13 09:00"))
        with django_assert_max_num_queries(small):
            response = supervisor.get(url, {"month": "2026-03"})
    assert len(response.context["report"]["breaches"]) > 1


# --- Reviews ------------------------------------------------------------------------------------


def open_review(*, due: datetime, status: str = "OPEN", **incident_fields) -> PostIncidentReview:
    incident = make_incident(
        started=due - timedelta(days=8), ended=due - timedelta(days=7), **incident_fields
    )
    return PostIncidentReview.objects.create(
        incident=incident,
        reason="Objectif de rétablissement de 6 h dépassé",
        status=status,
        opened_at=due - timedelta(days=7),
        due_at=due,
    )


@pytest.mark.django_db
def test_reviews_list_open_ones_first_by_due_date(supervisor, django_assert_max_num_queries):
    later = open_review(due=paris("2026-03-20 10:00"))
    done = open_review(due=paris("2026-03-01 10:00"), status="DONE")
    sooner = open_review(due=paris("2026-03-10 10:00"))
    url = reverse("outages_supervisor:reviews")
    with time_machine.travel(paris("2026-03-15 10:00"), tick=False):
        response = supervisor.get(url)
        assert [r.pk for r in response.context["reviews"]] == [sooner.pk, later.pk, done.pk]
        body = response.content.decode()
        assert body.count("en retard") == 1  # sooner is overdue; done is not "late"
        small = _queries(supervisor, url, {})
        for k in range(15):
            open_review(due=paris("2026-03-25 10:00") + timedelta(hours=k))
        with django_assert_max_num_queries(small):
            supervisor.get(url)


@pytest.mark.django_db
def test_review_form_starts_from_the_incident_events(supervisor):
    review = open_review(due=paris("2026-03-20 10:00"))
    IncidentEvent.objects.create(
        incident=review.incident,
        kind="STATUS",
        at=paris("2026-03-12 10:00"),
        from_value="SUSPECTED",
        to_value="CONFIRMED",
    )
    IncidentEvent.objects.create(
        incident=review.incident, kind="ETR", at=paris("2026-03-12 10:05"), note="CREW/HIGH"
    )
    response = supervisor.get(reverse("outages_supervisor:review", args=[review.pk]))
    assert response.status_code == 200
    initial = response.context["form"].initial["timeline"]
    assert initial.splitlines() == [
        "12/03/2026 10:00 — STATUS — SUSPECTED → CONFIRMED",
        "12/03/2026 10:05 — ETR — CREW/HIGH",
    ]
    body = response.content.decode()
    assert "SUSPECTED → CONFIRMED" in body and 'data-testid="events"' in body
    assert '<label for="id_timeline">' in body


@pytest.mark.django_db
def test_completing_a_review(supervisor):
    review = open_review(due=paris("2026-03-20 10:00"))
    url = reverse("outages_supervisor:review", args=[review.pk])
    response = supervisor.post(
        url,
        {
            "timeline": "10:00 coupure, 10:40 équipe sur place, 18:00 rétabli.",
            "cause": "Câble souterrain endommagé par des travaux de voirie.",
            "actions": "Rappel aux entreprises de voirie ; stock de jonctions renforcé.",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("outages_supervisor:reviews")
    review.refresh_from_db()
    assert review.status == "DONE" and review.cause.startswith("Câble")
    assert review.incident.events.filter(kind="REVIEW_DONE").exists()
    page = supervisor.get(url).content.decode()
    assert 'data-testid="review-done"' in page and "review-form" not in page


@pytest.mark.django_db
def test_a_review_too_short_gets_field_errors_and_stays_open(supervisor):
    review = open_review(due=paris("2026-03-20 10:00"))
    response = supervisor.post(
        reverse("outages_supervisor:review", args=[review.pk]),
        {"timeline": "10:00 coupure, 18:00 rétabli.", "cause": "câble", "actions": ""},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"cause", "actions"}
    assert "Détaillez (au moins quelques mots)." in form.errors["cause"]
    review.refresh_from_db()
    assert review.status == "OPEN" and review.cause == ""
    assert not review.incident.events.filter(kind="REVIEW_DONE").exists()


@pytest.mark.django_db
def test_a_finished_review_cannot_be_redone(supervisor):
    review = open_review(due=paris("2026-03-20 10:00"), status="DONE")
    url = reverse("outages_supervisor:review", args=[review.pk])
    response = supervisor.post(
        url,
        {"timeline": "x" * 20, "cause": "y" * 20, "actions": "z" * 20},
        follow=True,
    )
    assert "Cette revue est déjà terminée." in response.content.decode()
    review.refresh_from_db()
    assert review.timeline == ""


@pytest.mark.django_db
def test_an_unknown_review_is_404(supervisor):
    assert supervisor.get(reverse("outages_supervisor:review", args=[999_999])).status_code == 404


# --- Compensation ------------------------------------------------------------------------------


def compensate(incident, point, *, amount: str, at: datetime) -> Compensation:
    interruption = Interruption.objects.create(
        incident=incident,
        supply_point=point,
        account_id=point.premise.account_id,
        started_at=incident.started_at,
        ended_at=incident.ended_at,
    )
    return Compensation.objects.create(
        interruption=interruption,
        account_id=point.premise.account_id,
        minutes_off=360,
        slices=1,
        kva=Decimal("6"),
        amount=Decimal(amount),
        computed_at=at,
        credited_at=at,
        ledger_source=f"outage-comp:{interruption.pk}",
    )


def compensation_example():
    a, b, c = points_at("75015", 3)
    storm = make_incident(started=paris("2026-02-28 18:00"), ended=paris("2026-03-01 00:30"))
    # Credited at 00:30 on 1 March in Paris (still 28 February in UTC): March.
    compensate(storm, a, amount="12.00", at=paris("2026-03-01 00:30"))
    compensate(storm, b, amount="24.00", at=paris("2026-03-01 00:30"))
    earlier = make_incident(started=paris("2026-02-10 08:00"), ended=paris("2026-02-10 14:00"))
    compensate(earlier, c, amount="12.00", at=paris("2026-02-10 14:05"))
    enterprise = AccountFactory(type=AccountType.BUSINESS, name="Fonderie Durand")
    AvailabilityCredit.objects.create(
        account=enterprise,
        month=date(2026, 3, 1),
        availability_percent=Decimal("99.1000"),
        target_percent=Decimal("99.95"),
        amount=Decimal("150.00"),
        computed_at=paris("2026-04-01 03:00"),
        ledger_source=f"availability:{enterprise.pk}:2026-03",
    )
    return storm


@pytest.mark.django_db
def test_compensation_per_paris_month():
    storm = compensation_example()
    report = reporting.compensation_report(month=date(2026, 3, 1))
    march = report["current"]
    assert (march["points"], march["compensations"], march["total"]) == (2, 2, Decimal("36.00"))
    assert (march["credit_accounts"], march["credit_total"]) == (1, Decimal("150.00"))
    feb = report["trend"][-2]
    assert (feb["points"], feb["total"], feb["credit_total"]) == (1, Decimal("12.00"), 0)
    [row] = report["incidents"]
    assert row["interruption__incident__reference"] == storm.reference
    assert (row["points"], row["total"]) == (2, Decimal("36.00"))
    assert [c.account.name for c in report["credits"]] == ["Fonderie Durand"]


@pytest.mark.django_db
def test_compensation_page_in_constant_queries(supervisor, django_assert_max_num_queries):
    compensation_example()
    url = reverse("outages_supervisor:compensation")
    with time_machine.travel(paris("2026-04-15 10:00"), tick=False):
        response = supervisor.get(url, {"month": "2026-03"})
        body = response.content.decode()
        assert "36,00\xa0€" in body and "150,00\xa0€" in body and "Fonderie Durand" in body
        small = _queries(supervisor, url, {"month": "2026-03"})
        for k in range(10):
            incident = make_incident(
                started=paris("2026-03-05 08:00"), ended=paris("2026-03-05 16:00")
            )
            for point in points_at("75015", 2):
                compensate(incident, point, amount="4.00", at=paris("2026-03-05 16:05"))
            AvailabilityCredit.objects.create(
                account=AccountFactory(type=AccountType.BUSINESS),
                month=date(2026, 3, 1),
                availability_percent=Decimal("99"),
                target_percent=Decimal("99.9"),
                amount=Decimal("50"),
                computed_at=paris("2026-04-01 03:00"),
                ledger_source=f"availability:x{k}",
            )
        with django_assert_max_num_queries(small):
            response = supervisor.get(url, {"month": "2026-03"})
    assert response.context["report"]["current"]["points"] == 22


def test_durations_read_like_the_control_room():
    assert reporting.duration_text(None) == "–"
    assert reporting.duration_text(42.4) == "42 min"
    assert reporting.duration_text(60) == "1 h 00"
    assert reporting.duration_text(185) == "3 h 05"
