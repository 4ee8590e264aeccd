from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.access import (
    console_required,
    customer_required,
    portal_membership,
    supervisor_required,
)
from accounts.domain import member_can

from . import forms, selectors, services
from .models import Attachment, Complaint, Escalation, Status, Ticket


def _membership(request: HttpRequest, require: str = "view"):
    membership = portal_membership(request)
    if membership is None:
        raise Http404
    if not member_can(membership.role, require):
        raise PermissionDenied
    return membership


# --- Portal -------------------------------------------------------------------


@customer_required
def portal_ticket_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    return render(
        request,
        "tickets/portal_list.html",
        {
            "tickets": selectors.customer_tickets(account_id=membership.account_id)[:100],
            "can_create": member_can(membership.role, "edit_account"),
        },
    )


@customer_required
def portal_ticket_create(request: HttpRequest) -> HttpResponse:
    membership = _membership(request, "edit_account")
    account = membership.account
    points = account_selectors.account_supply_points(account_id=account.pk)
    form = forms.TicketCreateForm(request.POST or None, request.FILES or None, supply_points=points)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            point = next((p for p in points if str(p.pk) == data["supply_point"]), None)
            details = {
                k: str(data[k])
                for k in ("invoice_number", "problem_date", "reading_value")
                if data.get(k) not in (None, "")
            }
            try:
                ticket = services.ticket_create(
                    account=account,
                    requester=request.user,
                    channel="PORTAL",
                    category=data["category"],
                    subject=data["subject"],
                    body=data["body"],
                    supply_point=point,
                    details=details,
                    attachments=data["attachments"],
                    now=timezone.now(),
                )
            except services.AttachmentRejected as exc:
                form.add_error("attachments", str(exc))
            else:
                messages.success(
                    request, _("Demande %(ref)s enregistrée.") % {"ref": ticket.reference}
                )
                return redirect("portal_tickets:detail", reference=ticket.reference)
        status = 400
    return render(request, "tickets/portal_create.html", {"form": form}, status=status)


@customer_required
def portal_ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    membership = _membership(request)
    ticket = selectors.customer_ticket(account_id=membership.account_id, reference=reference)
    form = forms.ReplyForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if not member_can(membership.role, "edit_account"):
            raise PermissionDenied
        if form.is_valid():
            try:
                services.ticket_reply(
                    ticket=ticket,
                    author=request.user,
                    body=form.cleaned_data["body"],
                    from_customer=True,
                    channel="PORTAL",
                    attachments=form.cleaned_data["attachments"],
                    now=timezone.now(),
                )
            except services.AttachmentRejected as exc:
                form.add_error("attachments", str(exc))
            except services.NotAllowed:
                form.add_error(None, _("Cette demande est clôturée : ouvrez une nouvelle demande."))
            else:
                messages.success(request, _("Votre message est envoyé."))
                return redirect("portal_tickets:detail", reference=reference)
        status = 400
    return render(
        request,
        "tickets/portal_detail.html",
        {
            "ticket": ticket,
            "form": form,
            "clocks": selectors.clock_rows(clocks=ticket.clocks.all(), now=timezone.now()),
            "can_reply": member_can(membership.role, "edit_account"),
        },
        status=status,
    )


@customer_required
def portal_attachment(request: HttpRequest, reference: str, attachment_id: int) -> FileResponse:
    membership = _membership(request)
    attachment = get_object_or_404(
        Attachment,
        pk=attachment_id,
        message__ticket__reference=reference,
        message__ticket__account_id=membership.account_id,
        message__visibility="PUBLIC",
    )
    return FileResponse(
        attachment.file.open("rb"), content_type=attachment.content_type, filename=attachment.name
    )


@customer_required
def portal_dossier(request: HttpRequest, reference: str) -> HttpResponse:
    from . import documents

    membership = _membership(request)
    ticket = selectors.customer_ticket(account_id=membership.account_id, reference=reference)
    pdf = documents.case_dossier_pdf(ticket=ticket, now=timezone.now())
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="dossier-{reference}.pdf"'
    return response


@customer_required
@require_POST
def portal_deadlock_request(request: HttpRequest, reference: str) -> HttpResponse:
    membership = _membership(request, "edit_account")
    ticket = selectors.customer_ticket(account_id=membership.account_id, reference=reference)
    complaint = Complaint.objects.filter(ticket=ticket).first()
    if complaint is None:
        raise Http404
    services.deadlock_letter_issue(
        complaint=complaint, now=timezone.now(), reason="customer request"
    )
    messages.success(request, _("Notre réponse définitive vous a été envoyée par e-mail."))
    return redirect("portal_tickets:detail", reference=reference)


def survey(request: HttpRequest, token: str) -> HttpResponse:
    form = forms.SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.survey_answer(token=token, now=timezone.now(), **form.cleaned_data)
        except services.SurveyRefused as exc:
            return render(request, "tickets/survey_done.html", {"message": str(exc)}, status=400)
        return render(
            request, "tickets/survey_done.html", {"message": _("Merci pour votre réponse !")}
        )
    return render(
        request,
        "tickets/survey.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


# --- Console ------------------------------------------------------------------


@console_required
def console_queues(request: HttpRequest) -> HttpResponse:
    queue = request.GET.get("queue") or None
    return render(
        request,
        "tickets/console_queues.html",
        {
            "overview": selectors.queue_overview(now=timezone.now()),
            "tickets": selectors.queue_tickets(queue=queue),
            "queue": queue,
            "now": timezone.now(),
        },
    )


@console_required
@require_POST
def console_take_next(request: HttpRequest) -> HttpResponse:
    queues = request.POST.getlist("queue") or None
    try:
        ticket = services.ticket_take_next(agent=request.user, queues=queues, now=timezone.now())
    except services.NothingToTake:
        messages.info(request, _("Aucune demande en attente dans ces files."))
        return redirect("console_tickets:queues")
    return redirect("console_tickets:workspace", reference=ticket.reference)


@console_required
def console_workspace(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = selectors.ticket_workspace(reference=reference)
    now = timezone.now()
    form = forms.AgentReplyForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.ticket_reply(
                    ticket=ticket,
                    author=request.user,
                    body=data["body"],
                    internal=data["internal"],
                    attachments=data["attachments"],
                    now=now,
                )
                if data["then_status"]:
                    services.ticket_transition(
                        ticket=ticket, target=data["then_status"], actor=request.user, now=now
                    )
            except services.AttachmentRejected as exc:
                form.add_error("attachments", str(exc))
            except (services.NotAllowed, services.IllegalTransition) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Enregistré."))
                return redirect("console_tickets:workspace", reference=reference)
        status = 400
    context = {
        "ticket": ticket,
        "form": form,
        "now": now,
        "clocks": selectors.clock_rows(clocks=ticket.clocks.all(), now=now),
        "customer": account_selectors.customer_summary(account_id=ticket.account_id)
        if ticket.account_id
        else None,
        "canned": selectors.canned_responses(ticket=ticket),
        "complaint": Complaint.objects.filter(ticket=ticket).first(),
        "reference_form": forms.ReferenceForm(),
        "referral_form": forms.ReferralForm(),
        "status_choices": Status.choices,
    }
    return render(request, "tickets/console_workspace.html", context, status=status)


@console_required
@require_POST
def console_action(request: HttpRequest, reference: str, action: str) -> HttpResponse:
    ticket = get_object_or_404(Ticket, reference=reference)
    now = timezone.now()
    try:
        if action == "status":
            form = forms.StatusForm(request.POST)
            if not form.is_valid():
                raise services.TicketError(_("Statut inconnu."))
            services.ticket_transition(
                ticket=ticket, target=form.cleaned_data["status"], actor=request.user, now=now
            )
        elif action == "escalate":
            services.ticket_escalate(
                ticket=ticket,
                actor=request.user,
                reason=request.POST.get("reason", "")[:200] or "Escalade manuelle",
                now=now,
            )
        elif action == "complaint":
            services.complaint_flag(
                ticket=ticket,
                actor=request.user,
                source="AGENT",
                summary=request.POST.get("summary", "") or ticket.subject,
                now=now,
            )
        elif action in ("merge", "link"):
            form = forms.ReferenceForm(request.POST)
            if not form.is_valid():
                raise services.TicketError(_("Référence invalide."))
            other = get_object_or_404(Ticket, reference=form.cleaned_data["reference"])
            if action == "merge":
                services.ticket_merge(duplicate=ticket, into=other, actor=request.user, now=now)
            else:
                services.ticket_link(ticket=ticket, other=other, actor=request.user, now=now)
        elif action == "unmerge":
            services.ticket_unmerge(duplicate=ticket, actor=request.user, now=now)
        elif action == "deadlock":
            complaint = get_object_or_404(Complaint, ticket=ticket)
            services.deadlock_letter_issue(complaint=complaint, now=now, reason="agent")
        elif action == "referral":
            complaint = get_object_or_404(Complaint, ticket=ticket)
            form = forms.ReferralForm(request.POST)
            if not form.is_valid():
                raise services.TicketError(_("Complétez la référence et la décision du médiateur."))
            services.ombudsman_referral_record(
                complaint=complaint,
                actor=request.user,
                now=now,
                remedy_amount=form.cleaned_data["remedy_amount"],
                reference=form.cleaned_data["reference"],
                decision=form.cleaned_data["decision"],
            )
        elif action == "take":
            services.ticket_assign(ticket=ticket, agent=request.user, actor=request.user, now=now)
        else:
            raise Http404
    except (services.TicketError, services.IllegalTransition) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Enregistré."))
    return redirect("console_tickets:workspace", reference=reference)


@console_required
def console_dossier(request: HttpRequest, reference: str) -> HttpResponse:
    from . import documents

    ticket = get_object_or_404(Ticket.objects.select_related("account"), reference=reference)
    response = HttpResponse(
        documents.case_dossier_pdf(ticket=ticket, now=timezone.now()),
        content_type="application/pdf",
    )
    response["Content-Disposition"] = f'attachment; filename="dossier-{reference}.pdf"'
    return response


@console_required
def console_attachment(request: HttpRequest, attachment_id: int) -> FileResponse:
    attachment = get_object_or_404(Attachment, pk=attachment_id)
    return FileResponse(
        attachment.file.open("rb"), content_type=attachment.content_type, filename=attachment.name
    )


@console_required
def console_call(request: HttpRequest) -> HttpResponse:
    form = forms.PhoneCallForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            account = None
            if data["account_number"]:
                account = account_selectors.account_by_number(number=data["account_number"])
                if account is None:
                    form.add_error("account_number", _("Aucun compte avec ce numéro."))
            if not form.errors:
                ticket = services.phone_call_log(
                    agent=request.user,
                    account=account,
                    category=data["category"],
                    subject=data["subject"],
                    notes=data["notes"],
                    talk_seconds=data["talk_seconds"],
                    hold_seconds=data["hold_seconds"],
                    wrap_seconds=data["wrap_seconds"],
                    resolved=data["resolved"],
                    now=timezone.now(),
                )
                messages.success(
                    request, _("Appel enregistré : %(ref)s.") % {"ref": ticket.reference}
                )
                return redirect("console_tickets:workspace", reference=ticket.reference)
        status = 400
    return render(request, "tickets/console_call.html", {"form": form}, status=status)


@supervisor_required
def supervisor_escalations(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    if request.method == "POST":
        if request.POST.get("remedy"):
            complaint = get_object_or_404(Complaint, pk=request.POST["remedy"])
            services.ombudsman_remedy_done(complaint_id=complaint.pk, actor=request.user, now=now)
            messages.success(request, _("Remède du médiateur exécuté."))
            return redirect("escalations:list")
        escalation = get_object_or_404(Escalation, pk=request.POST.get("escalation"))
        services.escalation_acknowledge(
            escalation_id=escalation.pk, supervisor=request.user, now=now
        )
        messages.success(request, _("Escalade prise en charge."))
        return redirect("escalations:list")
    return render(
        request,
        "tickets/supervisor_escalations.html",
        {
            "escalations": selectors.escalations_waiting(),
            "remedies": selectors.remedies_due(),
            "now": now,
        },
    )
