"""Invoices: tariff data, tariff segments, computing (hourly data and register reads, the
back-billing cap, VAT rounding), issuing with gapless numbers, rebilling after a
re-estimation, billing runs. Every expected amount is worked out by hand in a comment."""

import importlib
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery import current_app
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection

from accounts import hooks as account_hooks
from accounts.models import MemberRole, Role
from billing.models import (
    BillingRun,
    EntryKind,
    Invoice,
    InvoiceEvent,
    LedgerEntry,
    Tariff,
    TariffSubscription,
    TariffVersion,
)
from billing.selectors import invoices as selectors
from billing.selectors.ledger import account_balance
from billing.services import invoices as services
from billing.services import ledger as ledger_services
from billing.tasks import invoice_run_item_task
from metering import hooks as metering_hooks
from metering.models import Meter, MeterRegister, Reading, ReadingSource
from metering.services.readings import reading_record

from .factories import MembershipFactory
from .test_api_b2b import add_supply_points

PARIS = ZoneInfo("Europe/Paris")
D = Decimal


def local(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture
def tariffs(db):
    importlib.import_module("billing.migrations.0002_default_tariffs").create(apps, None)
    return {t.code: t for t in Tariff.objects.all()}


@pytest.fixture
def tasks(monkeypatch):
    """Stand-ins for the Celery tasks, recording what was enqueued (no broker)."""
    calls: dict[str, list[dict]] = {}

    def recorder(name):
        return lambda **kwargs: calls.setdefault(name, []).append(kwargs)

    for name in (services.PDF_TASK, services.RUN_ITEM_TASK):
        if name in current_app.tasks:
            monkeypatch.setattr(current_app.tasks[name], "delay", recorder(name))
        else:  # written by another part of billing: stand in for it
            stand_in = type("StandIn", (), {"delay": staticmethod(recorder(name))})()
            monkeypatch.setitem(current_app.tasks, name, stand_in)
    return calls


def new_point(*, market="FR_PRM", account=None):
    account = account or MembershipFactory(role=MemberRole.HOLDER).account
    point = add_supply_points(account, 1)[0]
    if market != "FR_PRM":
        point.market = market
        point.save(update_fields=["market"])
    return point


def subscribe(point, code, start, end=None):
    return TariffSubscription.objects.create(
        supply_point=point,
        tariff=Tariff.objects.get(code=code),
        start=start,
        end=end,
        created_at=local(2025, 1, 1),
    )


def registers(point, codes=("BASE",)):
    meter = Meter.objects.create(
        supply_point=point, serial=f"M{point.pk}", installed_at=local(2024, 1, 1)
    )
    return {code: MeterRegister.objects.create(meter=meter, code=code) for code in codes}


def read(register, day, value, source=ReadingSource.REMOTE):
    return Reading.objects.create(
        register=register,
        read_at=local(day.year, day.month, day.day),
        value=value,
        source=source,
        recorded_at=local(day.year, day.month, day.day),
    )


def fill_hours(point, start, end, wh=1000):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_interval (supply_point_id, start, wh, quality) "
            "SELECT %s, g, %s, 0 FROM generate_series(%s::timestamptz, "
            "%s::timestamptz - interval '1 hour', interval '1 hour') AS g",
            [point.pk, wh, start, end],
        )


def amounts(invoice):
    return [(line.kind, line.quantity, line.amount) for line in invoice.lines.all()]


# --- Tariff data and segments ---------------------------------------------------------------


def test_the_data_migration_creates_three_tariffs_of_two_versions(tariffs):
    assert set(tariffs) == {"BASE", "HPHC", "BUSINESS"}
    assert tariffs["HPHC"].name == "Heures Pleines / Heures Creuses"
    assert tariffs["HPHC"].offpeak_hours == [["22:00", "06:00"]]
    assert tariffs["BUSINESS"].for_business
    for tariff in tariffs.values():
        versions = list(TariffVersion.objects.filter(tariff=tariff).order_by("valid_from"))
        assert [(v.valid_from, v.valid_to) for v in versions] == [
            (date(2025, 2, 1), date(2026, 2, 1)),
            (date(2026, 2, 1), None),
        ]
        assert [v.excise_per_kwh for v in versions] == [D("0.02980"), D("0.03000")]
        assert {v.vat_standing for v in versions} == {v.vat_energy for v in versions} == {D("0.2")}


def test_segments_cut_at_subscription_and_version_boundaries(tariffs):
    point = new_point()
    subscribe(point, "BASE", date(2025, 12, 1), date(2026, 2, 15))
    subscribe(point, "HPHC", date(2026, 2, 15))
    segments = selectors.tariff_segments(
        supply_point_id=point.pk, start=date(2026, 1, 10), end=date(2026, 3, 1)
    )
    assert [(s.start, s.end, s.tariff_code) for s in segments] == [
        (date(2026, 1, 10), date(2026, 2, 1), "BASE"),  # version 2025
        (date(2026, 2, 1), date(2026, 2, 15), "BASE"),  # version 2026
        (date(2026, 2, 15), date(2026, 3, 1), "HPHC"),
    ]
    assert segments[0].rates.unit == {"BASE": D("0.16240")}
    assert segments[1].rates.standing_per_day == D("0.33500")
    assert segments[2].offpeak_hours == (0, 1, 2, 3, 4, 5, 22, 23)


@pytest.mark.parametrize(
    ("subscriptions", "missing"),
    [
        ([], date(2026, 1, 10)),
        ([(date(2026, 1, 20), None)], date(2026, 1, 10)),
        ([(date(2026, 1, 1), date(2026, 1, 20)), (date(2026, 1, 25), None)], date(2026, 1, 20)),
        ([(date(2026, 1, 1), date(2026, 1, 20))], date(2026, 1, 20)),
    ],
)
def test_a_day_without_subscription_raises(tariffs, subscriptions, missing):
    point = new_point()
    for start, end in subscriptions:
        subscribe(point, "BASE", start, end)
    with pytest.raises(selectors.TariffMissing) as error:
        selectors.tariff_segments(
            supply_point_id=point.pk, start=date(2026, 1, 10), end=date(2026, 2, 10)
        )
    assert error.value.day == missing


def test_a_day_without_price_version_raises(tariffs):
    point = new_point()
    subscribe(point, "BASE", date(2025, 1, 1))
    with pytest.raises(selectors.TariffMissing) as error:
        selectors.tariff_segments(
            supply_point_id=point.pk, start=date(2025, 1, 20), end=date(2025, 3, 1)
        )
    assert error.value.day == date(2025, 1, 20)  # versions start on 2025-02-01


# --- Computing from hourly data (HP/HC, daylight saving) ------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "hp", "hc", "lines", "totals"),
    [
        # 29 March 2026 has 23 local hours (02:00 does not exist), the 30th has 24; one kWh
        # per hour. Off-peak 22:00–06:00 local: the 29th has 0,1,3,4,5,22,23 = 7 HC hours
        # and 16 HP; the 30th 8 HC and 16 HP. HP 32 kWh, HC 15 kWh (47 hours).
        # Standing 2 × 0.355 = 0.71; HP 32 × 0.169 = 5.408 → 5.41; HC 15 × 0.129 = 1.935
        # → 1.94 (half up); excise 47 × 0.03 = 1.41. Net 9.47; VAT 20 % 1.894 → 1.89;
        # gross 11.36.
        (
            date(2026, 3, 29),
            date(2026, 3, 31),
            D("32"),
            D("15"),
            ["0.71", "5.41", "1.94", "1.41"],
            ("9.47", "1.89", "11.36"),
        ),
        # 25 October 2026 has 25 local hours (02:00 twice): HC 0,1,2,2,3,4,5,22,23 = 9,
        # HP 16. Standing 1 × 0.355 → 0.36; HP 16 × 0.169 = 2.704 → 2.70; HC 9 × 0.129 =
        # 1.161 → 1.16; excise 25 × 0.03 = 0.75. Net 4.97; VAT 0.994 → 0.99; gross 5.96.
        (
            date(2026, 10, 25),
            date(2026, 10, 26),
            D("16"),
            D("9"),
            ["0.36", "2.70", "1.16", "0.75"],
            ("4.97", "0.99", "5.96"),
        ),
    ],
)
def test_hphc_from_hourly_data_on_daylight_saving_days(tariffs, start, end, hp, hc, lines, totals):
    point = new_point()
    subscribe(point, "HPHC", date(2026, 1, 1))
    fill_hours(
        point, local(start.year, start.month, start.day), local(end.year, end.month, end.day)
    )
    invoice = services.invoice_compute(
        supply_point=point, period_start=start, period_end=end, now=local(2026, 11, 2, 9)
    )
    assert invoice.status == "DRAFT"
    assert not invoice.estimated
    assert amounts(invoice) == [
        ("STANDING", D((end - start).days), D(lines[0])),
        ("ENERGY_HP", hp, D(lines[1])),
        ("ENERGY_HC", hc, D(lines[2])),
        ("EXCISE", hp + hc, D(lines[3])),
    ]
    assert (invoice.total_net, invoice.total_vat, invoice.total_gross) == tuple(map(D, totals))
    assert invoice.consumption_kwh == hp + hc
    assert invoice.tariff_name == "Heures Pleines / Heures Creuses"
    assert invoice.written_off_kwh == 0


def test_incomplete_hourly_data_falls_back_to_register_reads(tariffs):
    point = new_point()
    subscribe(point, "BASE", date(2026, 1, 1))
    fill_hours(point, local(2026, 3, 1), local(2026, 3, 10))  # 9 of 31 days
    base = registers(point)["BASE"]
    read(base, date(2026, 3, 1), 100)
    read(base, date(2026, 4, 1), 410)
    invoice = services.invoice_compute(
        supply_point=point,
        period_start=date(2026, 3, 1),
        period_end=date(2026, 4, 1),
        now=local(2026, 4, 2),
    )
    assert invoice.consumption_kwh == 310
    assert InvoiceEvent.objects.get(invoice=invoice).note == "relevés"


def test_last_year_consumption_comes_from_last_years_hourly_data(tariffs):
    point = new_point()
    subscribe(point, "BASE", date(2025, 2, 1))
    fill_hours(point, local(2025, 3, 1), local(2025, 3, 3), wh=500)  # 47 h × 0.5 kWh
    fill_hours(point, local(2026, 3, 1), local(2026, 3, 3))
    invoice = services.invoice_compute(
        supply_point=point,
        period_start=date(2026, 3, 1),
        period_end=date(2026, 3, 3),
        now=local(2026, 3, 4),
    )
    # 1 and 2 March 2025: 48 hours (the 2025 change is on 30 March) × 0.5 = 24 kWh.
    assert invoice.last_year_kwh == D("24")


# --- Computing from register reads ----------------------------------------------------------


def test_tariff_version_change_mid_period_from_register_reads(tariffs):
    point = new_point()
    subscribe(point, "BASE", date(2025, 2, 1))
    base = registers(point)["BASE"]
    read(base, date(2026, 1, 15), 10_000)
    read(base, date(2026, 2, 15), 10_311)
    invoice = services.invoice_compute(
        supply_point=point,
        period_start=date(2026, 1, 15),
        period_end=date(2026, 2, 15),
        now=local(2026, 2, 20, 10),
    )
    # 311 kWh over 31 days: 17 days at the 2025 prices (15 Jan – 1 Feb), 14 at 2026's.
    # apportion: 311 × 17 / 31 = 170.548387… → 170.548 (down); the last part 140.452.
    # 2025: standing 17 × 0.32 = 5.44; energy 170.548 × 0.1624 = 27.6969952 → 27.70;
    #       excise 170.548 × 0.0298 = 5.0823304 → 5.08.
    # 2026: standing 14 × 0.335 = 4.69; energy 140.452 × 0.158 = 22.191416 → 22.19;
    #       excise 140.452 × 0.03 = 4.21356 → 4.21.
    # Net 69.31; VAT on the sum: 69.31 × 0.2 = 13.862 → 13.86; gross 83.17.
    # (VAT rounded line by line would be 1.09 + 5.54 + 1.02 + 0.94 + 4.44 + 0.84 = 13.87.)
    assert amounts(invoice) == [
        ("STANDING", D("17"), D("5.44")),
        ("ENERGY_BASE", D("170.548"), D("27.70")),
        ("EXCISE", D("170.548"), D("5.08")),
        ("STANDING", D("14"), D("4.69")),
        ("ENERGY_BASE", D("140.452"), D("22.19")),
        ("EXCISE", D("140.452"), D("4.21")),
    ]
    assert invoice.total_net == D("69.31")
    assert invoice.total_vat == D("13.86")
    assert invoice.total_gross == D("83.17")
    assert invoice.consumption_kwh == D("311")
    assert not invoice.estimated
    # Issuing marks the two reads it rests on as billed (kept as long as the invoice).
    from metering.models import Reading

    assert not Reading.objects.filter(billed=True).exists()
    services.invoice_issue(invoice=invoice, now=local(2026, 2, 20, 11))
    assert Reading.objects.filter(billed=True).count() == 2
    assert [line.start for line in invoice.lines.all()][::3] == [
        date(2026, 1, 15),
        date(2026, 2, 1),
    ]


def test_reads_outside_the_period_are_shared_by_days_and_an_estimate_marks_it(tariffs):
    point = new_point()
    subscribe(point, "BASE", date(2025, 2, 1))
    base = registers(point)["BASE"]
    read(base, date(2026, 1, 10), 1_000, source=ReadingSource.ESTIMATED)
    read(base, date(2026, 2, 20), 1_410)
    invoice = services.invoice_compute(
        supply_point=point,
        period_start=date(2026, 1, 15),
        period_end=date(2026, 2, 15),
        now=local(2026, 2, 21),
    )
    # 410 kWh over 41 days: 5 before the period, 17 + 14 in it, 5 after → 50, 50 (outside),
    # 170 and 140 in the period.
    assert [q for kind, q, _ in amounts(invoice) if kind == "ENERGY_BASE"] == [D("170"), D("140")]
    assert invoice.consumption_kwh == D("310")
    assert invoice.estimated  # the opening read is an estimate


def test_a_missing_closing_read_is_estimated_from_the_last_two(tariffs):
    point = new_point()
    subscribe(point, "BASE", date(2025, 2, 1))
    base = registers(point)["BASE"]
    read(base, date(2026, 1, 1), 1_000)
    read(base, date(2026, 2, 1), 1_310)  # 10 kWh a day
    invoice = services.invoice_compute(
        supply_point=point,
        period_start=date(2026, 2, 1),
        period_end=date(2026, 3, 1),
        now=local(2026, 3, 1, 8),
    )
    assert invoice.estimated
    assert invoice.consumption_kwh == D("280")  # 28 days × 10 kWh


def test_without_reads_nothing_is_written(tariffs):
    point = new_point()
    subscribe(point, "BASE", date(2025, 2, 1))
    registers(point)
    with pytest.raises(selectors.ConsumptionUnknown):
        services.invoice_compute(
            supply_point=point,
            period_start=date(2026, 2, 1),
            period_end=date(2026, 3, 1),
            now=local(2026, 3, 2),
        )
    assert not Invoice.objects.filter(supply_point=point).exists()


@pytest.mark.parametrize(
    ("market", "now"),
    [
        ("FR_PRM", local(2026, 4, 10, 12)),  # 14 months back: 2025-02-10
        ("GB_MPAN", local(2026, 2, 10, 12)),  # 12 months back: 2025-02-10
    ],
)
def test_back_billing_cap(tariffs, market, now):
    point = new_point(market=market)
    subscribe(point, "BASE", date(2025, 2, 1))
    base = registers(point)["BASE"]
    read(base, date(2025, 2, 1), 0)
    read(base, date(2025, 3, 1), 280)
    invoice = services.invoice_compute(
        supply_point=point, period_start=date(2025, 2, 1), period_end=date(2025, 3, 1), now=now
    )
    # 280 kWh over 28 days; the 9 days before 10 February can no longer be charged:
    # apportion(280, [9, 19]) → 90 written off, 190 kept.
    # Standing 19 × 0.32 = 6.08; energy 190 × 0.1624 = 30.856 → 30.86; excise 190 × 0.0298
    # = 5.662 → 5.66. Net 42.60; VAT 8.52; gross 51.12.
    assert invoice.written_off_kwh == D("90")
    assert invoice.consumption_kwh == D("190")
    assert amounts(invoice) == [
        ("STANDING", D("19"), D("6.08")),
        ("ENERGY_BASE", D("190"), D("30.86")),
        ("EXCISE", D("190"), D("5.66")),
    ]
    assert invoice.lines.first().start == date(2025, 2, 10)
    assert (invoice.total_net, invoice.total_vat, invoice.total_gross) == (
        D("42.60"),
        D("8.52"),
        D("51.12"),
    )


def test_a_period_wholly_past_the_cap_is_refused(tariffs):
    point = new_point()
    subscribe(point, "BASE", date(2025, 2, 1))
    base = registers(point)["BASE"]
    read(base, date(2025, 2, 1), 0)
    read(base, date(2025, 3, 1), 280)
    with pytest.raises(services.NothingToBill):
        services.invoice_compute(
            supply_point=point,
            period_start=date(2025, 2, 1),
            period_end=date(2025, 3, 1),
            now=local(2026, 6, 1),
        )
    assert not Invoice.objects.exists()


def _billable(*, account=None, start=date(2026, 1, 1), value=100):
    point = new_point(account=account)
    subscribe(point, "BASE", date(2025, 2, 1))
    base = registers(point)["BASE"]
    read(base, start, 1_000)
    read(base, date(start.year, start.month + 1, 1), 1_000 + value)
    return point


def test_one_invoice_per_supply_point_and_period(tariffs):
    point = _billable()
    first = services.invoice_compute(
        supply_point=point,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 2, 1),
        now=local(2026, 2, 2),
    )
    with pytest.raises(services.DuplicateInvoice):
        services.invoice_compute(
            supply_point=point,
            period_start=date(2026, 1, 15),
            period_end=date(2026, 2, 1),
            now=local(2026, 2, 2),
        )
    Invoice.objects.filter(pk=first.pk).update(status="CANCELLED")
    again = services.invoice_compute(
        supply_point=point,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 2, 1),
        now=local(2026, 2, 2),
    )
    assert again.pk != first.pk


# --- Issuing ------------------------------------------------------------------------------


def _draft(point, now=None):
    now = now or local(2026, 2, 2, 9)
    return services.invoice_compute(
        supply_point=point, period_start=date(2026, 1, 1), period_end=date(2026, 2, 1), now=now
    )


def test_issue_numbers_dates_ledger_event_and_pdf(
    tariffs, tasks, make_user, django_capture_on_commit_callbacks
):
    agent = make_user(Role.AGENT)
    point = _billable()
    draft = _draft(point)
    # Just after 23:00 UTC on 31 March 2026 it is already 1 April in Paris (UTC+2 since
    # the change on the 29th): the issue date is the local one.
    now = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = services.invoice_issue(invoice=draft, now=now, actor=agent)
    invoice.refresh_from_db()
    assert invoice.status == "ISSUED"
    assert invoice.number == "FA-2026-000001"
    assert invoice.issue_date == date(2026, 4, 1)
    assert invoice.due_date == date(2026, 4, 15)  # invoice_due_days = 14
    entry = LedgerEntry.objects.get(invoice=invoice)
    assert (entry.kind, entry.amount, entry.source) == (
        EntryKind.CHARGE,
        invoice.total_gross,
        f"invoice:{invoice.pk}",
    )
    assert account_balance(account_id=invoice.account_id) == invoice.total_gross
    events = list(invoice.events.values_list("from_status", "to_status", "actor_id", "at"))
    assert events == [("", "DRAFT", None, local(2026, 2, 2, 9)), ("DRAFT", "ISSUED", agent.pk, now)]
    assert tasks[services.PDF_TASK] == [{"invoice_id": invoice.pk}]


@pytest.mark.parametrize(
    ("status", "target"),
    [("ISSUED", "ISSUED"), ("CANCELLED", "ISSUED")],
)
def test_illegal_transitions_raise_and_write_nothing(tariffs, tasks, status, target):
    point = _billable()
    draft = _draft(point)
    Invoice.objects.filter(pk=draft.pk).update(status=status)
    with pytest.raises(services.IllegalTransition):
        services.invoice_issue(invoice=draft, now=local(2026, 2, 3))
    draft.refresh_from_db()
    assert draft.status == status and draft.number is None
    assert not LedgerEntry.objects.exists()
    assert draft.events.count() == 1


def test_numbers_are_gapless_even_when_an_issue_fails(tariffs, tasks, monkeypatch):
    drafts = [_draft(_billable()) for _ in range(4)]
    now = local(2026, 2, 3, 10)
    services.invoice_issue(invoice=drafts[0], now=now)

    def broken(**kwargs):
        raise ledger_services.LedgerError("ledger down")

    working = services.ledger_post
    monkeypatch.setattr(services, "ledger_post", broken)
    with pytest.raises(ledger_services.LedgerError):
        services.invoice_issue(invoice=drafts[1], now=now)
    monkeypatch.setattr(services, "ledger_post", working)
    drafts[1].refresh_from_db()
    assert drafts[1].status == "DRAFT" and drafts[1].number is None
    for draft in drafts[1:]:
        services.invoice_issue(invoice=draft, now=now)
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"FA-2026-{n:06d}" for n in range(1, 5)]


# --- Rebilling ------------------------------------------------------------------------------


def test_reestimation_flags_the_invoice_and_rebill_balances_the_ledger(
    tariffs, tasks, make_user, django_capture_on_commit_callbacks
):
    agent = make_user(Role.AGENT)
    point = new_point()
    subscribe(point, "BASE", date(2025, 2, 1))
    base = registers(point)["BASE"]
    read(base, date(2026, 1, 1), 1_000)
    read(base, date(2026, 2, 1), 1_400, source=ReadingSource.ESTIMATED)
    with time_machine.travel(local(2026, 2, 2, 9), tick=False):
        original = services.invoice_issue(invoice=_draft(point), now=local(2026, 2, 2, 9))
    # 1 400 − 1 000 = 400 kWh in January, closing on the 1 February estimate.
    assert original.consumption_kwh == 400 and original.estimated

    # An actual read on 15 February lands below the 1 February estimate: metering
    # re-estimates it (1 000 + 300 × 31/45 = 1 206.67 → 1 207) and calls the hook.
    with django_capture_on_commit_callbacks(execute=True):
        reading_record(
            register=base,
            value=1_300,
            read_at=local(2026, 2, 15),
            source=ReadingSource.REMOTE,
            now=local(2026, 2, 15, 8),
        )
    original.refresh_from_db()
    assert original.needs_rebill
    assert original.rebill_reason.startswith("Relevés réestimés du 01/02/2026")

    now = local(2026, 2, 16, 11)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.invoice_rebill(invoice=original, now=now, actor=agent)
    original.refresh_from_db()
    credit, replacement = result.credit_note, result.replacement
    assert original.status == "CANCELLED" and not original.needs_rebill
    assert list(original.events.values_list("from_status", "to_status"))[-1] == (
        "ISSUED",
        "CANCELLED",
    )
    assert credit.kind == "CREDIT_NOTE" and credit.status == "ISSUED"
    assert credit.number == "AV-2026-000001"
    assert credit.credited_invoice_id == original.pk
    assert credit.total_gross == -original.total_gross
    assert [(line.kind, line.amount) for line in credit.lines.all()] == [
        (line.kind, -line.amount) for line in original.lines.all()
    ]
    assert replacement.number == "FA-2026-000002" and replacement.status == "ISSUED"
    assert replacement.consumption_kwh == 207  # 1 207 − 1 000
    credit_entry = LedgerEntry.objects.get(source=f"credit-note:{original.pk}")
    assert credit_entry.kind == EntryKind.CREDIT
    assert credit_entry.amount == -original.total_gross
    # Charge, credit, new charge: the customer owes exactly the replacement.
    assert account_balance(account_id=point.premise.account_id) == replacement.total_gross
    assert {c["invoice_id"] for c in tasks[services.PDF_TASK]} >= {credit.pk, replacement.pk}
    with pytest.raises(services.NotRebillable):
        services.invoice_rebill(invoice=original, now=now, actor=agent)
    with pytest.raises(services.NotRebillable):
        services.invoice_rebill(invoice=credit, now=now, actor=agent)


def test_the_rebill_hook_is_registered_and_leaves_other_periods_alone(tariffs, tasks):
    assert services.on_rebill_request in metering_hooks.rebill_requests
    point = _billable()
    january = services.invoice_issue(invoice=_draft(point), now=local(2026, 2, 2))
    metering_hooks.rebill_request(point.pk, local(2026, 3, 1), local(2026, 3, 20))
    january.refresh_from_db()
    assert not january.needs_rebill
    metering_hooks.rebill_request(point.pk, local(2026, 1, 20), local(2026, 1, 25))
    january.refresh_from_db()
    assert january.needs_rebill


def test_erasure_is_blocked_while_the_balance_is_not_zero(tariffs, tasks):
    assert selectors.balance_erasure_blocker in account_hooks.erasure_blockers
    point = _billable()
    account = point.premise.account
    assert selectors.balance_erasure_blocker(account) is None
    invoice = services.invoice_issue(invoice=_draft(point), now=local(2026, 2, 2))
    reason = selectors.balance_erasure_blocker(account)
    assert reason and "solde" in reason and str(invoice.total_gross) in reason
    ledger_services.ledger_post(
        account=account,
        kind=EntryKind.PAYMENT,
        amount=invoice.total_gross,
        description="Virement",
        now=local(2026, 2, 10),
    )
    assert selectors.balance_erasure_blocker(account) is None


# --- Billing runs ---------------------------------------------------------------------------


def test_billing_run_over_20_points_issues_20_invoices_once_even_if_tasks_run_twice(
    tariffs, tasks, django_capture_on_commit_callbacks
):
    points = [_billable(value=100 + i) for i in range(20)]
    broken = new_point()  # a tariff but no reads: fails, counted once
    subscribe(broken, "BASE", date(2025, 2, 1))
    new_point()  # no tariff: not planned
    with (
        time_machine.travel(local(2026, 2, 3, 6), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run = services.billing_run_start(
            period_start=date(2026, 1, 1), period_end=date(2026, 2, 1), now=local(2026, 2, 3, 6)
        )
    queued = tasks[services.RUN_ITEM_TASK]
    assert run.planned == 21
    assert sorted(q["supply_point_id"] for q in queued) == sorted(
        [p.pk for p in points] + [broken.pk]
    )
    with time_machine.travel(local(2026, 2, 3, 6, 5), tick=False):
        outcomes = [invoice_run_item_task(**kwargs) for kwargs in queued + queued]
    assert outcomes.count("issued") == 20
    assert outcomes.count("failed") == 2
    assert outcomes.count("skipped") == 20
    run.refresh_from_db()
    assert (run.planned, run.issued, run.failed) == (21, 20, 1)
    assert run.finished_at == local(2026, 2, 3, 6, 5)
    invoices = Invoice.objects.filter(status="ISSUED")
    assert invoices.count() == 20
    assert sorted(invoices.values_list("consumption_kwh", flat=True)) == [
        D(100 + i) for i in range(20)
    ]
    assert invoices.values("number").distinct().count() == 20
    assert LedgerEntry.objects.count() == 20


def test_billing_run_command(tariffs, tasks):
    _billable()
    call_command("billing_run", "--from", "2026-01-01", "--to", "2026-02-01")
    run = BillingRun.objects.get()
    assert (run.period_start, run.period_end, run.planned) == (
        date(2026, 1, 1),
        date(2026, 2, 1),
        1,
    )
    with pytest.raises(CommandError):
        call_command("billing_run", "--from", "2026-02-01", "--to", "2026-01-01")
    with pytest.raises(CommandError):
        call_command("billing_run", "--from", "janvier", "--to", "2026-01-01")
    assert BillingRun.objects.count() == 1


def test_a_run_with_nothing_to_bill_is_finished_at_once(tariffs, tasks):
    run = services.billing_run_start(
        period_start=date(2026, 1, 1), period_end=date(2026, 2, 1), now=local(2026, 2, 3)
    )
    assert run.planned == 0 and run.finished_at == local(2026, 2, 3)


@pytest.mark.django_db(transaction=True)
def test_the_same_run_item_in_two_workers_at_once_bills_once(tariffs, tasks):
    import threading

    from django.db import connections

    point = _billable()
    run = services.billing_run_start(
        period_start=date(2026, 1, 1), period_end=date(2026, 2, 1), now=local(2026, 2, 3)
    )
    barrier = threading.Barrier(4)
    outcomes = []

    def work():
        try:
            barrier.wait()
            outcomes.append(
                services.billing_run_item(
                    run_id=run.pk, supply_point_id=point.pk, now=local(2026, 2, 3, 1)
                ).outcome
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["issued", "skipped", "skipped", "skipped"]
    run.refresh_from_db()
    assert (run.issued, run.failed) == (1, 0)
    assert Invoice.objects.filter(supply_point=point).count() == 1
    assert LedgerEntry.objects.count() == 1
