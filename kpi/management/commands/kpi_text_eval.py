"""Precision and recall of the text analytics on a labelled CSV (docs/kpi-text.md).

    manage.py kpi_text_eval                                  # the sample shipped with the tests
    manage.py kpi_text_eval --csv my_sample.csv --errors     # and list every mistake
    manage.py kpi_text_eval --split holdout --min-precision 0.85

Columns: language (fr/en), role (customer/agent), text, labels (none, or negative,
callback, forbidden joined by "|"), and optionally deadline and split. The figures come
from kpi.domain.text.evaluate, the function the tests assert on.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kpi.domain import text

DEFAULT_SAMPLE = Path(settings.BASE_DIR) / "tests" / "fixtures" / "kpi_text_sample.csv"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


class Command(BaseCommand):
    help = "Precision and recall of the text analytics detectors on a labelled CSV."

    def add_arguments(self, parser):
        parser.add_argument("--csv", default=str(DEFAULT_SAMPLE), help="labelled CSV file")
        parser.add_argument("--split", help="only the rows of this split (e.g. holdout)")
        parser.add_argument("--errors", action="store_true", help="list every mistake")
        parser.add_argument(
            "--min-precision",
            type=float,
            help="fail (exit 1) if a detector's precision in a language is below this",
        )

    def handle(self, *args, **options):
        path = Path(options["csv"])
        try:
            with path.open(encoding="utf-8", newline="") as f:
                samples = text.parse_sample(f)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        except text.SampleError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        if options["split"]:
            samples = [s for s in samples if s.split == options["split"]]
        if not samples:
            raise CommandError("No rows to evaluate.")
        result = text.evaluate(samples)
        out = self.stdout
        out.write(f"{len(samples)} messages from {path.name}")
        out.write(
            f"{'detector':<10} {'lang':<5} {'TP':>4} {'FP':>4} {'FN':>4} "
            f"{'precision':>10} {'recall':>8}"
        )
        failed = []
        for detector in text.DETECTORS:
            rows = [(lang, result.counts[(detector, lang)]) for lang in text.LANGUAGES]
            rows.append(("all", result.overall(detector)))
            for lang, c in rows:
                out.write(
                    f"{detector:<10} {lang:<5} {c.tp:>4} {c.fp:>4} {c.fn:>4} "
                    f"{_pct(c.precision):>10} {_pct(c.recall):>8}"
                )
                minimum = options["min_precision"]
                if minimum is not None and lang != "all" and (c.precision or 0) < minimum:
                    failed.append(f"{detector}/{lang}")
        out.write(
            f"language detection: {_pct(result.language_accuracy)} "
            f"({result.language_right}/{result.language_total}); callback deadline: "
            f"{_pct(result.deadline_accuracy)} ({result.deadline_right}/{result.deadline_total})"
        )
        if options["errors"]:
            for m in result.mistakes:
                a = m.analysis
                why = (
                    f"score {a.sentiment.score} {list(a.sentiment.evidence)}"
                    if a.sentiment
                    else f"promise {a.promise.evidence if a.promise else None!r} "
                    f"forbidden {list(a.forbidden)}"
                )
                out.write(
                    f"- {m.detector} {m.kind} [{m.sample.language}] {m.sample.text!r} ({why})"
                )
        if failed:
            raise CommandError(f"Precision below {options['min_precision']}: {', '.join(failed)}")
