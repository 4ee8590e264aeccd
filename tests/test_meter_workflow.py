"""The meter-issue workflow: remote read through the head-end, then the customer asked
for a read, then an on-site check booked on the contact centre's working calendar."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from accounts.models import SupplyPoint
from metering.headend import FakeHeadEnd, HeadEndTimeout, LoggingSms, headend_get
from metering.models import Meter, MeterRegister, Reading, ReadingSource, ReadingStatus
from metering.services import workflow
from tests.factories import MembershipFactory, PremiseFactory
from tickets import services as ticket_services
from tickets.domain import calendar as bcal
from tickets.models import Message

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)


@pytest.fixture
def issue(db, make_user):
    user = make_user(email="claire@example.fr", phone="+33612345678")
    account = MembershipFactory(user=user).account
    point = SupplyPoint.objects.create(
        premise=PremiseFactory(account=account),
        market="FR_PRM",
        identifier="12345678901234",
        subscribed_kva=9,
    )
    meter = Meter.objects.create(
        supply_point=point, serial="M-0042", installed_at=NOW - timedelta(days=400)
    )
    for code in ("HP", "HC"):
        MeterRegister.objects.create(meter=meter, code=code)
    ticket = ticket_services.ticket_create(
        channel="PHONE",
        category="METER_FAULT",
        subject="Compteur muet",
        body="L'écran du compteur ne s'allume plus.",
        account=account,
        requester=user,
        supply_point=point,
        now=NOW,
    )
    mail.outbox.clear()
    LoggingSms.outbox.clear()
    return ticket


def notes(ticket) -> list[str]:
    return list(
        Message.objects.filter(ticket=ticket, visibility="INTERNAL")
        .order_by("created_at", "id")
        .values_list("body", flat=True)
    )


def test_remote_read_success_stores_remote_reads(issue, django_capture_on_commit_callbacks):
    headend = FakeHeadEnd(values={"HP": 1200, "HC": 800})
    with django_capture_on_commit_callbacks(execute=True):
        result = workflow.meter_remote_read(ticket=issue, now=NOW, headend=headend)
    assert result.ok
    stored = Reading.objects.order_by("register__code")
    assert [(r.register.code, r.value, r.source, r.status) for r in stored] == [
        ("HC", 800, ReadingSource.REMOTE, ReadingStatus.ACCEPTED),
        ("HP", 1200, ReadingSource.REMOTE, ReadingStatus.ACCEPTED),
    ]
    assert all(r.ticket == issue for r in stored)
    assert [c[:2] for c in headend.calls] == [("M-0042", "HC"), ("M-0042", "HP")]
    assert "Télérelevé du compteur M-0042 réussi" in notes(issue)[-1]
    assert not mail.outbox and not LoggingSms.outbox


@pytest.mark.parametrize("mode", ["fail", "timeout"])
def test_remote_read_failure_asks_the_customer(issue, mode, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = workflow.meter_remote_read(ticket=issue, now=NOW, headend=FakeHeadEnd(mode=mode))
    assert not result.ok and not Reading.objects.exists()
    link = f"/portal/readings/{issue.supply_point_id}/"
    [email] = mail.outbox
    assert email.to == ["claire@example.fr"] and issue.reference in email.subject
    assert link in email.body
    [(to, sms)] = LoggingSms.outbox
    assert to == "+33612345678" and link in sms
    failure, request = notes(issue)[-2:]
    assert ("délai dépassé" if mode == "timeout" else "échec") in failure
    assert "Relevé demandé au client" in request and "SMS" in request


def test_fake_headend_timeout_raises():
    with pytest.raises(HeadEndTimeout):
        FakeHeadEnd(mode="timeout").read_register("M", "BASE", timeout=2)


def test_headend_is_chosen_by_setting(settings):
    assert isinstance(headend_get(), FakeHeadEnd)
    settings.METERING_HEADEND = "tests.test_meter_workflow.StubHeadEnd"
    assert isinstance(headend_get(), StubHeadEnd)


class StubHeadEnd:
    def read_register(self, meter_serial, register, *, timeout):
        return 1


# --- On-site slot -------------------------------------------------------------

CAL = bcal.contact_centre_calendar(bcal.public_holidays("FR", range(2025, 2028)))


def assert_good_slot(slot, now, min_days=5, max_days=10):
    start, end = slot.start.astimezone(PARIS), slot.end.astimezone(PARIS)
    assert end - start == timedelta(hours=4)
    assert (slot.end - slot.start).total_seconds() == 4 * 3600
    assert start.weekday() < 5 and CAL.is_working_day(start.date())
    assert start.date() == end.date()
    assert CAL.is_open(slot.start) and CAL.is_open(slot.end - timedelta(seconds=1))
    first = bcal.add_working_days(CAL, now, min_days).astimezone(PARIS).date()
    last = bcal.add_working_days(CAL, now, max_days).astimezone(PARIS).date()
    assert first <= start.date() <= last
    return start, end


def test_slot_skips_the_may_day_holiday_and_the_weekend():
    now = datetime(2026, 4, 25, 10, 0, tzinfo=PARIS)  # a Saturday
    # 27, 28, 29, 30 April, (1 May closed), Saturday 2 May = 5th working day.
    slot = workflow.onsite_slot(CAL, now=now, min_days=5, max_days=10)
    start, end = assert_good_slot(slot, now)
    assert start == datetime(2026, 5, 4, 8, 0, tzinfo=PARIS)
    assert end == datetime(2026, 5, 4, 12, 0, tzinfo=PARIS)


def test_slot_across_the_spring_dst_change_is_four_real_hours():
    now = datetime(2026, 3, 24, 15, 0, tzinfo=PARIS)  # DST starts Sunday 29 March
    slot = workflow.onsite_slot(CAL, now=now, min_days=5, max_days=10)
    start, _ = assert_good_slot(slot, now)
    assert start == datetime(2026, 3, 30, 8, 0, tzinfo=PARIS)
    assert slot.start == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # CEST, UTC+2
    assert slot.end == datetime(2026, 3, 30, 10, 0, tzinfo=UTC)


def test_slot_across_the_autumn_dst_change():
    now = datetime(2026, 10, 20, 9, 0, tzinfo=PARIS)  # DST ends Sunday 25 October
    start, _ = assert_good_slot(workflow.onsite_slot(CAL, now=now, min_days=5, max_days=10), now)
    assert start == datetime(2026, 10, 26, 8, 0, tzinfo=PARIS)


def test_no_slot_when_closed_throughout():
    closed = bcal.BusinessCalendar(windows={5: (bcal.Window(bcal.time(9), bcal.time(13)),)})
    with pytest.raises(workflow.NoSlot):
        workflow.onsite_slot(closed, now=NOW, min_days=1, max_days=2)


def test_followup_without_a_read_books_the_on_site_check(issue):
    now = datetime(2026, 4, 25, 10, 0, tzinfo=PARIS)
    slot = workflow.meter_issue_followup(ticket=issue, since=now - timedelta(days=3), now=now)
    assert slot.start == datetime(2026, 5, 4, 8, 0, tzinfo=PARIS)  # the stored calendar
    assert "Vérification sur place planifiée le 04/05/2026 de 08:00 à 12:00" in notes(issue)[-1]


def test_followup_with_an_accepted_customer_read_books_nothing(issue):
    register = MeterRegister.objects.get(code="HP")
    Reading.objects.create(
        register=register,
        read_at=NOW,
        value=10,
        source=ReadingSource.CUSTOMER,
        recorded_at=NOW,
    )
    assert (
        workflow.meter_issue_followup(ticket=issue, since=NOW - timedelta(days=1), now=NOW) is None
    )
    assert "pas de vérification sur place" in notes(issue)[-1]


def test_followup_with_a_read_under_review_still_books(issue):
    register = MeterRegister.objects.get(code="HP")
    Reading.objects.create(
        register=register,
        read_at=NOW,
        value=10,
        source=ReadingSource.CUSTOMER_PHOTO,
        status=ReadingStatus.NEEDS_REVIEW,
        recorded_at=NOW,
    )
    slot = workflow.meter_issue_followup(ticket=issue, since=NOW - timedelta(days=1), now=NOW)
    assert slot is not None
    assert_good_slot(slot, NOW)
