"""The KPI demo (docs/kpi-demo.md): months of contacts with the shapes of a real contact
centre, loaded in bulk and idempotently, and their snapshots built by the real services,
so the dashboard opens on twelve months of trends. The tests run it small (`days`,
`per_day`); the figures are read back through the real selectors."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import Role, User
from kpi import demo, selectors
from kpi.domain import metrics
from kpi.domain import snapshots as snap
from kpi.models import KpiSnapshot, SnapshotDimension, SnapshotKind
from kpi.selectors import people as people_selectors
from tickets.models import ClockInstance, Contact, Survey, Ticket, TicketEvent

PARIS = ZoneInfo("Europe/Paris")


def _figures(first: date, last: date, now: datetime, **cell) -> snap.Figures:
    """The figures of [first, last] computed now from the raw records (the snapshots'
    own SELECT), overall or for one cell."""
    start, end = metrics.local_day_bounds(first)[0], metrics.local_day_bounds(last)[1]
    rows = selectors.kpi_cells(start=start, end=end, now=now, period_kind="MONTH")
    wanted = (cell.get("dimension", "OVERALL"), cell.get("key", ""))
    row = next(r for r in rows if (r["dimension"], r["key"]) == wanted)
    return snap.Figures.from_mapping(row)


def _counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (User, Contact, Ticket, TicketEvent, ClockInstance, Survey, KpiSnapshot)
    )


def _snapshot_rows() -> list[tuple]:
    return list(
        KpiSnapshot.objects.order_by("id").values_list(
            "id", "kind", "period_start", "dimension", "key", "built_at", "contacts", "handled"
        )
    )


@pytest.mark.django_db
def test_a_second_run_adds_nothing_and_rewrites_no_snapshot():
    now = datetime(2026, 4, 8, 10, 0, tzinfo=PARIS)
    with time_machine.travel(now, tick=False):
        summary = demo.seed(now=now, days=14, per_day=300)
    assert "42 staff" in summary  # 40 agents, 2 supervisors
    counts, rows = _counts(), _snapshot_rows()
    assert Contact.objects.filter(external_id__startswith="demo-").count() > 1500
    assert Survey.objects.exists() and ClockInstance.objects.exists()
    # Every loaded day has its snapshot; the month over (March) too, not April's.
    first, last = demo.demo_days(now=now, days=14)
    assert (first, last) == (date(2026, 3, 25), date(2026, 4, 7))
    day_rows = KpiSnapshot.objects.filter(kind=SnapshotKind.DAY, dimension="OVERALL")
    assert day_rows.count() == 14
    months = KpiSnapshot.objects.filter(kind=SnapshotKind.MONTH, dimension="OVERALL")
    assert [metrics.local_month(s.period_start) for s in months] == [date(2026, 3, 1)]

    later = now + timedelta(hours=3)
    with time_machine.travel(later, tick=False):
        again = demo.seed(now=later, days=14, per_day=300)
    assert "0 contacts" in again and "0 staff" in again
    assert _counts() == counts
    assert _snapshot_rows() == rows


@pytest.mark.django_db
def test_the_staff_are_forty_agents_and_supervisors_only_when_there_is_none(make_user):
    now = datetime(2026, 4, 8, 10, 0, tzinfo=PARIS)
    demo.seed(now=now, days=1, per_day=50)
    agents = User.objects.filter(role=Role.AGENT, email__endswith="@powernext.example")
    assert agents.count() == demo.AGENTS == 40
    assert not any(a.has_usable_password() for a in agents)
    assert User.objects.filter(role=Role.SUPERVISOR).count() == len(demo.SUPERVISORS)
    # Contacts are spread over the demo agents only.
    used = set(Contact.objects.exclude(agent=None).values_list("agent_id", flat=True))
    assert used and used <= set(agents.values_list("id", flat=True))


@pytest.mark.django_db
def test_no_demo_supervisor_when_one_exists(make_user):
    make_user(Role.SUPERVISOR)
    demo.seed(now=datetime(2026, 4, 8, 10, 0, tzinfo=PARIS), days=1, per_day=50)
    assert User.objects.filter(role=Role.SUPERVISOR).count() == 1


@pytest.mark.django_db
def test_weekly_and_intraday_shapes():
    # Four full weeks without a public holiday nor a bad spell: 23 Feb to 22 Mar 2026.
    now = datetime(2026, 3, 23, 9, 0, tzinfo=PARIS)
    demo.seed(now=now, days=28, per_day=600, recent_days=0)
    per_weekday: Counter = Counter()
    phone_hours: Counter = Counter()
    sunday_office_calls = 0
    for channel, queue, outcome, offered in Contact.objects.values_list(
        "channel", "queue", "outcome", "offered_at"
    ):
        local = offered.astimezone(PARIS)
        per_weekday[local.weekday()] += 1
        if channel == "PHONE" and outcome == "REACHED_QUEUE":
            phone_hours[local.hour] += 1
            if local.weekday() == 6 and queue != "OUTAGE":
                sunday_office_calls += 1
    monday, saturday, sunday = per_weekday[0], per_weekday[5], per_weekday[6]
    assert monday == max(per_weekday.values())
    weekday_mean = sum(per_weekday[d] for d in range(5)) / 5
    assert 0.25 < saturday / weekday_mean < 0.45
    assert 0.08 < sunday / weekday_mean < 0.22
    assert monday > saturday > sunday
    # Phone: the morning peak, the lunch dip, the afternoon peak; only the outage line
    # answers at night and on Sundays.
    assert phone_hours[10] > 3 * phone_hours[7]
    assert phone_hours[10] > phone_hours[12] < phone_hours[14]
    assert phone_hours[3] > 0
    assert sunday_office_calls == 0
    # Calls to the office lines outside their hours are refused as CLOSED.
    closed = Contact.objects.filter(outcome="CLOSED")
    assert closed.exists()
    assert all(
        c.offered_at.astimezone(PARIS).hour in {7, 8, 13, 20} for c in closed.only("offered_at")
    )


@pytest.mark.django_db
def test_figures_of_a_normal_month_are_realistic():
    now = datetime(2026, 3, 23, 9, 0, tzinfo=PARIS)
    demo.seed(now=now, days=28, per_day=800, recent_days=28)
    first, last = date(2026, 2, 23), date(2026, 3, 22)
    f = _figures(first, last, now)
    assert 240 <= f.aht_seconds <= 420  # 4 to 7 minutes
    assert 15 <= f.asa_seconds <= 40
    assert 3 <= f.abandonment_percent <= 8
    assert 70 <= f.service_level_percent <= 95
    assert 75 <= f.fcr_percent <= 85
    assert 82 <= f.csat_percent <= 92
    assert 15 <= f.nps <= 38
    assert 4 <= f.repeat_contact_percent <= 20
    assert 95 <= f.contact_success_percent < 100
    assert 0 < f.short_abandons < f.abandoned
    # Surveys on about one handled contact in ten.
    assert 0.06 <= f.csat_answers / f.handled <= 0.14
    # Phone handle time is log-normal around five minutes, split into talk, hold, wrap.
    phone = Contact.objects.filter(channel="PHONE", inbound=True).exclude(agent=None)
    handles = sorted(c.talk_seconds + c.hold_seconds + c.wrap_seconds for c in phone)
    median = handles[len(handles) // 2]
    assert 240 <= median <= 330
    assert handles[-1] > 3 * median  # a long tail
    assert phone.filter(hold_seconds__gt=0).count() < phone.count() / 2
    assert not phone.filter(wrap_seconds=0).exists()

    # Mondays wait longer than Wednesdays (the DAY snapshots, chained).
    def chained(weekday: int) -> snap.Figures:
        rows = KpiSnapshot.objects.filter(kind=SnapshotKind.DAY, dimension="OVERALL")
        days = [
            snap.Figures.from_mapping(r)
            for r in rows
            if r.period_start.astimezone(PARIS).weekday() == weekday
        ]
        assert len(days) == 4
        return snap.chain(days)

    assert chained(0).asa_seconds > chained(2).asa_seconds + 5


@pytest.mark.django_db
def test_thirteen_months_fill_the_dashboard_trend_with_a_story(settings):
    settings.KPI_DEMO_DAYS = None  # the full range, whatever the test settings say
    now = datetime(2026, 12, 15, 10, 0, tzinfo=PARIS)
    with time_machine.travel(now, tick=False):
        demo.seed(now=now, per_day=120)
        dashboard = selectors.kpi_dashboard(now=now)
    first, last = demo.demo_days(now=now)
    assert (first, last) == (date(2025, 12, 1), date(2026, 12, 14))
    trend = dashboard.trend
    assert [row.month for row in trend] == [date(2026, m, 1) for m in range(1, 13)]
    for row in trend:
        f = row.figures
        assert f.contacts > 0 and f.asa_seconds and f.aht_seconds, row.month
        assert f.csat_percent is not None and f.sla_percent is not None, row.month
    assert trend[-1].live  # December: its days' snapshots, then today
    by_month = {row.month: row.figures for row in trend}
    october, november = by_month[date(2026, 10, 1)], by_month[date(2026, 11, 1)]
    january, february = by_month[date(2026, 1, 1)], by_month[date(2026, 2, 1)]
    # The November storm: the outage line floods, waits and abandons soar, commitments
    # and satisfaction suffer: that month misses its targets.
    assert november.asa_seconds > 30 > october.asa_seconds
    assert november.abandonment_percent > october.abandonment_percent + 3
    assert november.csat_percent < october.csat_percent
    assert november.sla_percent < october.sla_percent
    storm = dashboard.trend[10].tiles
    assert storm["asa"].status == "RED"
    # The February price change: calls get longer and billing waits grow.
    assert february.aht_seconds > january.aht_seconds
    assert february.asa_seconds > january.asa_seconds
    # Commitments: ticket clocks met and missed.
    breached = ClockInstance.objects.filter(status="BREACHED").count()
    assert 0 < breached < 0.05 * ClockInstance.objects.filter(status="MET").count()

    # Containment rises from about 35 % to about 55 % (MONTH snapshots per channel).
    def containment(month: date) -> float:
        cells = dict(
            KpiSnapshot.objects.filter(
                kind=SnapshotKind.MONTH,
                dimension=SnapshotDimension.CHANNEL,
                key__in=("CHATBOT", "CHATBOT_HANDOFF"),
                period_start=metrics.local_month_bounds(month)[0],
            ).values_list("key", "contacts")
        )
        return 100 * cells["CHATBOT"] / (cells["CHATBOT"] + cells["CHATBOT_HANDOFF"])

    first_month, last_month = containment(date(2025, 12, 1)), containment(date(2026, 11, 1))
    assert 28 <= first_month <= 42 and 45 <= last_month <= 62
    assert last_month > first_month + 10
    # The recent days have their DAY snapshots (day view); older ones are left to
    # kpi_rebuild.
    days = {
        metrics.local_day(s)
        for s in KpiSnapshot.objects.filter(kind=SnapshotKind.DAY).values_list(
            "period_start", flat=True
        )
    }
    assert days == {last - timedelta(days=n) for n in range(demo.RECENT_DAYS)}

    # QA reviews of the last three months: the scorecards have a QA score, the league
    # table is full and a few struggling agents are on the training list.
    with time_machine.travel(now, tick=False):
        people = people_selectors.people_month(now=now, month=date(2026, 10, 1))
    emails = {demo.agent_email(i) for i in range(demo.AGENTS)}
    agents = [card for card in people.scorecards if card.agent.email in emails]
    assert len(agents) == demo.AGENTS
    assert all(card.figures.qa_reviews == demo.QA_PER_AGENT_MONTH for card in agents)
    assert len(people.league) == 5
    assert 0 < len(people.training) < demo.AGENTS // 2


def test_dst_days_have_their_real_hours():
    spring = demo.day_hours(date(2026, 3, 29))
    assert [h for _, h in spring] == [0, 1, *range(3, 24)]
    autumn = demo.day_hours(date(2026, 10, 25))
    assert [h for _, h in autumn] == [0, 1, 2, 2, *range(3, 24)]
    # Hours are real elapsed time from local midnight (UTC 22:00 the day before).
    assert datetime.fromtimestamp(autumn[0][0], UTC) == datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert autumn[3][0] - autumn[2][0] == 3600


def test_the_repeated_hour_of_october_gets_contacts_in_both_folds():
    day = date(2026, 10, 25)
    rows = demo.plan_day(day, first_day=day, last_day=day, per_day=20000).contacts
    two_oclock = {
        datetime.fromtimestamp(r[5], UTC).hour
        for r in rows
        if datetime.fromtimestamp(r[5], PARIS).hour == 2
    }
    assert two_oclock == {0, 1}  # 02:xx CEST (00:xx UTC) and 02:xx CET (01:xx UTC)


@pytest.mark.django_db
def test_the_spring_forward_day_loads_whole():
    now = datetime(2026, 3, 30, 9, 0, tzinfo=PARIS)
    demo.seed(now=now, days=1, per_day=12000)
    day = date(2026, 3, 29)
    start, end = metrics.local_day_bounds(day)
    assert end - start == timedelta(hours=23)
    contacts = Contact.objects.filter(offered_at__gte=start, offered_at__lt=end)
    hours = {c.offered_at.astimezone(PARIS).hour for c in contacts.only("offered_at")}
    # The outage line and the written channels run all night: every real hour has
    # contacts, 01:xx and 03:xx on either side of the jump.
    assert hours == set(range(24)) - {2}
    # Its snapshot has 46 half-hours and counts every contact of the day.
    intervals = KpiSnapshot.objects.filter(
        kind=SnapshotKind.INTERVAL,
        dimension="OVERALL",
        period_start__gte=start,
        period_start__lt=end,
    )
    assert intervals.count() == 46
    row = KpiSnapshot.objects.get(kind=SnapshotKind.DAY, dimension="OVERALL", period_start=start)
    assert row.contacts == contacts.count() > 0


@pytest.mark.django_db
def test_settings_shrink_the_demo_run_by_seed_demo(settings):
    settings.KPI_DEMO_DAYS = 2
    settings.KPI_DEMO_PER_DAY = 100
    now = datetime(2026, 4, 8, 10, 0, tzinfo=PARIS)
    demo.seed(now=now)
    origin_days = {e[5:13] for e in Contact.objects.values_list("external_id", flat=True)}
    assert origin_days == {"20260406", "20260407"}
    assert Contact.objects.count() < 300
