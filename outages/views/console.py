"""The dispatchers' pages: the incident board, opening an incident or announcing
works, the incident page with one small form per action, streetlight reports and
the priority call list.

Every action posts to its own URL and makes one service call. Bad input comes back
on the form's fields (400, nothing written); a move the incident's state forbids is
refused with a message and changes nothing."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import console_required

from .. import selectors_ops as selectors
from ..domain import states
from ..forms import console as forms
from ..models import DispatchStatus, IncidentStatus, ReportStatus
from ..services import InvalidInput, NotAllowed
from ..services import crews as crew_services
from ..services import incidents as incident_services
from ..services import notifications as notification_services
from ..services import reports as report_services

REFUSALS = (NotAllowed, states.IllegalTransition)


def _add_errors(form, exc: InvalidInput) -> None:
    for field, message in exc.errors.items():
        form.add_error(field if field in form.fields else None, message)


STATUS_LABELS = {
    "incident": dict(IncidentStatus.choices),
    "dispatch": dict(DispatchStatus.choices),
    "report": dict(ReportStatus.choices),
}


def refusal_text(exc: Exception) -> str:
    """What a dispatcher or a technician reads when the state forbids the move."""
    if isinstance(exc, states.IllegalTransition):
        labels = STATUS_LABELS.get(exc.machine, {})
        return _("Action impossible : « %(current)s » ne peut pas passer à « %(target)s ».") % {
            "current": labels.get(exc.current, exc.current),
            "target": labels.get(exc.target, exc.target),
        }
    return str(exc)


# --- Board ------------------------------------------------------------------------


@console_required
def board(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = selectors.console_board(now=now)
    context["now"] = now
    return render(request, "outages/console/board.html", context)


@console_required
@require_http_methods(["GET", "POST"])
def incident_new(request: HttpRequest) -> HttpResponse:
    form = forms.IncidentOpenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = incident_services.incident_open(
                title=data["title"],
                postcodes=data["postcodes"],
                cause=data["cause"],
                started_at=data["started_at"],
                feeder=data["feeder"],
                safety_critical=data["safety_critical"],
                now=timezone.now(),
                actor=request.user,
            )
        except InvalidInput as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Incident %(ref)s ouvert.") % {"ref": incident.reference})
            return redirect("outages_console:incident", reference=incident.reference)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "outages/console/form_page.html",
        {"form": form, "title": _("Ouvrir un incident"), "submit": _("Ouvrir l'incident")},
        status=status,
    )


@console_required
@require_http_methods(["GET", "POST"])
def planned_new(request: HttpRequest) -> HttpResponse:
    form = forms.PlannedOutageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = incident_services.planned_outage_announce(
                title=data["title"],
                postcodes=data["postcodes"],
                planned_start=data["planned_start"],
                planned_end=data["planned_end"],
                message=data["message"],
                feeder=data["feeder"],
                now=timezone.now(),
                actor=request.user,
            )
        except InvalidInput as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Travaux %(ref)s annoncés.") % {"ref": incident.reference})
            return redirect("outages_console:incident", reference=incident.reference)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "outages/console/form_page.html",
        {
            "form": form,
            "title": _("Annoncer des travaux programmés"),
            "submit": _("Annoncer les travaux"),
            "intro": _(
                "Les clients inscrits au registre des clients prioritaires reçoivent l'avis "
                "en premier."
            ),
        },
        status=status,
    )


# --- Incident page ------------------------------------------------------------------


def _incident_forms(data: dict, bound: dict) -> dict:
    """One unbound form per action, except the one just posted with errors."""
    incident = data["incident"]
    made = {
        "confirm": forms.ConfirmForm(prefix="confirm"),
        "override": forms.ClassOverrideForm(
            prefix="override", initial={"klass": incident.proposed_klass}
        ),
        "publish": forms.PublishForm(prefix="publish"),
        "etr": forms.EtrForm(prefix="etr"),
        "dispatch": forms.DispatchForm(prefix="dispatch", crews=data["crews"]),
        "merge": forms.MergeForm(prefix="merge", targets=data["merge_targets"]),
        "link": forms.LinkTicketForm(prefix="link"),
        "restore": forms.RestoreForm(prefix="restore"),
        "cancel": forms.CancelForm(prefix="cancel"),
        "close": forms.CloseForm(prefix="close"),
    }
    for name, form in bound.items():
        if name in ("dispatch", "merge"):
            # A bound form keeps the page's ordering of choices.
            field = "crew" if name == "dispatch" else "into"
            form.fields[field].choices = made[name].fields[field].choices
        made[name] = form
    return made


def _render_incident(request, reference: str, *, bound: dict | None = None, status: int = 200):
    now = timezone.now()
    data = selectors.incident_console(reference=reference, now=now)
    incident = data["incident"]
    data |= {
        "now": now,
        "forms": _incident_forms(data, bound or {}),
        "dispatch_rows": [
            {
                "dispatch": d,
                "targets": [
                    (value, label)
                    for value, label in DispatchStatus.choices
                    if value in states.DISPATCH_TRANSITIONS[d.status]
                ],
            }
            for d in incident.dispatches.all()
        ],
        "live": incident.status in states.LIVE,
        "off_supply": incident.status in states.OFF_SUPPLY,
        # Offer only the moves the incident's state allows; the service checks again.
        "next_statuses": states.INCIDENT_TRANSITIONS.get(incident.status, frozenset()),
    }
    return render(request, "outages/console/incident.html", data, status=status)


@console_required
def incident_detail(request: HttpRequest, reference: str) -> HttpResponse:
    return _render_incident(request, reference)


def _confirm(incident, data, *, actor, now):
    incident_services.incident_confirm(
        incident=incident,
        postcodes=data["postcodes"],
        cause=data["cause"] or None,
        now=now,
        actor=actor,
    )
    return _("Incident confirmé.")


def _override(incident, data, *, actor, now):
    incident_services.incident_class_override(
        incident=incident, klass=data["klass"], reason=data["reason"], now=now, actor=actor
    )
    return _("Classe modifiée.")


def _publish(incident, data, *, actor, now):
    incident_services.incident_update_publish(
        incident=incident, message=data["message"], now=now, actor=actor
    )
    return _("Point d'étape publié.")


def _etr(incident, data, *, actor, now):
    incident_services.etr_revise(
        incident=incident,
        estimate=data["estimate"],
        source="OPERATOR",
        confidence=data["confidence"],
        message=data["message"],
        now=now,
        actor=actor,
    )
    return _("Nouvelle estimation publiée.")


def _dispatch(incident, data, *, actor, now):
    crew_services.dispatch_create(incident=incident, crew=data["crew"], now=now, actor=actor)
    return _("%(crew)s : mission envoyée.") % {"crew": data["crew"].name}


def _merge(incident, data, *, actor, now):
    report_services.incident_merge(suspect=incident, into=data["into"], now=now, actor=actor)
    return _("Signalements regroupés dans %(ref)s.") % {"ref": data["into"].reference}


def _link(incident, data, *, actor, now):
    incident_services.incident_link_ticket(
        incident=incident, reference=data["reference"], now=now, actor=actor
    )
    return _("Demande rattachée à l'incident.")


def _restore(incident, data, *, actor, now):
    incident_services.incident_restore(
        incident=incident, message=data["message"], now=now, actor=actor
    )
    return _("Incident rétabli : clients prévenus, demandes liées résolues.")


def _cancel(incident, data, *, actor, now):
    incident_services.incident_cancel(
        incident=incident, reason=data["reason"], now=now, actor=actor
    )
    return _("Incident annulé.")


def _close(incident, data, *, actor, now):
    incident_services.incident_close(incident=incident, now=now, actor=actor)
    return _("Incident clôturé.")


ACTIONS = {
    "confirm": (forms.ConfirmForm, _confirm),
    "override": (forms.ClassOverrideForm, _override),
    "publish": (forms.PublishForm, _publish),
    "etr": (forms.EtrForm, _etr),
    "dispatch": (forms.DispatchForm, _dispatch),
    "merge": (forms.MergeForm, _merge),
    "link": (forms.LinkTicketForm, _link),
    "restore": (forms.RestoreForm, _restore),
    "cancel": (forms.CancelForm, _cancel),
    "close": (forms.CloseForm, _close),
}


@console_required
@require_POST
def incident_action(request: HttpRequest, reference: str, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404
    incident = selectors.incident_by_reference(reference=reference)
    form_class, run = ACTIONS[action]
    form = form_class(request.POST, prefix=action)
    if form.is_valid():
        try:
            done = run(incident, form.cleaned_data, actor=request.user, now=timezone.now())
        except InvalidInput as exc:
            _add_errors(form, exc)
        except REFUSALS as exc:
            messages.error(request, refusal_text(exc))
            return redirect("outages_console:incident", reference=reference)
        else:
            messages.success(request, done)
            return redirect("outages_console:incident", reference=reference)
    return _render_incident(request, reference, bound={action: form}, status=400)


@console_required
@require_POST
def dispatch_move(request: HttpRequest, reference: str, dispatch_id: int) -> HttpResponse:
    incident = selectors.incident_by_reference(reference=reference)
    dispatch = selectors.incident_dispatch(incident=incident, dispatch_id=dispatch_id)
    form = forms.DispatchMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choisissez le nouveau statut de la mission."))
        return redirect("outages_console:incident", reference=reference)
    try:
        crew_services.dispatch_transition(
            dispatch=dispatch,
            target=form.cleaned_data["target"],
            now=timezone.now(),
            actor=request.user,
        )
    except REFUSALS as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(request, _("Mission mise à jour."))
    return redirect("outages_console:incident", reference=reference)


@console_required
def note_photo(request: HttpRequest, note_id: int) -> FileResponse:
    note = selectors.field_note_with_photo(note_id=note_id)
    return FileResponse(note.photo.open("rb"))


# --- Streetlights and calls ---------------------------------------------------------

STREETLIGHT_TARGETS = {
    "schedule": ReportStatus.SCHEDULED,
    "fixed": ReportStatus.FIXED,
    "reject": ReportStatus.REJECTED,
}


@console_required
@require_POST
def streetlight_action(request: HttpRequest, report_id: int, action: str) -> HttpResponse:
    if action not in STREETLIGHT_TARGETS:
        raise Http404
    report = selectors.streetlight_report(report_id=report_id)
    form = forms.StreetlightForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        report_services.streetlight_transition(
            report=report,
            target=STREETLIGHT_TARGETS[action],
            note=note,
            now=timezone.now(),
            actor=request.user,
        )
    except REFUSALS as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(request, _("Signalement %(ref)s mis à jour.") % {"ref": report.reference})
    return redirect("outages_console:board")


@console_required
@require_POST
def call_done(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = selectors.call_entry(entry_id=entry_id)
    form = forms.CallDoneForm(request.POST)
    if form.is_valid():
        try:
            notification_services.call_list_done(
                entry_id=entry.pk,
                outcome=form.cleaned_data["outcome"],
                now=timezone.now(),
                actor=request.user,
            )
        except InvalidInput as exc:
            _add_errors(form, exc)
        except REFUSALS as exc:
            messages.error(request, refusal_text(exc))
            return redirect("outages_console:board")
        else:
            messages.success(request, _("Appel noté."))
            return redirect("outages_console:board")
    now = timezone.now()
    context = selectors.console_board(now=now)
    context |= {"now": now, "bound_call": (entry.pk, form)}
    return render(request, "outages/console/board.html", context, status=400)
