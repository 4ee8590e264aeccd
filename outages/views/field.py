"""The field technicians' pages, phone first: their crews' missions, and one job with
its forms (next status, new estimate, note or photo, diagnostic fee).

A technician reaches only his own crews' missions: another crew's job is a 404, so
its existence is not even confirmed. Each POST makes one service call."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import field_required

from .. import selectors_ops as selectors
from ..forms import field as forms
from ..services import InvalidInput
from ..services import crews as crew_services
from ..services import incidents as incident_services
from .console import REFUSALS, refusal_text

# Services name the instant "estimate"; the technician typed it in the time field.
FIELD_FOR_ERROR = {"estimate": "time"}


def _add_errors(form, exc: InvalidInput) -> None:
    for field, message in exc.errors.items():
        field = FIELD_FOR_ERROR.get(field, field)
        form.add_error(field if field in form.fields else None, message)


@field_required
def field_home(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    return render(
        request,
        "field/home.html",
        {"jobs": selectors.field_jobs(user=request.user, now=now), "now": now},
    )


def _job_forms(job: dict, *, now, bound: dict) -> dict:
    made = {
        "etr": forms.FieldEtrForm(prefix="etr", today=timezone.localdate(now)),
        "note": forms.NoteForm(prefix="note"),
        "notice": forms.NoticeForm(prefix="notice", accounts=job["accounts"]),
        "charge": forms.ChargeForm(
            prefix="charge",
            charges=[c for c in job["charges"] if c.charged_at is None],
            bounds=selectors.fee_bounds(),
        ),
    }
    made.update(bound)
    return made


def _render_job(request, job: dict, *, now, bound: dict | None = None, status: int = 200):
    context = job | {"now": now, "forms": _job_forms(job, now=now, bound=bound or {})}
    return render(request, "field/job.html", context, status=status)


@field_required
def field_job(request: HttpRequest, dispatch_id: int) -> HttpResponse:
    now = timezone.now()
    job = selectors.field_job(user=request.user, dispatch_id=dispatch_id, now=now)
    return _render_job(request, job, now=now)


def _back(dispatch_id: int) -> HttpResponse:
    return redirect("field:job", dispatch_id=dispatch_id)


@field_required
@require_POST
def field_status(request: HttpRequest, dispatch_id: int) -> HttpResponse:
    dispatch = selectors.field_dispatch(user=request.user, dispatch_id=dispatch_id)
    form = forms.StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()) or _("Statut inconnu."))
        return _back(dispatch.pk)
    try:
        moved = crew_services.dispatch_transition(
            dispatch=dispatch,
            target=form.cleaned_data["target"],
            now=timezone.now(),
            actor=request.user,
        )
    except REFUSALS as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(
            request, _("Statut enregistré : %(status)s.") % {"status": moved.get_status_display()}
        )
    return _back(dispatch.pk)


def _job_post(request, dispatch_id: int, name: str, build, run, done: str) -> HttpResponse:
    """Validate the posted form, make its one service call, come back to the job."""
    now = timezone.now()
    job = selectors.field_job(user=request.user, dispatch_id=dispatch_id, now=now)
    form = build(job, now)
    if form.is_valid():
        try:
            run(job, form.cleaned_data, now)
        except InvalidInput as exc:
            _add_errors(form, exc)
        except REFUSALS as exc:
            messages.error(request, refusal_text(exc))
            return _back(dispatch_id)
        else:
            messages.success(request, done)
            return _back(dispatch_id)
    return _render_job(request, job, now=now, bound={name: form}, status=400)


@field_required
@require_POST
def field_etr(request: HttpRequest, dispatch_id: int) -> HttpResponse:
    def build(job, now):
        return forms.FieldEtrForm(request.POST, prefix="etr", today=timezone.localdate(now))

    def run(job, data, now):
        incident_services.etr_revise(
            incident=job["incident"],
            estimate=data["estimate"],
            source="CREW",
            confidence=data["confidence"],
            now=now,
            actor=request.user,
        )

    return _job_post(
        request, dispatch_id, "etr", build, run, _("Estimation publiée pour les clients.")
    )


@field_required
@require_POST
def field_note(request: HttpRequest, dispatch_id: int) -> HttpResponse:
    def build(job, now):
        return forms.NoteForm(request.POST, request.FILES, prefix="note")

    def run(job, data, now):
        crew_services.field_note_add(
            dispatch=job["dispatch"],
            text=data["text"],
            photo=data["photo"],
            now=now,
            author=request.user,
        )

    return _job_post(request, dispatch_id, "note", build, run, _("Note ajoutée."))


@field_required
@require_POST
def field_notice(request: HttpRequest, dispatch_id: int) -> HttpResponse:
    def build(job, now):
        return forms.NoticeForm(request.POST, prefix="notice", accounts=job["accounts"])

    def run(job, data, now):
        account = next(a for a in job["accounts"] if a.pk == data["account"])
        crew_services.diagnostic_notice(
            dispatch=job["dispatch"], account=account, now=now, actor=request.user
        )

    return _job_post(
        request,
        dispatch_id,
        "notice",
        build,
        run,
        _("Client prévenu des frais de diagnostic en cas de panne intérieure."),
    )


@field_required
@require_POST
def field_charge(request: HttpRequest, dispatch_id: int) -> HttpResponse:
    def build(job, now):
        return forms.ChargeForm(
            request.POST,
            prefix="charge",
            charges=[c for c in job["charges"] if c.charged_at is None],
            bounds=selectors.fee_bounds(),
        )

    def run(job, data, now):
        charge = next(c for c in job["charges"] if c.pk == data["charge"])
        crew_services.diagnostic_charge(
            charge=charge, fee=data["fee"], parts=data["parts"], now=now, actor=request.user
        )

    return _job_post(request, dispatch_id, "charge", build, run, _("Frais facturés au client."))


@field_required
def field_photo(request: HttpRequest, note_id: int) -> FileResponse:
    note = selectors.field_note_with_photo(note_id=note_id, user=request.user)
    return FileResponse(note.photo.open("rb"))
