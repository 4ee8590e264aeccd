"""The evaluation set (kb/eval/questions.csv) and the kb_eval command: counting checked on
a hand-made CSV with a stub search, and the shipped set's top-3 accuracy asserted."""

from dataclasses import dataclass
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import Role
from kb.management import evaluation
from kb.selectors.articles import kb_search
from kb.services.articles import kb_content_sync

SHIPPED = Path(__file__).resolve().parent.parent / "kb" / "eval" / "questions.csv"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

TINY = """question,language,expected_intent,expected_article
facture,fr,FAQ,bill
panne,fr,FAQ,outage
compteur,fr,FAQ,meter
bill,en,FAQ,bill
what is my balance,en,BALANCE,
solde,fr,BALANCE,
smoke,en,SAFETY,
bonjour,fr,GREETING,
"""

# query -> keys the stub search returns, best first
STUB_RESULTS = {
    "facture": ["bill", "x", "y"],  # top-1
    "panne": ["x", "outage"],  # top-3 only
    "compteur": ["x", "y", "z"],  # miss
    "bill": ["bill"],  # top-1
}


@dataclass(frozen=True)
class Hit:
    key: str


def stub_search(*, query, language, limit):
    assert limit == 3
    return [Hit(k) for k in STUB_RESULTS[query]]


@dataclass(frozen=True)
class Detected:
    name: str


def stub_detect(text):
    return Detected({"what is my balance": "BALANCE", "smoke": "SAFETY"}.get(text, "FAQ"))


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "questions.csv"
    path.write_text(TINY, encoding="utf-8")
    return evaluation.read_questions(path)


def test_read_questions(tiny):
    assert len(tiny) == 8
    assert tiny[0] == evaluation.Question("facture", "fr", "bill", "FAQ")
    assert tiny[4] == evaluation.Question("what is my balance", "en", "", "BALANCE")


def test_counting_with_intents(tiny):
    report = evaluation.evaluate(
        tiny,
        search=stub_search,
        detect_intent=stub_detect,
        transactional=frozenset({"BALANCE"}),
    )
    assert (report.faq.total, report.faq.top1, report.faq.top3) == (4, 2, 3)
    assert report.faq.top1_accuracy == 0.5 and report.faq.top3_accuracy == 0.75
    fr = report.faq_by_language["fr"]
    en = report.faq_by_language["en"]
    assert (fr.total, fr.top1, fr.top3) == (3, 1, 2)
    assert (en.total, en.top1, en.top3) == (1, 1, 1)
    # Intents: balance (en) right, solde wrong, smoke right, bonjour wrong (FAQ).
    assert (report.intent_total, report.intent_correct) == (4, 2)
    assert report.intent_by_name == {"BALANCE": (1, 2), "SAFETY": (1, 1), "GREETING": (0, 1)}
    # Containment over FAQ + transactional rows (4 + 2), safety/greeting excluded.
    assert (report.transactional_total, report.transactional_recognised, report.excluded) == (
        2,
        1,
        2,
    )
    assert report.containment(1) == pytest.approx((2 + 1) / 6)
    assert report.containment(3) == pytest.approx((3 + 1) / 6)
    assert [q.text for q, _ in report.misses] == ["compteur"]
    lines = "\n".join(evaluation.format_report(report, path="tiny.csv", guess_language=False))
    assert "top-1 0.500 (2/4)  top-3 0.750 (3/4)" in lines
    assert "(3 + 1) / 6 = 0.667" in lines
    assert "Containment estimate = (FAQ questions answered" in lines


def test_counting_without_intent_detector(tiny):
    report = evaluation.evaluate(tiny, search=stub_search)
    assert not report.intents_available and report.intent_total == 0
    assert report.transactional_recognised == 0
    assert report.containment(3) == pytest.approx(3 / report.standard_total)
    lines = "\n".join(evaluation.format_report(report, path="tiny.csv", guess_language=False))
    assert "skipped" in lines


def test_language_is_given_or_guessed(tiny):
    seen = []

    def search(*, query, language, limit):
        seen.append(language)
        return stub_search(query=query, language=language, limit=limit)

    evaluation.evaluate(tiny, search=search)
    assert seen == ["fr", "fr", "fr", "en"]
    seen.clear()
    evaluation.evaluate(tiny, search=search, guess_language=True)
    assert seen == [None, None, None, None]


def test_shipped_set_is_big_and_bilingual():
    questions = evaluation.read_questions(SHIPPED)
    assert len(questions) >= 150
    assert {q.language for q in questions} == {"fr", "en"}
    faq_keys = {q.article for q in questions if q.article}
    content = Path(SHIPPED).parent.parent / "content"
    for key in faq_keys:
        assert (content / f"{key}.fr.md").exists() and (content / f"{key}.en.md").exists(), key


@pytest.mark.django_db
def test_shipped_set_top3_accuracy(make_user):
    make_user(Role.ADMIN)
    kb_content_sync(now=NOW)
    report, lines = evaluation.run(SHIPPED, search=kb_search)
    print("\n".join(lines))
    assert report.faq.total >= 100
    assert report.faq.top3_accuracy >= 0.85, "\n".join(lines)
    for language in ("fr", "en"):
        assert report.faq_by_language[language].top3_accuracy >= 0.8
    guessed, _ = evaluation.run(SHIPPED, search=kb_search, guess_language=True)
    assert guessed.faq.top3_accuracy >= 0.85


@pytest.mark.django_db
def test_kb_eval_command_prints_the_figures(make_user):
    make_user(Role.ADMIN)
    kb_content_sync(now=NOW)
    out = StringIO()
    call_command("kb_eval", stdout=out)
    text = out.getvalue()
    assert "top-1" in text and "top-3" in text
    assert "Containment estimate" in text
    assert "  fr " in text and "  en " in text
