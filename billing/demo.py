"""Demo billing: the smart-meter homes of the metering demo on a tariff, with twelve monthly
invoices each, issued two days after each month and paid on their due date except the
latest ones; then, through the real services, billing disputes at every stage, a payment
plan, a payment extension and an energy-assistance credit awaiting a supervisor.

Idempotent: an invoice that exists is left alone, a payment is booked once, a dispute is
known by its description, and the plan, the extension and the assistance credit are made
only when no demo home has one yet."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction

from accounts.models import Account, MemberRole, SupplyPoint, User
from accounts.selectors import parameter_get
from billing.domain import add_months
from billing.models import (
    ApprovalStatus,
    AssistanceCredit,
    Dispute,
    DisputeStatus,
    EntryKind,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LedgerEntry,
    PaymentExtension,
    PaymentPlan,
    Tariff,
    TariffSubscription,
)
from billing.selectors.invoices import ConsumptionUnknown, TariffMissing
from billing.selectors.ledger import account_balance
from billing.services import account_money, disputes
from billing.services.invoices import InvoiceError, invoice_compute, invoice_issue
from billing.services.ledger import ledger_post

PARIS = ZoneInfo("Europe/Paris")
MONTHS = 12
# Staff of the accounts demo.
AGENT, AGENT2, SUPERVISOR = (
    "agent@powernext.example",
    "agent2@powernext.example",
    "supervisor@powernext.example",
)
FIRST_CUSTOMER = "claire.martin@example.fr"


def _points() -> list[SupplyPoint]:
    # The metering demo gives its homes meters named LKY…; they have hourly data.
    return list(
        SupplyPoint.objects.filter(meters__serial__startswith="LKY")
        .select_related("premise__account")
        .distinct()
        .order_by("id")
    )


def _subscribe(point: SupplyPoint, *, index: int, since: date, now: datetime) -> None:
    if TariffSubscription.objects.filter(supply_point=point).exists():
        return
    code = "HPHC" if index % 3 == 0 else "BASE"  # the electric-heating homes are on HP/HC
    TariffSubscription.objects.create(
        supply_point=point, tariff=Tariff.objects.get(code=code), start=since, created_at=now
    )


def _invoices(points: list[SupplyPoint], *, now: datetime) -> tuple[int, int]:
    today = now.astimezone(PARIS).date()
    this_month = today.replace(day=1)
    first = add_months(this_month, -MONTHS)
    issued = paid = 0
    for index, point in enumerate(points):
        _subscribe(point, index=index, since=first, now=now)
        for m in range(MONTHS):
            start, end = add_months(first, m), add_months(first, m + 1)
            issue_at = datetime.combine(end + timedelta(days=2), time(9), PARIS)
            if issue_at > now:
                break
            invoice = Invoice.objects.filter(
                supply_point=point, period_start=start, kind="INVOICE"
            ).first()
            if invoice is None:
                try:
                    with transaction.atomic():
                        draft = invoice_compute(
                            supply_point=point, period_start=start, period_end=end, now=issue_at
                        )
                        invoice = invoice_issue(invoice=draft, now=issue_at)
                except (InvoiceError, TariffMissing, ConsumptionUnknown):
                    continue
                issued += 1
            # Paid on the due date, except the last two months (still to pay).
            source = f"demo-payment:{invoice.pk}"
            if (
                m < MONTHS - 2
                and invoice.total_gross > 0
                and not LedgerEntry.objects.filter(source=source).exists()
            ):
                pay_at = datetime.combine(invoice.due_date, time(8), PARIS)
                ledger_post(
                    account=point.premise.account,
                    kind=EntryKind.PAYMENT,
                    amount=invoice.total_gross,
                    description=f"Prélèvement facture {invoice.number}",
                    now=pay_at,
                    source=source,
                )
                paid += 1
    return issued, paid


# --- Disputes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """One dispute, played through the services up to `stage`: filed by the customer at
    8:30 `days_ago` days before the run (or four hours before it, for the one not yet
    answered), each later move at office hours on the days after."""

    stage: str
    days_ago: int
    description: str
    claimed: Decimal | None = None
    prefer: str = ""  # the holder's email of the home it should go to, if free
    large: bool = False  # upheld: the free home with the largest invoice, for the credit


STORIES = [
    # The first demo customer follows a dispute under investigation from her portal.
    Story(
        DisputeStatus.INVESTIGATING,
        3,
        "Cette facture indique une consommation supérieure de près de 40 % à celle de la "
        "même période l'an dernier, sans aucun changement d'équipement chez nous. Je "
        "souhaite une vérification du compteur et des index relevés.",
        prefer=FIRST_CUSTOMER,
    ),
    Story(
        DisputeStatus.UPHELD,
        9,
        "La consommation facturée repose sur un index manifestement erroné : le compteur "
        "affichait environ 450 kWh de moins à la date du relevé. J'ai pris l'afficheur en "
        "photo et la tiens à votre disposition.",
        claimed=Decimal("120.00"),
        large=True,
    ),
    Story(
        DisputeStatus.CREDITED,
        7,
        "Cette facture a été établie sur une estimation alors que mon compteur communicant "
        "transmet ses index chaque jour, et l'estimation dépasse de loin ma consommation "
        "réelle. Merci de refaire la facture sur les index relevés.",
        large=True,
    ),
    Story(
        DisputeStatus.SUBMITTED,
        0,
        "Nous étions absents pendant deux semaines et le logement était inoccupé, pourtant "
        "la consommation facturée est plus élevée que le mois précédent. Pouvez-vous "
        "vérifier les relevés du compteur ?",
    ),
    Story(
        DisputeStatus.ACKNOWLEDGED,
        1,
        "L'abonnement facturé correspond à mon ancienne puissance : j'ai demandé le passage "
        "à une puissance inférieure il y a deux mois, mais la facture applique toujours "
        "l'ancien prix.",
    ),
    Story(
        DisputeStatus.ESCALATED,
        6,
        "Je conteste la répartition entre heures pleines et heures creuses : mon chauffage "
        "et mon ballon d'eau chaude fonctionnent la nuit, mais la facture compte l'essentiel "
        "de ma consommation en heures pleines.",
        claimed=Decimal("60.00"),
    ),
    Story(
        DisputeStatus.REJECTED,
        12,
        "Cette facture est bien plus élevée que celle de mes voisins, dont le logement est "
        "identique au mien. Je demande son annulation.",
    ),
]

ACK_NOTE = "Relevés horaires du compteur et historique de l'an dernier demandés."
INVESTIGATE_NOTES = {
    DisputeStatus.INVESTIGATING: "Comparaison des index télérelevés avec la courbe horaire "
    "en cours ; contrôle de l'étalonnage du compteur demandé au distributeur.",
    DisputeStatus.UPHELD: "Contrôle de l'index de relevé contre la courbe horaire.",
    DisputeStatus.CREDITED: "Vérification des index transmis par le compteur sur la période.",
    DisputeStatus.ESCALATED: "Analyse du paramétrage des plages heures creuses du compteur.",
    DisputeStatus.REJECTED: "Comparaison avec les relevés horaires et la météo de la période.",
}
ESCALATE_REASON = (
    "Les plages heures creuses programmées dans le compteur ne correspondent pas à celles du "
    "contrat : la régularisation porte sur toute l'année, au-delà de mon habilitation."
)
UPHOLD_NOTES = {
    DisputeStatus.UPHELD: "Index erroné confirmé par la courbe horaire : avoir sur l'énergie "
    "facturée à tort.",
    DisputeStatus.CREDITED: "Facture estimée à tort : les index télérelevés étaient "
    "disponibles. Avoir de l'écart entre l'estimation et la consommation relevée.",
}
REJECT_REASON = (
    "Les index télérelevés de votre compteur communicant concordent avec sa courbe de charge "
    "heure par heure, et aucun défaut de comptage n'a été constaté. La hausse par rapport à "
    "vos voisins s'explique par le chauffage électrique de votre logement pendant une période "
    "plus froide : la consommation facturée est bien celle que votre compteur a mesurée."
)


def _holder(account: Account) -> User:
    membership = (
        account.memberships.filter(role=MemberRole.HOLDER).select_related("user").first()
        or account.memberships.select_related("user").first()
    )
    return membership.user


def _disputable(point: SupplyPoint, *, opened: datetime) -> Invoice | None:
    """The latest issued invoice of the home that could be disputed at `opened`: issued
    the day before at the latest, and within the dispute window."""
    day = opened.astimezone(PARIS).date()
    window = int(parameter_get(key="dispute_window_days"))
    return (
        Invoice.objects.filter(
            supply_point=point,
            kind=InvoiceKind.INVOICE,
            status=InvoiceStatus.ISSUED,
            issue_date__lt=day,
            issue_date__gte=day - timedelta(days=window),
        )
        .order_by("-issue_date")
        .first()
    )


def _settlement(invoice: Invoice, threshold: Decimal) -> Decimal:
    """Six tenths of the invoice, and above the approval threshold when the invoice allows
    it, so that a supervisor decides (else the credit is booked at once, and an upheld
    story ends credited)."""
    share = (invoice.total_gross * Decimal("0.6")).quantize(Decimal("0.01"))
    return min(invoice.total_gross, max(share, threshold + Decimal("4.60")))


def _play(story: Story, point: SupplyPoint, invoice: Invoice, *, opened: datetime, staff):
    agent, agent2, supervisor = staff
    account = point.premise.account
    dispute = disputes.dispute_open(
        account=account,
        requester=_holder(account),
        supply_point=point,
        invoice=invoice,
        problem_date=invoice.period_start + timedelta(days=12),
        description=story.description,
        claimed_amount=story.claimed,
        now=opened,
    )
    if story.stage == DisputeStatus.SUBMITTED:
        return
    at = opened + timedelta(hours=3)  # 11:30
    disputes.dispute_acknowledge(dispute_id=dispute.pk, actor=agent, now=at)
    if story.stage == DisputeStatus.ACKNOWLEDGED:
        return
    at += timedelta(days=1, hours=-1, minutes=-30)  # the next day at 10:00
    disputes.dispute_investigate(
        dispute_id=dispute.pk, actor=agent2, now=at, note=INVESTIGATE_NOTES[story.stage]
    )
    if story.stage == DisputeStatus.INVESTIGATING:
        return
    at += timedelta(days=3, hours=5)  # three days later at 15:00
    if story.stage == DisputeStatus.ESCALATED:
        disputes.dispute_escalate(
            dispute_id=dispute.pk, actor=agent2, reason=ESCALATE_REASON, now=at
        )
    elif story.stage == DisputeStatus.REJECTED:
        disputes.dispute_reject(dispute_id=dispute.pk, reason=REJECT_REASON, actor=agent2, now=at)
    else:  # UPHELD (awaiting the supervisor) or CREDITED (approved the next day)
        threshold = Decimal(str(parameter_get(key="credit_approval_threshold")))
        disputes.dispute_uphold(
            dispute_id=dispute.pk,
            amount=_settlement(invoice, threshold),
            kind=EntryKind.CREDIT,
            actor=agent,
            now=at,
            note=UPHOLD_NOTES[story.stage],
        )
        pending = dispute.credit_requests.filter(status=ApprovalStatus.PENDING).first()
        if story.stage == DisputeStatus.CREDITED and pending is not None:
            disputes.credit_request_approve(
                request_id=pending.pk,
                supervisor=supervisor,
                now=at + timedelta(days=1, hours=-4, minutes=-30),  # the next day at 10:30
            )


def _busy(points: list[SupplyPoint]) -> set[int]:
    """Homes already in a demo story (a dispute, a plan, an extension, an assistance
    credit), so each story gets a home of its own."""
    accounts = {p.premise.account_id for p in points}
    taken = set(
        Dispute.objects.filter(supply_point__in=points).values_list("account_id", flat=True)
    )
    taken |= set(
        PaymentPlan.objects.filter(account_id__in=accounts).values_list("account_id", flat=True)
    )
    taken |= set(
        PaymentExtension.objects.filter(invoice__account_id__in=accounts).values_list(
            "invoice__account_id", flat=True
        )
    )
    taken |= set(
        AssistanceCredit.objects.filter(account_id__in=accounts).values_list(
            "account_id", flat=True
        )
    )
    return taken


def _disputes(points: list[SupplyPoint], *, now: datetime, staff) -> int:
    accounts = {p.premise.account_id for p in points}
    made = 0
    for story in STORIES:
        if Dispute.objects.filter(account_id__in=accounts, description=story.description).exists():
            continue
        if story.days_ago:
            day = now.astimezone(PARIS).date() - timedelta(days=story.days_ago)
            opened = datetime.combine(day, time(8, 30), PARIS)
        else:
            opened = now - timedelta(hours=4)
        taken = _busy(points)
        free = [
            (point, invoice)
            for point in points
            if point.premise.account_id not in taken
            and (invoice := _disputable(point, opened=opened)) is not None
        ]
        if not free:
            continue
        chosen = next(
            (pair for pair in free if _holder(pair[0].premise.account).email == story.prefer),
            None,
        )
        if chosen is None and story.large:
            chosen = max(free, key=lambda pair: (pair[1].total_gross, -pair[0].pk))
        point, invoice = chosen or free[0]
        with transaction.atomic():
            _play(story, point, invoice, opened=opened, staff=staff)
        made += 1
    return made


# --- The customer's money -----------------------------------------------------------------


def _free_home(points: list[SupplyPoint]) -> SupplyPoint | None:
    taken = _busy(points)
    return next(
        (
            p
            for p in points
            if p.premise.account_id not in taken
            and account_balance(account_id=p.premise.account_id) > 0
        ),
        None,
    )


def _plan(points: list[SupplyPoint], *, now: datetime) -> int:
    """Six instalments chosen from the portal three days ago by a customer who has not paid
    the last two invoices."""
    accounts = {p.premise.account_id for p in points}
    if PaymentPlan.objects.filter(account_id__in=accounts).exists():
        return 0
    point = _free_home(points)
    if point is None:
        return 0
    account = point.premise.account
    at = now - timedelta(days=3)
    account_money.payment_plan_create(
        account=account,
        count=6,
        first_due=at.astimezone(PARIS).date() + timedelta(days=12),
        now=at,
        actor=_holder(account),
    )
    return 1


def _extension(points: list[SupplyPoint], *, now: datetime) -> int:
    """A customer pushed the due date of an unpaid invoice by two weeks, four days after
    receiving it."""
    accounts = {p.premise.account_id for p in points}
    if PaymentExtension.objects.filter(invoice__account_id__in=accounts).exists():
        return 0
    point = _free_home(points)
    if point is None:
        return 0
    for invoice in Invoice.objects.filter(
        supply_point=point, kind=InvoiceKind.INVOICE, status=InvoiceStatus.ISSUED
    ).order_by("-issue_date")[:2]:
        at = datetime.combine(invoice.issue_date + timedelta(days=4), time(18, 30), PARIS)
        if at <= now:
            account_money.payment_extension_request(
                invoice=invoice,
                new_due=invoice.due_date + timedelta(days=14),
                now=at,
                actor=_holder(point.premise.account),
            )
            return 1
    return 0


def _assistance(points: list[SupplyPoint], *, now: datetime, agent: User) -> int:
    """A housing-solidarity grant entered by an agent, waiting for a supervisor."""
    accounts = {p.premise.account_id for p in points}
    if AssistanceCredit.objects.filter(account_id__in=accounts).exists():
        return 0
    point = _free_home(points)
    if point is None:
        return 0
    account_money.assistance_credit_enter(
        account=point.premise.account,
        amount=Decimal("180.00"),
        scheme="Fonds de solidarité pour le logement (FSL)",
        now=now - timedelta(days=2),
        actor=agent,
    )
    return 1


def seed(*, now: datetime) -> str:
    points = _points()
    issued, paid = _invoices(points, now=now)
    staff = tuple(User.objects.filter(email=email).first() for email in (AGENT, AGENT2, SUPERVISOR))
    made = plans = extensions = credits = 0
    if points and all(staff):
        made = _disputes(points, now=now, staff=staff)
        plans = _plan(points, now=now)
        extensions = _extension(points, now=now)
        credits = _assistance(points, now=now, agent=staff[0])
    stages = Counter(
        Dispute.objects.filter(supply_point__in=points).values_list("status", flat=True)
    )
    by_stage = ", ".join(f"{status} {stages[status]}" for status in DisputeStatus if stages[status])
    return (
        f"{len(points)} homes on a tariff, {issued} invoices issued, {paid} payments; "
        f"{made} disputes opened (by stage: {by_stage or 'none'}), "
        f"{plans} payment plan, {extensions} extension, {credits} assistance credit"
    )
