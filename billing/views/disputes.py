"""Dispute pages: the customer's form, list and timeline; the console's list and case page
(one form per allowed move); the supervisor's credit approvals."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts.access import (
    console_required,
    customer_required,
    portal_membership,
    supervisor_required,
)
from billing.forms import disputes as forms
from billing.models import CreditRequest, DisputeStatus
from billing.selectors import disputes as selectors
from billing.services import disputes as services

BILLING = "view_billing"


def _membership(request: HttpRequest):
    membership = portal_membership(request, require=BILLING)
    if membership is None:
        raise Http404
    return membership


def _pdf_response(file, filename: str) -> FileResponse:
    return FileResponse(
        file.open("rb"), content_type="application/pdf", as_attachment=True, filename=filename
    )


def _timeline(dispute) -> list[dict]:
    def label(status: str) -> str:
        return DisputeStatus(status).label if status else ""

    return [
        {"event": e, "label": label(e.to_status), "from_label": label(e.from_status)}
        for e in dispute.events.all()
    ]


# --- Portal -------------------------------------------------------------------------------


@customer_required
def portal_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    return render(
        request,
        "billing/disputes/portal_list.html",
        {"disputes": selectors.customer_disputes(account_id=membership.account_id)},
    )


@customer_required
@require_http_methods(["GET", "POST"])
def portal_new(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    account = membership.account
    now = timezone.now()
    points = account_selectors.account_supply_points(account_id=account.pk)
    initial = {"account_number": account.number}
    invoice = None
    if request.GET.get("invoice"):
        invoice = selectors.disputable_invoice(account_id=account.pk, number=request.GET["invoice"])
    if invoice is not None:
        initial |= {
            "invoice_number": invoice.number,
            "meter_point": invoice.supply_point.identifier,
        }
    elif len(points) == 1:
        initial["meter_point"] = points[0].identifier
    form = forms.DisputeForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        account=account,
        supply_points=points,
        today=services.local_date(now),
        window_days=int(account_selectors.parameter_get(key="dispute_window_days")),
        max_bytes=int(account_selectors.parameter_get(key="attachment_max_bytes")),
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                dispute = services.dispute_open(
                    account=account,
                    requester=request.user,
                    supply_point=data["meter_point"],
                    invoice=data["invoice"],
                    problem_date=data["problem_date"],
                    description=data["description"],
                    claimed_amount=data["claimed_amount"],
                    evidence=data["evidence"],
                    now=now,
                )
            except services.DisputeRefused as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(
                    request,
                    _("Contestation enregistrée sous la référence %(ref)s.")
                    % {"ref": dispute.ticket.reference},
                )
                return redirect("portal_disputes:detail", dispute_id=dispute.pk)
        status = 400
    return render(
        request, "billing/disputes/portal_new.html", {"form": form, "points": points}, status=status
    )


@customer_required
def portal_detail(request: HttpRequest, dispute_id: int) -> HttpResponse:
    membership = _membership(request)
    dispute = selectors.customer_dispute(account_id=membership.account_id, dispute_id=dispute_id)
    return render(
        request,
        "billing/disputes/portal_detail.html",
        {"dispute": dispute, "timeline": _timeline(dispute)},
    )


@customer_required
def portal_letter(request: HttpRequest, dispute_id: int) -> FileResponse:
    membership = _membership(request)
    dispute = selectors.customer_dispute(account_id=membership.account_id, dispute_id=dispute_id)
    if not dispute.letter:
        raise Http404
    return _pdf_response(dispute.letter, f"contestation-{dispute.ticket.reference}.pdf")


# --- Console ------------------------------------------------------------------------------


@console_required
def console_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    if status not in DisputeStatus.values:
        status = None
    counts = selectors.dispute_counts()
    return render(
        request,
        "billing/disputes/console_list.html",
        {
            "disputes": selectors.console_disputes(status=status),
            "status": status,
            "tabs": [
                (value, label, counts.get(value, 0)) for value, label in DisputeStatus.choices
            ],
        },
    )


ACTION_FORMS = {
    "ACKNOWLEDGED": forms.NoteForm,
    "INVESTIGATING": forms.NoteForm,
    "ESCALATED": forms.ReasonForm,
    "UPHELD": forms.SettlementForm,
    "REJECTED": forms.ReasonForm,
    "PROPOSE": forms.SettlementForm,
}
ACTION_LABELS = {
    "ACKNOWLEDGED": gettext_lazy("Accuser réception (réponse au client)"),
    "INVESTIGATING": gettext_lazy("Commencer l'examen"),
    "ESCALATED": gettext_lazy("Transmettre à un superviseur"),
    "UPHELD": gettext_lazy("Contestation fondée : avoir ou remboursement"),
    "REJECTED": gettext_lazy("Contestation non fondée : envoyer la lettre motivée"),
    "PROPOSE": gettext_lazy("Proposer un nouveau règlement"),
}


def _console_context(dispute, *, now, bound: dict | None = None) -> dict:
    from tickets import selectors as ticket_selectors

    actions = selectors.dispute_actions(dispute=dispute)
    if selectors.dispute_awaits_proposal(dispute=dispute):
        actions.append("PROPOSE")
    bound = bound or {}
    return {
        "dispute": dispute,
        "timeline": _timeline(dispute),
        "ticket": dispute.ticket,
        "clocks": ticket_selectors.clock_rows(clocks=dispute.ticket.clocks.all(), now=now),
        "on_hold": selectors.collections_on_hold(account_id=dispute.account_id),
        "actions": [
            {
                "code": code,
                "label": str(ACTION_LABELS[code]),
                "form": bound.get(code) or ACTION_FORMS[code](prefix=code.lower()),
            }
            for code in actions
        ],
    }


@console_required
def console_detail(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = selectors.console_dispute(dispute_id=dispute_id)
    return render(
        request,
        "billing/disputes/console_detail.html",
        _console_context(dispute, now=timezone.now()),
    )


def _run(action: str, dispute_id: int, data: dict, *, actor, now):
    if action == "ACKNOWLEDGED":
        return services.dispute_acknowledge(
            dispute_id=dispute_id, actor=actor, note=data["note"], now=now
        )
    if action == "INVESTIGATING":
        return services.dispute_investigate(
            dispute_id=dispute_id, actor=actor, note=data["note"], now=now
        )
    if action == "ESCALATED":
        return services.dispute_escalate(
            dispute_id=dispute_id, actor=actor, reason=data["reason"], now=now
        )
    if action == "UPHELD":
        return services.dispute_uphold(
            dispute_id=dispute_id,
            amount=data["amount"],
            kind=data["kind"],
            note=data["note"],
            actor=actor,
            now=now,
        )
    if action == "REJECTED":
        return services.dispute_reject(
            dispute_id=dispute_id, reason=data["reason"], actor=actor, now=now
        )
    return services.dispute_credit_propose(
        dispute_id=dispute_id,
        amount=data["amount"],
        kind=data["kind"],
        reason=data["note"],
        actor=actor,
        now=now,
    )


@console_required
@require_POST
def console_action(request: HttpRequest, dispute_id: int, action: str) -> HttpResponse:
    if action not in ACTION_FORMS:
        raise Http404
    dispute = selectors.console_dispute(dispute_id=dispute_id)
    now = timezone.now()
    form = ACTION_FORMS[action](request.POST, prefix=action.lower())
    if form.is_valid():
        try:
            _run(action, dispute.pk, form.cleaned_data, actor=request.user, now=now)
        except services.DisputeRefused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        except services.IllegalTransition:
            form.add_error(
                None, _("Cette étape n'est pas possible depuis l'état actuel de la contestation.")
            )
        except services.NotAllowed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Enregistré."))
            return redirect("console_billing:dispute_detail", dispute_id=dispute.pk)
    context = _console_context(dispute, now=now, bound={action: form})
    if action not in [a["code"] for a in context["actions"]]:
        # The move is no longer offered (someone else moved the dispute): say why.
        context["stale_errors"] = form.non_field_errors()
    return render(request, "billing/disputes/console_detail.html", context, status=400)


@console_required
def console_letter(request: HttpRequest, dispute_id: int) -> FileResponse:
    dispute = selectors.console_dispute(dispute_id=dispute_id)
    if not dispute.letter:
        raise Http404
    return _pdf_response(dispute.letter, f"contestation-{dispute.ticket.reference}.pdf")


# --- Supervisor ---------------------------------------------------------------------------


@supervisor_required
def supervisor_credits(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "billing/disputes/supervisor_credits.html",
        {"requests": selectors.credit_requests_pending()},
    )


@supervisor_required
@require_POST
def supervisor_credit_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    credit = get_object_or_404(CreditRequest, pk=request_id)
    decision = request.POST.get("decision")
    now = timezone.now()
    try:
        if decision == "approve":
            services.credit_request_approve(request_id=credit.pk, supervisor=request.user, now=now)
            messages.success(request, _("Règlement approuvé et comptabilisé."))
        elif decision == "reject":
            services.credit_request_reject(
                request_id=credit.pk,
                supervisor=request.user,
                reason=request.POST.get("reason", "")[:2000],
                now=now,
            )
            messages.success(request, _("Règlement refusé."))
        else:
            messages.error(request, _("Choisissez d'approuver ou de refuser."))
            return render(
                request,
                "billing/disputes/supervisor_credits.html",
                {"requests": selectors.credit_requests_pending()},
                status=400,
            )
    except services.AlreadyDecided:
        messages.info(request, _("Ce règlement a déjà été décidé."))
    except services.NotAllowed as exc:
        messages.error(request, str(exc))
    return redirect("supervisor_billing:credits")
