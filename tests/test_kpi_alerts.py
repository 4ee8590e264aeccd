"""Interval alerts (docs/kpi.md, "Interval alerts"): the live ASA and queue length are
checked against their thresholds; a breach raises one alert and one e-mail, however many
checks (or concurrent checks) see it; recovery clears it once; each queue and the whole
centre are alerted on separately; the open alerts show on the dashboard and wallboard."""

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection

from accounts.models import Role
from kpi.models import KpiAlert
from kpi.services import alerts
from kpi.tasks import kpi_alerts_check_task
from powernext.celery import app
from tickets.models import Contact

PARIS = ZoneInfo("Europe/Paris")
# A Tuesday in March, 15:00 in Paris.
NOW = datetime(2026, 3, 17, 14, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def on_duty(make_user):
    return [
        make_user(Role.SUPERVISOR, email="sup1@powernext.example"),
        make_user(Role.SUPERVISOR, email="sup2@powernext.example"),
        make_user(Role.SUPERVISOR, email="gone@powernext.example", is_active=False),
        make_user(Role.AGENT, email="agent@powernext.example"),
    ]


def answered(queue: str, *, at: datetime, wait: int) -> Contact:
    """A contact answered at `at` after `wait` seconds in the queue."""
    return Contact.objects.create(
        channel="PHONE", queue=queue, offered_at=at - timedelta(seconds=wait), answered_at=at
    )


def waiting(queue: str, count: int, *, since: datetime) -> None:
    for _ in range(count):
        Contact.objects.create(channel="PHONE", queue=queue, offered_at=since)


def open_alerts() -> set[tuple[str, str]]:
    return set(KpiAlert.objects.filter(cleared_at__isnull=True).values_list("metric", "scope"))


def slow_general(now: datetime = NOW) -> None:
    """GENERAL answers in 40 s (over 30 s); BILLING's 10 s keeps the overall ASA at 25 s."""
    answered("GENERAL", at=now - 5 * MINUTE, wait=40)
    answered("BILLING", at=now - 4 * MINUTE, wait=10)


# --- Raise, once -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_breach_raises_one_alert_and_sends_one_email(frozen, on_duty):
    slow_general()

    result = alerts.kpi_alerts_check(now=NOW)

    alert = KpiAlert.objects.get()
    assert (alert.metric, alert.scope) == ("ASA", "GENERAL")
    assert result.raised == [alert.pk] and result.notified == [alert.pk]
    assert alert.raised_at == NOW and alert.notified_at == NOW and alert.cleared_at is None
    assert alert.value_at_raise == pytest.approx(40) and alert.threshold == 30
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    # Active supervisors only: not the inactive one, not the agent.
    assert sorted(message.to) == ["sup1@powernext.example", "sup2@powernext.example"]
    assert "Général" in message.subject and "40" in message.body


@pytest.mark.django_db
def test_checks_while_still_breached_raise_and_send_nothing(frozen, on_duty):
    slow_general()
    alerts.kpi_alerts_check(now=NOW)
    before = list(KpiAlert.objects.values())

    again = alerts.kpi_alerts_check(now=NOW)
    later = alerts.kpi_alerts_check(now=NOW + MINUTE)

    assert again.raised == again.cleared == again.notified == []
    assert later.raised == later.cleared == later.notified == []
    assert list(KpiAlert.objects.values()) == before
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_recovery_clears_once_and_a_new_breach_raises_a_new_alert(frozen, on_duty):
    slow_general()
    alerts.kpi_alerts_check(now=NOW)
    first = KpiAlert.objects.get()
    # 20 minutes on, the slow contact has left the 15-minute window; GENERAL is at 12 s.
    recovered = NOW + 20 * MINUTE
    answered("GENERAL", at=recovered - MINUTE, wait=12)

    result = alerts.kpi_alerts_check(now=recovered)
    alerts.kpi_alerts_check(now=recovered + MINUTE)

    first.refresh_from_db()
    assert result.cleared == [first.pk] and result.raised == []
    assert first.cleared_at == recovered and first.value_at_clear == pytest.approx(12)
    assert open_alerts() == set()

    relapse = recovered + 10 * MINUTE
    answered("GENERAL", at=relapse - MINUTE, wait=90)
    for _ in range(3):  # BILLING keeps the overall ASA under 30 s: (12 + 90 + 6) / 5
        answered("BILLING", at=relapse - MINUTE, wait=2)
    result = alerts.kpi_alerts_check(now=relapse)

    second = KpiAlert.objects.get(cleared_at__isnull=True)
    assert result.raised == [second.pk] != [first.pk]
    assert second.value_at_raise == pytest.approx((12 + 90) / 2)
    first.refresh_from_db()
    assert first.cleared_at == recovered  # the old alert is left as it was
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_an_asa_with_no_answered_contact_clears_with_no_value(frozen, on_duty):
    slow_general()
    alerts.kpi_alerts_check(now=NOW)

    result = alerts.kpi_alerts_check(now=NOW + 30 * MINUTE)

    alert = KpiAlert.objects.get()
    assert result.cleared == [alert.pk]
    assert alert.cleared_at == NOW + 30 * MINUTE and alert.value_at_clear is None


# --- Scopes and thresholds --------------------------------------------------------------


@pytest.mark.django_db
def test_each_queue_has_its_own_alert_and_billing_its_own_asa_threshold(frozen, on_duty):
    # 27 s: over billing's 25 s, under the others' 30 s.
    answered("BILLING", at=NOW - MINUTE, wait=27)
    answered("GENERAL", at=NOW - MINUTE, wait=27)
    # 6 + 6 waiting: each queue is under 10, the centre as a whole is over.
    waiting("OUTAGE", 6, since=NOW - 3 * MINUTE)
    waiting("METERING", 6, since=NOW - 2 * MINUTE)

    alerts.kpi_alerts_check(now=NOW)

    assert open_alerts() == {("ASA", "BILLING"), ("QUEUE_LENGTH", "OVERALL")}
    length = KpiAlert.objects.get(metric="QUEUE_LENGTH")
    assert length.value_at_raise == 12 and length.threshold == 10
    # Two alerts raised by one check: one e-mail listing both.
    assert len(mail.outbox) == 1
    assert "2" in mail.outbox[0].subject and mail.outbox[0].body.count("\n- ") == 1


@pytest.mark.django_db
def test_queue_length_counts_only_who_is_still_waiting(frozen, on_duty):
    waiting("OUTAGE", 11, since=NOW - 3 * MINUTE)
    # Answered, abandoned, or not yet offered: not waiting.
    answered("OUTAGE", at=NOW - MINUTE, wait=5)
    Contact.objects.create(
        channel="PHONE", queue="OUTAGE", offered_at=NOW - MINUTE, abandoned=True,
        ended_at=NOW - MINUTE,
    )  # fmt: skip
    Contact.objects.create(channel="PHONE", queue="OUTAGE", offered_at=NOW + MINUTE)

    alerts.kpi_alerts_check(now=NOW)

    assert open_alerts() == {("QUEUE_LENGTH", "OUTAGE"), ("QUEUE_LENGTH", "OVERALL")}
    assert set(KpiAlert.objects.values_list("value_at_raise", flat=True)) == {11}

    # Ten hang up: one left waiting, both alerts clear.
    for contact in Contact.objects.filter(queue="OUTAGE", answered_at__isnull=True)[:10]:
        contact.abandoned, contact.ended_at = True, NOW + MINUTE
        contact.save(update_fields=["abandoned", "ended_at"])
    result = alerts.kpi_alerts_check(now=NOW + 2 * MINUTE)
    assert len(result.cleared) == 2 and open_alerts() == set()


@pytest.mark.django_db
def test_at_the_threshold_is_not_a_breach(frozen, on_duty):
    answered("GENERAL", at=NOW - MINUTE, wait=30)
    waiting("GENERAL", 10, since=NOW - MINUTE)

    alerts.kpi_alerts_check(now=NOW)

    assert KpiAlert.objects.count() == 0 and mail.outbox == []


# --- The ASA window on the day the clocks go forward --------------------------------------

DST_NOW = datetime(2026, 3, 29, 3, 10, tzinfo=PARIS)  # 01:10 UTC, an hour after the jump


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answered_local", "raised"),
    [
        # 01:56 CET is 14 minutes before 03:10 CEST: inside the 15-minute window,
        # although the clock faces are 74 minutes apart.
        (datetime(2026, 3, 29, 1, 56, tzinfo=PARIS), True),
        (datetime(2026, 3, 29, 1, 54, tzinfo=PARIS), False),
    ],
)
def test_the_asa_window_is_elapsed_time_across_the_dst_change(on_duty, answered_local, raised):
    with time_machine.travel(DST_NOW, tick=False):
        answered("GENERAL", at=answered_local, wait=45)

        alerts.kpi_alerts_check(now=DST_NOW)

    assert open_alerts() == ({("ASA", "GENERAL"), ("ASA", "OVERALL")} if raised else set())


# --- Concurrency, failures, the task --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_checks_raise_one_alert_and_send_one_email(on_duty):
    slow_general()
    barrier = threading.Barrier(2)
    errors = []

    def check():
        try:
            barrier.wait()
            alerts.kpi_alerts_check(now=NOW)
        except Exception as exc:  # noqa: BLE001 (surfaced by the assertion below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert KpiAlert.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_failed_email_is_retried_by_the_next_check(frozen, on_duty, monkeypatch):
    slow_general()

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(alerts, "send_mail", refuse)
    result = alerts.kpi_alerts_check(now=NOW)
    assert result.notified == [] and KpiAlert.objects.get().notified_at is None

    monkeypatch.undo()
    result = alerts.kpi_alerts_check(now=NOW + MINUTE)
    assert KpiAlert.objects.get().notified_at == NOW + MINUTE and len(result.notified) == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_task_checks_at_the_given_instant_every_minute(frozen, on_duty):
    slow_general()

    report = kpi_alerts_check_task.apply(kwargs={"now_iso": NOW.isoformat()}).get()

    assert report["raised"] == 1 and report["notified"] == 1
    assert KpiAlert.objects.get().raised_at == NOW
    assert kpi_alerts_check_task.acks_late
    entry = app.conf.beat_schedule["kpi-alerts-check"]
    assert entry == {"task": "kpi.tasks.kpi_alerts_check_task", "schedule": 60.0}


# --- The banner --------------------------------------------------------------------------------


@pytest.fixture
def supervisor(make_user, login):
    return login(make_user(Role.SUPERVISOR, totp=True))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/supervisor/", "/supervisor/wallboard/", "/supervisor/wallboard/live/"]
)
def test_the_open_alerts_show_as_a_banner(frozen, supervisor, path):
    slow_general()
    alerts.kpi_alerts_check(now=NOW)

    html = supervisor.get(path).content.decode()

    assert 'data-testid="kpi-alerts"' in html
    # Announced once on the pages; the wallboard's polled panel stays quiet, or every
    # refresh would read it out again.
    banner = html.split('data-testid="kpi-alerts"')[0].rsplit("<section", 1)[1]
    assert ('role="alert"' in banner) == (path == "/supervisor/")
    assert "Seuil dépassé" in html and "Général" in html and "40" in html


@pytest.mark.django_db
def test_no_banner_without_an_open_alert(frozen, supervisor):
    slow_general()
    alerts.kpi_alerts_check(now=NOW)
    alerts.kpi_alerts_check(now=NOW + 30 * MINUTE)  # cleared

    with time_machine.travel(NOW + 31 * MINUTE, tick=False):
        html = supervisor.get("/supervisor/").content.decode()

    assert 'data-testid="kpi-alerts"' not in html


@pytest.mark.django_db
def test_the_banner_runs_a_constant_number_of_queries(frozen, supervisor):
    from django.test.utils import CaptureQueriesContext

    counts = []
    for queues in (["GENERAL"], ["OUTAGE", "METERING", "COMMERCIAL"]):
        for queue in queues:
            answered(queue, at=NOW - MINUTE, wait=50)
        alerts.kpi_alerts_check(now=NOW)
        supervisor.get("/supervisor/")
        with CaptureQueriesContext(connection) as queries:
            assert supervisor.get("/supervisor/").status_code == 200
            assert supervisor.get("/supervisor/wallboard/live/").status_code == 200
        counts.append(len(queries))
    assert KpiAlert.objects.filter(cleared_at__isnull=True).count() == 5  # 4 queues + overall
    assert counts[0] == counts[1]
