"""Load head-end CSV files of hourly interval data.

    manage.py load_intervals FILE [FILE...]

Columns `market,identifier,start_utc,wh[,quality]` with a header; see
`metering.services.ingestion`. Each file is one transaction: a file with any bad line is
rejected whole (its bad lines are listed by line number, the header being line 1) and the
next file is still loaded. Loading a file again changes nothing. Exits with an error if
any file was rejected.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from metering.services.ingestion import IntervalBatchRejected, interval_batch_ingest


class Command(BaseCommand):
    help = "Load CSV files of hourly interval data (market,identifier,start_utc,wh,quality)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--max-errors", type=int, default=100)

    def handle(self, *args, files: list[str], max_errors: int, **options) -> None:
        rejected = []
        for path in files:
            try:
                with open(path, "rb") as source:
                    summary = interval_batch_ingest(source=source, max_errors=max_errors)
            except OSError as exc:
                raise CommandError(f"{path}: {exc}") from exc
            except IntervalBatchRejected as exc:
                rejected.append(path)
                self.stderr.write(f"{path}: rejected, nothing written ({exc})")
                for error in exc.errors:
                    self.stderr.write(f"  line {error.line}: {'; '.join(error.reasons)}")
                continue
            self.stdout.write(f"{path}: {summary}")
        if rejected:
            raise CommandError(f"{len(rejected)} file(s) rejected: {', '.join(rejected)}")
