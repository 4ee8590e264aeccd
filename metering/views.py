from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.access import console_required, customer_required, portal_membership
from accounts.domain import member_can
from tickets.models import Ticket

from . import forms
from .services import readings, workflow

SUBMIT_PERMISSION = "edit_account"  # VIEWER and BILLING members only look


def _points(request: HttpRequest):
    membership = portal_membership(request)
    if membership is None:
        raise Http404
    return membership, account_selectors.account_supply_points(account_id=membership.account_id)


@customer_required
def portal_readings(request: HttpRequest) -> HttpResponse:
    _membership, points = _points(request)
    if len(points) == 1:
        return redirect("portal_readings:submit", supply_point_id=points[0].pk)
    return render(request, "metering/portal_points.html", {"points": points})


@customer_required
def portal_reading_submit(request: HttpRequest, supply_point_id: int) -> HttpResponse:
    membership, points = _points(request)
    point = next((p for p in points if p.pk == supply_point_id), None)
    if point is None:
        raise Http404
    can_submit = member_can(membership.role, SUBMIT_PERMISSION)
    if request.method == "POST" and not can_submit:
        portal_membership(request, require=SUBMIT_PERMISSION)  # raises PermissionDenied
    now = timezone.now()
    try:
        meter = readings.meter_in_service(supply_point=point, at=now)
    except readings.NoMeter:
        meter = None
    codes = sorted(r.code for r in meter.registers.all()) if meter else []
    form = forms.ReadingForm(
        request.POST or None,
        request.FILES or None,
        registers=codes,
        today=timezone.localdate(now),
    )
    needs_confirmation = False
    status = 200
    if request.method == "POST" and meter is not None:
        if form.is_valid():
            data = form.cleaned_data
            read_on = data["read_on"]
            read_at = now if read_on == timezone.localdate(now) else _noon(read_on)
            try:
                result = readings.readings_submit(
                    supply_point=point,
                    account=membership.account,
                    values=form.values(),
                    read_at=read_at,
                    submitted_by=request.user,
                    photo=data["photo"] or None,
                    confirmed=data["confirm"],
                    now=now,
                )
            except readings.ReadingRejected as exc:
                form.add_problems(exc.problems, confirmable=False)
            except readings.ConfirmationNeeded as exc:
                form.add_problems(exc.problems, confirmable=True)
                needs_confirmation = True
            except readings.PhotoRejected as exc:
                form.add_error("photo", forms.photo_error_text(str(exc)))
            else:
                if result.ticket is not None:
                    messages.info(
                        request,
                        _("Relevé enregistré ; un conseiller va le vérifier (demande %(ref)s).")
                        % {"ref": result.ticket.reference},
                    )
                else:
                    messages.success(request, _("Relevé enregistré. Merci !"))
                return redirect("portal_readings:submit", supply_point_id=point.pk)
        status = 400
    return render(
        request,
        "metering/portal_submit.html",
        {
            "form": form,
            "point": point,
            "points": points,
            "meter": meter,
            "can_submit": can_submit,
            "needs_confirmation": needs_confirmation or bool(request.POST.get("confirm")),
            "last_readings": readings.last_readings(supply_point=point),
        },
        status=status,
    )


def _noon(day):
    from datetime import datetime, time

    return datetime.combine(day, time(12), tzinfo=timezone.get_current_timezone())


# --- Console: the meter-issue workflow on a METERING ticket -------------------------


def _console_ticket(reference: str):
    return get_object_or_404(Ticket.objects.select_related("supply_point"), reference=reference)


@console_required
@require_POST
def console_meter_check(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _console_ticket(reference)
    try:
        workflow.meter_check_start(ticket=ticket, actor=request.user, now=timezone.now())
    except readings.MeteringError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Télérelevé demandé ; le résultat s'affichera ici."))
    return redirect("console_tickets:workspace", reference=reference)


@console_required
@require_POST
def console_site_visit_done(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _console_ticket(reference)
    workflow.onsite_check_done(
        ticket=ticket, actor=request.user, now=timezone.now(), note=request.POST.get("note", "")
    )
    messages.success(request, _("Vérification sur place enregistrée."))
    return redirect("console_tickets:workspace", reference=reference)
