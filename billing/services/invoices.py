"""Invoices: computing a draft from tariffs and consumption, issuing it (number, ledger
charge, PDF), billing runs, and rebilling after re-estimated reads (credit note, then a
replacement invoice).

The arithmetic is `billing.domain`'s; this module gathers the figures and writes them.
Computing and issuing hold a per-supply-point advisory lock, so two workers billing the
same supply point (a replayed task, two overlapping runs) never both write an invoice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from celery import current_app
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F

from accounts.models import SupplyPoint, User
from accounts.selectors import parameter_get
from billing import domain
from billing.models import (
    BillingRun,
    EntryKind,
    Invoice,
    InvoiceEvent,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from billing.selectors import invoices as selectors
from billing.services.ledger import ledger_post
from billing.services.numbering import invoice_number_next
from metering.services import readings as metering_readings

PARIS = ZoneInfo("Europe/Paris")
JURISDICTION = {"FR_PRM": "FR", "EIC": "FR", "GB_MPAN": "GB"}
# pg_advisory_xact_lock(namespace, supply point id): the namespace keeps these locks
# apart from any other advisory lock keyed by a small integer.
LOCK_NAMESPACE = 0x42494C4C  # "BILL"
PDF_TASK = "billing.tasks.invoice_pdf_task"
RUN_ITEM_TASK = "billing.tasks.invoice_run_item_task"
# A failed run item is counted once, however often its task is replayed.
FAILED_MARK_SECONDS = 30 * 24 * 3600

TariffMissing = selectors.TariffMissing
ConsumptionUnknown = selectors.ConsumptionUnknown
IllegalTransition = domain.IllegalTransition


class InvoiceError(Exception):
    """Base class of the refusals of this module."""


class DuplicateInvoice(InvoiceError):
    def __init__(self, existing: Invoice):
        super().__init__(
            f"Supply point {existing.supply_point_id} already has invoice "
            f"{existing} for an overlapping period."
        )
        self.existing = existing


class NothingToBill(InvoiceError):
    """The whole period lies beyond the back-billing limit."""


class NotRebillable(InvoiceError):
    pass


def local_date(now: datetime) -> date:
    return now.astimezone(PARIS).date()


def _lock_supply_point(supply_point_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, supply_point_id])


def _event(invoice: Invoice, *, source: str, target: str, now: datetime, actor, note=""):
    InvoiceEvent.objects.create(
        invoice=invoice,
        at=now,
        actor=actor,
        from_status=source,
        to_status=target,
        note=note[:200],
    )


def _transition(invoice: Invoice, target: str, *, now: datetime, actor, note: str = "") -> None:
    domain.check_transition(domain.INVOICE_TRANSITIONS, "invoice", invoice.status, target)
    source = invoice.status
    invoice.status = target
    _event(invoice, source=source, target=target, now=now, actor=actor, note=note)


def _enqueue_pdf(invoice_id: int) -> None:
    transaction.on_commit(lambda: current_app.tasks[PDF_TASK].delay(invoice_id=invoice_id))


# --- Computing ----------------------------------------------------------------------------


def invoice_compute(
    *, supply_point: SupplyPoint, period_start: date, period_end: date, now: datetime
) -> Invoice:
    """A DRAFT invoice of [period_start, period_end) with its lines.

    Raises DuplicateInvoice if a non-cancelled invoice overlaps the period, TariffMissing
    or ConsumptionUnknown when the figures are not there, NothingToBill when the back-
    billing limit leaves nothing to charge."""
    if period_end <= period_start:
        raise InvoiceError("The period must end after it starts.")
    with transaction.atomic():
        _lock_supply_point(supply_point.pk)
        existing = selectors.invoice_for_period(
            supply_point_id=supply_point.pk, start=period_start, end=period_end
        )
        if existing is not None:
            raise DuplicateInvoice(existing)
        pieces = selectors.tariff_segments(
            supply_point_id=supply_point.pk, start=period_start, end=period_end
        )
        used = selectors.period_consumption(supply_point_id=supply_point.pk, segments=pieces)
        segments = [
            domain.Segment(p.start, p.end, p.tariff_name, p.rates, kwh)
            for p, kwh in zip(pieces, used.kwh, strict=True)
        ]
        earliest = domain.back_billing_start(
            issued_on=local_date(now), jurisdiction=JURISDICTION[supply_point.market]
        )
        capped = domain.cap_back_billing(segments, earliest=earliest)
        if not capped.segments:
            raise NothingToBill(
                f"[{period_start}, {period_end}) is wholly before the back-billing limit {earliest}."
            )
        lines = [line for segment in capped.segments for line in domain.segment_lines(segment)]
        sums = domain.totals(lines)
        names = list(dict.fromkeys(s.tariff_name for s in capped.segments))
        invoice = Invoice.objects.create(
            kind=InvoiceKind.INVOICE,
            status=InvoiceStatus.DRAFT,
            account_id=supply_point.premise.account_id,
            supply_point=supply_point,
            period_start=period_start,
            period_end=period_end,
            estimated=used.estimated,
            tariff_name=" / ".join(names),
            consumption_kwh=sum((v for s in capped.segments for v in s.kwh.values()), domain.ZERO),
            last_year_kwh=selectors.last_year_kwh(
                supply_point_id=supply_point.pk, start=period_start, end=period_end
            ),
            written_off_kwh=capped.written_off_kwh,
            total_net=sums.net,
            total_vat=sums.vat,
            total_gross=sums.gross,
            created_at=now,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=invoice,
                position=position,
                kind=line.kind,
                label=line.label,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                amount=line.amount,
                vat_rate=line.vat_rate,
                start=line.start,
                end=line.end,
            )
            for position, line in enumerate(lines, start=1)
        )
        note = "relevés" if used.source == "reads" else "courbe horaire"
        _event(invoice, source="", target=InvoiceStatus.DRAFT, now=now, actor=None, note=note)
    return invoice


# --- Issuing ------------------------------------------------------------------------------


def invoice_issue(*, invoice: Invoice, now: datetime, actor: User | None = None) -> Invoice:
    """DRAFT → ISSUED: the next gapless number, issue and due dates, the ledger charge (or
    credit, for a credit note), and the PDF built once the transaction commits.

    The register reads the invoice rests on are marked as billed, so that they are kept
    as long as the invoice."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        _transition(invoice, InvoiceStatus.ISSUED, now=now, actor=actor)
        issued_on = local_date(now)
        invoice.number = invoice_number_next(kind=invoice.kind, issued_on=issued_on)
        invoice.issue_date = issued_on
        invoice.due_date = issued_on + timedelta(days=int(parameter_get(key="invoice_due_days")))
        invoice.save(update_fields=["status", "number", "issue_date", "due_date"])
        amount = abs(invoice.total_gross)
        if amount > 0:
            if invoice.kind == InvoiceKind.CREDIT_NOTE:
                ledger_post(
                    account=invoice.account,
                    kind=EntryKind.CREDIT,
                    amount=amount,
                    description=f"Avoir {invoice.number} sur la facture "
                    f"{invoice.credited_invoice.number}",
                    now=now,
                    invoice=invoice,
                    source=f"credit-note:{invoice.credited_invoice_id}",
                    actor=actor,
                )
            else:
                ledger_post(
                    account=invoice.account,
                    kind=EntryKind.CHARGE,
                    amount=amount,
                    description=f"Facture {invoice.number}",
                    now=now,
                    invoice=invoice,
                    source=f"invoice:{invoice.pk}",
                    actor=actor,
                )
        if invoice.kind == InvoiceKind.INVOICE:
            pieces = selectors.tariff_segments(
                supply_point_id=invoice.supply_point_id,
                start=invoice.period_start,
                end=invoice.period_end,
            )
            used = selectors.period_consumption(
                supply_point_id=invoice.supply_point_id, segments=pieces
            )
            if used.read_ids:
                metering_readings.readings_mark_billed(reading_ids=used.read_ids)
        _enqueue_pdf(invoice.pk)
    return invoice


# --- Billing runs -------------------------------------------------------------------------


def billing_run_start(
    *, period_start: date, period_end: date, now: datetime, actor: User | None = None
) -> BillingRun:
    """A run over every supply point with a tariff during the period: one task each,
    enqueued once the run is committed."""
    if period_end <= period_start:
        raise InvoiceError("The period must end after it starts.")
    with transaction.atomic():
        ids = selectors.billable_supply_point_ids(start=period_start, end=period_end)
        run = BillingRun.objects.create(
            period_start=period_start,
            period_end=period_end,
            started_at=now,
            planned=len(ids),
            created_by=actor,
        )
        if not ids:
            run.finished_at = now
            run.save(update_fields=["finished_at"])

        def enqueue(run_id=run.pk, ids=tuple(ids)):
            task = current_app.tasks[RUN_ITEM_TASK]
            for supply_point_id in ids:
                task.delay(run_id=run_id, supply_point_id=supply_point_id)

        transaction.on_commit(enqueue)
    return run


@dataclass(frozen=True)
class RunItemResult:
    outcome: str  # "issued", "skipped" or "failed"
    invoice: Invoice | None = None
    reason: str = ""


def _run_finish(run_id: int, now: datetime) -> None:
    BillingRun.objects.filter(
        pk=run_id, finished_at=None, planned__lte=F("issued") + F("failed")
    ).update(finished_at=now)


def billing_run_item(*, run_id: int, supply_point_id: int, now: datetime) -> RunItemResult:
    """Bill one supply point of a run. Replaying it is harmless: a supply point already
    billed for the period is skipped and counted once."""
    run = BillingRun.objects.get(pk=run_id)
    try:
        with transaction.atomic():
            _lock_supply_point(supply_point_id)
            if selectors.invoice_for_period(
                supply_point_id=supply_point_id, start=run.period_start, end=run.period_end
            ):
                return RunItemResult("skipped")
            point = SupplyPoint.objects.select_related("premise").get(pk=supply_point_id)
            draft = invoice_compute(
                supply_point=point,
                period_start=run.period_start,
                period_end=run.period_end,
                now=now,
            )
            invoice = invoice_issue(invoice=draft, now=now, actor=run.created_by)
            BillingRun.objects.filter(pk=run_id).update(issued=F("issued") + 1)
            _run_finish(run_id, now)
    except (InvoiceError, TariffMissing, ConsumptionUnknown, ValueError) as exc:
        if cache.add(f"billing-run:{run_id}:failed:{supply_point_id}", 1, FAILED_MARK_SECONDS):
            BillingRun.objects.filter(pk=run_id).update(failed=F("failed") + 1)
            _run_finish(run_id, now)
        return RunItemResult("failed", reason=str(exc))
    return RunItemResult("issued", invoice=invoice)


# --- Rebilling ----------------------------------------------------------------------------


def invoices_flag_for_rebill(*, supply_point_id: int, start: datetime, end: datetime) -> int:
    """Flag the issued invoices of the supply point resting on reads in [start, end): those
    whose period overlaps it, and the one closing on its first day (its closing read is
    the first changed one)."""
    first, last = local_date(start), local_date(end)
    if end.astimezone(PARIS).time() != datetime.min.time() or last == first:
        last += timedelta(days=1)
    reason = f"Relevés réestimés du {first:%d/%m/%Y} au {local_date(end):%d/%m/%Y}"
    return Invoice.objects.filter(
        supply_point_id=supply_point_id,
        kind=InvoiceKind.INVOICE,
        status=InvoiceStatus.ISSUED,
        period_start__lt=last,
        period_end__gte=first,
    ).update(needs_rebill=True, rebill_reason=reason)


def on_rebill_request(supply_point_id: int, start: datetime, end: datetime) -> None:
    """The handler registered in `metering.hooks.rebill_requests` (positional, by contract)."""
    invoices_flag_for_rebill(supply_point_id=supply_point_id, start=start, end=end)


@dataclass(frozen=True)
class Rebilled:
    credit_note: Invoice
    replacement: Invoice


def invoice_rebill(*, invoice: Invoice, now: datetime, actor: User | None) -> Rebilled:
    """Cancel an issued invoice by a credit note (every line negated, its own AV- number)
    and issue its replacement from today's figures, all or nothing."""
    with transaction.atomic():
        _lock_supply_point(invoice.supply_point_id)
        original = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if original.kind != InvoiceKind.INVOICE:
            raise NotRebillable("A credit note is not rebilled.")
        if original.status != InvoiceStatus.ISSUED:
            raise NotRebillable(f"Invoice {original} is {original.status}, not issued.")
        credit = Invoice.objects.create(
            kind=InvoiceKind.CREDIT_NOTE,
            status=InvoiceStatus.DRAFT,
            account_id=original.account_id,
            supply_point_id=original.supply_point_id,
            period_start=original.period_start,
            period_end=original.period_end,
            estimated=original.estimated,
            tariff_name=original.tariff_name,
            consumption_kwh=-original.consumption_kwh,
            written_off_kwh=-original.written_off_kwh,
            total_net=-original.total_net,
            total_vat=-original.total_vat,
            total_gross=-original.total_gross,
            credited_invoice=original,
            rebill_reason=original.rebill_reason,
            created_at=now,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=credit,
                position=line.position,
                kind=line.kind,
                label=line.label,
                quantity=-line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                amount=-line.amount,
                vat_rate=line.vat_rate,
                start=line.start,
                end=line.end,
            )
            for line in original.lines.all()
        )
        _event(credit, source="", target=InvoiceStatus.DRAFT, now=now, actor=actor)
        credit = invoice_issue(invoice=credit, now=now, actor=actor)
        _transition(
            original,
            InvoiceStatus.CANCELLED,
            now=now,
            actor=actor,
            note=f"Annulée par l'avoir {credit.number}",
        )
        original.needs_rebill = False
        original.save(update_fields=["status", "needs_rebill"])
        point = SupplyPoint.objects.select_related("premise").get(pk=original.supply_point_id)
        draft = invoice_compute(
            supply_point=point,
            period_start=original.period_start,
            period_end=original.period_end,
            now=now,
        )
        replacement = invoice_issue(invoice=draft, now=now, actor=actor)
    return Rebilled(credit_note=credit, replacement=replacement)


__all__ = [
    "ConsumptionUnknown",
    "DuplicateInvoice",
    "IllegalTransition",
    "InvoiceError",
    "NotRebillable",
    "NothingToBill",
    "TariffMissing",
    "billing_run_item",
    "billing_run_start",
    "invoice_compute",
    "invoice_issue",
    "invoice_rebill",
    "invoices_flag_for_rebill",
    "on_rebill_request",
]
