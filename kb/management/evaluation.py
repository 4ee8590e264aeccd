"""Offline evaluation of self-service on kb/eval/questions.csv (docs/self-service.md,
"Evaluation").

Each row is a customer question with its language and what should answer it: an
article key (an FAQ row) or an intent (a transactional or other non-FAQ row).

- FAQ rows: kb_search is run on the question; top-1 / top-3 accuracy is the share of
  rows whose expected article is the first / among the first three hits. Overall and
  per language.
- Non-FAQ rows: when kb.domain.intents.detect_intent exists, intent accuracy is the
  share of rows whose detected intent is the expected one.
- Containment estimate = (FAQ rows answered at top-k + transactional rows whose intent
  is recognised) / (FAQ rows + transactional rows). Safety, "talk to a person" and
  small-talk rows are left out of both sides: they are meant to reach a person or are
  not requests.
"""

from __future__ import annotations

import csv
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

QUESTION_COLUMNS = ("question", "text", "query")
LANGUAGE_COLUMNS = ("language", "lang")
ARTICLE_COLUMNS = ("expected_article", "article", "article_key", "key")
INTENT_COLUMNS = ("expected_intent", "intent")
EXPECTED_COLUMNS = ("expected",)
FAQ = "FAQ"
# Rows that are not standard requests the bot should settle alone.
NOT_STANDARD = frozenset({"SAFETY", "HUMAN", "GREETING", "THANKS", "SMALL_TALK", "OTHER"})


@dataclass(frozen=True)
class Question:
    text: str
    language: str
    article: str  # expected article key ("" for non-FAQ rows)
    intent: str  # expected intent ("FAQ" for article rows)


@dataclass
class Tally:
    total: int = 0
    top1: int = 0
    top3: int = 0

    def share(self, hits: int) -> float:
        return hits / self.total if self.total else 0.0

    @property
    def top1_accuracy(self) -> float:
        return self.share(self.top1)

    @property
    def top3_accuracy(self) -> float:
        return self.share(self.top3)


@dataclass
class EvalReport:
    faq: Tally = field(default_factory=Tally)
    faq_by_language: dict[str, Tally] = field(default_factory=dict)
    intents_available: bool = False
    intent_total: int = 0
    intent_correct: int = 0
    intent_by_name: dict[str, tuple[int, int]] = field(default_factory=dict)  # (correct, total)
    transactional_total: int = 0
    transactional_recognised: int = 0
    excluded: int = 0  # safety / human / small-talk rows
    misses: list[tuple[Question, list[str]]] = field(default_factory=list)  # FAQ not in top-3

    @property
    def intent_accuracy(self) -> float:
        return self.intent_correct / self.intent_total if self.intent_total else 0.0

    @property
    def standard_total(self) -> int:
        return self.faq.total + self.transactional_total

    def containment(self, k: int) -> float:
        answered = self.faq.top1 if k == 1 else self.faq.top3
        total = self.standard_total
        return (answered + self.transactional_recognised) / total if total else 0.0


def _pick(row: dict[str, str], names: Iterable[str]) -> str:
    for name in names:
        value = row.get(name)
        if value is not None and value.strip():
            return value.strip()
    return ""


def read_questions(path: Path | str, *, intent_names: Iterable[str] = ()) -> list[Question]:
    """Rows of the CSV. Columns: a question (question|text|query), a language
    (language|lang), and either expected_article/expected_intent columns or a single
    `expected` column holding an article key or an intent name (UPPER_CASE)."""
    known_intents = {n.upper() for n in intent_names}
    questions = []
    with Path(path).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            row = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
            text = _pick(row, QUESTION_COLUMNS)
            if not text:
                continue
            article = _pick(row, ARTICLE_COLUMNS)
            intent = _pick(row, INTENT_COLUMNS).upper()
            expected = _pick(row, EXPECTED_COLUMNS)
            if expected and not article and not intent:
                if expected.upper() == expected or expected.upper() in known_intents:
                    intent = expected.upper()
                else:
                    article = expected
            if article and not intent:
                intent = FAQ
            questions.append(
                Question(
                    text=text,
                    language=_pick(row, LANGUAGE_COLUMNS).lower()[:2],
                    article=article,
                    intent=intent,
                )
            )
    return questions


def _detector() -> tuple[Callable | None, frozenset[str]]:
    """kb.domain.intents.detect_intent and its transactional intents, if present."""
    try:
        module = importlib.import_module("kb.domain.intents")
    except ImportError:
        return None, frozenset()
    detect = getattr(module, "detect_intent", None)
    transactional = frozenset(getattr(module, "TRANSACTIONAL", ()))
    return detect, transactional


def evaluate(
    questions: list[Question],
    *,
    search: Callable[..., list],
    detect_intent: Callable | None = None,
    transactional: frozenset[str] = frozenset(),
    guess_language: bool = False,
) -> EvalReport:
    """Count top-1/top-3 hits for FAQ rows (search(query=, language=, limit=3) returns
    hits with a `key`) and intent hits for the others (detect_intent(text).name)."""
    report = EvalReport(intents_available=detect_intent is not None)
    for question in questions:
        if question.article:
            hits = search(
                query=question.text,
                language=None if guess_language else (question.language or None),
                limit=3,
            )
            keys = [hit.key for hit in hits]
            tally = report.faq_by_language.setdefault(question.language or "?", Tally())
            for t in (report.faq, tally):
                t.total += 1
                t.top1 += keys[:1] == [question.article]
                t.top3 += question.article in keys[:3]
            if question.article not in keys[:3]:
                report.misses.append((question, keys))
            continue
        standard = question.intent not in NOT_STANDARD and (
            question.intent in transactional or not transactional
        )
        if standard:
            report.transactional_total += 1
        else:
            report.excluded += 1
        if detect_intent is None:
            continue
        detected = detect_intent(question.text).name
        correct = detected == question.intent
        report.intent_total += 1
        report.intent_correct += correct
        ok, total = report.intent_by_name.get(question.intent, (0, 0))
        report.intent_by_name[question.intent] = (ok + correct, total + 1)
        if standard and correct:
            report.transactional_recognised += 1
    return report


def format_report(report: EvalReport, *, path: str, guess_language: bool) -> list[str]:
    lines = [f"Evaluation set: {path}"]
    mode = "guessed from the question" if guess_language else "given (the row's language)"
    faq = report.faq
    lines.append(f"FAQ questions: {faq.total} (kb_search, limit 3, language {mode})")
    lines.append(
        f"  overall  top-1 {faq.top1_accuracy:.3f} ({faq.top1}/{faq.total})  "
        f"top-3 {faq.top3_accuracy:.3f} ({faq.top3}/{faq.total})"
    )
    for language, tally in sorted(report.faq_by_language.items()):
        lines.append(
            f"  {language:<8} top-1 {tally.top1_accuracy:.3f} ({tally.top1}/{tally.total})  "
            f"top-3 {tally.top3_accuracy:.3f} ({tally.top3}/{tally.total})"
        )
    if report.intents_available:
        lines.append(
            f"Intent questions: {report.intent_total}, accuracy {report.intent_accuracy:.3f} "
            f"({report.intent_correct}/{report.intent_total})"
        )
        for name, (ok, total) in sorted(report.intent_by_name.items()):
            lines.append(f"  {name:<18} {ok}/{total}")
    else:
        lines.append(
            "Intent questions: skipped — kb.domain.intents.detect_intent is not available; "
            "transactional rows count as not settled."
        )
    lines.append(
        "Containment estimate = (FAQ questions answered + transactional questions whose "
        "intent is recognised) / (FAQ questions + transactional questions); safety, "
        f"'talk to a person' and small-talk rows excluded ({report.excluded})."
    )
    total = report.standard_total
    for k in (1, 3):
        answered = faq.top1 if k == 1 else faq.top3
        lines.append(
            f"  FAQ answered in top-{k}: ({answered} + {report.transactional_recognised}) / "
            f"{total} = {report.containment(k):.3f}"
        )
    if report.misses:
        lines.append(f"FAQ questions missed at top-3 ({len(report.misses)}):")
        for question, keys in report.misses:
            lines.append(
                f"  [{question.language}] {question.text!r} expected {question.article}, "
                f"got {', '.join(keys) or 'nothing'}"
            )
    return lines


def run(path: Path | str, *, search: Callable[..., list], guess_language: bool = False):
    """Read the CSV, evaluate with kb.domain.intents when present; (report, lines)."""
    detect, transactional = _detector()
    questions = read_questions(path, intent_names=transactional)
    report = evaluate(
        questions,
        search=search,
        detect_intent=detect,
        transactional=transactional,
        guess_language=guess_language,
    )
    return report, format_report(report, path=str(path), guess_language=guess_language)
