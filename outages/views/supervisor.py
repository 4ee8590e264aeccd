"""Supervisor pages of the outages app: reliability indices, restoration times, the P1
cadence, post-incident reviews and compensation. SUPERVISOR and ADMIN only; each page
reads one selector of selectors_reporting, the review form calls one service."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import supervisor_required

from .. import selectors_reporting as reporting
from ..forms.supervisor import PeriodForm, ReviewForm
from ..services import InvalidInput, NotAllowed
from ..services.settlement import review_complete


def _period_page(request: HttpRequest, template: str, report) -> HttpResponse:
    """A monthly report: the month asked for (this month by default), or the form's
    errors with a 400 and no figures."""
    now = timezone.now()
    form = PeriodForm(request.GET or None, now=now)
    if form.is_bound and not form.is_valid():
        return render(request, template, {"form": form, "report": None}, status=400)
    period = form.period
    return render(request, template, {"form": form, "report": report(period, now)})


@supervisor_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("outages_supervisor:reliability")


@supervisor_required
def reliability(request: HttpRequest) -> HttpResponse:
    return _period_page(
        request,
        "outages/supervisor/reliability.html",
        lambda period, now: reporting.reliability_report(
            month=period["month"], now=now, area_code=period["area"]
        ),
    )


@supervisor_required
def mttr(request: HttpRequest) -> HttpResponse:
    return _period_page(
        request,
        "outages/supervisor/mttr.html",
        lambda period, now: reporting.mttr_report(month=period["month"]),
    )


@supervisor_required
def cadence(request: HttpRequest) -> HttpResponse:
    return _period_page(
        request,
        "outages/supervisor/cadence.html",
        lambda period, now: reporting.cadence_report(month=period["month"]),
    )


@supervisor_required
def compensation(request: HttpRequest) -> HttpResponse:
    return _period_page(
        request,
        "outages/supervisor/compensation.html",
        lambda period, now: reporting.compensation_report(month=period["month"]),
    )


@supervisor_required
def reviews(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "outages/supervisor/reviews.html",
        {"reviews": reporting.reviews_list(), "now": timezone.now()},
    )


@supervisor_required
def review_detail(request: HttpRequest, review_id: int) -> HttpResponse:
    review = reporting.review_detail(review_id=review_id)
    form = ReviewForm.for_review(review, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                review_complete(
                    review=review,
                    timeline=form.cleaned_data["timeline"],
                    cause=form.cleaned_data["cause"],
                    actions=form.cleaned_data["actions"],
                    now=timezone.now(),
                    actor=request.user,
                )
            except InvalidInput as exc:
                for field, message in exc.errors.items():
                    form.add_error(field if field in form.fields else None, message)
            except NotAllowed as exc:
                messages.error(request, str(exc))
                return redirect("outages_supervisor:review", review_id=review.pk)
            else:
                messages.success(
                    request,
                    _("Revue de l'incident %(ref)s terminée.") % {"ref": review.incident.reference},
                )
                return redirect("outages_supervisor:reviews")
        status = 400
    return render(
        request,
        "outages/supervisor/review_detail.html",
        {
            "review": review,
            "form": form,
            "events": review.incident.timeline_events,
            "now": timezone.now(),
        },
        status=status,
    )
