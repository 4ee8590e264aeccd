"""Billing disputes: opening one (a BILLING ticket, the dispute, the evidence), moving it
through `domain.DISPUTE_TRANSITIONS`, and settling an upheld one with a credit request,
booked at once under `credit_approval_threshold` or once a supervisor approves it.

The ticket carries the conversation and the SLA clocks (acknowledgement 24 h,
investigation 10 working days, inactivity 72 h, settlement 30 days); every dispute move
writes a DisputeEvent and a note on the ticket. Lock order, to keep two writers from
deadlocking: credit request, then dispute, then ticket."""

from __future__ import annotations

import logging
import secrets
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from celery import current_app
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Account, Role, SupplyPoint, User
from accounts.selectors import parameter_get
from billing import domain
from billing.models import (
    ApprovalStatus,
    CreditRequest,
    Dispute,
    DisputeEvent,
    DisputeStatus,
    EntryKind,
    Invoice,
    InvoiceEvent,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from billing.selectors import disputes as selectors
from billing.services.ledger import ledger_post
from billing.services.numbering import invoice_number_next
from tickets import services as ticket_services
from tickets.models import EscalationLevel, Ticket

logger = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
PDF_TASK = "billing.tasks.invoice_pdf_task"
STAFF = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
SETTLEMENT_KINDS = {
    EntryKind.CREDIT: DisputeStatus.CREDITED,
    EntryKind.REFUND: DisputeStatus.REFUNDED,
}
# Ticket clock events fired by disputes (the clock definitions live in the tickets app).
UPHELD_EVENT, SETTLED_EVENT = "DISPUTE_UPHELD", "DISPUTE_SETTLED"
# The investigation clock of the BILLING policy stops on this event: a decision (upheld
# or rejected) ends the investigation even while the ticket stays open for the money.
DECIDED_EVENT = "RESOLVED"

IllegalTransition = domain.IllegalTransition


class DisputeError(Exception):
    """Base class of the refusals of this module."""


class DisputeRefused(DisputeError):
    """Input that cannot be accepted; `field` names the form field it belongs to."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field


class NotAllowed(DisputeError):
    pass


class AlreadyDecided(DisputeError):
    pass


def local_date(now: datetime) -> date:
    return now.astimezone(PARIS).date()


def _threshold() -> Decimal:
    return Decimal(str(parameter_get(key="credit_approval_threshold")))


# --- Opening ------------------------------------------------------------------------------


def dispute_open(
    *,
    account: Account,
    requester: User,
    supply_point: SupplyPoint,
    invoice: Invoice,
    problem_date: date,
    description: str,
    now: datetime,
    claimed_amount: Decimal | None = None,
    evidence=None,
) -> Dispute:
    """Open a dispute of `invoice`: its BILLING ticket (clocks started by the ticket's
    policy), the dispute, its first event and the evidence, all or nothing.

    Raises DisputeRefused (with the field at fault) when the invoice or supply point is
    not the account's, the invoice is outside the dispute window or already disputed."""
    today = local_date(now)
    window = int(parameter_get(key="dispute_window_days"))
    if not description.strip():
        raise DisputeRefused("description", _("Décrivez le problème."))
    if problem_date > today:
        raise DisputeRefused(
            "problem_date", _("La date du problème ne peut pas être dans le futur.")
        )
    if supply_point.premise.account_id != account.pk:
        raise DisputeRefused(
            "meter_point", _("Ce point de livraison n'est pas rattaché à votre compte.")
        )
    if claimed_amount is not None and claimed_amount <= 0:
        raise DisputeRefused("claimed_amount", _("Le montant doit être positif."))
    with transaction.atomic():
        # Locked, so two submissions of the same invoice cannot both open a dispute.
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if (
            invoice.account_id != account.pk
            or invoice.kind != InvoiceKind.INVOICE
            or invoice.status != InvoiceStatus.ISSUED
        ):
            raise DisputeRefused(
                "invoice_number", _("Aucune facture de ce numéro sur votre compte.")
            )
        if invoice.supply_point_id != supply_point.pk:
            raise DisputeRefused(
                "invoice_number", _("Cette facture concerne un autre point de livraison.")
            )
        if invoice.issue_date is None or (today - invoice.issue_date).days > window:
            raise DisputeRefused(
                "invoice_number",
                _("Une facture se conteste dans les %(days)s jours suivant sa date.")
                % {"days": window},
            )
        if selectors.open_dispute_exists(invoice_id=invoice.pk):
            raise DisputeRefused(
                "invoice_number", _("Une contestation de cette facture est déjà en cours.")
            )
        details = {"invoice_number": invoice.number, "problem_date": problem_date.isoformat()}
        if claimed_amount is not None:
            details["claimed_amount"] = str(claimed_amount)
        try:
            ticket = ticket_services.ticket_create(
                channel="PORTAL",
                category="BILL_DISPUTE",
                subject=f"Contestation de la facture {invoice.number}",
                body=description,
                now=now,
                account=account,
                requester=requester,
                supply_point=supply_point,
                details=details,
                attachments=[evidence] if evidence else None,
            )
        except ticket_services.AttachmentRejected as exc:
            raise DisputeRefused("evidence", str(exc)) from exc
        dispute = Dispute(
            ticket=ticket,
            account=account,
            supply_point=supply_point,
            invoice=invoice,
            problem_date=problem_date,
            description=description,
            claimed_amount=claimed_amount,
            created_at=now,
        )
        if evidence:
            from accounts.domain import sniff_file_type

            evidence.seek(0)
            dispute.evidence_type = sniff_file_type(evidence.read(16)) or ""
            evidence.seek(0)
            # The ticket's attachment has already moved a large upload's temporary file
            # away, so the dispute keeps its own copy from the still-open handle.
            dispute.evidence.save(secrets.token_hex(16), ContentFile(evidence.read()), save=False)
        dispute.save()
        DisputeEvent.objects.create(
            dispute=dispute,
            at=now,
            actor=requester,
            from_status="",
            to_status=DisputeStatus.SUBMITTED,
            note="",
        )
    return dispute


# --- Moves --------------------------------------------------------------------------------


def _locked(dispute_id: int) -> Dispute:
    return (
        Dispute.objects.select_for_update(of=("self",))
        .select_related("ticket", "invoice", "account")
        .get(pk=dispute_id)
    )


def _ticket_note(ticket: Ticket, *, actor: User | None, body: str, now: datetime) -> None:
    # A closed ticket takes no more messages; the dispute's own events still record it.
    if Ticket.objects.filter(pk=ticket.pk, status="CLOSED").exists():
        return
    ticket_services.ticket_reply(ticket=ticket, author=actor, body=body, internal=True, now=now)


def _move(
    dispute: Dispute,
    target: str,
    *,
    actor: User | None,
    now: datetime,
    note: str = "",
    ticket_note: bool = True,
) -> DisputeEvent:
    """Check, apply and record one move of a locked dispute."""
    domain.check_transition(domain.DISPUTE_TRANSITIONS, "dispute", dispute.status, target)
    source = dispute.status
    dispute.status = target
    fields = ["status"]
    if target not in domain.DISPUTE_OPEN:
        dispute.closed_at = now
        fields.append("closed_at")
    dispute.save(update_fields=fields)
    event = DisputeEvent.objects.create(
        dispute=dispute, at=now, actor=actor, from_status=source, to_status=target, note=note
    )
    if ticket_note:
        label = DisputeStatus(target).label
        body = f"Contestation : {DisputeStatus(source).label} → {label}."
        _ticket_note(dispute.ticket, actor=actor, body=f"{body}\n{note}".strip(), now=now)
    return event


def _require_staff(actor: User) -> None:
    if actor.role not in STAFF:
        raise NotAllowed(_("Seul un conseiller fait avancer une contestation."))


def _require_decider(dispute: Dispute, actor: User) -> None:
    # An escalated dispute is a supervisor's to decide.
    if dispute.status == DisputeStatus.ESCALATED and actor.role not in SUPERVISORS:
        raise NotAllowed(_("Un superviseur tranche une contestation qui lui a été transmise."))


def dispute_acknowledge(*, dispute_id: int, actor: User, now: datetime, note: str = "") -> Dispute:
    """Tell the customer the dispute is received: a public reply, which meets the
    ticket's 24-hour acknowledgement clock."""
    _require_staff(actor)
    with transaction.atomic():
        dispute = _locked(dispute_id)
        _move(
            dispute, DisputeStatus.ACKNOWLEDGED, actor=actor, now=now, note=note, ticket_note=False
        )
        body = (
            f"Nous avons bien reçu votre contestation de la facture {dispute.invoice.number}. "
            "Nous l'examinons et revenons vers vous au plus tard sous 10 jours ouvrés. "
            "Le recouvrement de votre compte est suspendu pendant l'examen."
        )
        if note.strip():
            body = f"{body}\n\n{note.strip()}"
        ticket_services.ticket_reply(ticket=dispute.ticket, author=actor, body=body, now=now)
        # Already met by the reply unless someone answered earlier; a second stop is a no-op.
        ticket_services.ticket_clock_stop(ticket=dispute.ticket, event="FIRST_RESPONSE", now=now)
    return dispute


def dispute_investigate(*, dispute_id: int, actor: User, now: datetime, note: str = "") -> Dispute:
    _require_staff(actor)
    with transaction.atomic():
        dispute = _locked(dispute_id)
        _move(dispute, DisputeStatus.INVESTIGATING, actor=actor, now=now, note=note)
    return dispute


def dispute_escalate(*, dispute_id: int, actor: User, reason: str, now: datetime) -> Dispute:
    """Hand the dispute to a supervisor, and the ticket with it (unless a breached clock
    already put the ticket at supervisor level or above)."""
    _require_staff(actor)
    if not reason.strip():
        raise DisputeRefused("reason", _("Indiquez pourquoi la contestation est transmise."))
    with transaction.atomic():
        dispute = _locked(dispute_id)
        _move(dispute, DisputeStatus.ESCALATED, actor=actor, now=now, note=reason)
        level = Ticket.objects.values_list("escalation_level", flat=True).get(pk=dispute.ticket_id)
        if level == EscalationLevel.AGENT:
            ticket_services.ticket_escalate(
                ticket=dispute.ticket,
                actor=actor,
                reason=f"Contestation de facture : {reason}"[:200],
                now=now,
            )
    return dispute


def _check_amount(dispute: Dispute, amount: Decimal, kind: str) -> Decimal:
    if kind not in SETTLEMENT_KINDS:
        raise DisputeRefused("kind", _("Le règlement est un avoir ou un remboursement."))
    amount = domain.money(amount)
    if amount <= 0:
        raise DisputeRefused("amount", _("Le montant doit être positif."))
    if amount > dispute.invoice.total_gross:
        raise DisputeRefused("amount", _("Le montant dépasse celui de la facture contestée."))
    return amount


def dispute_uphold(
    *, dispute_id: int, amount: Decimal, kind: str, actor: User, now: datetime, note: str = ""
) -> Dispute:
    """The customer is right: start the 30-day settlement clock and ask for the credit or
    refund (booked at once at or below the approval threshold)."""
    _require_staff(actor)
    with transaction.atomic():
        dispute = _locked(dispute_id)
        _require_decider(dispute, actor)
        amount = _check_amount(dispute, amount, kind)
        _move(dispute, DisputeStatus.UPHELD, actor=actor, now=now, note=note)
        dispute.resolution_amount = amount
        dispute.save(update_fields=["resolution_amount"])
        ticket_services.ticket_clock_stop(ticket=dispute.ticket, event=DECIDED_EVENT, now=now)
        ticket_services.ticket_clock_start(ticket=dispute.ticket, event=UPHELD_EVENT, now=now)
        _credit_request(dispute, amount=amount, kind=kind, actor=actor, now=now, reason=note)
    dispute.refresh_from_db()
    return dispute


def dispute_credit_propose(
    *, dispute_id: int, amount: Decimal, kind: str, actor: User, now: datetime, reason: str = ""
) -> CreditRequest:
    """A new settlement for an upheld dispute whose previous one a supervisor refused."""
    _require_staff(actor)
    with transaction.atomic():
        dispute = _locked(dispute_id)
        if dispute.status != DisputeStatus.UPHELD:
            raise NotAllowed(_("Seule une contestation fondée attend un règlement."))
        if dispute.credit_requests.exclude(status=ApprovalStatus.REJECTED).exists():
            raise NotAllowed(
                _("Un règlement est déjà en attente ou comptabilisé pour cette contestation.")
            )
        amount = _check_amount(dispute, amount, kind)
        return _credit_request(
            dispute, amount=amount, kind=kind, actor=actor, now=now, reason=reason
        )


def _credit_request(
    dispute: Dispute, *, amount: Decimal, kind: str, actor: User, now: datetime, reason: str
) -> CreditRequest:
    request = CreditRequest.objects.create(
        account=dispute.account,
        dispute=dispute,
        kind=kind,
        amount=amount,
        reason=(reason or f"Contestation fondée, facture {dispute.invoice.number}")[:200],
        requested_by=actor,
        requested_at=now,
    )
    if amount <= _threshold():
        request.status = ApprovalStatus.APPROVED
        request.decided_by, request.decided_at = actor, now
        request.save(update_fields=["status", "decided_by", "decided_at"])
        return credit_request_book(request_id=request.pk, actor=actor, now=now)
    _ticket_note(
        dispute.ticket,
        actor=actor,
        body=f"{EntryKind(kind).label} de {amount} € à approuver par un superviseur.",
        now=now,
    )
    return request


def dispute_reject(*, dispute_id: int, reason: str, actor: User, now: datetime) -> Dispute:
    """The invoice stands: a reasoned letter (PDF, stored and emailed) naming the energy
    ombudsman, and the ticket resolved."""
    _require_staff(actor)
    reason = reason.strip()
    if not reason:
        raise DisputeRefused("reason", _("Un refus doit être motivé."))
    with transaction.atomic():
        dispute = _locked(dispute_id)
        _require_decider(dispute, actor)
        _move(dispute, DisputeStatus.REJECTED, actor=actor, now=now, note=reason)
        dispute.rejection_reason = reason
        pdf = dispute_letter_pdf(dispute=dispute, now=now)
        dispute.letter.save(
            f"contestation-{dispute.ticket.reference}.pdf", ContentFile(pdf), save=False
        )
        dispute.save(update_fields=["rejection_reason", "letter"])
        _resolve_ticket(dispute.ticket, actor=actor, now=now)
        address = _customer_email(dispute)
        if address:
            from django.core.mail import EmailMessage

            mail = EmailMessage(
                f"[{dispute.ticket.reference}] Réponse à votre contestation de facture",
                "Vous trouverez ci-joint notre réponse à votre contestation, avec ses motifs "
                "et vos voies de recours.",
                None,
                [address],
            )
            mail.attach(f"contestation-{dispute.ticket.reference}.pdf", pdf, "application/pdf")
            transaction.on_commit(mail.send)
    return dispute


def dispute_letter_pdf(*, dispute: Dispute, now: datetime) -> bytes:
    from django.template.loader import render_to_string
    from django.utils import translation
    from weasyprint import HTML

    with translation.override("fr"):
        html = render_to_string(
            "billing/pdf/dispute_letter.html",
            {
                "dispute": dispute,
                "account": dispute.account,
                "invoice": dispute.invoice,
                "now": now,
            },
        )
    return HTML(string=html).write_pdf()


def _customer_email(dispute: Dispute) -> str:
    ticket = dispute.ticket
    if ticket.requester_id and ticket.requester.email:
        return ticket.requester.email
    return ""


def _resolve_ticket(ticket: Ticket, *, actor: User | None, now: datetime) -> None:
    """Resolving the ticket meets its investigation clock, ends the others, and is the
    tickets app's way of sending the customer a satisfaction survey (never while a
    complaint is open on the account)."""
    status = Ticket.objects.values_list("status", flat=True).get(pk=ticket.pk)
    if status in ("RESOLVED", "CLOSED"):
        return
    ticket_services.ticket_transition(
        ticket=ticket, target="RESOLVED", actor=actor, now=now, note="contestation"
    )


# --- Settlement ---------------------------------------------------------------------------


def credit_request_approve(*, request_id: int, supervisor: User, now: datetime) -> CreditRequest:
    """A supervisor approves a credit request and it is booked, once: the request row is
    locked, so a second approver waits and then finds it decided (AlreadyDecided)."""
    if supervisor.role not in SUPERVISORS:
        raise NotAllowed(_("Seul un superviseur approuve un règlement."))
    with transaction.atomic():
        request = CreditRequest.objects.select_for_update().get(pk=request_id)
        if request.status != ApprovalStatus.PENDING:
            raise AlreadyDecided(_("Ce règlement a déjà été décidé."))
        if request.requested_by_id == supervisor.pk:
            raise NotAllowed(
                _("Un règlement est approuvé par une autre personne que celle qui l'a demandé.")
            )
        request.status = ApprovalStatus.APPROVED
        request.decided_by, request.decided_at = supervisor, now
        request.save(update_fields=["status", "decided_by", "decided_at"])
        return credit_request_book(request_id=request.pk, actor=supervisor, now=now)


def credit_request_reject(
    *, request_id: int, supervisor: User, now: datetime, reason: str = ""
) -> CreditRequest:
    """The dispute stays upheld and its settlement clock keeps running: an agent proposes
    another amount (dispute_credit_propose)."""
    if supervisor.role not in SUPERVISORS:
        raise NotAllowed(_("Seul un superviseur refuse un règlement."))
    with transaction.atomic():
        request = (
            CreditRequest.objects.select_for_update(of=("self",))
            .select_related("dispute__ticket")
            .get(pk=request_id)
        )
        if request.status != ApprovalStatus.PENDING:
            raise AlreadyDecided(_("Ce règlement a déjà été décidé."))
        request.status = ApprovalStatus.REJECTED
        request.decided_by, request.decided_at = supervisor, now
        request.save(update_fields=["status", "decided_by", "decided_at"])
        if request.dispute_id:
            body = f"{request.get_kind_display()} de {request.amount} € refusé par un superviseur."
            if reason.strip():
                body = f"{body}\n{reason.strip()}"
            _ticket_note(request.dispute.ticket, actor=supervisor, body=body, now=now)
    return request


def credit_request_book(*, request_id: int, actor: User | None, now: datetime) -> CreditRequest:
    """Book an approved request: the credit note (gapless AV number, one negative line),
    the ledger CREDIT (plus the REFUND paid out), the dispute settled, its clock met, the
    ticket resolved, the PDF queued. A request already booked is returned unchanged."""
    with transaction.atomic():
        request = CreditRequest.objects.select_for_update().get(pk=request_id)
        if request.status != ApprovalStatus.APPROVED:
            raise NotAllowed(_("Seul un règlement approuvé est comptabilisé."))
        if request.entry_id is not None:
            return request
        if request.dispute_id is None:
            raise DisputeError(_("Seuls les règlements de contestation sont comptabilisés ici."))
        dispute = _locked(request.dispute_id)
        invoice = dispute.invoice
        note = _credit_note(invoice, amount=request.amount, now=now, actor=actor)
        label = f"Avoir {note.number} sur la facture {invoice.number}"
        entry = ledger_post(
            account=dispute.account,
            kind=EntryKind.CREDIT,
            amount=request.amount,
            description=label,
            now=now,
            invoice=note,
            source=f"credit-request:{request.pk}",
            actor=actor,
        )
        if request.kind == EntryKind.REFUND:
            ledger_post(
                account=dispute.account,
                kind=EntryKind.REFUND,
                amount=request.amount,
                description=f"Remboursement de l'avoir {note.number}",
                now=now,
                invoice=note,
                source=f"refund:{request.pk}",
                actor=actor,
            )
        request.entry = entry
        request.save(update_fields=["entry"])
        dispute.credit_note = note
        dispute.save(update_fields=["credit_note"])
        _move(
            dispute,
            SETTLEMENT_KINDS[EntryKind(request.kind)],
            actor=actor,
            now=now,
            note=f"{label}, transaction {entry.txn_id}",
        )
        ticket_services.ticket_clock_stop(ticket=dispute.ticket, event=SETTLED_EVENT, now=now)
        _resolve_ticket(dispute.ticket, actor=actor, now=now)
        _enqueue_pdf(note.pk)
    return request


def _credit_note(invoice: Invoice, *, amount: Decimal, now: datetime, actor) -> Invoice:
    today = local_date(now)
    # The settled amount is what the customer gets back, tax included: one line at a
    # zero rate, so the note's total is exactly that amount.
    note = Invoice.objects.create(
        kind=InvoiceKind.CREDIT_NOTE,
        number=invoice_number_next(kind=InvoiceKind.CREDIT_NOTE, issued_on=today),
        status=InvoiceStatus.ISSUED,
        account_id=invoice.account_id,
        supply_point_id=invoice.supply_point_id,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        issue_date=today,
        tariff_name=invoice.tariff_name,
        total_net=-amount,
        total_vat=0,
        total_gross=-amount,
        credited_invoice=invoice,
        created_at=now,
    )
    InvoiceLine.objects.create(
        invoice=note,
        position=1,
        kind=domain.LineKind.ADJUSTMENT,
        label=f"Régularisation suite à contestation de la facture {invoice.number}"[:120],
        quantity=1,
        unit="forfait",
        unit_price=-amount,
        amount=-amount,
        vat_rate=0,
        start=invoice.period_start,
        end=invoice.period_end,
    )
    InvoiceEvent.objects.create(
        invoice=note,
        at=now,
        actor=actor,
        from_status="",
        to_status=InvoiceStatus.ISSUED,
        note=f"Avoir sur {invoice.number}",
    )
    return note


def _enqueue_pdf(invoice_id: int) -> None:
    def send() -> None:
        # The PDF task belongs to invoicing; the booking stands whether or not it is there.
        task = current_app.tasks.get(PDF_TASK)
        if task is None:
            logger.error("Credit note %s booked but %s is not registered.", invoice_id, PDF_TASK)
            return
        try:
            task.delay(invoice_id=invoice_id)
        except Exception:
            logger.exception("Credit note %s booked but its PDF could not be queued.", invoice_id)

    transaction.on_commit(send)
