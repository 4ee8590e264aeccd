"""The supervisor dashboard (/supervisor/), its drill-down pages and the live wallboard
(docs/kpi.md, "Snapshots and dashboard"): supervisors and admins only; today is computed
live from the raw records, past days and months are read from the snapshots; tiles are
rated against configurable targets with a text label; bad periods are 400s with the
message on the field; every page runs a constant number of queries."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Parameter, Role
from kpi.models import KpiSnapshot
from kpi.services import snapshots as builder
from tickets import services as tickets
from tickets.models import ClockInstance, Contact

PARIS = ZoneInfo("Europe/Paris")
# A Tuesday in March, 15:00 in Paris.
NOW = datetime(2026, 3, 17, 14, 0, tzinfo=UTC)
TODAY = date(2026, 3, 17)
HOME = "/supervisor/"
WALL = "/supervisor/wallboard/"
LIVE = "/supervisor/wallboard/live/"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def agent(make_user):
    return make_user(Role.AGENT, first_name="Alice", last_name="Martin")


@pytest.fixture
def supervisor(make_user, login):
    return login(make_user(Role.SUPERVISOR, totp=True))


def local(day: date, hhmm: str) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def call(offered: datetime, *, wait: int, talk: int, agent=None, queue="BILLING", **kw) -> Contact:
    answered = offered + timedelta(seconds=wait)
    return Contact.objects.create(
        channel=kw.pop("channel", "PHONE"),
        queue=queue,
        agent=agent,
        offered_at=offered,
        answered_at=answered,
        ended_at=answered + timedelta(seconds=talk),
        wrap_up_ended_at=answered + timedelta(seconds=talk),
        talk_seconds=talk,
        **kw,
    )


def day_of_calls(day: date, agent, *, count: int = 2, wait: int = 10, talk: int = 300):
    for n in range(count):
        call(local(day, "09:00") + timedelta(minutes=n), wait=wait, talk=talk, agent=agent)


def tiles(response) -> dict:
    return {tile.code: tile for tile in response.context["page"].tiles}


# --- Access ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [HOME, "/supervisor/kpi/queue/BILLING/", WALL, LIVE, "/supervisor/team/"],
)
def test_pages_are_for_supervisors_and_admins(path, client, make_user, login):
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/accounts/login" in anonymous["Location"]
    for role in (Role.CUSTOMER, Role.AGENT, Role.FIELD_TECHNICIAN):
        assert login(make_user(role, totp=role != Role.CUSTOMER)).get(path).status_code == 403
    unverified = login(make_user(Role.SUPERVISOR, totp=True), verified=False)
    response = unverified.get(path)
    assert response.status_code == 302 and "otp" in response["Location"]
    for role in (Role.SUPERVISOR, Role.ADMIN):
        assert login(make_user(role, totp=True)).get(path).status_code == 200


# --- Today, live -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_today_is_live_with_tiles_against_their_targets(supervisor, agent, frozen):
    # Waits 10 s and 40 s → ASA 25 s (< 30 s: met); talks 300 s → AHT 5 min (in 4–6 min).
    call(local(TODAY, "09:00"), wait=10, talk=300, agent=agent)
    call(local(TODAY, "09:10"), wait=40, talk=300, agent=agent)
    # One abandon after 30 s of 3 offered → 33.3 % (target ≤ 5 %, +2 amber: red).
    Contact.objects.create(
        channel="PHONE",
        queue="BILLING",
        offered_at=local(TODAY, "09:20"),
        abandoned=True,
        ended_at=local(TODAY, "09:20") + timedelta(seconds=30),
    )

    response = supervisor.get(HOME)

    assert response.status_code == 200
    page = response.context["page"]
    assert page.period.kind == "TODAY" and page.period.is_live
    shown = tiles(response)
    assert shown["asa"].value == pytest.approx(25) and shown["asa"].status == "GREEN"
    assert shown["aht"].value == pytest.approx(300) and shown["aht"].status == "GREEN"
    assert shown["abandonment"].value == pytest.approx(100 / 3)
    assert shown["abandonment"].status == "RED"
    # Within 20 s: 1 of 3 → 33.3 % against 90 %.
    assert shown["service_level"].status == "RED"
    assert shown["csat"].status == "NO_DATA" and shown["csat"].display == "—"
    assert shown["backlog"].status == "NO_TARGET"
    html = response.content.decode()
    assert "Objectif atteint" in html and "Hors objectif" in html and "Pas de données" in html
    assert "Objectif : &lt; 30 s" in html and "Objectif : de 4 min à 6 min" in html
    assert 'data-testid="tile-mttr"' in html and 'data-testid="by-queue"' in html
    assert 'id="kpi-trend-data"' in html and "chart.umd.min.js" in html
    assert [c.key for c in page.queues] == ["BILLING"]
    assert [c.label for c in page.agents] == ["Alice Martin", "Non attribué"]
    # Nothing was written: today is computed, not stored.
    assert not KpiSnapshot.objects.exists()


@pytest.mark.django_db
def test_the_backlog_tile_is_live_with_its_ageing(supervisor, frozen):
    for days in (0, 2, 40):
        tickets.ticket_create(
            channel="EMAIL",
            category="BILL_QUERY",
            subject="Question",
            body="Bonjour",
            now=NOW - timedelta(days=days, hours=1),
            requester_contact="a@b.fr",
        )
    response = supervisor.get(HOME)
    backlog = tiles(response)["backlog"]
    assert backlog.value == 3
    assert dict(response.context["page"].ageing) == {
        "0-1d": 1, "1-3d": 1, "3-7d": 0, "7-14d": 0, "14-30d": 0, "30d+": 1
    }  # fmt: skip
    assert 'data-testid="ageing"' in response.content.decode()


@pytest.mark.django_db
def test_targets_come_from_the_parameters(supervisor, agent, frozen):
    day_of_calls(TODAY, agent, wait=10)
    assert tiles(supervisor.get(HOME))["asa"].status == "GREEN"
    Parameter.objects.create(key="kpi_target_asa_seconds", value=8)
    from django.core.cache import cache

    cache.clear()
    asa = tiles(supervisor.get(HOME))["asa"]
    # 10 s against < 8 s, amber up to 13 s.
    assert asa.status == "AMBER" and "Proche de l'objectif" in asa.status_label


# --- Past periods from the snapshots ---------------------------------------------------------


@pytest.mark.django_db
def test_a_past_day_is_read_from_its_snapshot_not_from_the_raw_records(supervisor, agent, frozen):
    past = TODAY - timedelta(days=7)
    day_of_calls(past, agent, count=3, wait=12)
    builder.snapshot_day_build(day=past, now=NOW)
    Contact.objects.all().delete()  # the snapshot keeps what the day was

    response = supervisor.get(HOME, {"day": past.isoformat()})

    page = response.context["page"]
    assert response.status_code == 200 and page.period.kind == "DAY"
    assert tiles(response)["asa"].value == pytest.approx(12)
    assert page.figures.offered == 3
    assert len(page.intervals) == 48 and sum(r.figures.offered for r in page.intervals) == 3
    assert "instantané mis à jour le" in response.content.decode()


@pytest.mark.django_db
def test_a_day_without_snapshot_says_so(supervisor, frozen):
    response = supervisor.get(HOME, {"day": "2026-03-01"})
    assert response.status_code == 200
    assert response.context["page"].has_data is False
    assert 'data-testid="no-snapshot"' in response.content.decode()
    assert tiles(response)["asa"].display == "—"


@pytest.mark.django_db
def test_a_past_month_comes_from_its_month_snapshot(supervisor, agent, frozen):
    day_of_calls(date(2026, 2, 10), agent, count=2, wait=20)
    day_of_calls(date(2026, 2, 20), agent, count=2, wait=40)
    builder.snapshot_month_build(month=date(2026, 2, 1), now=NOW)

    response = supervisor.get(HOME, {"month": "2026-02"})

    page = response.context["page"]
    assert page.period.kind == "MONTH" and not page.period.is_live
    assert tiles(response)["asa"].value == pytest.approx(30)
    # The trend ends with February; January has no snapshot: empty, not zero.
    assert [row.month for row in page.trend][-2:] == [date(2026, 1, 1), date(2026, 2, 1)]
    assert len(page.trend) == 12 and page.trend[-1].figures.offered == 4
    assert page.trend[-2].tiles["asa"].display == "—"


@pytest.mark.django_db
def test_the_current_month_is_its_day_snapshots_plus_today_live(supervisor, agent, frozen):
    day_of_calls(date(2026, 3, 2), agent, count=2, wait=10)
    day_of_calls(date(2026, 3, 3), agent, count=2, wait=20)  # built: counted
    builder.snapshot_day_build(day=date(2026, 3, 2), now=NOW)
    builder.snapshot_day_build(day=date(2026, 3, 3), now=NOW)
    day_of_calls(TODAY, agent, count=1, wait=60)  # live

    response = supervisor.get(HOME, {"month": "2026-03"})

    page = response.context["page"]
    assert page.period.is_live
    # (10 + 10 + 20 + 20 + 60) / 5
    assert tiles(response)["asa"].value == pytest.approx(24)
    # 16 past days in March, 2 of them built.
    assert page.missing_days == 14
    assert "14 jours passés de ce mois" in response.content.decode()
    assert page.trend[-1].live and page.trend[-1].figures.offered == 5


@pytest.mark.django_db
def test_the_trend_joins_month_snapshots_and_the_live_month(supervisor, agent, frozen):
    for month in (date(2025, 4, 1), date(2025, 12, 1), date(2026, 2, 1)):
        day_of_calls(month.replace(day=5), agent, count=1, wait=15)
        builder.snapshot_month_build(month=month, now=NOW)
    day_of_calls(TODAY, agent, count=2, wait=5)

    response = supervisor.get(HOME)

    trend = response.context["page"].trend
    assert [row.month for row in trend] == [
        *(date(2025, month, 1) for month in range(4, 13)),
        *(date(2026, month, 1) for month in range(1, 4)),
    ]
    offered = {row.month: row.figures.offered for row in trend}
    assert offered[date(2025, 4, 1)] == 1 and offered[date(2026, 2, 1)] == 1
    assert offered[date(2026, 3, 1)] == 2 and trend[-1].live
    chart = response.context["page"].chart
    assert len(chart["labels"]) == 12 and chart["asa"][-1] == 5 and chart["asa"][1] is None
    assert 'data-testid="trend"' in response.content.decode()


# --- Period selector: bad input ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"day": "2026-03-18"}, "day"),  # tomorrow
        ({"day": "2026-02-30"}, "day"),
        ({"month": "2026-13"}, "month"),
        ({"month": "2026-04"}, "month"),  # next month
        ({"day": "2026-03-10", "month": "2026-03"}, "month"),
    ],
)
def test_a_bad_period_is_a_400_with_the_message_on_its_field(supervisor, frozen, query, field):
    response = supervisor.get(HOME, query)
    assert response.status_code == 400
    assert response.context["page"] is None
    assert field in response.context["form"].errors
    assert 'aria-invalid="true"' in response.content.decode()


# --- Drill-down ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_drill_down_filters_the_tiles_and_uses_the_billing_targets(supervisor, agent, frozen):
    call(local(TODAY, "09:00"), wait=28, talk=300, agent=agent, queue="BILLING")
    call(local(TODAY, "09:05"), wait=4, talk=300, agent=agent, queue="GENERAL")

    home = supervisor.get(HOME)
    link = reverse("supervisor:kpi_drill", args=["queue", "BILLING"])
    assert f'href="{link}"' in home.content.decode()

    billing = supervisor.get(link)
    assert billing.status_code == 200 and billing.context["page"].key_label == "Facturation"
    asa = tiles(billing)["asa"]
    # 28 s: fine against 30 s overall, amber against the billing queue's 25 s.
    assert asa.value == pytest.approx(28) and asa.status == "AMBER"
    assert "mttr" not in tiles(billing)
    overall = tiles(supervisor.get(HOME))["asa"]
    assert overall.value == pytest.approx(16) and overall.status == "GREEN"

    by_agent = supervisor.get(reverse("supervisor:kpi_drill", args=["agent", agent.pk]))
    assert set(tiles(by_agent)) == {"asa", "aht", "fcr", "csat", "nps", "backlog", "repeat"}
    assert "Alice Martin" in by_agent.content.decode()
    assert supervisor.get("/supervisor/kpi/agent/none/").status_code == 200
    # The period follows the drill-down.
    past = supervisor.get(link, {"day": "2026-03-16"})
    assert past.status_code == 200 and past.context["page"].period.kind == "DAY"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/supervisor/kpi/queue/NOPE/",
        "/supervisor/kpi/planet/BILLING/",
        "/supervisor/kpi/agent/999999/",
    ],
)
def test_a_drill_down_on_nothing_is_a_404(supervisor, frozen, path):
    assert supervisor.get(path).status_code == 404


# --- Wallboard --------------------------------------------------------------------------------------


def _clock(ticket, *, due: datetime, warned: datetime | None = None, status="RUNNING"):
    clock = ClockInstance.objects.filter(ticket=ticket).first()
    ClockInstance.objects.filter(pk=clock.pk).update(due_at=due, warned_at=warned, status=status)


@pytest.mark.django_db
def test_the_wallboard_shows_waiting_agents_and_clocks_at_risk(supervisor, make_user, frozen):
    busy = make_user(Role.AGENT, first_name="Bea", last_name="Busy")
    wrapping = make_user(Role.AGENT, first_name="Will", last_name="Wrap")
    idle = make_user(Role.AGENT, first_name="Ida", last_name="Idle")
    # Two callers waiting since 14:50 and 14:58 (Paris 15:00): the longest 10 min.
    for at in ("14:50", "14:58"):
        Contact.objects.create(channel="PHONE", queue="BILLING", offered_at=local(TODAY, at))
    Contact.objects.create(channel="CHAT", queue="GENERAL", offered_at=local(TODAY, "14:59"))
    # Not waiting: answered, abandoned, yesterday's, an e-mail.
    call(local(TODAY, "14:00"), wait=5, talk=60)
    Contact.objects.create(
        channel="PHONE", queue="BILLING", offered_at=local(TODAY, "14:55"), abandoned=True
    )
    Contact.objects.create(channel="PHONE", queue="BILLING", offered_at=NOW - timedelta(days=1))
    Contact.objects.create(channel="EMAIL", queue="BILLING", offered_at=local(TODAY, "14:00"))
    # Bea is on a call since 14:57; Will ended his at 14:59 and is still wrapping up.
    Contact.objects.create(
        channel="PHONE", queue="BILLING", agent=busy, offered_at=local(TODAY, "14:56"),
        answered_at=local(TODAY, "14:57"),
    )  # fmt: skip
    Contact.objects.create(
        channel="PHONE", queue="BILLING", agent=wrapping, offered_at=local(TODAY, "14:50"),
        answered_at=local(TODAY, "14:51"), ended_at=local(TODAY, "14:59"),
    )  # fmt: skip
    # Clocks: warned, due within the hour, overdue, due tomorrow (not at risk), and
    # the inactivity trigger (not a commitment).
    made = [
        tickets.ticket_create(
            channel="EMAIL", category="BILL_QUERY", subject="Q", body="B", now=NOW - timedelta(hours=2)
        )
        for _ in range(5)
    ]  # fmt: skip
    ClockInstance.objects.exclude(ticket__in=made).delete()
    ClockInstance.objects.filter(stop_event="ACTIVITY").exclude(ticket=made[4]).delete()
    ClockInstance.objects.filter(ticket=made[4]).exclude(stop_event="ACTIVITY").delete()
    _clock(made[0], due=NOW + timedelta(hours=5), warned=NOW - timedelta(minutes=5))
    _clock(made[1], due=NOW + timedelta(minutes=40))
    _clock(made[2], due=NOW - timedelta(minutes=3))
    _clock(made[3], due=NOW + timedelta(days=1))
    ClockInstance.objects.filter(ticket=made[4]).update(due_at=NOW + timedelta(minutes=10))

    response = supervisor.get(WALL)

    assert response.status_code == 200
    board = response.context["board"]
    assert board.waiting == 3
    assert board.longest_wait_seconds == 600
    assert [(q.queue, q.waiting) for q in board.queues] == [("BILLING", 2), ("GENERAL", 1)]
    assert [a.pk for a in board.agents["ON_CONTACT"]] == [busy.pk]
    assert [a.pk for a in board.agents["WRAP_UP"]] == [wrapping.pk]
    assert [a.pk for a in board.agents["AVAILABLE"]] == [idle.pk]
    assert board.clocks_at_risk == 3
    assert [c.ticket_id for c in board.clocks] == [made[2].pk, made[1].pk, made[0].pk]
    html = response.content.decode()
    assert 'hx-get="/supervisor/wallboard/live/?poll=10"' in html
    assert 'hx-trigger="every 10s"' in html
    assert "10 min" in html and "dépassée" in html and "Actualiser" in html


@pytest.mark.django_db
def test_the_wallboard_poll_can_be_shortened_stopped_and_is_checked(supervisor, frozen):
    quick = supervisor.get(LIVE, {"poll": "2"})
    assert quick.status_code == 200
    text = quick.content.decode()
    assert text.lstrip().startswith('<div id="wallboard-live"')  # the panel alone
    assert 'hx-trigger="every 2s"' in text and "<html" not in text
    stopped = supervisor.get(WALL, {"poll": "0"}).content.decode()
    assert "hx-trigger" not in stopped and "Reprendre l'actualisation automatique" in stopped
    bad = supervisor.get(WALL, {"poll": "vite"})
    assert bad.status_code == 400 and "poll" in bad.context["form"].errors
    assert supervisor.get(WALL, {"poll": "9999"}).status_code == 400


@pytest.mark.django_db
def test_the_team_directory_is_kept(supervisor, agent):
    response = supervisor.get(reverse("supervisor:team"))
    assert response.status_code == 200 and "Alice Martin" in response.content.decode()
    assert reverse("supervisor:team") in supervisor.get(HOME).content.decode()


# --- Constant queries --------------------------------------------------------------------------


def _load(day: date, agents, size: int) -> None:
    """`size` contacts per agent on `day`, each with its ticket and clock."""
    for agent in agents:
        for n in range(size):
            call(local(day, "08:00") + timedelta(minutes=7 * n), wait=n, talk=200 + n, agent=agent,
                 queue=["BILLING", "GENERAL", "METERING"][n % 3],
                 channel=["PHONE", "CHAT"][n % 2])  # fmt: skip
    for n in range(size):
        tickets.ticket_create(
            channel="EMAIL", category="BILL_QUERY", subject="Q", body="B",
            now=local(day, "08:00") + timedelta(minutes=n),
        )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [{}, {"day": "2026-03-16"}, {"month": "2026-02"}, {"month": "2026-03"}],
    ids=["today", "day", "month", "this-month"],
)
def test_the_dashboard_runs_a_constant_number_of_queries(
    supervisor, make_user, frozen, django_assert_max_num_queries, query
):
    counts = []
    for size in (1, 6):
        agents = [make_user(Role.AGENT) for _ in range(size)]
        for day in (TODAY, date(2026, 3, 16), date(2026, 2, 10)):
            _load(day, agents, size)
        builder.snapshots_rebuild(day_from=date(2026, 2, 1), day_to=date(2026, 3, 16), now=NOW)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        supervisor.get(HOME, query)  # parameters cached, as between two visits
        with CaptureQueriesContext(connection) as queries:
            assert supervisor.get(HOME, query).status_code == 200
            assert supervisor.get("/supervisor/kpi/queue/BILLING/", query).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(counts[1]):
        supervisor.get(HOME, query)


@pytest.mark.django_db
def test_the_wallboard_runs_a_constant_number_of_queries(
    supervisor, make_user, frozen, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (1, 8):
        for _ in range(size):
            agent = make_user(Role.AGENT)
            Contact.objects.create(
                channel="PHONE", queue="BILLING", agent=agent, offered_at=local(TODAY, "14:30"),
                answered_at=local(TODAY, "14:31"),
            )  # fmt: skip
            Contact.objects.create(
                channel="CHAT", queue="GENERAL", offered_at=local(TODAY, "14:40")
            )
            tickets.ticket_create(
                channel="EMAIL", category="BILL_QUERY", subject="Q", body="B",
                now=NOW - timedelta(hours=23, minutes=30),
            )  # fmt: skip
        supervisor.get(WALL)
        with CaptureQueriesContext(connection) as queries:
            assert supervisor.get(WALL).status_code == 200
            assert supervisor.get(LIVE).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(counts[1] // 2):
        supervisor.get(LIVE)
