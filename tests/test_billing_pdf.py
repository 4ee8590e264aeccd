"""Invoice PDFs: what the document says (read back with pdftotext), the chart, the credit
note, the shared stylesheet, idempotent builds and the task."""

import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import BankDetails, SupplyPoint
from billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from billing.services import pdf
from tests.factories import AccountFactory, PremiseFactory

PARIS = ZoneInfo("Europe/Paris")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "pdf"

# --- Test data: issued invoices written directly, as the issuing service would ---------


def make_point(account=None, *, identifier="09876543210123", market="FR_PRM"):
    account = account or AccountFactory(
        name="Claire Devaux", billing_address="12 rue Oberkampf\n75011 Paris"
    )
    premise = PremiseFactory(
        account=account, address="12 rue Oberkampf", postcode="75011", city="Paris"
    )
    return SupplyPoint.objects.create(
        premise=premise, market=market, identifier=identifier, subscribed_kva=Decimal("9")
    )


def make_invoice(
    point,
    *,
    number="FA-2026-000042",
    kind=InvoiceKind.INVOICE,
    status=InvoiceStatus.ISSUED,
    period=(date(2026, 2, 1), date(2026, 3, 1)),
    issue_date=date(2026, 3, 3),
    kwh=Decimal("412.000"),
    last_year_kwh=Decimal("455.000"),
    estimated=False,
    credited=None,
    sign=1,
):
    """An invoice of `kwh` on the Base tariff: standing charge (5.5 %), energy and
    excise (20 %), totals computed the way billing.domain computes them."""
    start, end = period
    days = (end - start).days
    lines = [
        ("STANDING", "Abonnement", Decimal(days), "jour", Decimal("0.51000"), Decimal("0.055")),
        ("ENERGY_BASE", "Consommation (base)", kwh, "kWh", Decimal("0.19520"), Decimal("0.20")),
        ("EXCISE", "Accise sur l'électricité", kwh, "kWh", Decimal("0.02570"), Decimal("0.20")),
    ]
    from billing import domain

    amounts = [domain.money(q * p) for _k, _l, q, _u, p, _r in lines]
    rows = [
        domain.Line(k, label, q, unit, p, a, r, start, end)
        for (k, label, q, unit, p, r), a in zip(lines, amounts, strict=True)
    ]
    totals = domain.totals(rows)
    invoice = Invoice.objects.create(
        kind=kind,
        number=number,
        status=status,
        account=point.premise.account,
        supply_point=point,
        period_start=start,
        period_end=end,
        issue_date=issue_date,
        due_date=issue_date and date.fromordinal(issue_date.toordinal() + 14),
        estimated=estimated,
        tariff_name="Base 9 kVA",
        consumption_kwh=kwh * sign,
        last_year_kwh=last_year_kwh,
        total_net=totals.net * sign,
        total_vat=totals.vat * sign,
        total_gross=totals.gross * sign,
        credited_invoice=credited,
        created_at=timezone.now(),
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=i,
            kind=row.kind,
            label=row.label,
            quantity=row.quantity * sign,
            unit=row.unit,
            unit_price=row.unit_price,
            amount=row.amount * sign,
            vat_rate=row.vat_rate,
            start=start,
            end=end,
        )
        for i, row in enumerate(rows, start=1)
    )
    return invoice


def make_history(point, *, months=11, last=date(2026, 2, 1)):
    """Monthly invoices before `last`, consumption rising into winter."""
    from billing import domain

    out = []
    for back in range(months, 0, -1):
        start = domain.add_months(last, -back)
        out.append(
            make_invoice(
                point,
                number=f"FA-{start.year}-9{back:05d}",
                period=(start, domain.add_months(start, 1)),
                issue_date=domain.add_months(start, 1),
                kwh=Decimal(200 + 25 * abs(6 - start.month) * 2),
                last_year_kwh=None,
            )
        )
    return out


def pdf_text(data: bytes) -> str:
    result = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    return result.stdout.decode()


def pdf_pages(data: bytes) -> int:
    result = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True)
    line = next(x for x in result.stdout.decode().splitlines() if x.startswith("Pages:"))
    return int(line.split()[1])


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def keep(name: str, data: bytes) -> None:
    """Leave the PDF where a human can look at it (and pdftoppm can draw it)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(data)


# --- The document -----------------------------------------------------------------------

NOW = datetime(2026, 3, 3, 9, 0, tzinfo=PARIS)


@pytest.mark.django_db
def test_invoice_pdf_says_number_supply_point_total_and_what_a_bill_must_show():
    point = make_point()
    BankDetails.objects.create(
        account=point.premise.account,
        holder_name="Claire Devaux",
        iban="FR7630006000011234567890189",
        updated_at=NOW,
    )
    make_history(point)
    invoice = make_invoice(point)

    built = pdf.invoice_pdf_build(invoice_id=invoice.pk, now=NOW)

    data = built.pdf.read()
    keep("invoice.pdf", data)
    text = pdf_text(data)
    flat = " ".join(text.split())
    assert data.startswith(b"%PDF")
    assert pdf_pages(data) == 1
    assert "FA-2026-000042" in flat
    assert "09876543210123" in flat
    assert f"{invoice.total_gross}".replace(".", ",") in flat
    assert "Facture" in flat and "Avoir" not in flat.split("Médiateur")[0]
    # Due date, tariff, reading basis, period (last day included), supplier contact.
    assert "17/03/2026" in flat
    assert "Base 9 kVA" in flat
    assert "index réels" in flat
    assert "du 01/02/2026 au 28/02/2026" in flat
    assert "+33 1 23 45 67 89" in flat
    # Comparison with last year, disputes, the ombudsman, the slip with a masked IBAN.
    assert "455 kWh" in flat and "-9 %" in flat
    assert "60 jours" in flat and "02/05/2026" in flat
    assert "Médiateur national de l'énergie" in flat
    assert (
        "www.energie-mediateur.fr" in flat and "Libre réponse 59252, 75443 Paris Cedex 09" in flat
    )
    assert "gratuit" in flat and "indépendant" in flat
    assert "FR76 •••• •••• 0189" in flat and "7630006000011234567890189" not in flat
    assert point.premise.account.number in flat
    # VAT per rate, each rounded once on its base.
    assert "5,5 %" in flat and "20 %" in flat
    assert built.pdf_built_at == NOW


@pytest.mark.django_db
def test_estimated_invoice_says_so_and_without_bank_details_offers_other_ways_to_pay():
    invoice = make_invoice(make_point(), estimated=True, last_year_kwh=None)
    text = " ".join(
        pdf_text(pdf.invoice_pdf_build(invoice_id=invoice.pk, now=NOW).pdf.read()).split()
    )
    assert "index estimés" in text
    assert "Virement" in text and "••••" not in text
    assert "Pas encore de comparaison" in text


@pytest.mark.django_db
def test_credit_note_is_titled_avoir_and_references_the_credited_invoice():
    point = make_point()
    original = make_invoice(point, status=InvoiceStatus.CANCELLED)
    credit = make_invoice(
        point,
        number="AV-2026-000007",
        kind=InvoiceKind.CREDIT_NOTE,
        credited=original,
        sign=-1,
        last_year_kwh=None,
    )
    data = pdf.invoice_pdf_build(invoice_id=credit.pk, now=NOW).pdf.read()
    keep("credit-note.pdf", data)
    text = " ".join(pdf_text(data).split())
    assert "Power Next" in text and "Avoir" in text
    assert "AV-2026-000007" in text
    assert "Annule et remplace la facture FA-2026-000042" in text
    assert "montant en votre faveur" in text.lower()
    assert f"{abs(credit.total_gross)}".replace(".", ",") in text
    assert "Talon de paiement" not in text  # nothing to pay


def test_gridline_steps_are_round():
    assert pdf._nice_step(Decimal(412)) == Decimal(100)
    assert pdf._nice_step(Decimal(38)) == Decimal(10)
    assert pdf._nice_step(Decimal(1)) == Decimal(1)
    assert pdf._nice_step(Decimal(2600)) == Decimal(1000)


@pytest.mark.django_db
def test_chart_is_inline_svg_with_twelve_bars_from_the_invoices_of_the_supply_point():
    point = make_point()
    other = make_point(point.premise.account, identifier="11111111111111")
    make_history(point)
    make_invoice(other, number="FA-2026-000001", kwh=Decimal(9999))  # another meter
    invoice = make_invoice(point)

    html = pdf.invoice_html(invoice=Invoice.objects.get(pk=invoice.pk))

    assert html.count('data-chart="consumption"') == 1
    svg = html[
        html.index("<svg", html.index('class="chart"')) : html.index(
            "</svg>", html.index('class="chart"')
        )
    ]
    assert svg.count("<rect") == 12
    assert "févr. 2026 : 412 kWh" in svg  # the current month, from this invoice
    assert "mars 2025 : 350 kWh" in svg  # 200 + 25 × |6 − 3| × 2
    assert "9999" not in svg
    # Coordinates are plain numbers whatever the language's decimal separator.
    assert ",5" not in svg.split("<title")[0] and 'y="' in svg


@pytest.mark.django_db
def test_a_two_month_bill_fills_two_bars_pro_rata_to_days():
    point = make_point()
    invoice = make_invoice(
        point, period=(date(2026, 1, 1), date(2026, 3, 1)), kwh=Decimal("590.000")
    )
    chart = pdf.invoice_document(invoice=invoice).chart
    bars = {(b.label, b.year): b for b in chart.bars}
    assert bars[("janv.", 2026)].kwh == Decimal("310.000")  # 31 of 59 days
    assert bars[("févr.", 2026)].kwh == Decimal("280.000")  # the remainder
    assert bars[("janv.", 2026)].current and bars[("févr.", 2026)].current
    assert not bars[("déc.", 2025)].current and bars[("déc.", 2025)].kwh == 0


@pytest.mark.django_db
def test_months_before_the_first_invoice_come_from_the_meter():
    from django.db import connection

    point = make_point()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_interval (supply_point_id, start, wh, quality) "
            "SELECT %s, g, 5000, 0 FROM generate_series("
            "'2025-12-01 12:00+00'::timestamptz, '2025-12-10 12:00+00', interval '1 day') g",
            [point.pk],
        )
    invoice = make_invoice(point)
    bars = {(b.label, b.year): b.kwh for b in pdf.invoice_document(invoice=invoice).chart.bars}
    assert bars[("déc.", 2025)] == Decimal("50.000")
    assert bars[("févr.", 2026)] == Decimal("412.000")
    assert bars[("nov.", 2025)] == 0


@pytest.mark.django_db
def test_a_draft_gets_no_pdf():
    invoice = make_invoice(make_point(), status=InvoiceStatus.DRAFT, number=None)
    with pytest.raises(pdf.InvoiceNotRenderable):
        pdf.invoice_pdf_build(invoice_id=invoice.pk, now=NOW)
    invoice.refresh_from_db()
    assert not invoice.pdf and invoice.pdf_built_at is None


# --- Building: once, then kept ------------------------------------------------------------


@pytest.mark.django_db
def test_build_is_idempotent_and_force_replaces_the_file():
    invoice = make_invoice(make_point())
    first = pdf.invoice_pdf_build(invoice_id=invoice.pk, now=NOW)
    later = datetime(2026, 3, 4, 9, 0, tzinfo=PARIS)

    again = pdf.invoice_pdf_build(invoice_id=invoice.pk, now=later)
    assert again.pdf.name == first.pdf.name and again.pdf_built_at == NOW

    forced = pdf.invoice_pdf_build(invoice_id=invoice.pk, now=later)
    assert forced.pdf_built_at == NOW  # still not forced
    with pytest.MonkeyPatch.context() as mp:
        calls = []
        mp.setattr(pdf, "html_to_pdf", lambda html: calls.append(html) or b"%PDF-1.7 forced")
        forced = pdf.invoice_pdf_build(invoice_id=invoice.pk, now=later, force=True)
    assert calls and forced.pdf_built_at == later
    invoice.refresh_from_db()
    assert invoice.pdf.read() == b"%PDF-1.7 forced"


@pytest.mark.django_db
def test_a_missing_file_is_rebuilt_even_though_the_name_is_recorded():
    invoice = pdf.invoice_pdf_build(invoice_id=make_invoice(make_point()).pk, now=NOW)
    default_storage.delete(invoice.pdf.name)
    rebuilt = pdf.invoice_pdf_build(invoice_id=invoice.pk, now=NOW)
    assert default_storage.exists(rebuilt.pdf.name)


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_keep_one_file(settings):
    import threading

    from django.db import connection

    invoice = make_invoice(make_point())
    barrier = threading.Barrier(2)
    real = pdf.html_to_pdf
    results, errors = [], []

    def slow(html):
        data = real(html)
        barrier.wait(timeout=20)  # both have rendered before either stores
        return data

    def work():
        try:
            results.append(pdf.invoice_pdf_build(invoice_id=invoice.pk, now=NOW).pdf.name)
        except Exception as exc:  # noqa: BLE001 - a thread must hand any failure back to the test
            errors.append(exc)
        finally:
            connection.close()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pdf, "html_to_pdf", slow)
        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert len(set(results)) == 1
    stored = list((Path(settings.MEDIA_ROOT) / "private" / "invoices" / "2026").iterdir())
    assert [p.name for p in stored] == ["FA-2026-000042.pdf"]


@pytest.mark.django_db
def test_stylesheet_and_fonts_are_built_once_per_process(monkeypatch):
    import weasyprint

    monkeypatch.setattr(pdf, "_kit", None)
    parsed = []
    real_css = weasyprint.CSS
    monkeypatch.setattr(weasyprint, "CSS", lambda **kw: parsed.append(kw) or real_css(**kw))
    first = pdf.render_kit()
    pdf.html_to_pdf("<p>un</p>")
    pdf.html_to_pdf("<p>deux</p>")
    assert pdf.render_kit() is first
    assert len(parsed) == 1


@pytest.mark.django_db
def test_build_at_the_daylight_saving_change_records_the_instant():
    instant = datetime(2026, 3, 29, 3, 30, tzinfo=PARIS)  # 01:30 UTC, just after the change
    invoice = make_invoice(make_point(), issue_date=date(2026, 3, 29))
    with time_machine.travel(instant, tick=False):
        built = pdf.invoice_pdf_build(invoice_id=invoice.pk, now=timezone.now())
    assert built.pdf_built_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert built.pdf.name == "private/invoices/2026/FA-2026-000042.pdf"
    text = " ".join(pdf_text(built.pdf.read()).split())
    assert "12/04/2026" in text  # due 14 days later, a calendar date unaffected by the hour


# --- The task -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_task_builds_once_and_replays_keep_the_file():
    from billing.tasks import invoice_pdf_task

    invoice = make_invoice(make_point())
    with time_machine.travel(NOW, tick=False):
        name = invoice_pdf_task.run(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    built_at = invoice.pdf_built_at
    with time_machine.travel(datetime(2026, 3, 5, tzinfo=PARIS), tick=False):
        assert invoice_pdf_task.run(invoice_id=invoice.pk) == name
    invoice.refresh_from_db()
    assert invoice.pdf.name == name and invoice.pdf_built_at == built_at == NOW
    assert invoice_pdf_task.run(invoice_id=invoice.pk + 1000) == "missing"
    draft = make_invoice(make_point(identifier="22222222222222"), status="DRAFT", number=None)
    assert invoice_pdf_task.run(invoice_id=draft.pk) == "draft"


def test_task_is_registered_with_late_acks():
    from celery import current_app

    task = current_app.tasks["billing.tasks.invoice_pdf_task"]
    assert task.acks_late is True
