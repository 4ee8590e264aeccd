"""The monthly report (docs/kpi-report.md): findings and their gap to target (exact at the
2 % boundary), the root-cause analysis gate on closing a month, reopening, the pages
(list, month, PDF, CSV) for supervisors and admins only, constant queries, and the
October 2026 clock change at the month's end. Snapshots are built by the real builders
from hand-made contacts and clocks."""

import csv
import io
import re
import subprocess
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from kpi.domain import report as rules
from kpi.domain import snapshots as snap
from kpi.domain.targets import Target
from kpi.models import KpiSnapshot, MonthlyReview, MonthlyReviewEvent, RootCauseAnalysis
from kpi.selectors import report as reads
from kpi.services import InvalidInput, NotAllowed
from kpi.services import report as review
from kpi.services import snapshots as builder
from tickets import services as tickets
from tickets.models import ClockDefinition, ClockInstance, Contact

PARIS = ZoneInfo("Europe/Paris")
# October 2026 ends on the day Paris goes back to winter time (25 October) plus six days:
# its last hour is 23:00–24:00 CET, i.e. 22:00–23:00 UTC.
OCTOBER = date(2026, 10, 1)
NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 3)
LIST = "/supervisor/reports/"
PAGE = "/supervisor/reports/2026-10/"
STANDARD_FIRST_RESPONSE = "Première réponse 24 h"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def supervisor(make_user):
    return make_user(Role.SUPERVISOR, totp=True, first_name="Sam", last_name="Sup")


@pytest.fixture
def owner(make_user):
    return make_user(Role.SUPERVISOR, first_name="Olga", last_name="Owner")


@pytest.fixture
def browser(supervisor, login):
    return login(supervisor)


def local(day: date, hhmm: str) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def call(offered: datetime, *, wait: float, talk: int = 300, queue: str = "GENERAL") -> Contact:
    answered = offered + timedelta(seconds=wait)
    return Contact.objects.create(
        channel="PHONE",
        queue=queue,
        offered_at=offered,
        answered_at=answered,
        ended_at=answered + timedelta(seconds=talk),
        wrap_up_ended_at=answered + timedelta(seconds=talk),
        talk_seconds=talk,
    )


def commitments(day: date, *, met: int, missed: int, policy: str = "STANDARD") -> str:
    """`met` + `missed` first-response clocks of `policy` due at noon on `day`; returns
    the finding code of that commitment."""
    ticket = tickets.ticket_create(
        channel="EMAIL",
        category="BILL_QUERY",
        subject="Question",
        body="Bonjour",
        now=local(day, "08:00"),
        requester_contact="a@b.fr",
    )
    ClockInstance.objects.filter(ticket=ticket).delete()
    definition = ClockDefinition.objects.filter(
        policy__code=policy, stop_event="FIRST_RESPONSE"
    ).first()
    due = local(day, "12:00")
    for n in range(met + missed):
        kept = n < met
        ClockInstance.objects.create(
            ticket=ticket,
            definition=definition,
            policy_version=definition.policy.version,
            name=definition.name,
            stop_event=definition.stop_event,
            unit=definition.unit,
            amount=definition.amount,
            calendar=definition.calendar,
            pauses_when_waiting=definition.pauses_when_waiting,
            warn_ratio=definition.warn_ratio,
            status="MET" if kept else "BREACHED",
            started_at=due - timedelta(hours=24),
            due_at=due,
            met_at=due - timedelta(hours=1) if kept else None,
            breached_at=None if kept else due,
        )
    return f"sla:TICKET|{policy}|{definition.name}"


def build(month: date = OCTOBER) -> None:
    builder.snapshot_month_build(month=month, now=NOW)


def missed_month() -> str:
    """October with good calls and a commitment kept 9 times out of 10 (90 % against
    99 %: a gap of (99 − 90) ÷ 99 = 9.1 %), so "sla" and the commitment need analyses."""
    for day in (5, 20):
        call(local(date(2026, 10, day), "09:00"), wait=10)
    code = commitments(date(2026, 10, 14), met=9, missed=1)
    build()
    return code


def record(code: str, author, owner, **overrides):
    values = {
        "month": OCTOBER,
        "commitment": code,
        "cause": "Pic de demandes après la campagne de relevés.",
        "actions": "Renfort de deux conseillers le matin.",
        "owner_id": owner.pk,
        "due_on": date(2026, 11, 30),
        "author": author,
        "now": NOW,
    }
    return review.rca_record(**(values | overrides))


# --- Domain: the gap and the 2 % boundary ------------------------------------------------------

FCR = Target.at_least(80, 5)
ASA = Target.below(30, 5)
AHT = Target.between(240, 360, 30)


def expected_gap(target: Fraction, actual: Fraction) -> Fraction:
    return abs(target - actual) / target * 100


@pytest.mark.parametrize(
    ("actual", "needs"),
    [
        (Fraction("78.4"), False),  # exactly 2 %: no analysis
        (78.4, False),  # the same, handed in as a float
        (Fraction("78.39"), True),  # just over
        (Fraction("60"), True),
    ],
)
def test_an_at_least_target_needs_an_analysis_strictly_beyond_2_percent(actual, needs):
    gap = rules.gap_percent(FCR, actual)
    assert gap == expected_gap(Fraction(80), rules.exact(actual))
    assert rules.needs_rca(gap) is needs


def test_the_boundary_is_exact_where_floats_would_tip_it_over():
    # In floats, an ASA of 30.6 s is just over 2 % above 30 s — and would demand an
    # analysis; the ASA comes as exact microseconds over answered contacts.
    assert (30.6 - 30) / 30 * 100 > 2
    assert rules.gap_percent(ASA, Fraction(61_200_000, 2 * 1_000_000)) == 2
    assert rules.gap_percent(ASA, 30.6) == 2
    assert rules.gap_percent(FCR, Fraction(98 * 100, 125)) == 2


@pytest.mark.parametrize(
    ("actual", "gap", "needs"),
    [
        (Fraction("30.6"), Fraction(2), False),
        (Fraction("30.61"), expected_gap(Fraction(30), Fraction("30.61")), True),
        (Fraction(30), Fraction(0), False),  # not met ("< 30 s") yet 0 % away
        (Fraction(12), Fraction(0), False),
    ],
)
def test_a_below_target_gap_is_the_excess_over_the_target(actual, gap, needs):
    assert rules.gap_percent(ASA, actual) == gap
    assert rules.needs_rca(rules.gap_percent(ASA, actual)) is needs


@pytest.mark.parametrize(
    ("actual", "bound", "needs"),
    [
        (Fraction("367.2"), 360, False),  # 7.2 s over 360 s: exactly 2 %
        (Fraction("367.3"), 360, True),
        (Fraction("235.2"), 240, False),  # 4.8 s under 240 s: exactly 2 %
        (Fraction("235.1"), 240, True),
        (Fraction(300), 360, False),  # inside the range
    ],
)
def test_a_range_gap_is_the_distance_to_the_nearest_bound(actual, bound, needs):
    gap = rules.gap_percent(AHT, actual)
    inside = 240 <= actual <= 360
    assert gap == (0 if inside else expected_gap(Fraction(bound), actual))
    assert rules.needs_rca(gap) is needs
    assert rules.missed_bound(AHT, actual) == bound


def test_no_data_needs_no_analysis_and_a_zero_target_any_miss_does():
    assert rules.gap_percent(FCR, None) is None and not rules.needs_rca(None)
    nps_zero = Target.at_least(0, 5)
    assert rules.gap_percent(nps_zero, Fraction(-1)) == float("inf")
    assert rules.needs_rca(rules.gap_percent(nps_zero, Fraction(-1)))
    assert rules.gap_percent(nps_zero, Fraction(3)) == 0
    # A negative NPS target: the shortfall over its size.
    assert rules.gap_percent(Target.at_least(-10, 5), Fraction(-12)) == 20


def test_the_exact_figures_follow_the_snapshot_definitions():
    figures = snap.Figures(
        answered=3, wait_us_sum=91_800_000, handled=2, handle_seconds_sum=601,
        fcr_eligible=125, fcr_resolved=98, csat_answers=7, csat_satisfied=6,
        nps_answers=4, promoters=2, detractors=1, commitments_due=3, commitments_met=2,
    )  # fmt: skip
    for metric, attribute in [("asa", "asa_seconds"), ("aht", "aht_seconds"), ("fcr", "fcr_percent"),
                              ("csat", "csat_percent"), ("nps", "nps"), ("sla", "sla_percent")]:  # fmt: skip
        assert float(rules.exact_figure(metric, figures)) == pytest.approx(
            getattr(figures, attribute)
        )
    assert rules.exact_figure("fcr", figures) == Fraction("78.4")
    assert rules.exact_figure("asa", snap.EMPTY) is None


def test_findings_of_a_month_list_every_commitment_with_a_stable_code():
    goals = {
        "asa": ASA, "aht": AHT, "fcr": FCR, "csat": Target.at_least(85, 5),
        "nps": Target.at_least(25, 5), "sla": Target.at_least(99, 1),
    }  # fmt: skip
    billing_goals = {"asa": Target.below(25, 5), "fcr": Target.at_least(82, 5)}
    kept = snap.Figures(commitments_due=10, commitments_met=10)
    late = snap.Figures(commitments_due=10, commitments_met=9)
    found = rules.month_findings(
        overall=snap.Figures(
            answered=2, wait_us_sum=20_000_000, commitments_due=20, commitments_met=19
        ),
        overall_targets=goals,
        billing=None,
        billing_targets=billing_goals,
        commitments={"TICKET|STANDARD|x": late, "COMPLAINT|response": kept},
    )
    assert [f.code for f in found] == [
        "asa", "asa:BILLING", "aht", "fcr", "fcr:BILLING", "csat", "nps", "sla",
        "sla:COMPLAINT|response", "sla:TICKET|STANDARD|x",
    ]  # fmt: skip
    needing = {f.code for f in found if f.needs_rca}
    # 95 % overall and 90 % for one commitment against 99 %; the billing queue has no data.
    assert needing == {"sla", "sla:TICKET|STANDARD|x"}
    assert not next(f for f in found if f.code == "asa:BILLING").has_data
    assert rules.missing_analyses(found, {"sla"})[0].code == "sla:TICKET|STANDARD|x"


def test_a_long_commitment_key_gets_a_code_that_fits_and_stays_the_same():
    key = "TICKET|" + "P" * 40 + "|" + "Clock name of forty characters, exactly!"
    code = rules.finding_code("sla", key)
    assert len(code) == rules.CODE_MAX_LENGTH and code.startswith("sla:TICKET|PPP")
    assert code == rules.finding_code("sla", key)
    assert code != rules.finding_code("sla", key[:-1] + "?")


@pytest.mark.parametrize(
    ("status", "action", "result"),
    [
        (rules.OPEN, rules.CLOSE, rules.CLOSED),
        (rules.CLOSED, rules.REOPEN, rules.OPEN),
        (rules.OPEN, rules.REOPEN, None),
        (rules.CLOSED, rules.CLOSE, None),
        (rules.OPEN, "archive", None),
        ("DRAFT", rules.CLOSE, None),
    ],
)
def test_the_review_state_machine(status, action, result):
    if result is None:
        with pytest.raises(rules.IllegalTransition):
            rules.transition(status, action)
    else:
        assert rules.transition(status, action) == result


def test_a_sparkline_scales_the_figures_and_the_target_and_breaks_at_gaps():
    line = rules.sparkline([10, None, 20, 30, 40], width=100, height=50, pad=5, target_bounds=(50,))
    # Scale 10 → 50 over 40 px of height; x every 90 / 4 = 22.5 px.
    assert line.points == ((5, 45), None, (50, 35), (72.5, 25), (95, 15))
    assert line.paths == ("M 5 45", "M 50 35 L 72.5 25 L 95 15")
    assert line.target_ys == (5,)
    flat = rules.sparkline([7, 7], width=100, height=50, pad=5)
    assert flat.points == ((5, 25), (95, 25))
    assert rules.sparkline([None] * 12).paths == ()


# --- The gate ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_missed_commitment_blocks_closing_until_its_analysis_is_recorded(supervisor, owner):
    code = missed_month()

    with pytest.raises(review.RcaMissing) as refused:
        review.month_close(month=OCTOBER, actor=supervisor, now=NOW)

    assert refused.value.codes == ["sla", code]
    assert STANDARD_FIRST_RESPONSE in str(refused.value)
    # Nothing written: not even the review row created on the way.
    assert not MonthlyReview.objects.exists() and not MonthlyReviewEvent.objects.exists()

    record("sla", supervisor, owner)
    with pytest.raises(review.RcaMissing) as still:
        review.month_close(month=OCTOBER, actor=supervisor, now=NOW)
    assert still.value.codes == [code]
    assert MonthlyReview.objects.get().status == "OPEN"
    assert not MonthlyReviewEvent.objects.exists()

    record(code, supervisor, owner)
    later = NOW + timedelta(minutes=5)
    closed = review.month_close(month=OCTOBER, actor=supervisor, now=later)

    assert closed.status == "CLOSED" and closed.closed_by == supervisor
    assert closed.closed_at == later
    event = MonthlyReviewEvent.objects.get()
    assert (event.actor, event.at, event.from_status, event.to_status) == (
        supervisor, later, "OPEN", "CLOSED",
    )  # fmt: skip


@pytest.mark.django_db
def test_a_month_missed_by_exactly_2_percent_closes_without_analysis(supervisor):
    # Waits of 30 s and 31.2 s: ASA 30.6 s against "< 30 s", 2 % over — in floats,
    # (30.6 − 30) ÷ 30 × 100 is 2.000000000000005 and would block the month.
    call(local(date(2026, 10, 6), "10:00"), wait=30)
    call(local(date(2026, 10, 7), "10:00"), wait=31.2)
    commitments(date(2026, 10, 8), met=3, missed=0)
    build()

    found = reads.report_findings(month=OCTOBER)
    asa = next(f for f in found.findings if f.code == "asa")
    assert asa.actual == Fraction("30.6") and asa.gap == 2 and not asa.needs_rca
    assert found.needing == []

    review.month_close(month=OCTOBER, actor=supervisor, now=NOW)
    assert MonthlyReview.objects.get().status == "CLOSED"
    assert not RootCauseAnalysis.objects.exists()


@pytest.mark.django_db
def test_reopening_needs_a_reason_and_is_recorded(supervisor, make_user):
    call(local(date(2026, 10, 6), "10:00"), wait=5)
    build()
    review.month_close(month=OCTOBER, actor=supervisor, now=NOW)
    admin = make_user(Role.ADMIN)

    with pytest.raises(InvalidInput) as blank:
        review.month_reopen(month=OCTOBER, actor=admin, reason="  ", now=NOW)
    assert "reason" in blank.value.errors
    assert MonthlyReview.objects.get().status == "CLOSED"

    later = NOW + timedelta(hours=1)
    reopened = review.month_reopen(
        month=OCTOBER, actor=admin, reason="Contacts d'octobre réimportés", now=later
    )

    assert reopened.status == "OPEN" and reopened.closed_at is None
    events = list(MonthlyReviewEvent.objects.order_by("at"))
    assert [(e.from_status, e.to_status) for e in events] == [
        ("OPEN", "CLOSED"),
        ("CLOSED", "OPEN"),
    ]
    assert events[1].actor == admin and events[1].reason == "Contacts d'octobre réimportés"
    with pytest.raises(review.WrongStatus):
        review.month_reopen(month=OCTOBER, actor=admin, reason="encore", now=later)
    review.month_close(month=OCTOBER, actor=supervisor, now=later)
    with pytest.raises(review.WrongStatus):
        review.month_close(month=OCTOBER, actor=supervisor, now=later)
    assert MonthlyReviewEvent.objects.count() == 3


@pytest.mark.django_db
def test_an_analysis_on_a_closed_month_is_refused(supervisor, owner):
    code = missed_month()
    record("sla", supervisor, owner)
    record(code, supervisor, owner)
    review.month_close(month=OCTOBER, actor=supervisor, now=NOW)

    with pytest.raises(review.MonthClosed):
        record(code, supervisor, owner, cause="Autre chose")

    assert RootCauseAnalysis.objects.get(commitment=code).cause.startswith("Pic")


@pytest.mark.django_db
def test_an_analysis_records_the_finding_and_is_rewritten_in_place(supervisor, owner):
    code = missed_month()
    first = record(code, supervisor, owner)
    assert first.target == 99 and first.actual == pytest.approx(90)
    assert first.gap_percent == pytest.approx((99 - 90) / 99 * 100)
    assert first.created_at == first.updated_at == NOW

    later = NOW + timedelta(days=1)
    again = record(code, supervisor, owner, actions="Nouvelle règle de routage", now=later)

    assert again.pk == first.pk and RootCauseAnalysis.objects.count() == 1
    assert again.actions == "Nouvelle règle de routage"
    assert again.created_at == NOW and again.updated_at == later


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cause": "   "}, "cause"),
        ({"actions": ""}, "actions"),
        ({"due_on": date(2026, 11, 2)}, "due_on"),  # yesterday in Paris
        ({"due_on": None}, "due_on"),
        ({"owner_id": 999_999}, "owner"),
        ({"owner_id": None}, "owner"),
        ({"commitment": "asa"}, "commitment"),  # ASA was fine: needs none
        ({"commitment": "sla:TICKET|NOPE|x"}, "commitment"),
    ],
)
def test_bad_analysis_input_is_a_field_error_and_writes_nothing(supervisor, owner, change, field):
    missed_month()
    with pytest.raises(InvalidInput) as refused:
        record("sla", supervisor, owner, **change)
    assert field in refused.value.errors
    assert not RootCauseAnalysis.objects.exists() and not MonthlyReview.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who", [{"role": Role.AGENT}, {"role": Role.SUPERVISOR, "is_active": False}]
)
def test_the_owner_is_an_active_supervisor_or_admin(supervisor, make_user, who):
    missed_month()
    refused_owner = make_user(who.pop("role"), **who)
    with pytest.raises(InvalidInput) as refused:
        record("sla", supervisor, refused_owner)
    assert "owner" in refused.value.errors
    admin = make_user(Role.ADMIN)
    assert record("sla", supervisor, admin).owner == admin


@pytest.mark.django_db
def test_only_supervisors_and_admins_review(make_user, owner):
    missed_month()
    agent = make_user(Role.AGENT)
    with pytest.raises(NotAllowed):
        record("sla", agent, owner)
    with pytest.raises(NotAllowed):
        review.month_close(month=OCTOBER, actor=agent, now=NOW)
    assert not MonthlyReview.objects.exists()


@pytest.mark.django_db
def test_a_month_without_its_snapshot_cannot_be_closed(supervisor):
    call(local(date(2026, 10, 6), "10:00"), wait=5)
    with pytest.raises(review.NoMonthSnapshot):
        review.month_close(month=OCTOBER, actor=supervisor, now=NOW)
    assert not MonthlyReview.objects.exists()


@pytest.mark.django_db
def test_october_2026_ends_at_midnight_winter_time(supervisor, owner):
    """Paris leaves summer time on 25 October: the month runs from 30 September 22:00
    UTC to 31 October 23:00 UTC (745 hours), and is over only from then."""
    missed_month()
    call(datetime(2026, 10, 31, 23, 30, tzinfo=PARIS), wait=50)  # 22:30 UTC: October
    call(datetime(2026, 11, 1, 0, 30, tzinfo=PARIS), wait=90)  # 23:30 UTC: November
    build()

    row = KpiSnapshot.objects.get(kind="MONTH", dimension="OVERALL")  # October's only
    assert row.period_start == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
    assert row.period_end == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert (row.period_end - row.period_start) == timedelta(hours=745)
    assert row.answered == 3  # the two calls of missed_month() and 31 October's
    assert row.wait_us_sum == (10 + 10 + 50) * 1_000_000

    last_minute = datetime(2026, 10, 31, 22, 59, 59, tzinfo=UTC)
    with pytest.raises(review.MonthNotOver):
        review.month_close(month=OCTOBER, actor=supervisor, now=last_minute)
    with pytest.raises(review.MonthNotOver):
        record("sla", supervisor, owner, now=last_minute)
    # From midnight (23:00 UTC) the month is over and the gate applies.
    with pytest.raises(review.RcaMissing):
        review.month_close(
            month=OCTOBER, actor=supervisor, now=datetime(2026, 11, 1, 0, 0, tzinfo=PARIS)
        )
    months = {
        row.month: row for row in reads.report_months(now=datetime(2026, 10, 31, 23, 0, tzinfo=UTC))
    }
    assert months[date(2026, 11, 1)].is_current and months[OCTOBER].is_over
    assert min(months) == date(2025, 11, 1) and len(months) == 13


# --- Pages ---------------------------------------------------------------------------------------

GET_PAGES = [LIST, PAGE, PAGE + "report.pdf", PAGE + "report.csv"]
POSTS = [PAGE + "rca/", PAGE + "close/", PAGE + "reopen/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", GET_PAGES)
def test_report_pages_are_for_supervisors_and_admins(path, client, make_user, login, frozen):
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/accounts/login" in anonymous["Location"]
    for role in (Role.CUSTOMER, Role.AGENT, Role.FIELD_TECHNICIAN):
        assert login(make_user(role, totp=role != Role.CUSTOMER)).get(path).status_code == 403
    for role in (Role.SUPERVISOR, Role.ADMIN):
        assert login(make_user(role, totp=True)).get(path).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", POSTS)
def test_report_actions_are_for_supervisors_and_admins(path, client, make_user, login, frozen):
    call(local(date(2026, 10, 6), "10:00"), wait=5)
    build()
    data = {"commitment": "sla", "cause": "x", "actions": "y", "reason": "z"}
    anonymous = client.post(path, data)
    assert anonymous.status_code == 302 and "/accounts/login" in anonymous["Location"]
    for role in (Role.CUSTOMER, Role.AGENT):
        assert (
            login(make_user(role, totp=role != Role.CUSTOMER)).post(path, data).status_code == 403
        )
    assert login(make_user(Role.SUPERVISOR, totp=True)).get(path).status_code == 405
    assert not MonthlyReview.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/supervisor/reports/2026-13/",  # no such month
        "/supervisor/reports/2026-00/report.csv",
        "/supervisor/reports/1999-12/",
        "/supervisor/reports/octobre/",
        "/supervisor/reports/2026-12/",  # not begun (it is November)
        "/supervisor/reports/2026-12/report.pdf",
        "/supervisor/reports/2027-01/report.csv",
    ],
)
def test_an_unreadable_or_future_month_is_a_404(browser, frozen, path):
    assert browser.get(path).status_code == 404


@pytest.mark.django_db
def test_a_future_month_cannot_be_posted_to(browser, frozen):
    for action in ("rca/", "close/", "reopen/"):
        assert (
            browser.post("/supervisor/reports/2026-12/" + action, {"reason": "x"}).status_code
            == 404
        )
    assert not MonthlyReview.objects.exists()


def _state(response, code: str) -> str:
    line = next(line for line in response.context["page"].lines if line.code == code)
    return line.state


def _rca_post(code: str, owner, **overrides) -> dict:
    return {
        "commitment": code,
        "cause": "Pic de demandes.",
        "actions": "Renfort le matin.",
        "owner": owner.pk,
        "due_on": "2026-11-20",
    } | overrides


@pytest.mark.django_db
def test_a_supervisor_reviews_and_closes_a_month_from_the_page(browser, supervisor, owner, frozen):
    code = missed_month()

    page = browser.get(PAGE)

    assert page.status_code == 200
    html = page.content.decode()
    assert "Rapport de octobre 2026" in html
    assert _state(page, "sla") == _state(page, code) == "RCA_NEEDED"
    assert _state(page, "asa") == "MET" and _state(page, "csat") == "NO_DATA"
    forms = page.context["rca_forms"]
    assert [line.code for line, _form in forms] == ["sla", code]
    # Every field has its label, and the ids of the two forms differ.
    ids = re.findall(r'<label for="([^"]+)"', html)
    assert len(ids) == len(set(ids)) and f'for="{forms[1][0].form_id}-cause"' in html
    assert "Olga Owner" in html and 'data-testid="close-form"' in html

    blank = browser.post(PAGE + "rca/", _rca_post(code, owner, cause=""))
    assert blank.status_code == 400
    assert "Décrivez la cause." in blank.content.decode()
    assert 'aria-invalid="true"' in blank.content.decode()
    # The refused form is the one shown again, with what was typed.
    shown = {line.code: form for line, form in blank.context["rca_forms"]}
    assert shown[code].errors and shown[code]["actions"].value() == "Renfort le matin."
    assert not RootCauseAnalysis.objects.exists()
    past = browser.post(PAGE + "rca/", _rca_post(code, owner, due_on="2026-11-01"))
    assert (
        past.status_code == 400
        and "L&#x27;échéance ne peut pas être passée." in past.content.decode()
    )
    none_needed = browser.post(PAGE + "rca/", _rca_post("asa", owner))
    assert none_needed.status_code == 400
    assert "il ne demande pas d&#x27;analyse" in none_needed.content.decode()

    gate = browser.post(PAGE + "close/")
    assert gate.status_code == 409
    assert STANDARD_FIRST_RESPONSE in gate.content.decode()
    assert 'data-testid="refusal"' in gate.content.decode()
    assert MonthlyReview.objects.filter(status="CLOSED").count() == 0
    assert not MonthlyReviewEvent.objects.exists()

    for finding in ("sla", code):
        done = browser.post(PAGE + "rca/", _rca_post(finding, owner))
        assert done.status_code == 302 and done["Location"] == PAGE + "#findings"
    recorded = browser.get(PAGE)
    assert _state(recorded, code) == "RCA_RECORDED"
    assert RootCauseAnalysis.objects.get(commitment=code).owner == owner

    closed = browser.post(PAGE + "close/")
    assert closed.status_code == 302
    after = browser.get(PAGE)
    assert after.context["page"].is_closed and after.context["rca_forms"] == []
    text = after.content.decode()
    assert "Ouvert → Clôturé" in text and "Sam Sup" in text
    assert 'data-testid="reopen-form"' in text and 'data-testid="close-form"' not in text

    refused = browser.post(PAGE + "rca/", _rca_post(code, owner, cause="Changée"))
    assert refused.status_code == 409 and "rouvrez-le" in refused.content.decode()
    assert RootCauseAnalysis.objects.get(commitment=code).cause == "Pic de demandes."

    no_reason = browser.post(PAGE + "reopen/", {"reason": ""})
    assert no_reason.status_code == 400
    assert "Indiquez pourquoi le mois est rouvert." in no_reason.content.decode()
    reopened = browser.post(PAGE + "reopen/", {"reason": "Correction des clôtures"})
    assert reopened.status_code == 302
    assert MonthlyReview.objects.get().status == "OPEN"
    assert "Correction des clôtures" in browser.get(PAGE).content.decode()


@pytest.mark.django_db
def test_the_month_list_shows_status_and_analyses(browser, supervisor, owner, frozen):
    code = missed_month()
    record("sla", supervisor, owner)

    response = browser.get(LIST)

    assert response.status_code == 200
    months = response.context["months"]
    assert [m.month for m in months][:3] == [date(2026, 11, 1), OCTOBER, date(2026, 9, 1)]
    assert len(months) == 13 and months[-1].month == date(2025, 11, 1)
    october = months[1]
    assert (october.needing, october.recorded, october.missing) == (2, 1, 1)
    assert october.status == "OPEN" and october.has_snapshot and october.is_over
    assert not months[2].has_snapshot and months[0].is_current
    html = response.content.decode()
    assert "1 manquante" in html and 'href="/supervisor/reports/2026-10/"' in html

    record(code, supervisor, owner)
    review.month_close(month=OCTOBER, actor=supervisor, now=NOW)
    october = browser.get(LIST).context["months"][1]
    assert (october.needing, october.recorded, october.status) == (2, 2, "CLOSED")


def _review_cycle(codes: list[str], supervisor, owner) -> None:
    for code in codes:
        record(code, supervisor, owner)
    review.month_close(month=OCTOBER, actor=supervisor, now=NOW)
    review.month_reopen(month=OCTOBER, actor=supervisor, reason="Vérification", now=NOW)


@pytest.mark.django_db
def test_the_report_pages_run_a_constant_number_of_queries(
    browser, supervisor, owner, frozen, django_assert_max_num_queries
):
    def measure() -> list[int]:
        browser.get(LIST)  # parameters cached, as between two visits
        counts = []
        for path in (LIST, PAGE, PAGE + "report.csv"):
            with CaptureQueriesContext(connection) as queries:
                assert browser.get(path).status_code == 200
            counts.append(len(queries))
        return counts

    # Small: October alone, one missed commitment, its analyses, one close and reopen.
    call(local(date(2026, 10, 2), "09:00"), wait=10)
    codes = [commitments(date(2026, 10, 3), met=1, missed=1)]
    build()
    _review_cycle(["sla", *codes], supervisor, owner)
    small = measure()

    # Large: five more commitments missed in October, four more months in the trend,
    # more analyses and events.
    for n, policy in enumerate(["BILLING", "EMAIL", "SOCIAL", "ENTERPRISE", "SAFETY"]):
        codes.append(commitments(date(2026, 10, 4 + n), met=1, missed=1, policy=policy))
    build()
    for month in (6, 7, 8, 9):
        call(local(date(2026, month, 10), "09:00"), wait=month)
        build(date(2026, month, 1))
    _review_cycle(codes[1:], supervisor, owner)
    large = measure()

    page = browser.get(PAGE).context["page"]
    assert len(page.commitments) == 6 and len(page.analyses) == 7 and len(page.events) == 4
    assert sum(1 for row in page.trend if row.figures.offered) == 5
    assert small == large
    with django_assert_max_num_queries(large[1]):
        browser.get(PAGE)


# --- PDF and CSV ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_pdf_shows_the_month_and_its_12_month_trend(
    browser, supervisor, owner, frozen, tmp_path
):
    missed_month()
    # September: waits of 15 s and 20 s → ASA 17.5 s, in the trend.
    call(local(date(2026, 9, 10), "10:00"), wait=15)
    call(local(date(2026, 9, 11), "10:00"), wait=20)
    build(date(2026, 9, 1))
    record("sla", supervisor, owner, cause="Panne du routeur d'appels le 14")

    response = browser.get(PAGE + "report.pdf")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert 'filename="rapport-kpi-2026-10.pdf"' in response["Content-Disposition"]
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Rapport mensuel — octobre 2026" in text
    assert "septembre 2026" in text and "novembre 2025" in text  # 12 months, oldest first
    september = next(line for line in text.splitlines() if "septembre 2026" in line)
    assert "17,5 s" in september
    # Without -layout each table cell comes out whole, however it wraps.
    plain = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    words = " ".join(plain.split())
    assert "Panne du routeur d'appels le 14" in words
    assert "Analyse de cause requise" in words and "Analyse enregistrée" in words


@pytest.mark.django_db
def test_the_csv_has_the_months_figures_and_its_trend(browser, frozen):
    code = missed_month()
    call(local(date(2026, 10, 9), "11:00"), wait=40, queue="BILLING")
    call(local(date(2026, 7, 2), "11:00"), wait=7)
    build()
    build(date(2026, 7, 1))

    response = browser.get(PAGE + "report.csv")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    header = response.content.decode().splitlines()[0].split(",")
    assert header == list(reads.CSV_HEADER)
    month_rows = {(r["dimension"], r["key"]): r for r in rows if r["section"] == "month"}
    overall = month_rows[("OVERALL", "")]
    # Waits 10, 10 and 40 s; talks 300 s each.
    assert overall["offered"] == "3" and overall["asa_seconds"] == f"{(10 + 10 + 40) / 3:.2f}"
    assert overall["aht_seconds"] == "300.00" and overall["fcr_percent"] == ""
    assert month_rows[("QUEUE", "BILLING")]["asa_seconds"] == "40.00"
    assert month_rows[("QUEUE", "GENERAL")]["asa_seconds"] == "10.00"
    commitment = month_rows[("COMMITMENT", code.removeprefix("sla:"))]
    assert (commitment["commitments_due"], commitment["commitments_met"]) == ("10", "9")
    assert commitment["sla_percent"] == f"{100 * 9 / 10:.2f}"
    trend = [r for r in rows if r["section"] == "trend"]
    assert [r["month"] for r in trend] == [f"{m:%Y-%m}" for m in reads.months_ending(OCTOBER, 12)]
    by_month = {r["month"]: r for r in trend}
    assert by_month["2026-07"]["asa_seconds"] == "7.00"
    assert by_month["2026-08"]["offered"] == "0" and by_month["2026-08"]["asa_seconds"] == ""
    assert by_month["2026-10"]["asa_seconds"] == overall["asa_seconds"]
