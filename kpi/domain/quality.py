"""QA scoring rules, in plain Python (docs/kpi-quality.md).

A checklist is a list of criteria, each with a whole weight and a "critical" flag. A
review answers every criterion with met, not met or not applicable:

    score % = 100 × Σ weight(met) / Σ weight(met or not met)

Not-applicable criteria leave both sums. A critical criterion answered "not met" sets the
score to 0 whatever the rest: one unsafe call is not offset by a friendly greeting. A
review with every criterion not applicable has no score (None), not 100.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

MET = "MET"
NOT_MET = "NOT_MET"
NOT_APPLICABLE = "NA"
ANSWERS = (MET, NOT_MET, NOT_APPLICABLE)

MAX_WEIGHT = 10
HUNDREDTH = Decimal("0.01")


class QualityRuleError(ValueError):
    """Base of the rule violations below."""


class UnansweredCriteria(QualityRuleError):
    def __init__(self, keys: Sequence[Hashable]):
        super().__init__(f"unanswered criteria: {list(keys)}")
        self.keys = list(keys)


class InvalidChecklist(QualityRuleError):
    """`errors` maps a criterion's position (or None for the whole list) to a reason."""

    def __init__(self, errors: dict[int | None, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Criterion:
    key: Hashable
    weight: int
    critical: bool = False


@dataclass(frozen=True)
class Score:
    percent: Decimal | None
    critical_failed: bool
    earned: int
    possible: int


def qa_score(criteria: Iterable[Criterion], answers: Mapping[Hashable, str]) -> Score:
    """The weighted score of one review; raises UnansweredCriteria listing every
    criterion without a valid answer."""
    criteria = list(criteria)
    missing = [c.key for c in criteria if answers.get(c.key) not in ANSWERS]
    if missing:
        raise UnansweredCriteria(missing)
    applicable = [c for c in criteria if answers[c.key] != NOT_APPLICABLE]
    earned = sum(c.weight for c in applicable if answers[c.key] == MET)
    possible = sum(c.weight for c in applicable)
    critical_failed = any(c.critical and answers[c.key] == NOT_MET for c in criteria)
    if critical_failed:
        percent: Decimal | None = Decimal("0.00")
    elif possible == 0:
        percent = None
    else:
        percent = round_score(Decimal(100 * earned) / Decimal(possible))
    return Score(percent=percent, critical_failed=critical_failed, earned=earned, possible=possible)


def score_spread(scores: Iterable[Decimal | None]) -> Decimal | None:
    """max − min of the scores given (reviews without a score are left out)."""
    values = [s for s in scores if s is not None]
    if not values:
        return None
    return max(values) - min(values)


def disagreements(answers_by_reviewer: Iterable[Mapping[Hashable, str]]) -> set[Hashable]:
    """The criteria on which the reviewers did not all give the same answer."""
    seen: dict[Hashable, set[str]] = {}
    for answers in answers_by_reviewer:
        for key, answer in answers.items():
            seen.setdefault(key, set()).add(answer)
    return {key for key, given in seen.items() if len(given) > 1}


def checklist_check(items: Sequence[tuple[str, int, bool]]) -> None:
    """Labels, weights (1 to MAX_WEIGHT) and flags of a new checklist version, in order;
    raises InvalidChecklist with every problem."""
    errors: dict[int | None, str] = {}
    if not items:
        errors[None] = "a checklist needs at least one criterion"
    labels: set[str] = set()
    for position, (label, weight, _critical) in enumerate(items):
        clean = label.strip()
        if not clean:
            errors[position] = "empty label"
        elif clean.casefold() in labels:
            errors[position] = "duplicate label"
        elif not isinstance(weight, int) or isinstance(weight, bool):
            errors[position] = "weight must be a whole number"
        elif not 1 <= weight <= MAX_WEIGHT:
            errors[position] = f"weight must be between 1 and {MAX_WEIGHT}"
        labels.add(clean.casefold())
    if errors:
        raise InvalidChecklist(errors)


def round_score(value: Decimal) -> Decimal:
    """A score or an average of scores to the hundredth, halves rounded up."""
    return Decimal(value).quantize(HUNDREDTH, ROUND_HALF_UP)


def mentored_weeks(days: Iterable[date]) -> int:
    """Distinct ISO weeks among the dates of mentored-call records: two records in the
    same week are one week of mentoring."""
    return len({d.isocalendar()[:2] for d in days})
