"""Reads for invoicing: the tariff pieces of a period, consumption from hourly data or
register reads, the invoices a customer or an API caller may see, the billing export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from billing import domain
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LedgerEntry,
    TariffKind,
    TariffSubscription,
    TariffVersion,
)
from billing.selectors.ledger import account_balance
from metering import selectors as metering_selectors
from metering.models import Reading, ReadingSource, ReadingStatus

PARIS = ZoneInfo("Europe/Paris")
VISIBLE_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED)


class TariffMissing(LookupError):
    """A day of the period has no tariff subscription, or its tariff no price version."""

    def __init__(self, message: str, day: date):
        super().__init__(message)
        self.day = day


class ConsumptionUnknown(LookupError):
    """Neither hourly data nor enough register reads to bill the period."""


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=PARIS)


def hours_between(start: datetime, end: datetime) -> int:
    """Elapsed hours; through UTC, since Python subtracts two datetimes of the same zone
    as wall-clock times (a DST day would count 24 hours)."""
    return int((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() // 3600)


# --- Tariffs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TariffSegment:
    start: date
    end: date  # exclusive
    tariff_code: str
    tariff_kind: str
    tariff_name: str
    offpeak_hours: tuple[int, ...]  # local hours (0–23) billed at the HC rate
    rates: domain.Rates

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def offpeak_hour_set(spans: list) -> tuple[int, ...]:
    """[["22:00", "06:00"]] → (22, 23, 0, 1, 2, 3, 4, 5); spans may wrap past midnight."""
    hours: set[int] = set()
    for first, last in spans or []:
        h, stop = int(first.split(":")[0]), int(last.split(":")[0])
        while h != stop:
            hours.add(h)
            h = (h + 1) % 24
    return tuple(sorted(hours))


def rates_of(version: TariffVersion) -> domain.Rates:
    unit = {
        code: value
        for code, value in (
            ("BASE", version.rate_base),
            ("HP", version.rate_hp),
            ("HC", version.rate_hc),
        )
        if value is not None
    }
    return domain.Rates(
        standing_per_day=version.standing_per_day,
        unit=unit,
        excise_per_kwh=version.excise_per_kwh,
        vat_standing=version.vat_standing,
        vat_energy=version.vat_energy,
    )


def tariff_segments(*, supply_point_id: int, start: date, end: date) -> list[TariffSegment]:
    """[start, end) cut at every subscription and price-version boundary, oldest first,
    in two queries. Raises TariffMissing naming the first day nothing covers."""
    if end <= start:
        raise ValueError("The period must end after it starts.")
    subscriptions = list(
        TariffSubscription.objects.filter(
            Q(end__isnull=True) | Q(end__gt=start), supply_point_id=supply_point_id, start__lt=end
        )
        .select_related("tariff")
        .order_by("start")
    )
    versions: dict[int, list[TariffVersion]] = {}
    for version in TariffVersion.objects.filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=start),
        tariff_id__in={s.tariff_id for s in subscriptions},
        valid_from__lt=end,
    ).order_by("valid_from"):
        versions.setdefault(version.tariff_id, []).append(version)

    segments: list[TariffSegment] = []
    day = start
    for sub in subscriptions:
        if sub.start > day:
            break
        sub_end = min(sub.end or end, end)
        for version in versions.get(sub.tariff_id, []):
            if version.valid_from > day:
                break
            piece_end = min(sub_end, version.valid_to or sub_end)
            if piece_end <= day:
                continue
            tariff = sub.tariff
            segments.append(
                TariffSegment(
                    start=day,
                    end=piece_end,
                    tariff_code=tariff.code,
                    tariff_kind=tariff.kind,
                    tariff_name=tariff.name,
                    offpeak_hours=offpeak_hour_set(tariff.offpeak_hours),
                    rates=rates_of(version),
                )
            )
            day = piece_end
            if day >= sub_end:
                break
        if day < sub_end:
            raise TariffMissing(f"The tariff {sub.tariff.code} has no price version on {day}.", day)
        if day >= end:
            return segments
    raise TariffMissing(f"Supply point {supply_point_id} has no tariff on {day}.", day)


# --- Consumption --------------------------------------------------------------------------


@dataclass(frozen=True)
class Consumption:
    kwh: list[dict[str, Decimal]]  # one dict per tariff segment: register code → kWh
    estimated: bool
    source: str  # "hourly" or "reads"
    read_ids: tuple[int, ...] = ()  # the register reads the figures rest on


def _codes_for(segment: TariffSegment) -> str:
    return "HPHC" if segment.tariff_kind == TariffKind.HPHC else "BASE"


def hourly_consumption(
    *, supply_point_id: int, segments: list[TariffSegment]
) -> Consumption | None:
    """Exact kWh per segment from the hourly data, split HP/HC by local hour (Europe/Paris,
    so a DST day's 23 or 25 hours fall where they belong); None unless every hour of the
    period is there."""
    start, end = local_midnight(segments[0].start), local_midnight(segments[-1].end)
    expected = hours_between(start, end)
    hours = metering_selectors.consumption(
        supply_point_id=supply_point_id, start=start, end=end, group_by="hour"
    )
    if not hours or len(hours) != expected:
        return None
    wh = [{"BASE": 0, "HP": 0, "HC": 0} for _ in segments]
    estimated = False
    index = 0
    for hour in hours:
        local = hour.start.astimezone(PARIS)
        while local.date() >= segments[index].end:
            index += 1
        segment = segments[index]
        if hour.quality == "ESTIMATED":
            estimated = True
        if _codes_for(segment) == "HPHC":
            wh[index]["HC" if local.hour in segment.offpeak_hours else "HP"] += hour.wh
        else:
            wh[index]["BASE"] += hour.wh
    kwh = []
    for segment, totals in zip(segments, wh, strict=True):
        if _codes_for(segment) == "HPHC":
            kwh.append({code: Decimal(totals[code]) / 1000 for code in ("HP", "HC")})
        else:
            kwh.append({"BASE": Decimal(totals["BASE"]) / 1000})
    return Consumption(kwh=kwh, estimated=estimated, source="hourly")


def _local_day(instant: datetime) -> date:
    return instant.astimezone(PARIS).date()


def register_consumption(*, supply_point_id: int, segments: list[TariffSegment]) -> Consumption:
    """kWh per segment from accepted register reads, in one query.

    Per register: the consumption between the last read on or before the period's start
    and the first on or after its end, spread by days over [first read, start), each
    segment and [end, last read) with `domain.apportion` (the period's last segment keeps
    the remainder), so consecutive invoices share a bracket's kWh without loss. Without a
    read on one side, the period is estimated at the daily rate of the two nearest reads.
    """
    start, end = segments[0].start, segments[-1].end
    reads = list(
        Reading.objects.filter(
            register__meter__supply_point_id=supply_point_id,
            status=ReadingStatus.ACCEPTED,
            read_at__gte=local_midnight(start - timedelta(days=800)),
            read_at__lt=local_midnight(end + timedelta(days=400)),
        )
        .order_by("read_at", "id")
        .values_list("id", "register__code", "read_at", "value", "source")
    )
    by_code: dict[str, list[tuple]] = {}
    for row in reads:
        by_code.setdefault(row[1], []).append(row)
    if not by_code:
        raise ConsumptionUnknown(f"Supply point {supply_point_id} has no accepted read.")

    estimated = False
    used: list[int] = []
    per_code: dict[str, list[Decimal]] = {}
    weights = [s.days for s in segments]
    for code, rows in by_code.items():
        before = [r for r in rows if _local_day(r[2]) <= start]
        after = [r for r in rows if _local_day(r[2]) >= end]
        if before and after:
            first, last = before[-1], after[0]
            used += [first[0], last[0]]
            estimated |= ReadingSource.ESTIMATED in (first[4], last[4])
            lead = (start - _local_day(first[2])).days
            tail = (_local_day(last[2]) - end).days
            parts = domain.apportion(last[3] - first[3], [lead, tail, *weights])
            per_code[code] = parts[2:]
            continue
        # A bracketing read is missing: the daily rate of the two latest reads (or the
        # two earliest, when none precedes the period) estimates it.
        estimated = True
        ordered = rows if not before else list(reversed(rows))
        pair = [ordered[0]]
        for row in ordered[1:]:
            if _local_day(row[2]) != _local_day(pair[0][2]):
                pair.append(row)
                break
        pair.sort(key=lambda r: r[2])
        if len(pair) < 2:
            raise ConsumptionUnknown(
                f"Not enough reads of register {code} to estimate supply point {supply_point_id}."
            )
        used += [pair[0][0], pair[1][0]]
        per_day = (
            Decimal(pair[1][3] - pair[0][3])
            / (_local_day(pair[1][2]) - _local_day(pair[0][2])).days
        )
        per_code[code] = domain.apportion(domain.kwh(per_day * sum(weights)), weights)

    kwh = []
    for index, segment in enumerate(segments):
        values = {code: parts[index] for code, parts in per_code.items()}
        if _codes_for(segment) == "BASE":
            values = {"BASE": sum(values.values(), domain.ZERO)}
        elif "BASE" in values and not {"HP", "HC"} <= set(values):
            raise ConsumptionUnknown(
                f"Supply point {supply_point_id} has no HP/HC reads for its HP/HC tariff."
            )
        else:
            values = {code: values[code] for code in ("HP", "HC")}
        kwh.append(values)
    return Consumption(kwh=kwh, estimated=estimated, source="reads", read_ids=tuple(used))


def period_consumption(*, supply_point_id: int, segments: list[TariffSegment]) -> Consumption:
    """Hourly data when the whole period has it, else the register reads."""
    return hourly_consumption(
        supply_point_id=supply_point_id, segments=segments
    ) or register_consumption(supply_point_id=supply_point_id, segments=segments)


def last_year_kwh(*, supply_point_id: int, start: date, end: date) -> Decimal | None:
    """Consumption of the same period a year earlier: that period's invoice, else the
    hourly data if it covers it; None when unknown."""
    before_start, before_end = domain.add_months(start, -12), domain.add_months(end, -12)
    billed = (
        Invoice.objects.filter(
            supply_point_id=supply_point_id,
            kind=InvoiceKind.INVOICE,
            status=InvoiceStatus.ISSUED,
            period_start=before_start,
            period_end=before_end,
        )
        .values_list("consumption_kwh", flat=True)
        .first()
    )
    if billed is not None:
        return billed
    lo, hi = local_midnight(before_start), local_midnight(before_end)
    days = metering_selectors.consumption(
        supply_point_id=supply_point_id, start=lo, end=hi, group_by="day"
    )
    if sum(d.readings for d in days) != hours_between(lo, hi):
        return None
    return domain.kwh(Decimal(sum(d.wh for d in days)) / 1000)


# --- Invoices -----------------------------------------------------------------------------


def invoice_for_period(*, supply_point_id: int, start: date, end: date) -> Invoice | None:
    """The non-cancelled invoice of this supply point overlapping [start, end), if any."""
    return (
        Invoice.objects.filter(
            supply_point_id=supply_point_id,
            kind=InvoiceKind.INVOICE,
            period_start__lt=end,
            period_end__gt=start,
        )
        .exclude(status=InvoiceStatus.CANCELLED)
        .first()
    )


def billable_supply_point_ids(*, start: date, end: date) -> list[int]:
    """Supply points with a tariff subscription during [start, end)."""
    return list(
        TariffSubscription.objects.filter(Q(end__isnull=True) | Q(end__gt=start), start__lt=end)
        .order_by("supply_point_id")
        .values_list("supply_point_id", flat=True)
        .distinct()
    )


def account_invoices(*, account_id: int) -> QuerySet[Invoice]:
    """What a customer sees: issued invoices and credit notes, and cancelled ones."""
    return (
        Invoice.objects.filter(account_id=account_id, status__in=VISIBLE_STATUSES)
        .select_related("supply_point", "credited_invoice")
        .order_by("-issue_date", "-id")
    )


def account_invoice(*, account_id: int, number: str) -> Invoice | None:
    """One invoice of the account with its lines; None if it is not theirs (→ 404)."""
    return (
        account_invoices(account_id=account_id)
        .filter(number=number)
        .prefetch_related("lines")
        .first()
    )


@dataclass(frozen=True)
class ExportRow:
    record: str  # "invoice" or "ledger"
    day: date
    reference: str
    kind: str
    status: str
    invoice: str
    supply_point: str
    period_start: str
    period_end: str
    total_net: str
    total_vat: str
    amount: str
    description: str


EXPORT_COLUMNS = list(ExportRow.__dataclass_fields__)


def billing_export_rows(
    *, account_id: int, start: date, end: date, chunk_size: int = 2000
) -> Iterator[ExportRow]:
    """Invoices issued in [start, end), then ledger entries booked in it (local days),
    each read through a server-side cursor so memory stays flat."""
    invoices = (
        Invoice.objects.filter(
            account_id=account_id,
            status__in=VISIBLE_STATUSES,
            issue_date__gte=start,
            issue_date__lt=end,
        )
        .order_by("issue_date", "id")
        .values_list(
            "issue_date",
            "number",
            "kind",
            "status",
            "supply_point__identifier",
            "period_start",
            "period_end",
            "total_net",
            "total_vat",
            "total_gross",
            "tariff_name",
        )
    )
    for (
        day,
        number,
        kind,
        status,
        point,
        p_start,
        p_end,
        net,
        vat,
        gross,
        tariff,
    ) in invoices.iterator(chunk_size=chunk_size):
        yield ExportRow(
            "invoice",
            day,
            number,
            kind,
            status,
            number,
            point,
            p_start.isoformat(),
            p_end.isoformat(),
            str(net),
            str(vat),
            str(gross),
            tariff,
        )
    entries = (
        LedgerEntry.objects.filter(
            account_id=account_id, at__gte=local_midnight(start), at__lt=local_midnight(end)
        )
        .order_by("at", "id")
        .values_list("at", "txn_id", "kind", "invoice__number", "amount", "description")
    )
    for at, txn_id, kind, number, amount, description in entries.iterator(chunk_size=chunk_size):
        yield ExportRow(
            "ledger",
            _local_day(at),
            txn_id,
            kind,
            "",
            number or "",
            "",
            "",
            "",
            "",
            "",
            str(amount),
            description,
        )


# --- Hooks --------------------------------------------------------------------------------


def balance_erasure_blocker(account) -> str | None:
    """Registered with accounts' erasure blockers: an account still owing or owed money
    cannot be erased."""
    balance = account_balance(account_id=account.pk)
    if balance != 0:
        return (
            f"Le solde du compte n'est pas nul ({balance} €) : "
            "il doit être soldé avant l'effacement des données."
        )
    return None
