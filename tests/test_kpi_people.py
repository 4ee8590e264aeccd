"""Quality and people (docs/kpi-people.md): agent scorecards read from the snapshots
(and today live), the league table and its ranking rule, the training list, quarterly
NPS targets and the channel mix on the dashboard — each worked out by hand here, the
rules first without a database, then through the real snapshot builders and the pages:
access, bad months, constant queries."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import count
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from kpi import selectors
from kpi.domain import people as rules
from kpi.domain import targets
from kpi.models import QaReview
from kpi.services import snapshots as builder
from tickets.models import Contact, Survey, Ticket

PARIS = ZoneInfo("Europe/Paris")
# A Tuesday in March, 15:00 in Paris (as the dashboard's tests).
NOW = datetime(2026, 3, 17, 14, 0, tzinfo=UTC)
TODAY = date(2026, 3, 17)
FEB = date(2026, 2, 1)
HOME = "/supervisor/"
PEOPLE = "/supervisor/people/"
_refs = count(1)

GOALS = {
    "aht": targets.Target.between(240, 360, 30),
    "fcr": targets.Target.at_least(80, 5),
    "csat": targets.Target.at_least(85, 5),
    "qa": rules.qa_target(),
}


def paris(*parts) -> datetime:
    return datetime(*parts, tzinfo=PARIS)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def supervisor(make_user):
    return make_user(Role.SUPERVISOR, totp=True, first_name="Sara", last_name="Viseur")


@pytest.fixture
def as_supervisor(login, supervisor):
    return login(supervisor)


@pytest.fixture
def checklist(db):
    return selectors.qa_checklist_active()


def handled(agent, at: datetime, *, talk=300, hold=0, wrap=0, first=False, resolved=None, **kw):
    """An answered inbound call (or chat…) of `agent`, offered at `at`."""
    answered = at + timedelta(seconds=kw.pop("wait", 10))
    return Contact(
        channel=kw.pop("channel", "PHONE"),
        queue=kw.pop("queue", "BILLING"),
        agent=agent,
        offered_at=at,
        answered_at=answered,
        ended_at=answered + timedelta(seconds=talk + hold),
        talk_seconds=talk,
        hold_seconds=hold,
        wrap_seconds=wrap,
        first_contact=first,
        resolved_first_contact=resolved,
        **kw,
    )


def calls(*contacts: Contact) -> None:
    Contact.objects.bulk_create(contacts)


def survey(at: datetime, *, csat=None, nps=None, agent=None) -> Survey:
    """A survey answered at `at` on a resolved ticket assigned to `agent`."""
    ticket = Ticket.objects.create(
        reference=f"PN-2026-{800000 + next(_refs):06d}",
        channel="PHONE",
        queue="BILLING",
        category="BILL_QUERY",
        subject="Question",
        created_at=at - timedelta(days=1),
        last_activity_at=at,
        resolved_at=at - timedelta(hours=1),
        status="RESOLVED",
        assignee=agent,
    )
    return Survey.objects.create(ticket=ticket, created_at=at, csat=csat, nps=nps, answered_at=at)


def review(agent, reviewer, checklist, at: datetime, score, *, critical=False, calibration=None):
    """A QA review of one of the agent's contacts (an outbound e-mail: no handled call)."""
    contact = Contact.objects.create(
        channel="EMAIL", queue="BILLING", agent=agent, inbound=False, offered_at=at, answered_at=at
    )
    return QaReview.objects.create(
        contact=contact,
        checklist=checklist,
        reviewer=reviewer,
        agent=agent,
        calibration=calibration,
        score=None if score is None else Decimal(score),
        critical_failed=critical,
        created_at=at,
    )


def cards(response) -> dict:
    return {card.agent.pk: card for card in response.context["page"].scorecards}


# --- The rules, by hand ------------------------------------------------------------------------


def test_aht_points_are_100_in_range_and_lose_10_a_minute_outside():
    assert rules.aht_points(Fraction(300), low=240, high=360) == 100
    assert rules.aht_points(Fraction(240), low=240, high=360) == 100  # bounds inclusive
    assert rules.aht_points(Fraction(420), low=240, high=360) == 90  # a minute over
    assert rules.aht_points(Fraction(225), low=240, high=360) == Fraction(195, 2)  # 15 s under
    assert rules.aht_points(Fraction(5000), low=240, high=360) == 0  # never negative


def test_the_composite_is_the_exact_mean_of_four_points():
    month = rules.AgentMonth(
        agent_id=1, handled=3, handle_seconds_sum=1260,  # AHT 420 s → 90 points
        fcr_eligible=3, fcr_resolved=2,  # 200/3 %
        csat_answers=4, csat_satisfied=3,  # 75 %
        qa_reviews=1, qa_average=Decimal("87.50"),
    )  # fmt: skip
    expected = (90 + Fraction(200, 3) + 75 + Fraction(175, 2)) / 4
    assert rules.league_composite(month, aht_low=240, aht_high=360) == expected
    # One figure missing: no composite, not eligible.
    no_qa = rules.AgentMonth(agent_id=1, handled=30, handle_seconds_sum=9000, fcr_eligible=1,
                             fcr_resolved=1, csat_answers=1, csat_satisfied=1)  # fmt: skip
    assert rules.league_composite(no_qa, aht_low=240, aht_high=360) is None
    assert not rules.league_eligible(no_qa)


def _month(agent_id: int, *, handled=20, fcr=16, qa="80", csat=(1, 1), aht=300):
    return rules.AgentMonth(
        agent_id=agent_id, handled=handled, handle_seconds_sum=aht * handled,
        fcr_eligible=20, fcr_resolved=fcr, csat_answers=csat[1], csat_satisfied=csat[0],
        qa_reviews=1, qa_average=Decimal(qa),
    )  # fmt: skip


def test_the_league_ranks_by_composite_then_volume_then_agent_id_top_five():
    # Composites: (100 + FCR + 100 + QA) / 4.
    months = [
        _month(7, fcr=19, qa="85"),  # 95, 20 handled
        _month(3, fcr=18, qa="90"),  # 95, 20 handled: lower id than 7
        _month(9, fcr=18, qa="90", handled=21),  # 95, 21 handled: first of the three
        _month(5, fcr=20, qa="100"),  # 100
        _month(2, fcr=16, qa="80"),  # 90
        _month(1, fcr=14, qa="70"),  # 85: sixth, not shown
        _month(4, fcr=20, qa="100", handled=19),  # 100 but under the 20-contact floor
    ]
    top = rules.league(months, aht_low=240, aht_high=360)
    assert [e.agent_id for e in top] == [5, 9, 3, 7, 2]
    assert [e.rank for e in top] == [1, 2, 3, 4, 5]
    assert [e.composite for e in top] == [100, 95, 95, 95, 90]
    # The input order does not matter.
    assert rules.league(list(reversed(months)), aht_low=240, aht_high=360) == top
    # Exactly at the floor is eligible; one under is not.
    assert rules.league_eligible(_month(4, handled=20))
    assert not rules.league_eligible(_month(4, handled=19))
    assert [e.agent_id for e in rules.league(months, aht_low=240, aht_high=360, size=10)] == [
        5, 9, 3, 7, 2, 1
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("month", "listed", "reasons"),
    [
        # One figure missed (CSAT 50 %): not listed. Two (plus AHT 7 min): listed.
        (_month(1, csat=(1, 2)), False, ()),
        (_month(1, csat=(1, 2), aht=420), True, ("MISSES",)),
        # Amber counts as a miss: FCR 75 % (amber) and QA 76 (amber).
        (_month(1, fcr=15, qa="76"), True, ("MISSES",)),
        # FCR 80 % and QA 80 exactly meet their targets: nothing missed.
        (_month(1, fcr=16, qa="80"), False, ()),
        # Undefined figures miss nothing: no survey and CSAT stays "no data".
        (_month(1, csat=(0, 0), aht=420), False, ()),
        # QA average 60.00 is not under the floor (one miss only: QA red)…
        (_month(1, qa="60.00"), False, ()),
        # …59.99 is (and still one miss).
        (_month(1, qa="59.99"), True, ("QA_FLOOR",)),
    ],
)
def test_the_training_rule_on_both_sides_of_each_threshold(month, listed, reasons):
    need = rules.training_need(month, rules.statuses(month, GOALS))
    assert (need is not None) is listed
    assert (need.reasons if need else ()) == reasons


def test_one_critical_failure_lists_an_agent_otherwise_on_target():
    clean = _month(1, fcr=18, qa="90")
    assert rules.training_need(clean, rules.statuses(clean, GOALS)) is None
    failed = rules.AgentMonth(**{**clean.__dict__, "critical_failures": 1})
    need = rules.training_need(failed, rules.statuses(failed, GOALS))
    assert need.reasons == ("CRITICAL",) and need.below == ()


def test_quarterly_nps_targets_climb_three_points_from_the_last_actual_never_below_the_floor():
    assert rules.nps_quarter_target(None, configured=25) == 25  # first quarter
    assert rules.nps_quarter_target(30, configured=25) == 33
    assert rules.nps_quarter_target(22.5, configured=25) == 25.5
    assert rules.nps_quarter_target(10, configured=25) == 25  # floor
    assert rules.nps_quarter_target(-100, configured=30) == 30
    assert rules.quarter_start(date(2026, 3, 31)) == date(2026, 1, 1)
    assert rules.quarter_start(date(2026, 4, 1)) == date(2026, 4, 1)
    assert rules.quarter_shift(date(2026, 1, 1), -1) == date(2025, 10, 1)
    assert rules.quarter_shift(date(2025, 10, 1), 5) == date(2027, 1, 1)
    rows = rules.nps_quarters(
        {
            date(2025, 7, 1): rules.NpsCounts(10, 5, 1),  # 40
            date(2025, 10, 1): rules.NpsCounts(4, 2, 1),  # 25
        },
        last=date(2026, 2, 1), shown=3, configured=25, today=TODAY, band=5,
    )  # fmt: skip
    assert [r.quarter for r in rows] == [date(2025, 7, 1), date(2025, 10, 1), date(2026, 1, 1)]
    assert [r.target for r in rows] == [25, 43, 28]
    assert [r.status for r in rows] == [targets.GREEN, targets.RED, targets.NO_DATA]
    assert [r.in_progress for r in rows] == [False, False, True]


def test_the_channel_mix_shares_containment_and_routine_change():
    mix = rules.ChannelMix(
        counts={"PHONE": 5, "CHATBOT": 3, "CHATBOT_HANDOFF": 1, "EMAIL": 1},
        routine_calls=3,
        routine_calls_before=5,
    )
    assert [(s.channel, s.contacts, s.percent) for s in mix.shares] == [
        ("PHONE", 5, 50), ("CHATBOT", 3, 30), ("CHATBOT_HANDOFF", 1, 10), ("EMAIL", 1, 10)
    ]  # fmt: skip
    assert mix.self_service_percent == 30
    assert mix.containment_percent == 75
    # One of the three bot sessions was abandoned: 2 of 4 settled by the bot.
    left = rules.ChannelMix(counts=mix.counts, chatbot_abandoned=1)
    assert left.containment_percent == 50 and left.chatbot_sessions == 4
    assert mix.routine_change_percent == -40
    assert rules.routine_change_target().status(-40) == targets.GREEN  # −40 % meets it
    assert rules.routine_change_target().status(-39) == targets.AMBER
    assert rules.containment_target().status(59.9) == targets.AMBER
    # Nothing a year before, no chatbot session, no contact: no figure, not 0.
    empty = rules.ChannelMix(counts={"PHONE": 2}, routine_calls=2, routine_calls_before=0)
    assert empty.routine_change_percent is None and empty.containment_percent is None
    assert rules.ChannelMix().self_service_percent is None and rules.ChannelMix().shares == []


def test_the_mix_compares_a_month_in_progress_with_the_same_wall_clock_span_a_year_before():
    # A past month: whole months, Paris midnights (CET in February).
    (start, end), (b_start, b_end) = rules.mix_windows(FEB, now=NOW)
    assert (start, end) == (
        datetime(2026, 1, 31, 23, tzinfo=UTC),
        datetime(2026, 2, 28, 23, tzinfo=UTC),
    )
    assert (b_start, b_end) == (
        datetime(2025, 1, 31, 23, tzinfo=UTC),
        datetime(2025, 2, 28, 23, tzinfo=UTC),
    )
    # 29 March 2026, 03:30 CEST (the clocks went forward at 02:00); a year before,
    # 03:30 on 29 March 2025 was still CET (that year's change came on the 30th).
    now = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    (start, end), (b_start, b_end) = rules.mix_windows(date(2026, 3, 1), now=now)
    assert (start, end) == (datetime(2026, 2, 28, 23, tzinfo=UTC), now)
    assert b_end == datetime(2025, 3, 29, 2, 30, tzinfo=UTC)
    # 29 February: last year's February is over by then.
    leap = datetime(2028, 2, 29, 11, tzinfo=UTC)
    _now_span, (b_start, b_end) = rules.mix_windows(date(2028, 2, 1), now=leap)
    assert b_end == datetime(2027, 2, 28, 23, tzinfo=UTC)


# --- Scorecards from the snapshots -------------------------------------------------------------


@pytest.mark.django_db
def test_a_past_months_scorecard_is_read_from_its_month_snapshot(
    as_supervisor, supervisor, make_user, checklist, frozen
):
    alice = make_user(Role.AGENT, first_name="Alice", last_name="Martin")
    other = make_user(Role.AGENT, first_name="Bob", last_name="Durand")
    day = paris(2026, 2, 10, 9, 0)
    calls(
        # Handle times 200 + 20 + 40, 300, 400 + 10 → AHT (260 + 300 + 410) / 3.
        handled(alice, day, talk=200, hold=20, wrap=40, first=True, resolved=True),
        handled(alice, day + timedelta(minutes=10), talk=300, first=True, resolved=True),
        handled(alice, day + timedelta(minutes=20), talk=400, wrap=10, first=True, resolved=False),
        # A chat first contact resolved, and a first contact with no verdict (left out).
        handled(alice, day + timedelta(minutes=30), talk=0, channel="CHAT", first=True, resolved=True),
        handled(alice, day + timedelta(minutes=40), talk=250, first=True),
        # An abandoned call has no agent; an e-mail is not "handled".
        Contact(channel="PHONE", queue="BILLING", offered_at=day, abandoned=True,
                ended_at=day + timedelta(seconds=40)),
        Contact(channel="EMAIL", queue="BILLING", agent=alice, offered_at=day, answered_at=day,
                inbound=False),
        # March: another month.
        handled(alice, paris(2026, 3, 1, 0, 30), talk=900),
    )  # fmt: skip
    for csat in (5, 4, 2):  # 2 of 3 satisfied
        survey(paris(2026, 2, 12, 10, 0), csat=csat, agent=alice)
    survey(paris(2026, 2, 12, 10, 0), nps=9, agent=alice)  # NPS only: not a CSAT answer
    review(alice, supervisor, checklist, paris(2026, 2, 3, 10, 0), "90.00")
    review(alice, supervisor, checklist, paris(2026, 2, 27, 10, 0), "70.00")
    review(alice, supervisor, checklist, paris(2026, 2, 27, 11, 0), None)  # no score: left out
    # 1 March 00:30 in Paris is still 28 February in UTC: a March review.
    review(alice, supervisor, checklist, paris(2026, 3, 1, 0, 30), "10.00", critical=True)
    builder.snapshot_month_build(month=FEB, now=NOW)
    Contact.objects.filter(channel="PHONE").delete()  # the snapshot keeps what the month was

    response = as_supervisor.get(PEOPLE, {"month": "2026-02"})

    assert response.status_code == 200
    page = response.context["page"]
    assert page.month == FEB and not page.is_live and page.has_snapshot
    card = cards(response)[alice.pk]
    # The chat counts as handled (0 s of handling counts as 0 s).
    assert card.handled == 5
    assert card.ratings["aht"].value == pytest.approx((260 + 300 + 410 + 0 + 250) / 5)
    assert card.ratings["aht"].status == targets.GREEN  # 244 s, in 4–6 min
    assert card.ratings["fcr"].value == pytest.approx(75)  # 3 of 4 judged first contacts
    assert card.ratings["fcr"].status == targets.AMBER
    assert card.ratings["csat"].value == pytest.approx(200 / 3)
    assert card.ratings["csat"].status == targets.RED
    assert card.ratings["qa"].value == 80 and card.ratings["qa"].status == targets.GREEN
    assert card.figures.qa_reviews == 3 and card.figures.critical_failures == 0
    # Bob has nothing but is an active agent: listed, every figure "no data".
    assert {r.status for r in cards(response)[other.pk].rated} == {targets.NO_DATA}
    html = response.content.decode()
    assert "Alice Martin" in html and 'data-testid="scorecards"' in html
    assert reverse("supervisor:people_agent", args=[alice.pk]) + "?month=2026-02" in html
    # FCR (amber) and CSAT (red) missed: two, so on the training list.
    assert [row.card.agent.pk for row in page.training] == [alice.pk]
    assert [r.code for r in page.training[0].card.below] == ["fcr", "csat"]


@pytest.mark.django_db
def test_a_month_without_snapshot_says_so_but_keeps_the_qa_reviews(
    as_supervisor, supervisor, make_user, checklist, frozen
):
    alice = make_user(Role.AGENT)
    calls(handled(alice, paris(2026, 1, 5, 9, 0)))
    review(alice, supervisor, checklist, paris(2026, 1, 6, 9, 0), "55.00")
    response = as_supervisor.get(PEOPLE, {"month": "2026-01"})
    page = response.context["page"]
    assert response.status_code == 200 and not page.has_snapshot
    card = cards(response)[alice.pk]
    assert card.handled == 0 and card.ratings["qa"].value == 55
    assert 'data-testid="no-snapshot"' in response.content.decode()
    # Under the QA floor: on the training list.
    assert page.training[0].need.reasons == ("QA_FLOOR",)


@pytest.mark.django_db
def test_the_current_month_is_its_day_snapshots_then_today_live(
    as_supervisor, supervisor, make_user, checklist, frozen
):
    alice = make_user(Role.AGENT, first_name="Alice", last_name="Martin")
    calls(
        handled(alice, paris(2026, 3, 2, 9, 0), talk=300),
        handled(alice, paris(2026, 3, 2, 10, 0), talk=300),
        handled(alice, paris(2026, 3, 3, 9, 0), talk=600),  # its day is not built
        handled(alice, paris(2026, 3, 17, 9, 0), talk=240),  # today, live
    )
    builder.snapshot_day_build(day=date(2026, 3, 2), now=NOW)
    review(alice, supervisor, checklist, paris(2026, 3, 10, 9, 0), "100.00")

    response = as_supervisor.get(PEOPLE)

    page = response.context["page"]
    assert response.status_code == 200 and page.is_live and page.month == date(2026, 3, 1)
    card = cards(response)[alice.pk]
    assert card.handled == 3
    assert card.ratings["aht"].value == pytest.approx((300 + 300 + 240) / 3)
    assert card.ratings["qa"].value == 100
    # 16 past days, one built.
    assert page.missing_days == 15
    assert "15 jours passés de ce mois" in response.content.decode()


@pytest.mark.django_db
def test_the_league_on_the_page_with_its_tie_break_and_floor(
    as_supervisor, supervisor, make_user, checklist, frozen
):
    """Every agent: AHT 300 s (100 points), one CSAT 5 (100 %), one QA review; so the
    composite is (200 + FCR + QA) / 4."""

    def agent_month(name, *, resolved, qa, extra=0, size=20, with_qa=True):
        agent = make_user(Role.AGENT, first_name=name, last_name="Test")
        start = paris(2026, 2, 9, 8, 0)
        calls(*(
            handled(agent, start + timedelta(minutes=5 * n), talk=300, first=n < 20,
                    resolved=(n < resolved) if n < 20 else None)
            for n in range(size + extra)
        ))  # fmt: skip
        survey(paris(2026, 2, 20, 9, 0), csat=5, agent=agent)
        if with_qa:
            review(agent, supervisor, checklist, paris(2026, 2, 21, 9, 0), qa)
        return agent

    a = agent_month("Ana", resolved=20, qa="100")  # 100
    b = agent_month("Ben", resolved=18, qa="90")  # 95, 20 handled
    c = agent_month("Cleo", resolved=18, qa="90", extra=1)  # 95, 21 handled
    d = agent_month("Dan", resolved=19, qa="85")  # 95, 20 handled, created after Ben
    e = agent_month("Eva", resolved=16, qa="80")  # 90
    agent_month("Fay", resolved=14, qa="70")  # 85: sixth
    agent_month("Gus", resolved=19, qa="100", size=19)  # 19 handled: not eligible
    agent_month("Hal", resolved=20, qa="100", with_qa=False)  # no QA: not eligible
    builder.snapshot_month_build(month=FEB, now=NOW)

    response = as_supervisor.get(PEOPLE, {"month": "2026-02"})

    page = response.context["page"]
    assert [row.card.agent.pk for row in page.league] == [a.pk, c.pk, b.pk, d.pk, e.pk]
    assert [row.entry.composite for row in page.league] == [100, 95, 95, 95, 90]
    assert [row.composite_text for row in page.league] == [
        "100,00",
        "95,00",
        "95,00",
        "95,00",
        "90,00",
    ]
    assert page.eligible == 6
    html = response.content.decode()
    assert 'data-testid="league"' in html and "6 conseillers classables" in html


@pytest.mark.django_db
def test_the_training_list_names_the_figures_below_target_and_links_to_coaching(
    as_supervisor, supervisor, make_user, checklist, frozen
):
    slow = make_user(Role.AGENT, first_name="Sam", last_name="Lent")
    one_miss = make_user(Role.AGENT, first_name="Una", last_name="Seule")
    critical = make_user(Role.AGENT, first_name="Cri", last_name="Tique")
    day = paris(2026, 2, 11, 9, 0)
    calls(
        # Sam: AHT 8 min (red) and FCR 75 % (amber) → two misses.
        *(handled(slow, day + timedelta(minutes=10 * n), talk=480, first=True, resolved=n < 3)
          for n in range(4)),
        # Una: CSAT only is missed (below), AHT and FCR fine.
        handled(one_miss, day, talk=300, first=True, resolved=True),
        handled(critical, day, talk=300, first=True, resolved=True),
    )  # fmt: skip
    survey(day, csat=1, agent=one_miss)
    # Cri: a critical failure (score 0) among 100 and 100 → average 66.67 (red, one miss).
    for n, (score, failed) in enumerate((("0.00", True), ("100.00", False), ("100.00", False))):
        review(critical, supervisor, checklist, day + timedelta(hours=n), score, critical=failed)
    builder.snapshot_month_build(month=FEB, now=NOW)

    response = as_supervisor.get(PEOPLE, {"month": "2026-02"})

    training = response.context["page"].training
    # Critical failures first, then the most figures missed.
    assert [row.card.agent.pk for row in training] == [critical.pk, slow.pk]
    assert training[0].need.reasons == ("CRITICAL",)
    assert [r.code for r in training[0].card.below] == ["qa"]
    assert training[0].card.ratings["qa"].value == pytest.approx(66.67)
    assert [r.code for r in training[1].card.below] == ["aht", "fcr"]
    html = response.content.decode()
    link = reverse("supervisor:quality_agent", args=[slow.pk]) + "?month=2026-02#coaching"
    assert link in html and 'data-reason="aht"' in html and 'data-reason="critical"' in html
    assert "Hors objectif" in html and "Proche de l&#x27;objectif" in html


# --- One agent's scorecard and trend ------------------------------------------------------------


@pytest.mark.django_db
def test_the_agent_page_has_twelve_months_of_trend_with_a_table_fallback(
    as_supervisor, supervisor, make_user, checklist, frozen
):
    alice = make_user(Role.AGENT, first_name="Alice", last_name="Martin")
    calls(
        handled(alice, paris(2025, 4, 10, 9, 0), talk=360, first=True, resolved=True),
        handled(alice, paris(2026, 2, 10, 9, 0), talk=200),
        handled(alice, paris(2026, 2, 11, 9, 0), talk=400),
        handled(alice, paris(2026, 3, 17, 9, 0), talk=250),  # today, live
        handled(alice, paris(2025, 3, 20, 9, 0), talk=999),  # 13 months ago: outside
    )
    for month in (date(2025, 3, 1), date(2025, 4, 1), FEB):
        builder.snapshot_month_build(month=month, now=NOW)
    review(alice, supervisor, checklist, paris(2025, 12, 5, 9, 0), "75.00")
    review(alice, supervisor, checklist, paris(2025, 12, 6, 9, 0), "80.00")

    response = as_supervisor.get(reverse("supervisor:people_agent", args=[alice.pk]))

    assert response.status_code == 200
    page = response.context["page"]
    assert [row.month for row in page.trend] == [
        *(date(2025, m, 1) for m in range(4, 13)), *(date(2026, m, 1) for m in range(1, 4))
    ]  # fmt: skip
    by_month = {row.month: row for row in page.trend}
    assert by_month[date(2025, 4, 1)].card.ratings["fcr"].value == 100
    assert by_month[FEB].card.ratings["aht"].value == 300 and by_month[FEB].built
    assert by_month[date(2025, 12, 1)].card.ratings["qa"].value == 77.5
    assert not by_month[date(2025, 12, 1)].built  # no month snapshot: contacts unknown
    assert page.trend[-1].live and page.card.handled == 1
    assert page.card.ratings["aht"].value == 250
    chart = page.chart
    assert len(chart["labels"]) == 12 and chart["aht"][-1] == 250 and chart["aht"][1] is None
    assert chart["qa"][8] == 77.5 and chart["handled"][10] == 2
    html = response.content.decode()
    assert 'id="people-trend-data"' in html and 'data-testid="trend"' in html
    assert "chart.umd.min.js" in html and 'id="chart-people-rates"' in html
    assert reverse("supervisor:quality_agent", args=[alice.pk]) + "?month=2026-03" in html


@pytest.mark.django_db
def test_the_agent_page_for_a_past_month_ends_its_trend_there(as_supervisor, make_user, frozen):
    alice = make_user(Role.AGENT)
    calls(handled(alice, paris(2026, 2, 10, 9, 0), talk=330))
    builder.snapshot_month_build(month=FEB, now=NOW)
    response = as_supervisor.get(
        reverse("supervisor:people_agent", args=[alice.pk]), {"month": "2026-02"}
    )
    page = response.context["page"]
    assert page.month == FEB and page.trend[-1].month == FEB and not page.trend[-1].live
    assert page.card.ratings["aht"].value == 330 and page.missing_days == 0


# --- Access and bad input -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_people_pages_are_for_supervisors_and_admins(client, make_user, login, frozen):
    agent = make_user(Role.AGENT, totp=True)
    paths = [PEOPLE, reverse("supervisor:people_agent", args=[agent.pk])]
    for path in paths:
        anonymous = client.get(path)
        assert anonymous.status_code == 302 and "/accounts/login" in anonymous["Location"]
    for role in (Role.CUSTOMER, Role.AGENT):
        user = agent if role == Role.AGENT else make_user(role)
        signed_in = login(user)
        for path in paths:
            assert signed_in.get(path).status_code == 403
    for role in (Role.SUPERVISOR, Role.ADMIN):
        signed_in = login(make_user(role, totp=True))
        for path in paths:
            assert signed_in.get(path).status_code == 200


@pytest.mark.django_db
def test_an_unknown_agent_or_someone_else_is_a_404(as_supervisor, supervisor, frozen):
    assert as_supervisor.get(reverse("supervisor:people_agent", args=[999999])).status_code == 404
    # A supervisor has no scorecard.
    own = reverse("supervisor:people_agent", args=[supervisor.pk])
    assert as_supervisor.get(own).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("month", ["2026-13", "2026-04", "mars", "1999-12"])
def test_a_bad_month_is_a_400_with_the_message_on_the_field(
    as_supervisor, make_user, frozen, month
):
    agent = make_user(Role.AGENT)
    for path in (PEOPLE, reverse("supervisor:people_agent", args=[agent.pk])):
        response = as_supervisor.get(path, {"month": month})
        assert response.status_code == 400
        assert response.context["page"] is None
        assert "month" in response.context["form"].errors
        html = response.content.decode()
        assert 'class="errorlist"' in html and 'aria-invalid="true"' in html


# --- The dashboard: quarterly NPS and channel mix -------------------------------------------------


@pytest.mark.django_db
def test_the_dashboard_tracks_quarterly_nps_against_targets(as_supervisor, frozen):
    # Q1 2025: 3 promoters and 1 detractor of 4 → +50 (February built).
    for nps in (10, 10, 10, 0):
        survey(paris(2025, 2, 14, 10, 0), nps=nps)
    # Q3 2025: 1 promoter, 1 detractor → 0 (August built).
    for nps in (10, 5):
        survey(paris(2025, 8, 14, 10, 0), nps=nps)
    # Q4 2025: 10, 10, 10, 3 in November and an 8 on 31 December at 23:30 in Paris
    # (22:30 UTC, still 2025) → 3 promoters, 1 detractor of 5 → +40.
    for nps in (10, 10, 10, 3):
        survey(paris(2025, 11, 14, 10, 0), nps=nps)
    survey(paris(2025, 12, 31, 23, 30), nps=8)
    # Q1 2026: 10 in January (built), 10 and 6 on 2 March (day built), 9 today (live)
    # → 3 promoters, 1 detractor of 4 → +50. A 0 on 3 March (day not built) is not seen.
    survey(paris(2026, 1, 20, 10, 0), nps=10)
    survey(paris(2026, 3, 2, 10, 0), nps=10)
    survey(paris(2026, 3, 2, 11, 0), nps=6)
    survey(paris(2026, 3, 3, 11, 0), nps=0)
    survey(paris(2026, 3, 17, 9, 0), nps=9)
    for month in (date(2025, 2, 1), date(2025, 8, 1), date(2025, 11, 1), date(2025, 12, 1),
                  date(2026, 1, 1)):  # fmt: skip
        builder.snapshot_month_build(month=month, now=NOW)
    builder.snapshot_day_build(day=date(2026, 3, 2), now=NOW)

    response = as_supervisor.get(HOME)

    assert response.status_code == 200
    quarters = response.context["people"].quarters
    assert [q.quarter.quarter for q in quarters] == [
        date(2025, 1, 1), date(2025, 4, 1), date(2025, 7, 1), date(2025, 10, 1), date(2026, 1, 1)
    ]  # fmt: skip
    assert [q.quarter.nps for q in quarters] == [50, None, 0, 40, 50]
    # Q1 2025: nothing before → the configured 25. Q2: 50 + 3. Q3: nothing in Q2 → 25.
    # Q4: 0 + 3 is under the floor → 25. Q1 2026: 40 + 3.
    assert [q.quarter.target for q in quarters] == [25, 53, 25, 25, 43]
    assert [q.quarter.status for q in quarters] == [
        targets.GREEN, targets.NO_DATA, targets.RED, targets.GREEN, targets.GREEN
    ]  # fmt: skip
    current = response.context["people"].current
    assert current.quarter.in_progress and current.quarter.counts.answers == 4
    assert [q.missing_months for q in quarters] == [2, 3, 2, 1, 1]  # March 2026 is live
    html = response.content.decode()
    assert 'data-testid="tile-nps-quarter"' in html and "NPS du T1 2026" in html
    assert "≥ +43" in html and 'data-testid="nps-quarters-table"' in html


@pytest.mark.django_db
def test_a_survey_at_half_past_midnight_on_1_april_belongs_to_the_second_quarter(
    as_supervisor,
):
    # 1 April 2026, 00:30 in Paris is 31 March 22:30 UTC (summer time since 29 March).
    now = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        survey(paris(2026, 4, 1, 0, 30), nps=10)
        survey(paris(2026, 3, 31, 23, 30), nps=0)
        builder.snapshot_month_build(month=date(2026, 3, 1), now=now)
        builder.snapshot_day_build(day=date(2026, 4, 1), now=now)
        response = as_supervisor.get(HOME)
    quarters = response.context["people"].quarters
    q1, q2 = quarters[-2], quarters[-1]
    assert q2.quarter.quarter == date(2026, 4, 1) and q2.quarter.in_progress
    assert (q1.quarter.counts.answers, q1.quarter.nps) == (1, -100)
    assert (q2.quarter.counts.answers, q2.quarter.nps) == (1, 100)
    assert q2.quarter.target == 25  # −100 + 3 is under the floor


def _contact(at: datetime, channel: str, *, issue="", **kw) -> Contact:
    return Contact(channel=channel, queue="BILLING", offered_at=at, issue_key=issue, **kw)


@pytest.mark.django_db
def test_the_channel_mix_of_a_past_month_with_containment_and_routine_calls(as_supervisor, frozen):
    feb = paris(2026, 2, 10, 10, 0)
    calls(
        *(_contact(feb, "PHONE", issue=issue) for issue in ("BILL_QUERY", "PAYMENT", "MOVE")),
        _contact(feb, "PHONE", issue="BILL_DISPUTE"),  # not routine
        _contact(feb, "PHONE", issue="queue:BILLING"),  # no known issue: not routine
        _contact(feb, "PHONE", issue="BILL_QUERY", inbound=False),  # a callback: not counted
        _contact(feb, "PHONE", issue="BILL_QUERY", outcome="BUSY"),  # turned away
        *(_contact(feb, "CHATBOT") for _ in range(2)),
        # A session the customer left unanswered: a session, not a contained one.
        _contact(feb, "CHATBOT", abandoned=True),
        _contact(feb, "CHATBOT_HANDOFF"),
        _contact(feb, "EMAIL"),
        # 1 March 00:30 in Paris (28 February 23:30 UTC): March's.
        _contact(paris(2026, 3, 1, 0, 30), "CHATBOT"),
        # February 2025: five routine calls, one non-routine, a routine chat.
        *(_contact(paris(2025, 2, 3, 9, n), "PHONE", issue="METER_READING") for n in range(5)),
        _contact(paris(2025, 2, 3, 10, 0), "PHONE", issue="OUTAGE"),
        _contact(paris(2025, 2, 3, 10, 0), "CHAT", issue="BILL_QUERY"),
        # 1 March 2025 at 00:30: not February 2025.
        _contact(paris(2025, 3, 1, 0, 30), "PHONE", issue="BILL_QUERY"),
    )

    response = as_supervisor.get(HOME, {"month": "2026-02"})

    people = response.context["people"]
    mix = people.mix
    assert mix.counts == {"PHONE": 5, "CHATBOT": 3, "CHATBOT_HANDOFF": 1, "EMAIL": 1}
    assert [(row.channel, row.contacts) for row in people.channels] == [
        ("PHONE", 5), ("CHATBOT", 3), ("CHATBOT_HANDOFF", 1), ("EMAIL", 1)
    ]  # fmt: skip
    assert [row.percent_text for row in people.channels] == ["50 %", "30 %", "10 %", "10 %"]
    assert people.self_service.value == 30 and people.self_service.status == targets.NO_TARGET
    # 2 of 4 chatbot sessions settled by the bot (one more left unanswered, one handed
    # over): 50 % against ≥ 60 %, more than the 5-point amber band below.
    assert people.containment.value == 50 and people.containment.status == targets.RED
    # 3 routine calls against 5 a year before: −40 %, exactly the target.
    assert (mix.routine_calls, mix.routine_calls_before) == (3, 5)
    assert people.routine.value == -40 and people.routine.status == targets.GREEN
    assert mix.calls_without_issue == 1 and not people.mix_is_partial
    html = response.content.decode()
    assert 'data-testid="channel-mix-table"' in html and "Confinement du chatbot" in html
    assert "-40 %" in html and "Objectif : ≥ 60 %" in html and "février 2025" in html


@pytest.mark.django_db
def test_a_finished_months_mix_comes_from_the_cache_the_current_month_never(as_supervisor, frozen):
    earlier_today = NOW - timedelta(hours=1)
    calls(_contact(paris(2026, 2, 10, 10, 0), "CHATBOT"), _contact(earlier_today, "CHATBOT"))

    def mix(month: str):
        return as_supervisor.get(HOME, {"month": month}).context["people"].mix.counts

    assert mix("2026-02") == {"CHATBOT": 1}
    assert mix("2026-03") == {"CHATBOT": 1}
    calls(_contact(paris(2026, 2, 11, 10, 0), "CHATBOT"), _contact(earlier_today, "CHATBOT"))
    # February is over: read again from the cache until it expires; March is live.
    assert mix("2026-02") == {"CHATBOT": 1}
    assert mix("2026-03") == {"CHATBOT": 2}
    cache.delete("kpi:channel-mix:2026-02")
    assert mix("2026-02") == {"CHATBOT": 2}


@pytest.mark.django_db
def test_the_month_in_progress_is_compared_with_the_same_days_a_year_before(as_supervisor, frozen):
    calls(
        *(_contact(paris(2026, 3, d, 9, 0), "PHONE", issue="TARIFF") for d in (2, 9, 16)),
        _contact(paris(2026, 3, 17, 14, 0), "CHATBOT_HANDOFF"),
        # A year before: by 17 March 2025 at 15:00 (14:59 in), not after (15:01).
        *(_contact(paris(2025, 3, d, 9, 0), "PHONE", issue="TARIFF") for d in (3, 10)),
        _contact(paris(2025, 3, 17, 14, 59), "PHONE", issue="TARIFF"),
        _contact(paris(2025, 3, 17, 15, 1), "PHONE", issue="TARIFF"),
        _contact(paris(2025, 3, 25, 9, 0), "PHONE", issue="TARIFF"),
    )
    people = as_supervisor.get(HOME).context["people"]
    assert people.mix_is_partial and people.month == date(2026, 3, 1)
    assert (people.mix.routine_calls, people.mix.routine_calls_before) == (3, 3)
    assert people.routine.value == 0 and people.routine.status == targets.RED
    assert people.before_end == paris(2025, 3, 17, 15, 0)
    # Only a hand-off: no session contained.
    assert people.containment.value == 0 and people.containment.status == targets.RED


@pytest.mark.django_db
def test_no_routine_call_a_year_before_means_no_figure(as_supervisor, frozen):
    calls(_contact(paris(2026, 3, 2, 9, 0), "PHONE", issue="PAYMENT"))
    people = as_supervisor.get(HOME).context["people"]
    assert people.routine.value is None and people.routine.status == targets.NO_DATA
    assert people.routine.display == "—" and people.containment.value is None
    # The drill-down pages have no people panels.
    drill = as_supervisor.get("/supervisor/kpi/queue/BILLING/")
    assert drill.status_code == 200 and "people" not in drill.context
    assert 'data-testid="channel-mix"' not in drill.content.decode()


# --- Constant queries ---------------------------------------------------------------------------


def _load(make_user, supervisor, checklist, size: int) -> list:
    """`size` agents, each with `size` calls and a survey in February, today and on
    2 March, a review in February and one today."""
    agents = [make_user(Role.AGENT) for _ in range(size)]
    for agent in agents:
        for when in (paris(2026, 2, 10, 9, 0), paris(2026, 3, 2, 9, 0), paris(2026, 3, 17, 9, 0)):
            calls(*(
                handled(agent, when + timedelta(minutes=n), talk=200 + n, first=True,
                        resolved=n % 2 == 0, issue_key=["BILL_QUERY", "OUTAGE"][n % 2])
                for n in range(size)
            ))  # fmt: skip
            survey(when, csat=4, nps=9, agent=agent)
            calls(_contact(when, "CHATBOT"))
        review(agent, supervisor, checklist, paris(2026, 2, 11, 9, 0), "85.00")
        review(agent, supervisor, checklist, paris(2026, 3, 17, 8, 0), "95.00")
    builder.snapshot_month_build(month=FEB, now=NOW)
    builder.snapshot_day_build(day=date(2026, 3, 2), now=NOW)
    return agents


@pytest.mark.django_db
def test_the_people_pages_run_a_constant_number_of_queries(
    as_supervisor, supervisor, make_user, checklist, frozen, django_assert_max_num_queries
):
    counts = []
    for size in (1, 6):
        agents = _load(make_user, supervisor, checklist, size)
        paths = [
            (PEOPLE, {}),
            (PEOPLE, {"month": "2026-02"}),
            (reverse("supervisor:people_agent", args=[agents[-1].pk]), {}),
            (reverse("supervisor:people_agent", args=[agents[-1].pk]), {"month": "2026-02"}),
        ]
        as_supervisor.get(PEOPLE)  # parameters cached, as between two visits
        measured = []
        for path, query in paths:
            with CaptureQueriesContext(connection) as queries:
                response = as_supervisor.get(path, query)
                assert response.status_code == 200
            measured.append(len(queries))
        counts.append(measured)
        assert len(response.context["page"].trend) == 12
    assert counts[0] == counts[1]
    assert len(as_supervisor.get(PEOPLE).context["page"].scorecards) == 7
    with django_assert_max_num_queries(counts[1][0]):
        as_supervisor.get(PEOPLE)


@pytest.mark.django_db
def test_the_dashboard_panels_add_three_queries_whatever_the_volume(
    as_supervisor, supervisor, make_user, checklist, frozen, django_assert_max_num_queries
):
    counts = []
    for size in (1, 6):
        _load(make_user, supervisor, checklist, size)
        as_supervisor.get(HOME)  # parameters cached
        with CaptureQueriesContext(connection) as home:
            assert as_supervisor.get(HOME).status_code == 200
        # The same dashboard without the panels: a drill-down runs the same queries.
        with CaptureQueriesContext(connection) as drill:
            assert as_supervisor.get("/supervisor/kpi/queue/BILLING/").status_code == 200
        counts.append((len(home), len(drill)))
    assert counts[0] == counts[1]
    home_count, drill_count = counts[1]
    # Snapshots for the NPS quarters, today's surveys, the contacts of the mix.
    assert home_count - drill_count == 3
    with django_assert_max_num_queries(home_count):
        as_supervisor.get(HOME)
    # A month of a past quarter: nothing live, two queries.
    with CaptureQueriesContext(connection) as past_home:
        as_supervisor.get(HOME, {"month": "2025-12"})
    with CaptureQueriesContext(connection) as past_drill:
        as_supervisor.get("/supervisor/kpi/queue/BILLING/", {"month": "2025-12"})
    assert len(past_home) - len(past_drill) == 2
