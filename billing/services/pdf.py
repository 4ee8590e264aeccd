"""Invoice PDFs: what an invoice shows (shared by the PDF and the portal's detail page),
its rendering with WeasyPrint, and storing the file on the invoice.

Rendering costs far more than anything else here, so the parsed stylesheet and the font
configuration are built once per process and reused by every render. The file is
written outside any transaction (a render holds no lock) and attached to the invoice
under a row lock, so two workers racing on the same invoice keep exactly one file."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from accounts import company
from accounts.domain import mask_iban
from accounts.models import BankDetails
from accounts.selectors import parameter_get
from billing import domain
from billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from metering import selectors as metering_selectors

PDF_TASK = "billing.tasks.invoice_pdf_task"
TEMPLATE = "billing/pdf/invoice.html"
STYLESHEET = Path(settings.BASE_DIR) / "static" / "billing" / "invoice.css"
# A customer waiting on the "en préparation" page reloads it every few seconds: one
# enqueued build is enough for that long, later reloads only look for the file.
REQUEST_DEDUP_SECONDS = 30
CHART_MONTHS = 12
MARKET_ID_LABEL = {"FR_PRM": "PRM", "GB_MPAN": "MPAN", "EIC": "EIC"}
MONTH_ABBR = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)


class InvoiceNotRenderable(Exception):
    """A draft has no number and is never shown to anyone: it gets no PDF."""


# --- What an invoice shows -------------------------------------------------------------


@dataclass(frozen=True)
class VatRow:
    rate_percent: Decimal
    base: Decimal
    vat: Decimal


@dataclass(frozen=True)
class LineRow:
    line: InvoiceLine
    last_day: date  # lines cover [start, end): the bill shows the last day included
    vat_percent: Decimal


@dataclass(frozen=True)
class Bar:
    label: str
    year: int
    kwh: Decimal
    current: bool
    x: float
    y: float
    height: float
    cx: float  # centre, for the labels


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    baseline: float
    bar_width: float
    max_kwh: Decimal
    gridlines: list[tuple[float, int]]  # (y, kWh)

    @property
    def has_data(self) -> bool:
        return any(bar.kwh > 0 for bar in self.bars)


@dataclass(frozen=True)
class Comparison:
    current_kwh: Decimal
    last_year_kwh: Decimal | None
    change_percent: Decimal | None  # signed; None without last year's figure


@dataclass(frozen=True)
class InvoiceDocument:
    invoice: Invoice
    title: str
    is_credit_note: bool
    amount: Decimal  # what is due, or for a credit note what is given back: never signed
    lines: list[LineRow]
    vat_rows: list[VatRow]
    period_last_day: date
    supply_point_label: str
    comparison: Comparison
    chart: Chart
    dispute_days: int
    dispute_until: date | None
    masked_iban: str
    supplier: dict = field(default_factory=dict)


def _percent(rate: Decimal) -> Decimal:
    return (rate * 100).quantize(Decimal("0.01")).normalize()


def _vat_rows(lines: list[InvoiceLine]) -> list[VatRow]:
    # domain.totals only reads `amount` and `vat_rate`, which the stored lines carry, so
    # the breakdown printed is computed by the very rule that computed the invoice.
    by_rate = domain.totals(lines).vat_by_rate  # type: ignore[arg-type]
    return [
        # Adding zero turns a credit note's -0.00 VAT into 0.00.
        VatRow(rate_percent=_percent(rate), base=base, vat=vat + 0)
        for rate, (base, vat) in by_rate.items()
    ]


def _comparison(invoice: Invoice) -> Comparison:
    current, before = invoice.consumption_kwh, invoice.last_year_kwh
    change = None
    if before:
        change = ((current - before) * 100 / before).quantize(Decimal("1"))
    return Comparison(current_kwh=current, last_year_kwh=before, change_percent=change)


def _month_firsts(last_day: date, months: int) -> list[date]:
    first = last_day.replace(day=1)
    return [domain.add_months(first, -offset) for offset in range(months - 1, -1, -1)]


def _billed_kwh_by_month(invoice: Invoice, firsts: list[date]) -> dict[date, Decimal]:
    """Each issued invoice's kWh of the supply point, spread over the months it covers
    pro rata to days (a two-month bill fills two bars)."""
    window_start, window_end = firsts[0], domain.add_months(firsts[-1], 1)
    rows = Invoice.objects.filter(
        supply_point_id=invoice.supply_point_id,
        kind=InvoiceKind.INVOICE,
        status=InvoiceStatus.ISSUED,
        period_start__lt=window_end,
        period_end__gt=window_start,
        period_start__lte=invoice.period_start,
    ).values_list("period_start", "period_end", "consumption_kwh")
    totals: dict[date, Decimal] = {}
    for start, end, kwh in rows:
        pieces, cursor = [], start
        while cursor < end:
            month_end = min(domain.add_months(cursor.replace(day=1), 1), end)
            pieces.append((cursor.replace(day=1), (month_end - cursor).days))
            cursor = month_end
        parts = domain.apportion(kwh, [days for _first, days in pieces])
        for (first, _days), part in zip(pieces, parts, strict=True):
            if window_start <= first < window_end:
                totals[first] = totals.get(first, domain.ZERO) + part
    return totals


def _chart(invoice: Invoice, last_day: date) -> Chart:
    firsts = _month_firsts(last_day, CHART_MONTHS)
    billed = _billed_kwh_by_month(invoice, firsts)
    if len(billed) < len(firsts):
        # Months before the first invoice (a new customer) come from the meter's data.
        metered = metering_selectors.monthly_totals(
            supply_point_id=invoice.supply_point_id, today=last_day, months=CHART_MONTHS
        )
        for first, month in zip(firsts, metered, strict=True):
            if first not in billed and month.readings:
                billed[first] = domain.kwh(Decimal(month.wh) / 1000)
    values = [billed.get(first, domain.ZERO) for first in firsts]
    width, height, top, bottom, left = 540, 128, 12, 24, 34
    plot = height - top - bottom
    peak = max([*values, Decimal(1)])
    step = _nice_step(peak)
    scale_max = ((peak / step).to_integral_value(rounding=ROUND_CEILING)) * step
    slot = (width - left) / len(values)
    bar_width = slot * 0.62
    current_months = {
        first
        for first in firsts
        if first < invoice.period_end and domain.add_months(first, 1) > invoice.period_start
    }
    bars = []
    for index, (first, value) in enumerate(zip(firsts, values, strict=True)):
        bar_height = float(value / scale_max) * plot if scale_max else 0.0
        bars.append(
            Bar(
                label=MONTH_ABBR[first.month - 1],
                year=first.year,
                kwh=value,
                current=first in current_months,
                x=round(left + index * slot + (slot - bar_width) / 2, 1),
                y=round(top + plot - bar_height, 1),
                height=round(bar_height, 1),
                cx=round(left + index * slot + slot / 2, 1),
            )
        )
    gridlines = [
        (round(top + plot - float(k * step / scale_max) * plot, 1), int(k * step))
        for k in range(0, int(scale_max / step) + 1)
    ]
    return Chart(
        bars=bars,
        width=width,
        height=height,
        baseline=top + plot,
        bar_width=round(bar_width, 1),
        max_kwh=scale_max,
        gridlines=gridlines,
    )


def _nice_step(peak: Decimal) -> Decimal:
    """A round gridline step giving three to five lines under `peak`."""
    magnitude = Decimal(10) ** (len(str(int(peak))) - 1)
    for factor in (Decimal("0.25"), Decimal("0.5"), Decimal(1), Decimal(2), Decimal(5)):
        if peak / (magnitude * factor) <= 5:
            return max(magnitude * factor, Decimal(1))
    return magnitude * 10


def invoice_document(*, invoice: Invoice) -> InvoiceDocument:
    """Everything an issued invoice or credit note shows, for the PDF and the portal."""
    lines = list(invoice.lines.all())
    last_day = invoice.period_last_day
    dispute_days = int(parameter_get(key="dispute_window_days"))
    bank = BankDetails.objects.filter(account_id=invoice.account_id).only("iban").first()
    is_credit_note = invoice.kind == InvoiceKind.CREDIT_NOTE
    point = invoice.supply_point
    office = company.OFFICES[0]
    return InvoiceDocument(
        invoice=invoice,
        title="Avoir" if is_credit_note else "Facture",
        is_credit_note=is_credit_note,
        amount=abs(invoice.total_gross),
        lines=[
            LineRow(line, line.end - timedelta(days=1), _percent(line.vat_rate)) for line in lines
        ],
        vat_rows=_vat_rows(lines),
        period_last_day=last_day,
        supply_point_label=MARKET_ID_LABEL.get(point.market, point.market),
        comparison=_comparison(invoice),
        chart=_chart(invoice, last_day),
        dispute_days=dispute_days,
        dispute_until=(
            invoice.issue_date + timedelta(days=dispute_days) if invoice.issue_date else None
        ),
        masked_iban=mask_iban(bank.iban) if bank else "",
        supplier={
            "name": "Power Next",
            "legal": "Power Next SA",
            "address": office.address,
            "postcode": office.postcode,
            "city": office.city,
            "phone": company.SUPPORT_PHONE,
            "email": company.SUPPORT_EMAIL,
            "web": "www.powernext.example",
        },
    )


# --- Rendering ----------------------------------------------------------------------------

_kit_lock = threading.Lock()
_kit: tuple | None = None


def render_kit():
    """(FontConfiguration, parsed CSS), built on first use and shared by the process."""
    global _kit
    if _kit is None:
        with _kit_lock:
            if _kit is None:
                from weasyprint import CSS
                from weasyprint.text.fonts import FontConfiguration

                fonts = FontConfiguration()
                _kit = (fonts, CSS(filename=str(STYLESHEET), font_config=fonts))
    return _kit


def invoice_html(*, invoice: Invoice) -> str:
    # Bills are French documents whatever the UI language of whoever triggers them.
    with translation.override("fr"):
        return render_to_string(TEMPLATE, {"doc": invoice_document(invoice=invoice)})


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    fonts, stylesheet = render_kit()
    return HTML(string=html, base_url=str(settings.BASE_DIR / "static")).write_pdf(
        stylesheets=[stylesheet], font_config=fonts
    )


def _renderable(invoice_id: int) -> Invoice:
    invoice = (
        Invoice.objects.select_related("account", "supply_point__premise", "credited_invoice")
        .prefetch_related("lines")
        .get(pk=invoice_id)
    )
    if invoice.status == InvoiceStatus.DRAFT or not invoice.number:
        raise InvoiceNotRenderable(f"Invoice {invoice_id} is a draft.")
    return invoice


def pdf_ready(invoice: Invoice) -> bool:
    return bool(invoice.pdf) and default_storage.exists(invoice.pdf.name)


def invoice_pdf_build(*, invoice_id: int, now: datetime, force: bool = False) -> Invoice:
    """Render and store the invoice's PDF; an existing file is kept unless `force`.

    Raises Invoice.DoesNotExist and InvoiceNotRenderable (a draft)."""
    invoice = _renderable(invoice_id)
    if not force and pdf_ready(invoice):
        return invoice
    data = html_to_pdf(invoice_html(invoice=invoice))
    name = f"private/invoices/{invoice.issue_date:%Y}/{invoice.number}.pdf"
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice_id)
        if not force and pdf_ready(locked):
            return locked  # another worker stored it while this one rendered
        old = locked.pdf.name if locked.pdf else ""
        stored = default_storage.save(name, ContentFile(data))
        try:
            Invoice.objects.filter(pk=invoice_id).update(pdf=stored, pdf_built_at=now)
        except Exception:
            default_storage.delete(stored)  # no orphan file behind a failed write
            raise
        if old and old != stored:
            transaction.on_commit(lambda: default_storage.delete(old))
    locked.pdf.name, locked.pdf_built_at = stored, now
    return locked


def invoice_pdf_ensure(*, invoice: Invoice) -> bool:
    """True if the file can be downloaded now; otherwise ask a worker to build it (once
    per REQUEST_DEDUP_SECONDS whatever the number of reloads) and return False."""
    if invoice.status == InvoiceStatus.DRAFT:
        raise InvoiceNotRenderable(f"Invoice {invoice.pk} is a draft.")
    if pdf_ready(invoice):
        return True
    if cache.add(f"invoice-pdf-requested:{invoice.pk}", 1, REQUEST_DEDUP_SECONDS):
        from celery import current_app

        invoice_id = invoice.pk
        transaction.on_commit(lambda: current_app.tasks[PDF_TASK].delay(invoice_id=invoice_id))
    return False
