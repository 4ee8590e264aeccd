"""Invoice PDFs: milliseconds per PDF through the real build against WeasyPrint alone.

Usage: .venv/bin/python bench/invoice_pdf.py [--invoices 200] [--points 10] [--no-kit-sample 20]

Works in its own database `powernext_bench_pdf` (created and migrated if missing) and
writes the files under /tmp/powernext-bench-pdf-media (`MEDIA_ROOT`). The first run writes
`--invoices` issued invoices, `--points` supply points of one account billed month after
month (so the 12-month chart of the later ones comes from their own invoices and that of
the first ones partly from the meter's data, as in production), three lines each, with
bank details so the slip shows a masked IBAN; later runs reuse them.

Printed, in one process and this order:

- cold: importing WeasyPrint, building the shared font configuration and parsed
  stylesheet (`pdf.render_kit`), then the first render, each timed once;
- the floor: `pdf.html_to_pdf` on every invoice's HTML rendered beforehand (no database,
  no template), with the shared kit;
- the real path: `pdf.invoice_pdf_build(force=True)` on every invoice, that is the
  database reads, the template, WeasyPrint, writing the file and recording it. The two
  alternate invoice by invoice, floor first then real first, over two rounds, so that
  a busy moment on the machine weighs on both alike;
- for reference, the template and its database reads alone (`pdf.invoice_html`), and
  WeasyPrint on a sample with a new font configuration and stylesheet each time (what a
  render would cost without the per-process kit).

Each figure is the median (and p95) milliseconds per PDF; the real path is also given as
a ratio to the floor.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powernext.settings.base")
os.environ["DJANGO_DEBUG"] = "0"  # production settings: no query log, as a worker runs
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost")
os.environ.setdefault("MEDIA_ROOT", "/tmp/powernext-bench-pdf-media")
# WeasyPrint logs each of its steps at INFO: ten lines per PDF would bury the figures.
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/powernext_bench_pdf"
)

ACCOUNT_NAME = "Bench PDF"
FIRST_PRM = 61000000000000
LAST_PERIOD = date(2026, 2, 1)


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def alternate(items, first, second, *, rounds: int = 2) -> tuple[list[float], list[float]]:
    """Milliseconds of `first(item)` and `second(item)`, taken in turn item by item, in
    one order and then the other, so that a busy moment weighs on both alike."""
    samples: tuple[list[float], list[float]] = ([], [])
    steps = [(samples[0], first), (samples[1], second)]
    for round_ in range(rounds):
        for item in items:
            for times, fn in steps if round_ % 2 == 0 else reversed(steps):
                t0 = time.perf_counter()
                fn(item)
                times.append((time.perf_counter() - t0) * 1000)
    return samples


def ensure_invoices(*, wanted: int, points: int) -> list[int]:
    """The bench account's issued invoices, written once (as the issuing service would
    leave them: number, totals from billing.domain, lines, last year's kWh)."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.domain import account_number_new
    from accounts.models import Account, BankDetails, Premise, SupplyPoint
    from billing import domain
    from billing.models import Invoice, InvoiceLine

    account = Account.objects.filter(name=ACCOUNT_NAME).first()
    if account is not None:
        ids = list(
            Invoice.objects.filter(account=account, status="ISSUED")
            .order_by("issue_date", "id")
            .values_list("id", flat=True)
        )
        if len(ids) >= wanted:
            return ids[:wanted]
        Invoice.objects.filter(account=account).delete()
    now = timezone.now()
    months = -(-wanted // points)
    with transaction.atomic():
        if account is None:
            account = Account.objects.create(
                number=account_number_new(),
                type="RESIDENTIAL",
                name=ACCOUNT_NAME,
                billing_address="3 place du Banc d'Essai\n69002 Lyon",
                created_at=now,
            )
            BankDetails.objects.create(
                account=account,
                holder_name=ACCOUNT_NAME,
                iban="FR7630006000011234567890189",
                updated_at=now,
            )
        premise = Premise.objects.filter(account=account).first() or Premise.objects.create(
            account=account,
            address="3 place du Banc d'Essai",
            postcode="69002",
            city="Lyon",
            area_class="URBAN",
        )
        sequence = 0
        for p in range(points):
            point, _ = SupplyPoint.objects.get_or_create(
                market="FR_PRM",
                identifier=str(FIRST_PRM + p),
                defaults={"premise": premise, "subscribed_kva": Decimal("9")},
            )
            kwh_by_start: dict[date, Decimal] = {}
            for back in range(months - 1, -1, -1):
                if sequence == wanted:
                    break
                sequence += 1
                start = domain.add_months(LAST_PERIOD, -back)
                end = domain.add_months(start, 1)
                kwh = Decimal(180 + 40 * abs(7 - start.month) + 3 * p)
                kwh_by_start[start] = kwh
                _invoice(
                    point,
                    number=f"FA-{end.year}-8{sequence:05d}",
                    start=start,
                    end=end,
                    kwh=kwh,
                    last_year=kwh_by_start.get(domain.add_months(start, -12)),
                    now=now,
                    Invoice=Invoice,
                    InvoiceLine=InvoiceLine,
                )
    return list(
        Invoice.objects.filter(account=account, status="ISSUED")
        .order_by("issue_date", "id")
        .values_list("id", flat=True)
    )


def _invoice(point, *, number, start, end, kwh, last_year, now, Invoice, InvoiceLine):
    from billing import domain

    days = (end - start).days
    specs = [
        ("STANDING", "Abonnement", Decimal(days), "jour", Decimal("0.51000"), Decimal("0.20")),
        ("ENERGY_BASE", "Consommation (base)", kwh, "kWh", Decimal("0.19520"), Decimal("0.20")),
        ("EXCISE", "Accise sur l'électricité", kwh, "kWh", Decimal("0.02980"), Decimal("0.20")),
    ]
    lines = [
        domain.Line(kind, label, qty, unit, price, domain.money(qty * price), rate, start, end)
        for kind, label, qty, unit, price, rate in specs
    ]
    totals = domain.totals(lines)
    issue = end + timedelta(days=2)
    invoice = Invoice.objects.create(
        kind="INVOICE",
        number=number,
        status="ISSUED",
        account=point.premise.account,
        supply_point=point,
        period_start=start,
        period_end=end,
        issue_date=issue,
        due_date=issue + timedelta(days=14),
        tariff_name="Tarif Base",
        consumption_kwh=kwh,
        last_year_kwh=last_year,
        total_net=totals.net,
        total_vat=totals.vat,
        total_gross=totals.gross,
        created_at=now,
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=i,
            kind=line.kind,
            label=line.label,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            amount=line.amount,
            vat_rate=line.vat_rate,
            start=start,
            end=end,
        )
        for i, line in enumerate(lines, start=1)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--no-kit-sample", type=int, default=20)
    args = parser.parse_args()
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ensure_database.py")], check=True, env=os.environ
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from billing.models import Invoice
    from billing.services import pdf

    call_command("migrate", verbosity=0)
    ids = ensure_invoices(wanted=args.invoices, points=args.points)
    print(f"{len(ids)} issued invoices, {args.points} supply points, files in "
          f"{os.environ['MEDIA_ROOT']}")  # fmt: skip

    def load(invoice_id: int) -> Invoice:
        return (
            Invoice.objects.select_related("account", "supply_point__premise", "credited_invoice")
            .prefetch_related("lines")
            .get(pk=invoice_id)
        )

    # The HTML of every invoice, rendered before anything is timed, for the floor. The
    # template is rendered twice so that its compilation is not in the reference figure.
    pdf.invoice_html(invoice=load(ids[0]))
    htmls, html_ms = [], []
    for invoice_id in ids:
        invoice = load(invoice_id)
        t0 = time.perf_counter()
        htmls.append(pdf.invoice_html(invoice=invoice))
        html_ms.append((time.perf_counter() - t0) * 1000)

    # Cold: nothing of WeasyPrint is loaded yet in this process.
    assert "weasyprint" not in sys.modules, "something imported WeasyPrint at start-up"
    t0 = time.perf_counter()
    import weasyprint  # noqa: F401

    t1 = time.perf_counter()
    pdf.render_kit()
    t2 = time.perf_counter()
    first = pdf.html_to_pdf(htmls[0])
    t3 = time.perf_counter()
    assert first.startswith(b"%PDF")
    import_ms, kit_ms, first_ms = (t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000

    now = timezone.now()
    floor_ms, real_ms = alternate(
        list(zip(ids, htmls, strict=True)),
        lambda pair: pdf.html_to_pdf(pair[1]),
        lambda pair: pdf.invoice_pdf_build(invoice_id=pair[0], now=now, force=True),
    )

    def without_kit(html: str) -> bytes:
        from weasyprint import CSS, HTML
        from weasyprint.text.fonts import FontConfiguration

        fonts = FontConfiguration()
        stylesheet = CSS(filename=str(pdf.STYLESHEET), font_config=fonts)
        return HTML(string=html, base_url=str(settings.BASE_DIR / "static")).write_pdf(
            stylesheets=[stylesheet], font_config=fonts
        )

    sample = htmls[: args.no_kit_sample]
    no_kit, shared_sample = alternate(sample, without_kit, pdf.html_to_pdf)

    floor, floor_p95 = stats(floor_ms)
    real_median, real_p95 = stats(real_ms)
    html_median, html_p95 = stats(html_ms)
    no_kit_median, _ = stats(no_kit)
    shared_median, _ = stats(shared_sample)
    built = Invoice.objects.filter(pk__in=ids, pdf_built_at=now).count()
    assert built == len(ids), f"only {built} of {len(ids)} invoices recorded their file"

    print()
    print("cold, once per process:")
    print(f"  import weasyprint                               {import_ms:8.0f} ms")
    print(f"  shared kit: FontConfiguration + parsed CSS      {kit_ms:8.0f} ms")
    print(f"  first render                                    {first_ms:8.0f} ms")
    print(
        f"  first PDF of a fresh worker in all              {import_ms + kit_ms + first_ms:8.0f} ms"
        f"  = {(import_ms + kit_ms + first_ms) / floor:.1f} x a warm render"
    )
    print()
    print(f"per PDF, {len(ids)} invoices x 2 rounds        median       p95")
    print(f"  floor: WeasyPrint on ready HTML, shared kit {floor:8.1f} ms {floor_p95:8.1f} ms")
    print(
        f"  real: invoice_pdf_build(force=True)          {real_median:8.1f} ms {real_p95:8.1f} ms"
        f"   = {real_median / floor:.2f} x the floor"
    )
    print(
        f"  reference: invoice_html (reads + template)   {html_median:8.1f} ms {html_p95:8.1f} ms"
    )
    print()
    print(f"shared kit effect, same {len(sample)} invoices x 2 rounds (median):")
    print(f"  new FontConfiguration + CSS every render     {no_kit_median:8.1f} ms")
    print(
        f"  shared per-process kit                       {shared_median:8.1f} ms"
        f"   ({no_kit_median - shared_median:.1f} ms saved per PDF, "
        f"{no_kit_median / shared_median:.2f} x faster)"
    )
    print(f"  PDF size: {len(first) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
