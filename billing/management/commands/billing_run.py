"""Start a billing run: `manage.py billing_run --from 2026-03-01 --to 2026-04-01`."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.services.invoices import InvoiceError, billing_run_start


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from exc


class Command(BaseCommand):
    help = "Bill every supply point with a tariff in [--from, --to) (the end is exclusive)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD, inclusive")
        parser.add_argument("--to", dest="end", required=True, help="YYYY-MM-DD, exclusive")

    def handle(self, *args, start: str, end: str, **options):
        try:
            run = billing_run_start(
                period_start=_day(start), period_end=_day(end), now=timezone.now()
            )
        except InvoiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Billing run {run.pk}: {run.planned} supply points queued.")
