"""QA reviews, calibration sessions, coaching notes and training records
(docs/kpi-quality.md). Every function checks the user's role itself, so a caller other
than the supervisor pages (the admin, a script) gets the same refusals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from accounts.models import Role, User
from tickets.models import Contact

from ..domain import quality
from ..models import (
    COUNTED_KINDS,
    CalibrationSession,
    CoachingNote,
    QaAnswer,
    QaChecklist,
    QaChecklistItem,
    QaReview,
    TextFlag,
    TrainingKind,
    TrainingRecord,
)
from . import AlreadyDone, InvalidInput, NotAllowed, NotEnoughScores, SessionClosed

PARIS = ZoneInfo("Europe/Paris")
REVIEWER_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
MAX_TEXT = 5_000
# One record is at most a whole onboarding programme, or a week of mentored calls.
MAX_HOURS = Decimal(500)
MAX_CALLS = Decimal(1_000)


def item_field(item_id: int) -> str:
    """The form field (and error key) of a checklist item."""
    return f"item_{item_id}"


@dataclass(frozen=True)
class ChecklistItemSpec:
    label: str
    weight: int
    critical: bool = False
    guidance: str = ""


def _require_reviewer(user: User) -> None:
    if not user.is_active or user.role not in REVIEWER_ROLES:
        raise NotAllowed(_("Réservé aux superviseurs et aux administrateurs."))


def _today(now: datetime) -> date:
    return now.astimezone(PARIS).date()


def _agent(agent_id: int) -> User:
    agent = User.objects.filter(pk=agent_id, role=Role.AGENT).first()
    if agent is None:
        raise InvalidInput({None: _("Ce conseiller n'existe pas.")})
    return agent


def _reviewable_contact(contact_id: int, reviewer: User) -> Contact:
    contact = Contact.objects.select_related("agent").filter(pk=contact_id).first()
    if contact is None:
        raise InvalidInput({"contact": _("Ce contact n'existe pas.")})
    if contact.agent_id is None:
        raise InvalidInput(
            {"contact": _("Ce contact n'a été traité par aucun conseiller : rien à évaluer.")}
        )
    if contact.agent_id == reviewer.pk:
        raise InvalidInput({"contact": _("Vous ne pouvez pas évaluer votre propre contact.")})
    return contact


def _active_checklist(checklist_id: int | None) -> QaChecklist:
    rows = QaChecklist.objects.filter(active=True)
    if checklist_id is not None:
        rows = rows.filter(pk=checklist_id)
    checklist = rows.order_by("-created_at", "-pk").first()
    if checklist is None:
        raise InvalidInput(
            {None: _("Cette grille n'est plus en vigueur : rechargez la page et recommencez.")}
        )
    return checklist


def _scored(
    checklist: QaChecklist, answers: Mapping[int, str]
) -> tuple[list[QaChecklistItem], quality.Score]:
    items = list(checklist.items.order_by("position"))
    known = {item.pk for item in items}
    if set(answers) - known:
        raise InvalidInput({None: _("Ces réponses ne correspondent pas à la grille.")})
    criteria = [quality.Criterion(key=i.pk, weight=i.weight, critical=i.critical) for i in items]
    try:
        score = quality.qa_score(criteria, answers)
    except quality.UnansweredCriteria as exc:
        raise InvalidInput({item_field(k): _("Choisissez une réponse.") for k in exc.keys}) from exc
    return items, score


def _check_comments(comments: str) -> str:
    comments = comments.strip()
    if len(comments) > MAX_TEXT:
        raise InvalidInput(
            {"comments": _("%(max)s caractères au plus.") % {"max": f"{MAX_TEXT:,}"}}
        )
    return comments


def _review_create(
    *,
    contact: Contact,
    checklist: QaChecklist,
    reviewer: User,
    answers: Mapping[int, str],
    comments: str,
    now: datetime,
    calibration: CalibrationSession | None = None,
) -> QaReview:
    items, score = _scored(checklist, answers)
    try:
        # A savepoint: the constraint catches two submissions racing past the check.
        with transaction.atomic():
            review = QaReview.objects.create(
                contact=contact,
                checklist=checklist,
                reviewer=reviewer,
                agent_id=contact.agent_id,
                calibration=calibration,
                score=score.percent,
                critical_failed=score.critical_failed,
                comments=comments,
                created_at=now,
            )
    except IntegrityError as exc:
        raise AlreadyDone(_("Vous avez déjà évalué ce contact.")) from exc
    QaAnswer.objects.bulk_create(
        [QaAnswer(review=review, item=item, answer=answers[item.pk]) for item in items]
    )
    return review


def qa_checklist_create(
    *,
    code: str,
    name: str,
    items: Sequence[ChecklistItemSpec],
    author: User,
    now: datetime,
    activate: bool = True,
) -> QaChecklist:
    """A new version of the checklist `code`; when activated, the previous versions stop
    being offered (their reviews keep pointing at them)."""
    _require_reviewer(author)
    errors: dict[str | None, str] = {}
    if not name.strip():
        errors["name"] = _("Donnez un nom à la grille.")
    try:
        quality.checklist_check([(i.label, i.weight, i.critical) for i in items])
    except quality.InvalidChecklist as exc:
        for position, reason in exc.errors.items():
            key = "items" if position is None else f"items.{position}"
            errors[key] = reason
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        existing = QaChecklist.objects.select_for_update().filter(code=code)
        version = (existing.aggregate(v=Max("version"))["v"] or 0) + 1
        if activate:
            existing.filter(active=True).update(active=False)
        checklist = QaChecklist.objects.create(
            code=code, version=version, name=name.strip(), active=activate, created_at=now
        )
        QaChecklistItem.objects.bulk_create(
            [
                QaChecklistItem(
                    checklist=checklist,
                    position=position,
                    label=spec.label.strip(),
                    guidance=spec.guidance.strip(),
                    weight=spec.weight,
                    critical=spec.critical,
                )
                for position, spec in enumerate(items, start=1)
            ]
        )
    return checklist


def qa_review_submit(
    *,
    contact_id: int,
    reviewer: User,
    answers: Mapping[int, str],
    comments: str,
    now: datetime,
    checklist_id: int | None = None,
) -> QaReview:
    """Score one contact against the active checklist. Every criterion needs an answer;
    the agent reviewed is the contact's; a supervisor reviews a contact once (outside
    calibration)."""
    _require_reviewer(reviewer)
    comments = _check_comments(comments)
    with transaction.atomic():
        contact = _reviewable_contact(contact_id, reviewer)
        checklist = _active_checklist(checklist_id)
        if QaReview.objects.filter(
            contact=contact, reviewer=reviewer, calibration__isnull=True
        ).exists():
            raise AlreadyDone(_("Vous avez déjà évalué ce contact."))
        review = _review_create(
            contact=contact,
            checklist=checklist,
            reviewer=reviewer,
            answers=answers,
            comments=comments,
            now=now,
        )
        # The text analytics' open flags on this contact are dealt with by this review
        # (docs/kpi-text.md).
        TextFlag.objects.filter(contact=contact, handled_at__isnull=True).update(
            handled_at=now, handled_by=reviewer, review=review
        )
        return review


def calibration_open(
    *,
    month: date,
    contact_id: int,
    opened_by: User,
    now: datetime,
    checklist_id: int | None = None,
) -> CalibrationSession:
    """A session for `month` (this month or a past one) on one contact, scored against
    the active checklist; one session per contact and month."""
    _require_reviewer(opened_by)
    month = month.replace(day=1)
    if month > _today(now).replace(day=1):
        raise InvalidInput({"month": _("Choisissez le mois en cours ou un mois passé.")})
    with transaction.atomic():
        contact = _reviewable_contact(contact_id, opened_by)
        checklist = _active_checklist(checklist_id)
        try:
            with transaction.atomic():
                return CalibrationSession.objects.create(
                    month=month,
                    checklist=checklist,
                    contact=contact,
                    opened_by=opened_by,
                    opened_at=now,
                )
        except IntegrityError as exc:
            raise InvalidInput(
                {"contact": _("Une séance existe déjà pour ce contact ce mois-là.")}
            ) from exc


def _locked_open_session(session_id: int) -> CalibrationSession:
    session = (
        CalibrationSession.objects.select_for_update()
        .select_related("contact", "checklist")
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        raise InvalidInput({None: _("Cette séance de calibrage n'existe pas.")})
    if not session.is_open:
        raise SessionClosed(_("Cette séance de calibrage est close."))
    return session


def calibration_score(
    *,
    session_id: int,
    reviewer: User,
    answers: Mapping[int, str],
    comments: str,
    now: datetime,
) -> QaReview:
    """One supervisor's independent scoring in a session, once, against the session's
    checklist version (even if a newer one became active since)."""
    _require_reviewer(reviewer)
    comments = _check_comments(comments)
    with transaction.atomic():
        session = _locked_open_session(session_id)
        if session.contact.agent_id == reviewer.pk:
            raise InvalidInput({None: _("Vous ne pouvez pas évaluer votre propre contact.")})
        if QaReview.objects.filter(calibration=session, reviewer=reviewer).exists():
            raise AlreadyDone(_("Vous avez déjà noté ce contact dans cette séance."))
        return _review_create(
            contact=session.contact,
            checklist=session.checklist,
            reviewer=reviewer,
            answers=answers,
            comments=comments,
            now=now,
            calibration=session,
        )


def calibration_close(
    *,
    session_id: int,
    closed_by: User,
    agreed_score: Decimal,
    notes: str,
    now: datetime,
) -> CalibrationSession:
    """Record the score the supervisors agreed on; needs at least two scores."""
    _require_reviewer(closed_by)
    try:
        agreed = Decimal(agreed_score).quantize(quality.HUNDREDTH)
    except (InvalidOperation, TypeError, ValueError):
        agreed = None
    if agreed is None or not Decimal(0) <= agreed <= Decimal(100):
        raise InvalidInput({"agreed_score": _("Indiquez un score entre 0 et 100.")})
    with transaction.atomic():
        session = _locked_open_session(session_id)
        scores = list(session.reviews.values_list("score", flat=True))
        if len(scores) < 2:
            raise NotEnoughScores(
                _("Il faut au moins deux notations pour clore la séance (%(n)s pour l'instant).")
                % {"n": len(scores)}
            )
        session.agreed_score = agreed
        session.spread_at_close = quality.score_spread(scores)
        session.notes = _check_comments(notes) if notes else ""
        session.closed_by = closed_by
        session.closed_at = now
        session.save(
            update_fields=["agreed_score", "spread_at_close", "notes", "closed_by", "closed_at"]
        )
    return session


def coaching_note_add(
    *,
    agent_id: int,
    author: User,
    on: date,
    text: str,
    now: datetime,
    follow_up_on: date | None = None,
    review_id: int | None = None,
) -> CoachingNote:
    """A coaching note on an agent, optionally about one of the agent's QA reviews and
    with a date to check progress."""
    _require_reviewer(author)
    errors: dict[str | None, str] = {}
    text = text.strip()
    if not text:
        errors["text"] = _("Écrivez la note.")
    elif len(text) > MAX_TEXT:
        errors["text"] = _("%(max)s caractères au plus.") % {"max": f"{MAX_TEXT:,}"}
    if on > _today(now):
        errors["on"] = _("La date ne peut pas être dans le futur.")
    if follow_up_on is not None and follow_up_on < on:
        errors["follow_up_on"] = _("Le suivi ne peut pas précéder la note.")
    with transaction.atomic():
        agent = _agent(agent_id)
        if (
            review_id is not None
            and not QaReview.objects.filter(
                pk=review_id, agent=agent, calibration__isnull=True
            ).exists()
        ):
            errors["review"] = _("Cette évaluation ne concerne pas ce conseiller.")
        if errors:
            raise InvalidInput(errors)
        return CoachingNote.objects.create(
            agent=agent,
            author=author,
            on=on,
            text=text,
            review_id=review_id,
            follow_up_on=follow_up_on,
            created_at=now,
        )


def training_record_add(
    *,
    agent_id: int,
    kind: str,
    quantity: Decimal,
    on: date,
    notes: str,
    recorded_by: User,
    now: datetime,
) -> TrainingRecord:
    """Hours of training, or one week of mentored calls (quantity: the calls)."""
    _require_reviewer(recorded_by)
    errors: dict[str | None, str] = {}
    if kind not in TrainingKind.values:
        errors["kind"] = _("Choisissez un type de formation.")
    elif quantity <= 0:
        errors["quantity"] = _("Indiquez une quantité supérieure à 0.")
    elif kind in COUNTED_KINDS and quantity != quantity.to_integral_value():
        errors["quantity"] = _("Indiquez un nombre entier d'appels.")
    elif kind in COUNTED_KINDS and quantity > MAX_CALLS:
        errors["quantity"] = _("%(max)s appels au plus par semaine.") % {"max": MAX_CALLS}
    elif kind not in COUNTED_KINDS and quantity > MAX_HOURS:
        errors["quantity"] = _("%(max)s heures au plus par enregistrement.") % {"max": MAX_HOURS}
    if on > _today(now):
        errors["on"] = _("La date ne peut pas être dans le futur.")
    notes = notes.strip()
    if len(notes) > MAX_TEXT:
        errors["notes"] = _("%(max)s caractères au plus.") % {"max": f"{MAX_TEXT:,}"}
    with transaction.atomic():
        agent = _agent(agent_id)
        if errors:
            raise InvalidInput(errors)
        return TrainingRecord.objects.create(
            agent=agent,
            kind=kind,
            quantity=quantity,
            on=on,
            notes=notes,
            recorded_by=recorded_by,
            created_at=now,
        )
