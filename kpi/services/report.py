"""The monthly review (docs/kpi-report.md): root-cause analyses of the commitments a
month missed by more than 2 %, and closing or reopening the month. Closing is gated:
every finding that needs an analysis must have one. Each function checks the actor's
role itself, locks the month's review row (created on first use, inside the same
transaction, so a refusal leaves nothing behind) and records every status change as
an event."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Role, User

from ..domain import report as rules
from ..models import MonthlyReview, MonthlyReviewEvent, MonthStatus, RootCauseAnalysis
from ..selectors import report as reads
from . import InvalidInput, KpiError, NotAllowed

PARIS = ZoneInfo("Europe/Paris")
ACTOR_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
OWNER_ROLES = frozenset(reads.RCA_OWNER_ROLES)
MAX_TEXT = 5_000


class MonthNotOver(KpiError):
    """A month is reviewed once it has ended (Paris time)."""


class MonthClosed(KpiError):
    """The month is closed: reopen it before changing its analyses."""


class NoMonthSnapshot(KpiError):
    """Without its MONTH snapshot a month has no findings to check: build it first."""


class WrongStatus(KpiError):
    """The review is not in a status that allows this (closing a closed month…)."""


class RcaMissing(KpiError):
    """The gate: findings missed by more than 2 % still lack their analysis."""

    def __init__(self, missing: list[rules.Finding]):
        self.missing = missing
        self.codes = [f.code for f in missing]
        names = "; ".join(f"{reads.finding_label(f)} ({f.code})" for f in missing)
        super().__init__(
            _("Analyse de cause manquante pour : %(names)s. Le mois ne peut pas être clôturé.")
            % {"names": names}
        )


def _require_actor(user: User) -> None:
    if not user.is_active or user.role not in ACTOR_ROLES:
        raise NotAllowed(_("Réservé aux superviseurs et aux administrateurs."))


def _first_day(month: date) -> date:
    return month.replace(day=1)


def _require_over(month: date, now: datetime) -> None:
    if not reads.month_is_over(month, now):
        raise MonthNotOver(
            _("Le mois n'est pas terminé : il se revoit à partir du 1er du mois suivant.")
        )


def _review_locked(month: date, now: datetime) -> MonthlyReview:
    """The month's review row, created OPEN if it does not exist yet, locked until the
    end of the caller's transaction (two supervisors closing at once take turns)."""
    MonthlyReview.objects.get_or_create(month=month, defaults={"created_at": now})
    return MonthlyReview.objects.select_for_update().get(month=month)


def _move(review: MonthlyReview, action: str) -> str:
    try:
        return rules.transition(review.status, action)
    except rules.IllegalTransition as exc:
        message = {
            rules.CLOSE: _("Ce mois est déjà clôturé."),
            rules.REOPEN: _("Ce mois n'est pas clôturé : rien à rouvrir."),
        }.get(action, str(exc))
        raise WrongStatus(message) from exc


def _text(errors: dict, name: str, value: str, missing: str) -> str:
    value = (value or "").strip()
    if not value:
        errors[name] = missing
    elif len(value) > MAX_TEXT:
        errors[name] = _("%(max)s caractères au plus.") % {"max": f"{MAX_TEXT:,}"}
    return value


def rca_record(
    *,
    month: date,
    commitment: str,
    cause: str,
    actions: str,
    owner_id: int | None,
    due_on: date | None,
    author: User,
    now: datetime,
) -> RootCauseAnalysis:
    """Record (or rewrite) the analysis of one finding of a finished, open month. The
    finding must need one (missed by more than 2 %); the owner is an active supervisor
    or admin; the due date is today (Paris) or later. Raises InvalidInput (field
    errors), MonthNotOver, MonthClosed, NoMonthSnapshot, NotAllowed."""
    _require_actor(author)
    month = _first_day(month)
    _require_over(month, now)
    errors: dict[str | None, str] = {}
    cause = _text(errors, "cause", cause, _("Décrivez la cause."))
    actions = _text(errors, "actions", actions, _("Décrivez les actions décidées."))
    owner = None
    if owner_id is None:
        errors["owner"] = _("Choisissez un responsable.")
    else:
        owner = User.objects.filter(pk=owner_id).first()
        if owner is None or not owner.is_active or owner.role not in OWNER_ROLES:
            errors["owner"] = _(
                "Le responsable doit être un superviseur ou un administrateur actif."
            )
    today = now.astimezone(PARIS).date()
    if due_on is None:
        errors["due_on"] = _("Indiquez une échéance.")
    elif due_on < today:
        errors["due_on"] = _("L'échéance ne peut pas être passée.")

    with transaction.atomic():
        review = _review_locked(month, now)
        if review.status == MonthStatus.CLOSED:
            raise MonthClosed(_("Ce mois est clôturé : rouvrez-le pour modifier ses analyses."))
        found = reads.report_findings(month=month)
        if not found.has_snapshot:
            raise NoMonthSnapshot(_("Ce mois n'a pas encore d'instantané mensuel."))
        finding = next((f for f in found.needing if f.code == commitment), None)
        if finding is None:
            errors["commitment"] = _(
                "Cet engagement n'a pas été manqué de plus de 2 % ce mois-ci : "
                "il ne demande pas d'analyse."
            )
        if errors:
            raise InvalidInput(errors)
        written = {
            "target": float(finding.bound),
            "actual": finding.actual_float,
            "gap_percent": finding.gap_float,
            "cause": cause,
            "actions": actions,
            "owner": owner,
            "due_on": due_on,
            "author": author,
            "updated_at": now,
        }
        analysis, _created = RootCauseAnalysis.objects.update_or_create(
            review=review,
            commitment=finding.code,
            defaults=written,
            create_defaults={**written, "created_at": now},
        )
    return analysis


def month_close(*, month: date, actor: User, now: datetime) -> MonthlyReview:
    """Close a finished month: OPEN → CLOSED with an event. Refused (RcaMissing, listing
    them) while a finding missed by more than 2 % lacks its analysis, and without the
    month's snapshot. Raises MonthNotOver, WrongStatus, NoMonthSnapshot, NotAllowed."""
    _require_actor(actor)
    month = _first_day(month)
    _require_over(month, now)
    with transaction.atomic():
        review = _review_locked(month, now)
        target = _move(review, rules.CLOSE)
        # Read under the lock: an analysis recorded meanwhile is seen, and the findings
        # are those of the snapshot as it is now, not as the page showed them.
        found = reads.report_findings(month=month)
        if not found.has_snapshot:
            raise NoMonthSnapshot(
                _(
                    "Ce mois n'a pas encore d'instantané mensuel : construisez-le avant de le clôturer."
                )
            )
        recorded = set(review.analyses.values_list("commitment", flat=True))
        missing = rules.missing_analyses(found.findings, recorded)
        if missing:
            raise RcaMissing(missing)
        MonthlyReviewEvent.objects.create(
            review=review, from_status=review.status, to_status=target, actor=actor, at=now
        )
        review.status = target
        review.closed_at = now
        review.closed_by = actor
        review.save(update_fields=["status", "closed_at", "closed_by"])
    return review


def month_reopen(*, month: date, actor: User, reason: str, now: datetime) -> MonthlyReview:
    """Reopen a closed month (CLOSED → OPEN) with the reason, as an event. Raises
    InvalidInput (no reason), WrongStatus, NotAllowed."""
    _require_actor(actor)
    month = _first_day(month)
    errors: dict[str | None, str] = {}
    reason = _text(errors, "reason", reason, _("Indiquez pourquoi le mois est rouvert."))
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        review = _review_locked(month, now)
        target = _move(review, rules.REOPEN)
        MonthlyReviewEvent.objects.create(
            review=review,
            from_status=review.status,
            to_status=target,
            actor=actor,
            at=now,
            reason=reason,
        )
        review.status = target
        review.closed_at = None
        review.closed_by = None
        review.save(update_fields=["status", "closed_at", "closed_by"])
    return review
