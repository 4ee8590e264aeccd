"""Import contact records from a CSV file (the columns of docs/telephony-cdr.md).

    manage.py import_cdr /path/to/cdr-2026-03.csv [--batch 5000]

The file is read as a stream and handed to `tickets.services.contacts_ingest` in batches,
so a file of millions of lines never sits in memory. The import is idempotent: running it
again on the same file (or on a file that overlaps one already imported) inserts only the
records not yet stored. Bad lines are reported with their line number and skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import islice

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tickets import services
from tickets.domain.contacts import FIELDS

# Lines of errors printed before the rest are only counted.
ERRORS_SHOWN = 200


def _batches(reader: csv.DictReader, size: int) -> Iterator[list[dict]]:
    while batch := list(islice(reader, size)):
        yield batch


class Command(BaseCommand):
    help = "Import contact records (CDRs) from a CSV file, idempotently."

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file, UTF-8, with a header line")
        parser.add_argument(
            "--batch",
            type=int,
            default=services.CONTACT_BATCH_MAX,
            help=f"records per transaction (1 to {services.CONTACT_BATCH_MAX})",
        )

    def handle(self, *args, path: str, batch: int, **options):
        if not 1 <= batch <= services.CONTACT_BATCH_MAX:
            raise CommandError(f"--batch must be between 1 and {services.CONTACT_BATCH_MAX}.")
        try:
            # utf-8-sig: a spreadsheet's export starts with a byte-order mark.
            handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
        totals = {"inserted": 0, "duplicates": 0, "rejected": 0, "warnings": 0}
        shown = 0
        with handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = {"external_id", "queue", "offered_at"} - set(header)
            if missing:
                raise CommandError(f"Missing columns: {', '.join(sorted(missing))}.")
            unknown = [name for name in header if name not in FIELDS]
            if unknown:
                self.stderr.write(f"Ignored columns: {', '.join(unknown)}")
            first_line = 2  # line 1 is the header
            try:
                for rows in _batches(reader, batch):
                    result = services.contacts_ingest(rows=rows, source="CSV", now=timezone.now())
                    totals["inserted"] += result.inserted
                    totals["duplicates"] += result.duplicates
                    totals["rejected"] += result.rejected
                    totals["warnings"] += len(result.warnings)
                    problems = [("error", p) for p in result.errors] + [
                        ("warning", p) for p in result.warnings
                    ]
                    for kind, problem in problems:
                        if shown < ERRORS_SHOWN:
                            self.stderr.write(
                                f"line {first_line + problem['index']}: {kind}: "
                                f"{problem['field']}: {problem['message']}"
                            )
                        shown += 1
                    first_line += len(rows)
            except (UnicodeDecodeError, csv.Error) as exc:
                raise CommandError(f"{path} is not a readable UTF-8 CSV file: {exc}") from exc
        if shown > ERRORS_SHOWN:
            self.stderr.write(f"… and {shown - ERRORS_SHOWN} more.")
        self.stdout.write(
            "{inserted} inserted, {duplicates} duplicates, {rejected} rejected, "
            "{warnings} warnings".format(**totals)
        )
