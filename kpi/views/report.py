"""The monthly report pages (docs/kpi-report.md): the month list, a month's report with
its findings, analyses, close and reopen forms, and its PDF and CSV. Supervisors and
admins only. Writes go through kpi.services.report: a field error is a 400 on the page,
a refusal because of the month's state (the gate among them) a 409 with the reason."""

from __future__ import annotations

import csv
import io
from datetime import date

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import supervisor_required

from ..forms_report import RcaForm, ReopenForm
from ..selectors import report as reads
from ..services import InvalidInput, KpiError, NotAllowed
from ..services import report as review

TEMPLATES = "supervisor/report/"
STATE_CONFLICT = 409


# --- PDF rendering ---------------------------------------------------------------------------
# A few reports a month: no shared font configuration to keep (unlike billing's invoices).


def _pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=str(settings.BASE_DIR / "static")).write_pdf()


# --- Pages ----------------------------------------------------------------------------------


def _month_url(month: date) -> str:
    return reverse("supervisor:report_month", args=[month])


def _errors_to_form(form, exc: InvalidInput) -> None:
    for field, message in exc.errors.items():
        visible = field in form.fields and not form.fields[field].widget.is_hidden
        form.add_error(field if visible else None, message)


def _rca_initial(line) -> dict:
    analysis = line.analysis
    initial = {"commitment": line.code}
    if analysis is not None:
        initial |= {
            "cause": analysis.cause,
            "actions": analysis.actions,
            "owner": analysis.owner_id,
            "due_on": analysis.due_on,
        }
    return initial


def _month_page(
    request, month: date, *, rca_form=None, reopen_form=None, refusal: str = "", status=200
):
    now = timezone.now()
    page = reads.report_month(month=month, now=now)
    today = timezone.localdate(now)
    rca_forms = []
    if page.may_record:
        for line in page.needing:
            if rca_form is not None and rca_form.data.get("commitment") == line.code:
                form = rca_form
                form.set_owners(page.owners)
            else:
                form = RcaForm(
                    owners=page.owners,
                    today=today,
                    form_id=line.form_id,
                    initial=_rca_initial(line),
                )
            rca_forms.append((line, form))
    # A refused analysis of a finding that needs none has no form of its own on the
    # page: its message is shown above the forms.
    shown = any(form is rca_form for _line, form in rca_forms)
    return render(
        request,
        TEMPLATES + "month.html",
        {
            "page": page,
            "rca_forms": rca_forms,
            "orphan_form": None if shown else rca_form,
            "reopen_form": reopen_form or ReopenForm(),
            "refusal": refusal,
        },
        status=status,
    )


@supervisor_required
def report_months(request: HttpRequest) -> HttpResponse:
    """The current month and the 12 before it, with their status and analyses."""
    return render(
        request, TEMPLATES + "months.html", {"months": reads.report_months(now=timezone.now())}
    )


@supervisor_required
def report_month(request: HttpRequest, month: date) -> HttpResponse:
    return _month_page(request, month)


@supervisor_required
def report_month_pdf(request: HttpRequest, month: date) -> HttpResponse:
    page = reads.report_month(month=month, now=timezone.now())
    html = render_to_string(TEMPLATES + "pdf.html", {"page": page}, request=request)
    response = HttpResponse(_pdf(html), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="rapport-kpi-{month:%Y-%m}.pdf"'
    return response


@supervisor_required
def report_month_csv(request: HttpRequest, month: date) -> HttpResponse:
    rows = reads.report_month_csv(month=month, now=timezone.now())
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    response = HttpResponse(text.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rapport-kpi-{month:%Y-%m}.csv"'
    return response


@supervisor_required
@require_POST
def report_rca(request: HttpRequest, month: date) -> HttpResponse:
    reads.report_month_check(month=month, now=timezone.now())
    code = request.POST.get("commitment", "")
    # The owner choices are only drawn when the page is shown again.
    form = RcaForm(
        request.POST, today=timezone.localdate(), form_id=reads.FindingLine.form_id_of(code)
    )
    if form.is_valid():
        try:
            review.rca_record(
                month=month, author=request.user, now=timezone.now(), **form.arguments()
            )
        except InvalidInput as exc:
            _errors_to_form(form, exc)
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except KpiError as exc:
            return _month_page(request, month, refusal=str(exc), status=STATE_CONFLICT)
        else:
            messages.success(request, _("Analyse de cause enregistrée."))
            return redirect(_month_url(month) + "#findings")
    return _month_page(request, month, rca_form=form, status=400)


@supervisor_required
@require_POST
def report_close(request: HttpRequest, month: date) -> HttpResponse:
    reads.report_month_check(month=month, now=timezone.now())
    try:
        review.month_close(month=month, actor=request.user, now=timezone.now())
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except KpiError as exc:
        return _month_page(request, month, refusal=str(exc), status=STATE_CONFLICT)
    messages.success(request, _("Mois clôturé."))
    return redirect(_month_url(month))


@supervisor_required
@require_POST
def report_reopen(request: HttpRequest, month: date) -> HttpResponse:
    reads.report_month_check(month=month, now=timezone.now())
    form = ReopenForm(request.POST)
    if form.is_valid():
        try:
            review.month_reopen(
                month=month,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                now=timezone.now(),
            )
        except InvalidInput as exc:
            _errors_to_form(form, exc)
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except KpiError as exc:
            return _month_page(request, month, refusal=str(exc), status=STATE_CONFLICT)
        else:
            messages.success(request, _("Mois rouvert."))
            return redirect(_month_url(month))
    return _month_page(request, month, reopen_form=form, status=400)
