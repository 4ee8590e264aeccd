"""Reads behind the customer's money pages and the tariff comparison: the payment
history, the active plan, invoices that may still be extended, assistance credits, and
a year's cost of each tariff priced on the supply point's own last twelve months."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet, Sum

from accounts.domain import member_can
from accounts.models import AccountMembership, AccountType
from billing import domain
from billing.models import (
    ApprovalStatus,
    AssistanceCredit,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LedgerEntry,
    PaymentPlan,
    PlanInstalment,
    PlanStatus,
    Tariff,
    TariffKind,
    TariffSubscription,
    TariffVersion,
)
from billing.selectors.invoices import rates_of
from metering import selectors as metering

HISTORY_PAGE = 50
# An extension may be asked up to 10 days after the due date (domain.extension_refusal).
EXTENSION_GRACE_DAYS = 10


def ledger_history(*, account_id: int, limit: int = HISTORY_PAGE) -> list[LedgerEntry]:
    """The latest movements, newest first, with their invoice, in one query."""
    return list(
        LedgerEntry.objects.filter(account_id=account_id)
        .select_related("invoice")
        .order_by("-at", "-id")[:limit]
    )


def active_plan(*, account_id: int) -> PaymentPlan | None:
    return (
        PaymentPlan.objects.filter(account_id=account_id, status=PlanStatus.ACTIVE)
        .prefetch_related(
            Prefetch("instalments", queryset=PlanInstalment.objects.order_by("position"))
        )
        .first()
    )


def extendable_invoices(*, account_id: int, today: date) -> QuerySet[Invoice]:
    """Issued invoices of the account still inside the extension window, not yet
    extended. Whether one is unpaid is judged on the account's balance (see the view):
    payments are booked against the account, not against an invoice."""
    return (
        Invoice.objects.filter(
            account_id=account_id,
            kind=InvoiceKind.INVOICE,
            status=InvoiceStatus.ISSUED,
            due_date__gte=today - timedelta(days=EXTENSION_GRACE_DAYS),
            extension__isnull=True,
        )
        .only("id", "number", "due_date", "total_gross", "account_id")
        .order_by("due_date", "id")
    )


def account_notify_emails(*, account_id: int) -> list[str]:
    """Addresses of the members who may see the account's billing, for its reminders."""
    rows = AccountMembership.objects.filter(account_id=account_id).values_list(
        "role", "user__email"
    )
    return sorted({email for role, email in rows if email and member_can(role, "view_billing")})


# --- Energy-assistance credits -----------------------------------------------------


def assistance_season_committed(*, account_id: int, season: str) -> Decimal:
    """Approved plus pending credits of the season: what the cap is measured against."""
    total = AssistanceCredit.objects.filter(
        account_id=account_id,
        season=season,
        status__in=[ApprovalStatus.APPROVED, ApprovalStatus.PENDING],
    ).aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0.00")


def assistance_pending() -> list[AssistanceCredit]:
    return list(
        AssistanceCredit.objects.filter(status=ApprovalStatus.PENDING)
        .select_related("account", "entered_by")
        .order_by("entered_at", "id")
    )


def assistance_for_account(*, account_id: int, season: str) -> list[AssistanceCredit]:
    return list(
        AssistanceCredit.objects.filter(account_id=account_id, season=season)
        .select_related("entered_by", "decided_by")
        .order_by("-entered_at", "-id")
    )


# --- Tariffs: the current one and a year's estimate of each -------------------------


def current_subscription(*, supply_point_id: int) -> TariffSubscription | None:
    """The open-ended subscription: the tariff the supply point is on or will be on."""
    return (
        TariffSubscription.objects.filter(supply_point_id=supply_point_id, end__isnull=True)
        .select_related("tariff")
        .first()
    )


def _version_on(tariff: Tariff, day: date) -> TariffVersion | None:
    for version in tariff.current_versions:
        if version.valid_from <= day and (version.valid_to is None or day < version.valid_to):
            return version
    return None


@dataclass(frozen=True)
class MonthUse:
    start: date
    end: date
    kwh: Decimal
    hp_kwh: Decimal
    hc_kwh: Decimal
    has_data: bool


@dataclass(frozen=True)
class Estimate:
    tariff: Tariff
    version: TariffVersion
    totals: domain.Totals
    is_current: bool
    difference: Decimal  # this tariff's year minus the current one's: negative is a saving

    @property
    def saving(self) -> Decimal:
        return -self.difference


@dataclass(frozen=True)
class Comparison:
    subscription: TariffSubscription | None
    months: list[MonthUse]
    estimates: list[Estimate]  # the current tariff first, then the cheapest first
    unpriced: list[Tariff]  # alternatives without a price on the day of comparison

    @property
    def current(self) -> Estimate | None:
        return next((e for e in self.estimates if e.is_current), None)

    @property
    def alternatives(self) -> list[Estimate]:
        return [e for e in self.estimates if not e.is_current]

    @property
    def months_with_data(self) -> int:
        return sum(1 for m in self.months if m.has_data)

    @property
    def total_kwh(self) -> Decimal:
        return sum((m.kwh for m in self.months), Decimal("0"))

    @property
    def period_start(self) -> date:
        return self.months[0].start

    @property
    def period_end(self) -> date:
        return self.months[-1].end


def last_twelve_months(*, supply_point_id: int, today: date) -> list[MonthUse]:
    """The twelve whole local months before the one holding `today`, in two queries:
    monthly totals, and the peak / off-peak split of the same months."""
    last_day = today.replace(day=1) - timedelta(days=1)
    totals = metering.monthly_totals(supply_point_id=supply_point_id, today=last_day, months=12)
    split = {
        (row["month"].year, row["month"].month): row
        for row in metering.peak_offpeak_monthly(
            supply_point_id=supply_point_id, start=totals[0].start, end=totals[-1].end
        )
    }
    months = []
    for month in totals:
        key = (month.start.year, month.start.month)
        row = split.get(key, {"hp_wh": 0, "hc_wh": 0})
        first = date(*key, 1)
        months.append(
            MonthUse(
                start=first,
                end=domain.add_months(first, 1),
                kwh=domain.kwh(Decimal(month.wh) / 1000),
                hp_kwh=domain.kwh(Decimal(row["hp_wh"]) / 1000),
                hc_kwh=domain.kwh(Decimal(row["hc_wh"]) / 1000),
                has_data=month.readings > 0,
            )
        )
    return months


def year_estimate(*, months: list[MonthUse], tariff: Tariff, version: TariffVersion):
    """A year of `months` priced with one version: a segment per month, HP/HC split for
    an HP/HC tariff, the domain's lines and VAT rounding."""
    rates = rates_of(version)
    lines: list[domain.Line] = []
    for month in months:
        if tariff.kind == TariffKind.HPHC:
            use = {"HP": month.hp_kwh, "HC": month.hc_kwh}
        else:
            use = {"BASE": month.kwh}
        segment = domain.Segment(month.start, month.end, tariff.name, rates, use)
        lines.extend(domain.segment_lines(segment))
    return domain.totals(lines)


def tariff_comparison(*, account, supply_point_id: int, today: date) -> Comparison:
    """The current tariff against each available one meant for the account's type, at
    today's prices, over the last twelve months of this supply point. A fixed number of
    queries whatever the number of tariffs."""
    subscription = current_subscription(supply_point_id=supply_point_id)
    months = last_twelve_months(supply_point_id=supply_point_id, today=today)
    business = account.type == AccountType.BUSINESS
    versions = Prefetch(
        "versions",
        queryset=TariffVersion.objects.filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=today), valid_from__lte=today
        ),
        to_attr="current_versions",
    )
    query = Q(available=True, for_business=business)
    if subscription is not None:
        query |= Q(pk=subscription.tariff_id)
    tariffs = list(Tariff.objects.filter(query).prefetch_related(versions).order_by("name"))
    priced, unpriced = [], []
    for tariff in tariffs:
        version = _version_on(tariff, today)
        if version is None:
            unpriced.append(tariff)
            continue
        is_current = subscription is not None and tariff.pk == subscription.tariff_id
        priced.append(
            (
                tariff,
                version,
                year_estimate(months=months, tariff=tariff, version=version),
                is_current,
            )
        )
    reference = next((t.gross for _t, _v, t, current in priced if current), None)
    estimates = [
        Estimate(
            tariff=tariff,
            version=version,
            totals=totals,
            is_current=current,
            difference=(totals.gross - reference) if reference is not None else Decimal("0"),
        )
        for tariff, version, totals, current in priced
    ]
    estimates.sort(key=lambda e: (not e.is_current, e.totals.gross))
    return Comparison(subscription, months, estimates, unpriced)


def switchable_tariff(*, account, code: str, today: date) -> Tariff | None:
    """A tariff the account may move to: offered, for its type, priced today."""
    business = account.type == AccountType.BUSINESS
    return (
        Tariff.objects.filter(code=code, available=True, for_business=business)
        .filter(
            Q(versions__valid_to__isnull=True) | Q(versions__valid_to__gt=today),
            versions__valid_from__lte=today,
        )
        .distinct()
        .first()
    )
