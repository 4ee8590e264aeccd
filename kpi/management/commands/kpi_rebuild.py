"""Rebuild the KPI snapshots of past periods from the raw records.

    manage.py kpi_rebuild --from 2025-10-01 --to 2026-03-31          # days and months
    manage.py kpi_rebuild --from 2026-03-01 --to 2026-03-31 --kind day
    manage.py kpi_rebuild --from 2026-03-01 --kind month               # March 2026

Days are Paris days, each built with its intervals; a month is built when any of its
days is in the range. A rebuild is idempotent: what did not change is not rewritten.
Periods that have not begun are skipped.
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kpi.services import snapshots

KINDS = ("all", "day", "month")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"Not a date (YYYY-MM-DD): {text!r}") from exc


class Command(BaseCommand):
    help = "Rebuild the KPI snapshots (intervals, days, months) of a date range."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="day_from", required=True, help="first day")
        parser.add_argument("--to", dest="day_to", help="last day (default: --from)")
        parser.add_argument("--kind", choices=KINDS, default="all")
        parser.add_argument(
            "--interval-minutes", type=int, choices=(15, 30, 60), help="default: the parameter"
        )

    def handle(self, *args, **options):
        day_from = _date(options["day_from"])
        day_to = _date(options["day_to"]) if options["day_to"] else day_from
        if day_to < day_from:
            raise CommandError("--to is before --from.")
        kind = options["kind"]
        report = snapshots.snapshots_rebuild(
            day_from=day_from,
            day_to=day_to,
            now=timezone.now(),
            days=kind in {"all", "day"},
            months=kind in {"all", "month"},
            interval_minutes=options["interval_minutes"],
        )
        self.stdout.write(
            f"Built {report.periods} periods: {report.cells} cells, "
            f"{report.written} written, {report.removed} removed."
        )
