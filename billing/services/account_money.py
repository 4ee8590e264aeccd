"""The customer's money: payments, payment plans and their daily sweep, payment
extensions, and energy-assistance credits.

State changes of plans and assistance credits are recorded as audit entries (who, when,
field "status", from, to): the billing models carry no event table for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account, AuditChannel, Role, User
from accounts.selectors import parameter_get
from accounts.services import audit_record
from billing import domain
from billing.models import (
    ApprovalStatus,
    AssistanceCredit,
    EntryKind,
    Invoice,
    InvoiceEvent,
    InvoiceKind,
    InvoiceStatus,
    LedgerEntry,
    PaymentExtension,
    PaymentPlan,
    PlanInstalment,
    PlanStatus,
)
from billing.selectors.account_money import (
    account_notify_emails,
    assistance_season_committed,
)
from billing.selectors.disputes import collections_on_hold
from billing.selectors.ledger import account_balance
from billing.services.ledger import LedgerError, ledger_post

# Not in billing.domain yet (owned elsewhere): the plan's and the credit's life cycles.
PLAN_TRANSITIONS: dict[str, frozenset[str]] = {
    PlanStatus.ACTIVE: frozenset({PlanStatus.COMPLETED, PlanStatus.BROKEN, PlanStatus.CANCELLED}),
    PlanStatus.COMPLETED: frozenset(),
    PlanStatus.BROKEN: frozenset(),
    PlanStatus.CANCELLED: frozenset(),
}
ASSISTANCE_TRANSITIONS: dict[str, frozenset[str]] = {
    ApprovalStatus.PENDING: frozenset({ApprovalStatus.APPROVED, ApprovalStatus.REJECTED}),
    ApprovalStatus.APPROVED: frozenset(),
    ApprovalStatus.REJECTED: frozenset(),
}

REMIND_DAYS_BEFORE = 3
BROKEN_AFTER_DAYS = 7
FIRST_DUE_MAX_DAYS = 31
DECIDERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
ENTERERS = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})


class MoneyError(Exception):
    """A refused request; `field` names the form field it belongs to (None: the form)."""

    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class PlanRefused(MoneyError):
    pass


class PlanAlreadyActive(PlanRefused):
    pass


class PaymentRefused(MoneyError):
    pass


class ExtensionRefused(MoneyError):
    field = "new_due"


class AssistanceRefused(MoneyError):
    pass


class AssistanceAlreadyDecided(MoneyError):
    pass


class NotAllowed(MoneyError):
    pass


def _local_day(now: datetime) -> date:
    return timezone.localtime(now).date()


def _channel(actor: User | None) -> str:
    if actor is None:
        return AuditChannel.SYSTEM
    return AuditChannel.CONSOLE if actor.is_staff_role else AuditChannel.PORTAL


def _status_event(obj, *, account, actor, source: str, target: str, now: datetime) -> None:
    audit_record(
        account=account,
        actor=actor,
        channel=_channel(actor),
        obj=obj,
        changes={"status": (source, target)},
        now=now,
    )


def _mail_on_commit(*, account_id: int, subject: str, text: str) -> None:
    addresses = account_notify_emails(account_id=account_id)
    if addresses:
        transaction.on_commit(lambda: send_mail(subject, text, None, addresses))


def _euros(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",") + " €"


# --- Payment plans ----------------------------------------------------------------


def plan_bounds() -> tuple[int, int]:
    """The configured bounds, never wider than the 3–12 the table's constraint allows."""
    low = max(int(parameter_get(key="plan_min_instalments")), domain.PLAN_MIN_INSTALMENTS)
    high = min(int(parameter_get(key="plan_max_instalments")), domain.PLAN_MAX_INSTALMENTS)
    return low, high


def plan_schedule(*, total: Decimal, count: int, first_due: date) -> list[tuple[date, Decimal]]:
    """The schedule a plan would have; raises PlanRefused with the field at fault."""
    low, high = plan_bounds()
    if not low <= count <= high:
        raise PlanRefused(
            _("Choisissez entre %(low)s et %(high)s mensualités.") % {"low": low, "high": high},
            field="count",
        )
    if total <= 0:
        raise PlanRefused(_("Votre solde ne présente aucun montant à échelonner."))
    return domain.instalments(total=total, count=count, first_due=first_due)


def plan_first_due_window(today: date) -> tuple[date, date]:
    return today + timedelta(days=1), today + timedelta(days=FIRST_DUE_MAX_DAYS)


def payment_plan_create(
    *, account: Account, count: int, first_due: date, now: datetime, actor: User | None
) -> PaymentPlan:
    """Spread the account's current positive balance over `count` monthly instalments."""
    earliest, latest = plan_first_due_window(_local_day(now))
    if not earliest <= first_due <= latest:
        raise PlanRefused(
            _("La première échéance doit tomber entre le %(earliest)s et le %(latest)s.")
            % {"earliest": f"{earliest:%d/%m/%Y}", "latest": f"{latest:%d/%m/%Y}"},
            field="first_due",
        )
    with transaction.atomic():
        if PaymentPlan.objects.filter(account=account, status=PlanStatus.ACTIVE).exists():
            raise PlanAlreadyActive(_("Un échéancier est déjà en cours sur ce compte."))
        total = account_balance(account_id=account.pk)
        schedule = plan_schedule(total=total, count=count, first_due=first_due)
        try:
            with transaction.atomic():
                plan = PaymentPlan.objects.create(
                    account=account,
                    total=total,
                    count=count,
                    status=PlanStatus.ACTIVE,
                    created_at=now,
                    created_by=actor,
                )
        except IntegrityError as exc:
            # A plan created by a concurrent request between the check and the insert.
            raise PlanAlreadyActive(_("Un échéancier est déjà en cours sur ce compte.")) from exc
        PlanInstalment.objects.bulk_create(
            PlanInstalment(plan=plan, position=i, due_on=due, amount=amount)
            for i, (due, amount) in enumerate(schedule, start=1)
        )
        _status_event(
            plan, account=account, actor=actor, source="", target=PlanStatus.ACTIVE, now=now
        )
    return plan


def _plan_transition(plan: PaymentPlan, target: str, *, now: datetime, actor) -> None:
    domain.check_transition(PLAN_TRANSITIONS, "plan", plan.status, target)
    source = plan.status
    plan.status = target
    plan.save(update_fields=["status"])
    _status_event(plan, account=plan.account, actor=actor, source=source, target=target, now=now)


def _settle_instalments(*, account: Account, now: datetime, actor) -> None:
    """Mark instalments paid, oldest first, as far as the payments since the plan began
    cover them; recomputed from the ledger, so replaying it changes nothing."""
    plan = (
        PaymentPlan.objects.select_for_update()
        .select_related("account")
        .filter(account=account, status=PlanStatus.ACTIVE)
        .first()
    )
    if plan is None:
        return
    paid = -(
        LedgerEntry.objects.filter(
            account=account, kind=EntryKind.PAYMENT, at__gte=plan.created_at
        ).aggregate(total=Sum("amount"))["total"]
        or Decimal("0")
    )
    covered = Decimal("0")
    newly_paid = []
    instalments = list(plan.instalments.order_by("position"))
    for instalment in instalments:
        covered += instalment.amount
        if covered > paid:
            break
        if instalment.paid_at is None:
            instalment.paid_at = now
            newly_paid.append(instalment)
    PlanInstalment.objects.bulk_update(newly_paid, ["paid_at"])
    if all(i.paid_at is not None for i in instalments):
        _plan_transition(plan, PlanStatus.COMPLETED, now=now, actor=actor)


def payment_record(
    *,
    account: Account,
    amount: Decimal,
    now: datetime,
    reference: str,
    actor: User | None = None,
) -> LedgerEntry:
    """Book a payment (once per payment reference) and settle plan instalments."""
    reference = (reference or "").strip()
    if not reference:
        raise PaymentRefused(_("Un paiement doit porter sa référence."), field="reference")
    try:
        amount = domain.money(amount)
    except (InvalidOperation, TypeError) as exc:
        raise PaymentRefused(_("Montant invalide."), field="amount") from exc
    with transaction.atomic():
        try:
            entry = ledger_post(
                account=account,
                kind=EntryKind.PAYMENT,
                amount=amount,
                description=f"Paiement {reference}",
                now=now,
                source=f"payment:{reference}"[:60],
                actor=actor,
            )
        except LedgerError as exc:
            raise PaymentRefused(_("Le montant doit être positif."), field="amount") from exc
        if entry.account_id != account.pk:
            raise PaymentRefused(
                _("Cette référence de paiement est déjà utilisée."), field="reference"
            )
        _settle_instalments(account=account, now=now, actor=actor)
    return entry


@dataclass(frozen=True)
class SweepResult:
    reminded: int
    broken: int


def plan_instalments_sweep(*, today: date, now: datetime) -> SweepResult:
    """Daily: remind instalments due within three days, and break the plan of one still
    unpaid seven days after its due date. Each row is claimed by a conditional update,
    so a second run (or a concurrent one) finds nothing left to do and sends nothing."""
    reminded = broken = 0
    due_soon = PlanInstalment.objects.filter(
        paid_at=None,
        reminded_at=None,
        missed_at=None,
        due_on__gte=today,
        due_on__lte=today + timedelta(days=REMIND_DAYS_BEFORE),
        plan__status=PlanStatus.ACTIVE,
    ).values_list("pk", flat=True)
    for pk in list(due_soon):
        with transaction.atomic():
            claimed = PlanInstalment.objects.filter(pk=pk, reminded_at=None, paid_at=None).update(
                reminded_at=now
            )
            if not claimed:
                continue
            instalment = PlanInstalment.objects.select_related("plan").get(pk=pk)
            _mail_on_commit(
                account_id=instalment.plan.account_id,
                subject="Rappel : prochaine mensualité de votre échéancier",
                text=(
                    f"Bonjour,\n\nLa mensualité n° {instalment.position} de votre échéancier, "
                    f"de {_euros(instalment.amount)}, est à régler au plus tard le "
                    f"{instalment.due_on:%d/%m/%Y}.\n\nPower Next"
                ),
            )
            reminded += 1
    overdue = PlanInstalment.objects.filter(
        paid_at=None,
        missed_at=None,
        due_on__lte=today - timedelta(days=BROKEN_AFTER_DAYS),
        plan__status=PlanStatus.ACTIVE,
    ).values_list("pk", flat=True)
    for pk in list(overdue):
        with transaction.atomic():
            instalment = (
                PlanInstalment.objects.select_for_update()
                .filter(pk=pk, paid_at=None, missed_at=None)
                .first()
            )
            if instalment is None:
                continue
            plan = (
                PaymentPlan.objects.select_for_update()
                .select_related("account")
                .get(pk=instalment.plan_id)
            )
            if plan.status != PlanStatus.ACTIVE:
                continue
            if collections_on_hold(account_id=plan.account_id):
                # Collections wait for an open billing dispute; the instalment stays
                # unmarked, so the first sweep after the dispute closes acts on it.
                continue
            instalment.missed_at = now
            instalment.save(update_fields=["missed_at"])
            _plan_transition(plan, PlanStatus.BROKEN, now=now, actor=None)
            _mail_on_commit(
                account_id=plan.account_id,
                subject="Votre échéancier de paiement est interrompu",
                text=(
                    f"Bonjour,\n\nLa mensualité n° {instalment.position} de "
                    f"{_euros(instalment.amount)}, due le {instalment.due_on:%d/%m/%Y}, "
                    "n'a pas été réglée. Votre échéancier est donc interrompu et le solde "
                    "de votre compte est de nouveau exigible. Contactez-nous pour en "
                    "convenir d'un nouveau.\n\nPower Next"
                ),
            )
            broken += 1
    return SweepResult(reminded=reminded, broken=broken)


# --- Payment extensions -----------------------------------------------------------


def payment_extension_request(
    *, invoice: Invoice, new_due: date, now: datetime, actor: User | None
) -> PaymentExtension:
    """Push an unpaid issued invoice's due date once, within the configured bound."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if (
            invoice.kind != InvoiceKind.INVOICE
            or invoice.status != InvoiceStatus.ISSUED
            or invoice.due_date is None
        ):
            raise ExtensionRefused(
                _("Seule une facture émise peut être reportée."), field="invoice"
            )
        if account_balance(account_id=invoice.account_id) <= 0:
            raise ExtensionRefused(_("Votre compte ne présente aucun montant dû."), field="invoice")
        original = invoice.due_date
        refusal = domain.extension_refusal(
            due=original,
            requested=new_due,
            today=_local_day(now),
            max_days=int(parameter_get(key="extension_max_days")),
            already_extended=PaymentExtension.objects.filter(invoice=invoice).exists(),
        )
        if refusal:
            raise ExtensionRefused(refusal)
        try:
            with transaction.atomic():
                extension = PaymentExtension.objects.create(
                    invoice=invoice,
                    original_due=original,
                    new_due=new_due,
                    requested_at=now,
                    requested_by=actor,
                )
        except IntegrityError as exc:
            raise ExtensionRefused(_("Cette facture a déjà bénéficié d'un report.")) from exc
        invoice.due_date = new_due
        invoice.save(update_fields=["due_date"])
        InvoiceEvent.objects.create(
            invoice=invoice,
            at=now,
            actor=actor,
            from_status=invoice.status,
            to_status=invoice.status,
            note=f"Échéance reportée du {original:%d/%m/%Y} au {new_due:%d/%m/%Y}",
        )
    return extension


# --- Energy-assistance credits ----------------------------------------------------


def assistance_credit_enter(
    *, account: Account, amount: Decimal, scheme: str, now: datetime, actor: User
) -> AssistanceCredit:
    """Record a credit to approve, refused if the season's approved and pending credits
    would pass the cap."""
    if actor.role not in ENTERERS:
        raise NotAllowed(_("Seul un conseiller saisit une aide."))
    scheme = (scheme or "").strip()
    if not scheme:
        raise AssistanceRefused(_("Indiquez le dispositif."), field="scheme")
    amount = domain.money(amount)
    if amount <= 0:
        raise AssistanceRefused(_("Le montant doit être positif."), field="amount")
    season = domain.assistance_season(_local_day(now))
    cap = domain.money(parameter_get(key="assistance_season_cap"))
    with transaction.atomic():
        # Two agents entering credits for one account at once must not both fit under
        # the cap: the account row is the lock that orders them.
        Account.objects.select_for_update().filter(pk=account.pk).first()
        committed = assistance_season_committed(account_id=account.pk, season=season)
        if committed + amount > cap:
            left = max(cap - committed, Decimal("0.00"))
            raise AssistanceRefused(
                _(
                    "Plafond de la saison %(season)s dépassé : %(committed)s déjà accordés "
                    "ou en attente sur %(cap)s ; au plus %(left)s possibles."
                )
                % {
                    "season": season,
                    "committed": _euros(committed),
                    "cap": _euros(cap),
                    "left": _euros(left),
                },
                field="amount",
            )
        credit = AssistanceCredit.objects.create(
            account=account,
            season=season,
            amount=amount,
            scheme=scheme[:80],
            status=ApprovalStatus.PENDING,
            entered_by=actor,
            entered_at=now,
        )
        _status_event(
            credit, account=account, actor=actor, source="", target=ApprovalStatus.PENDING, now=now
        )
    return credit


def assistance_credit_decide(
    *, credit_id: int, approve: bool, now: datetime, actor: User
) -> AssistanceCredit:
    """A supervisor approves (booking the credit to the ledger) or rejects. Concurrent
    decisions queue on the row: the first wins, the others get AssistanceAlreadyDecided;
    the ledger's unique source would stop a second booking anyway."""
    if actor.role not in DECIDERS:
        raise NotAllowed(_("Seul un superviseur décide d'une aide."))
    target = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    with transaction.atomic():
        credit = (
            AssistanceCredit.objects.select_for_update().select_related("account").get(pk=credit_id)
        )
        if credit.status != ApprovalStatus.PENDING:
            raise AssistanceAlreadyDecided(_("Cette aide a déjà été traitée."))
        domain.check_transition(ASSISTANCE_TRANSITIONS, "assistance", credit.status, target)
        if approve:
            credit.entry = ledger_post(
                account=credit.account,
                kind=EntryKind.ASSISTANCE_CREDIT,
                amount=credit.amount,
                description=f"Aide à l'énergie ({credit.scheme}, saison {credit.season})",
                now=now,
                source=f"assistance:{credit.pk}",
                actor=actor,
            )
        source = credit.status
        credit.status = target
        credit.decided_by = actor
        credit.decided_at = now
        credit.save(update_fields=["status", "decided_by", "decided_at", "entry"])
        _status_event(
            credit, account=credit.account, actor=actor, source=source, target=target, now=now
        )
    return credit
